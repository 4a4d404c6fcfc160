import t from 'tap'
import fc from 'fast-check'
import { sanitizeOpenAiResponsesBody } from '../../src/protocols/openai-responses.js'
import {
  checkSplitInvariance,
  buildResponsesStream, clientTexts, expectedTexts, fixture, jsonFrames, parseSse,
  replay, scanWhole, scannerFactory, testRules, tokenize
} from '../stream/replay.js'

const ruleSet = await testRules()
const enc = (s: string): Buffer => Buffer.from(s, 'utf8')
const texts = (s: string): Map<string, string> => clientTexts('responses', parseSse(s).frames)
type Event = Record<string, any>
const events = (s: string): Event[] => jsonFrames(parseSse(s).frames) as Event[]

t.test('output text and function arguments come out as their whole-text scans', async (t) => {
  const input = fixture('openai-responses.sse')
  const { output, sanitizer } = replay(ruleSet, input, [])
  const expected = expectedTexts(ruleSet, texts(input.toString('utf8')))
  t.same([...texts(output)], [...expected])
  t.notOk(output.includes('jane.doe') || output.includes('415-555'), 'not in deltas, done events or the final response')
  t.equal(sanitizer.stats().protocol, 'openai-responses')
  t.equal(sanitizer.stats().upstreamFinishReason, 'completed')
})

t.test('done events, content parts, output items and response.completed carry the sanitized full text', async (t) => {
  const input = fixture('openai-responses.sse')
  const out = events(replay(ruleSet, input, []).output)
  const text = texts(replay(ruleSet, input, []).output)
  const message = text.get('out:0:0')
  const args = text.get('fn:1')
  t.equal(out.find((e) => e.type === 'response.output_text.done')?.text, message)
  t.equal(out.find((e) => e.type === 'response.content_part.done')?.part.text, message)
  t.equal(out.find((e) => e.type === 'response.output_item.done' && e.output_index === 0)?.item.content[0].text, message)
  t.equal(out.find((e) => e.type === 'response.function_call_arguments.done')?.arguments, args)
  t.equal(out.find((e) => e.type === 'response.output_item.done' && e.output_index === 1)?.item.arguments, args)
  const completed = out.at(-1) as Event
  t.equal(completed.type, 'response.completed')
  t.equal(completed.response.output[0].content[0].text, message)
  t.equal(completed.response.output[1].arguments, args)
  t.same(completed.response.usage, events(input.toString('utf8')).at(-1)?.response.usage)
})

t.test('sequence numbers stay 0, 1, 2… with events inserted and dropped', async (t) => {
  const out = events(replay(ruleSet, fixture('openai-responses.sse'), []).output)
  t.same(out.map((e) => e.sequence_number), out.map((_, i) => i))
  const tokens = ['Mail ', 'jane', '.doe', '@acme', '.io']
  const flushed = events(replay(ruleSet, enc(buildResponsesStream(tokens)), []).output)
  t.same(flushed.map((e) => e.sequence_number), flushed.map((_, i) => i))
  const doneAt = flushed.findIndex((e) => e.type === 'response.output_text.done')
  t.match(flushed[doneAt - 1], { type: 'response.output_text.delta', item_id: 'msg_gen', output_index: 0, content_index: 0 })
  t.match(flushed[doneAt - 1]?.delta, /^\[email:[0-9a-f]+\]$/, 'held text flushed in a delta right before the done event')
})

t.test('the SSE event names match the types, also on inserted events', async (t) => {
  const frames = parseSse(replay(ruleSet, enc(buildResponsesStream(['Mail ', 'jane.doe@acme.io'])), []).output).frames
  for (const f of frames) t.equal(f.event, JSON.parse(f.data).type)
})

t.test('the output is the same however the upstream bytes were split', async (t) => {
  checkSplitInvariance(t, ruleSet, ['openai-responses.sse', 'openai-responses-cut.sse'], 20)
})

t.test('unchanged events pass byte for byte; changed deltas lose their padding', async (t) => {
  const input = fixture('openai-responses.sse')
  const upstream = parseSse(input.toString('utf8')).frames
  const out = parseSse(replay(ruleSet, input, []).output).frames
  t.equal(out[0]?.data, upstream[0]?.data, 'response.created')
  t.equal(out[2]?.data, upstream[2]?.data, 'output_item.added')
  for (const f of out) {
    const e = JSON.parse(f.data)
    if (e.type === 'response.output_text.delta' && !upstream.some((u) => u.data === f.data)) t.notOk('obfuscation' in e)
  }
})

