import t from 'tap'
import { sanitizeJsonBody, sniffJsonProtocol } from '../../src/protocols/sanitize-json-body.js'
import { scannerFactory, scanWhole, testRules } from '../stream/replay.js'

const ruleSet = await testRules()
const newScanner = scannerFactory(ruleSet)
const text = 'Reach jane.doe@acme.io or (415) 555-2671.'
const clean = scanWhole(ruleSet, text).text

t.test('chat completion: content, refusal and tool call arguments, on a copy', async (t) => {
  const body = {
    id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o',
    choices: [{
      index: 0,
      message: { role: 'assistant', content: text, refusal: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'send', arguments: '{"to":"jane.doe@acme.io"}' } }] },
      logprobs: { content: [] },
      finish_reason: 'tool_calls'
    }],
    usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 }
  }
  const before = structuredClone(body)
  const seen: string[] = []
  const r = sanitizeJsonBody(body, newScanner, { onFinding: (f, ctx) => seen.push(`${ctx.channel}:${f.ruleId}`) })
  t.same(body, before, 'the input is not modified')
  t.equal(r.changed, true)
  t.equal(r.protocol, 'openai-chat')
  const out = r.body as typeof body
  t.equal(out.choices[0]?.message.content, clean)
  t.match(out.choices[0]?.message.tool_calls[0]?.function.arguments, /^\{"to":"\[email:[0-9a-f]+\]"\}$/)
  t.equal(out.choices[0]?.message.tool_calls[0]?.id, 'call_1')
  t.equal(out.choices[0]?.logprobs, null)
  t.equal(out.choices[0]?.finish_reason, 'tool_calls')
  t.same(out.usage, body.usage)
  t.same(seen, ['0:content:pii.email', '0:content:pii.phone_nanp', '0:tool:0:pii.email'])
  t.equal(r.findings.length, 3)
})

t.test('a clean body is returned as is', async (t) => {
  const body = { object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'All good here.' }, finish_reason: 'stop' }] }
  const r = sanitizeJsonBody(body, newScanner)
  t.equal(r.changed, false)
  t.equal(r.body, body)
})

t.test('inPlace sanitizes the very object it is given, with the same result as a copy', async (t) => {
  const make = (): { object: string, choices: Array<{ index: number, message: { role: string, content: string }, logprobs: unknown, finish_reason: string }> } =>
    ({ object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: text }, logprobs: { content: [] }, finish_reason: 'stop' }] })
  const copied = sanitizeJsonBody(make(), newScanner)
  const body = make()
  const r = sanitizeJsonBody(body, newScanner, { inPlace: true })
  t.equal(r.body, body, 'no copy was made')
  t.equal(body.choices[0]?.message.content, clean, 'the given object carries the sanitized text')
  t.equal(body.choices[0]?.logprobs, null)
  t.same(r.body, copied.body)
  t.equal(r.changed, true)
})

t.test('a cut truncates at the match, empties later text and says content_filter', async (t) => {
  const body = {
    object: 'chat.completion',
    choices: [
      { index: 0, message: { role: 'assistant', content: 'Plan: launch the missiles at dawn.' }, finish_reason: 'stop' },
      { index: 1, message: { role: 'assistant', content: 'Another answer.' }, finish_reason: 'stop' }
    ]
  }
  const r = sanitizeJsonBody(body, newScanner)
  const out = r.body as typeof body
  t.equal(r.cut?.ruleId, 'test.cut_missiles')
  t.equal(out.choices[0]?.message.content, 'Plan: ')
  t.equal(out.choices[1]?.message.content, '')
  t.same(out.choices.map((c) => c.finish_reason), ['content_filter', 'content_filter'])
})

t.test('completions: choices[].text', async (t) => {
  const r = sanitizeJsonBody({ object: 'text_completion', choices: [{ text, index: 0, logprobs: null, finish_reason: 'stop' }] }, newScanner)
  t.equal((r.body as any).choices[0].text, clean)
  t.equal(r.protocol, 'openai-completions')
})

t.test('responses: output text, function call arguments; a cut makes it incomplete', async (t) => {
  const body = {
    id: 'resp_1', object: 'response', status: 'completed', incomplete_details: null,
    output: [
      { id: 'msg_1', type: 'message', role: 'assistant', content: [{ type: 'output_text', text, annotations: [] }] },
      { id: 'fc_1', type: 'function_call', name: 'send', arguments: '{"to":"jane.doe@acme.io"}', call_id: 'c' }
    ]
  }
  const r = sanitizeJsonBody(body, newScanner)
  const out = r.body as any
  t.equal(out.output[0].content[0].text, clean)
  t.notOk(out.output[1].arguments.includes('jane'))
  t.equal(out.status, 'completed')
  const cut = sanitizeJsonBody({ ...body, output: [{ type: 'message', content: [{ type: 'output_text', text: 'ok, launch the missiles' }] }] }, newScanner).body as any
  t.equal(cut.status, 'incomplete')
  t.same(cut.incomplete_details, { reason: 'content_filter' })
  t.equal(cut.output[0].content[0].text, 'ok, ')
})

t.test('anthropic: text, thinking and every string of a tool input; a cut says refusal', async (t) => {
  const body = {
    id: 'msg_1', type: 'message', role: 'assistant', model: 'claude',
    content: [
      { type: 'thinking', thinking: 'user is jane.doe@acme.io', signature: 'sig' },
      { type: 'text', text },
      { type: 'tool_use', id: 'toolu_1', name: 'send', input: { to: ['jane.doe@acme.io'], note: { phone: '(415) 555-2671' }, n: 3 } }
    ],
    stop_reason: 'tool_use', stop_sequence: null
  }
  const r = sanitizeJsonBody(body, newScanner)
  const out = r.body as any
  t.equal(r.protocol, 'anthropic-messages')
  t.equal(out.content[1].text, clean)
  t.notOk(out.content[0].thinking.includes('jane'))
  t.match(out.content[2].input.to[0], /^\[email:[0-9a-f]+\]$/)
  t.match(out.content[2].input.note.phone, /^\[phone:[0-9a-f]+\]$/)
  t.equal(out.content[2].input.n, 3)
  const cut = sanitizeJsonBody({ ...body, content: [{ type: 'text', text: 'launch the missiles' }] }, newScanner).body as any
  t.equal(cut.stop_reason, 'refusal')
  t.equal(cut.content[0].text, '')
})

t.test('recognises bodies; an unknown one is still scanned, string by string', async (t) => {
  t.equal(sniffJsonProtocol({ object: 'chat.completion' }), 'openai-chat')
  t.equal(sniffJsonProtocol({ object: 'response' }), 'openai-responses')
  t.equal(sniffJsonProtocol({ type: 'message', content: [] }), 'anthropic-messages')
  t.equal(sniffJsonProtocol([1]), undefined)
  const body = { hello: 'jane.doe@acme.io', plain: 'nothing here' }
  const r = sanitizeJsonBody(body, newScanner)
  t.equal(r.protocol, undefined)
  t.ok(r.changed)
  t.match((r.body as any).hello, /^\[email:[0-9a-f]+\]$/)
  t.equal((r.body as any).plain, 'nothing here')
  t.same(body, { hello: 'jane.doe@acme.io', plain: 'nothing here' }, 'the input is not modified')
  const clean = { hello: 'world' }
  t.equal(sanitizeJsonBody(clean, newScanner).body, clean, 'a clean unknown body comes back as it was')
  t.equal((sanitizeJsonBody({ choices: [{ message: { content: 'jane.doe@acme.io' } }] }, newScanner, { protocol: 'openai-chat' }).body as any).choices[0].message.content.startsWith('[email:'), true)
})