t.test('a cut ends with response.incomplete, reason content_filter, and the text so far', async (t) => {
  const input = fixture('openai-responses-cut.sse')
  const { output, sanitizer } = replay(ruleSet, input, [])
  const out = events(output)
  const last = out.at(-1) as Event
  t.equal(last.type, 'response.incomplete')
  t.equal(parseSse(output).frames.at(-1)?.event, 'response.incomplete')
  t.equal(last.response.status, 'incomplete')
  t.same(last.response.incomplete_details, { reason: 'content_filter' })
  t.equal(last.response.id, 'resp_68a1b2c3d4e5f60718293a4b5c6d7e8f')
  const whole = scanWhole(ruleSet, 'Okay, the plan: launch the missiles at dawn. Mail bob@corp.io.')
  t.equal(texts(output).get('out:0:0'), whole.text)
  t.equal(last.response.output[0].content[0].text, whole.text)
  t.equal(last.response.output[0].status, 'incomplete')
  t.same(out.map((e) => e.sequence_number), out.map((_, i) => i))
  t.notOk(output.includes('missiles') || output.includes('bob'))
  t.notOk(out.some((e) => e.type === 'response.output_text.done' || e.type === 'response.completed'))
  t.equal(sanitizer.stats().finishReason, 'content_filter')
})

t.test('a text sent only in a done event, never as deltas, is scanned whole', async (t) => {
  const seq = (n: number): string => `"sequence_number":${n}`
  const input = enc(
    `event: response.output_text.done\ndata: {"type":"response.output_text.done",${seq(0)},"item_id":"m","output_index":0,"content_index":0,"text":"mail jane.doe@acme.io"}\n\n`)
  const out = events(replay(ruleSet, input, []).output)
  t.match(out[0]?.text, /^mail \[email:[0-9a-f]+\]$/)
})

t.test('refusal, reasoning summary and custom tool input deltas are scanned too', async (t) => {
  const ev = (type: string, extra: Record<string, unknown>, n: number): string => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: n, item_id: 'x', output_index: 0, ...extra })}\n\n`
  const input = enc(
    ev('response.refusal.delta', { content_index: 0, delta: 'no, jane.doe@acme.io' }, 0) +
    ev('response.reasoning_summary_text.delta', { summary_index: 0, delta: 'user jane.doe@acme.io' }, 1) +
    ev('response.custom_tool_call_input.delta', { delta: 'to jane.doe@acme.io' }, 2) +
    ev('response.refusal.done', { content_index: 0, refusal: 'no, jane.doe@acme.io' }, 3))
  const { output, findings } = replay(ruleSet, input, [])
  t.notOk(output.includes('jane.doe'))
  t.same(findings.map((f) => f.context.channel).sort(), ['ctool:0', 'ref:0:0', 'sum:0:0'])
})

t.test('generated streams: any tokenization gives the whole-text scan (fast-check)', async (t) => {
  const text = 'Sure: jane.doe@acme.io, 415-555-2671, 4111 1111 1111 1111. Café ☕ 🎉 thanks'
  const expected = scanWhole(ruleSet, text).text
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: text.length - 1 }), { maxLength: 25 }), (cuts) => {
    const output = replay(ruleSet, enc(buildResponsesStream(tokenize(text, cuts))), []).output
    const out = events(output)
    return texts(output).get('out:0:0') === expected && out.at(-1)?.response.output[0].content[0].text === expected
  }), { numRuns: 100 })
  t.pass('100 tokenizations')
})

// Non-streamed bodies (`stream: false`): sanitizeOpenAiResponsesBody.
const newScanner = scannerFactory(ruleSet)
const bodyText = 'Reach jane.doe@acme.io or (415) 555-2671.'
const bodyClean = scanWhole(ruleSet, bodyText).text

t.test('body: output text, function call arguments; a cut makes it incomplete', async (t) => {
  const body = {
    id: 'resp_1',
    object: 'response',
    status: 'completed',
    incomplete_details: null,
    output: [
      { id: 'msg_1', type: 'message', role: 'assistant', content: [{ type: 'output_text', text: bodyText, annotations: [] }] },
      { id: 'fc_1', type: 'function_call', name: 'send', arguments: '{"to":"jane.doe@acme.io"}', call_id: 'c' }
    ]
  }
  const r = sanitizeOpenAiResponsesBody(body, newScanner)
  const out = r.body as any
  t.equal(out.output[0].content[0].text, bodyClean)
  t.notOk(out.output[1].arguments.includes('jane'))
  t.equal(out.status, 'completed')
  const cut = sanitizeOpenAiResponsesBody({ ...body, output: [{ type: 'message', content: [{ type: 'output_text', text: 'ok, launch the missiles' }] }] }, newScanner).body as any
  t.equal(cut.status, 'incomplete')
  t.same(cut.incomplete_details, { reason: 'content_filter' })
  t.equal(cut.output[0].content[0].text, 'ok, ')
})
