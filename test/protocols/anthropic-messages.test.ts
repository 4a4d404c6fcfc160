import t from 'tap'
import fc from 'fast-check'
import { sanitizeAnthropicMessagesBody } from '../../src/protocols/anthropic-messages.js'
import {
  checkSplitInvariance,
  buildAnthropicStream, clientTexts, expectedTexts, fixture, jsonFrames, parseSse,
  replay, scanWhole, scannerFactory, testRules, tokenize
} from '../stream/replay.js'

const ruleSet = await testRules()
const enc = (s: string): Buffer => Buffer.from(s, 'utf8')
const texts = (s: string): Map<string, string> => clientTexts('anthropic', parseSse(s).frames)
type Event = Record<string, any>
const events = (s: string): Event[] => jsonFrames(parseSse(s).frames) as Event[]

t.test('text and tool input blocks come out as their whole-text scans', async (t) => {
  const input = fixture('anthropic-messages.sse')
  const { output, sanitizer, findings } = replay(ruleSet, input, [])
  t.same([...texts(output)], [...expectedTexts(ruleSet, texts(input.toString('utf8')))])
  t.notOk(output.includes('jane.doe') || output.includes('415-555'))
  t.equal(sanitizer.stats().protocol, 'anthropic-messages')
  t.equal(sanitizer.stats().upstreamFinishReason, 'tool_use')
  t.ok(findings.some((f) => f.context.field === 'tool_arguments' && f.context.choice === 1))
  t.ok(findings.some((f) => f.context.field === 'text' && f.context.choice === 0))
})

t.test('events keep their order and names; ping and message events pass unchanged, re-serialized from their parsed value', async (t) => {
  const input = fixture('anthropic-messages.sse')
  const upstream = parseSse(input.toString('utf8')).frames
  const out = parseSse(replay(ruleSet, input, []).output).frames
  for (const f of out) t.equal(f.event, JSON.parse(f.data).type)
  const kinds = (frames: typeof out): string[] => frames.map((f) => f.event as string).filter((e) => e !== 'content_block_delta')
  t.same(kinds(out), kinds(upstream), 'all but deltas unchanged in number and order')
  for (const name of ['message_start', 'ping', 'message_delta', 'message_stop']) {
    t.same(JSON.parse(out.find((f) => f.event === name)?.data ?? 'null'), JSON.parse(upstream.find((f) => f.event === name)?.data ?? 'null'), name)
  }
  // The upstream wrote `{"type": "ping"}`: what goes out is built from the parsed value, never the upstream's bytes.
  t.equal(out.find((f) => f.event === 'ping')?.data, '{"type":"ping"}')
})

t.test('held text is flushed in a delta right before its content_block_stop', async (t) => {
  const out = events(replay(ruleSet, enc(buildAnthropicStream(['Mail ', 'jane', '.doe@acme', '.io'])), []).output)
  const stopAt = out.findIndex((e) => e.type === 'content_block_stop')
  t.match(out[stopAt - 1], { type: 'content_block_delta', index: 0, delta: { type: 'text_delta' } })
  t.match(out[stopAt - 1]?.delta.text, /^\[email:[0-9a-f]+\]$/)
})

t.test('a tool block\'s held JSON is flushed as input_json_delta', async (t) => {
  const out = events(replay(ruleSet, fixture('anthropic-messages.sse'), []).output)
  const stops = out.map((e, i) => [e, i] as const).filter(([e]) => e.type === 'content_block_stop')
  const [, toolStop] = stops[1] as readonly [Event, number]
  t.match(out[toolStop - 1], { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta' } })
  t.ok(JSON.parse(texts(replay(ruleSet, fixture('anthropic-messages.sse'), []).output).get('1') as string), 'the tool input is still valid JSON')
})

t.test('the output is the same however the upstream bytes were split', async (t) => {
  checkSplitInvariance(t, ruleSet, ['anthropic-messages.sse', 'anthropic-messages-cut.sse'])
})

t.test('a cut stops the open block, then message_delta with stop_reason refusal, then message_stop', async (t) => {
  const input = fixture('anthropic-messages-cut.sse')
  const { output, sanitizer } = replay(ruleSet, input, [])
  const out = events(output)
  t.same(out.slice(-3), [
    { type: 'content_block_stop', index: 0 },
    { type: 'message_delta', delta: { stop_reason: 'refusal', stop_sequence: null }, usage: { output_tokens: 2 } },
    { type: 'message_stop' }
  ])
  t.same(parseSse(output).frames.slice(-3).map((f) => f.event), ['content_block_stop', 'message_delta', 'message_stop'])
  t.equal(texts(output).get('0'), scanWhole(ruleSet, 'Okay, the plan: launch the missiles at dawn. Mail bob@corp.io.').text)
  t.notOk(output.includes('missiles'))
  t.equal(sanitizer.stats().finishReason, 'refusal')
})

t.test('thinking deltas are scanned; signature deltas pass', async (t) => {
  const ev = (obj: Event): string => `event: ${obj.type as string}\ndata: ${JSON.stringify(obj)}\n\n`
  const input = enc(
    ev({ type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } }) +
    ev({ type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'the user is jane.doe@acme.io' } }) +
    ev({ type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'EqQBCgIYAhIM' } }) +
    ev({ type: 'content_block_stop', index: 0 }))
  const out = events(replay(ruleSet, input, []).output)
  t.match(out.filter((e) => e.delta?.type === 'thinking_delta').map((e) => e.delta.thinking).join(''), /^the user is \[email:[0-9a-f]+\]$/)
  t.ok(out.some((e) => e.delta?.signature === 'EqQBCgIYAhIM'))
})

t.test('an error event passes through', async (t) => {
  const error = 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
  const input = enc(buildAnthropicStream(['Hi. ']).replace(/event: message_delta[\s\S]*$/, error))
  t.ok(replay(ruleSet, input, []).output.endsWith(error))
})

t.test('generated streams: any tokenization gives the whole-text scan (fast-check)', async (t) => {
  const text = 'Reach jane.doe@acme.io or (415) 555-2671; card 5555-5555-5555-4444. Café ☕ 🎉'
  const expected = scanWhole(ruleSet, text).text
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: text.length - 1 }), { maxLength: 25 }), (cuts) => {
    return texts(replay(ruleSet, enc(buildAnthropicStream(tokenize(text, cuts))), []).output).get('0') === expected
  }), { numRuns: 100 })
  t.pass('100 tokenizations')
})

// Non-streamed bodies (`stream: false`): sanitizeAnthropicMessagesBody.
const newScanner = scannerFactory(ruleSet)
const bodyText = 'Reach jane.doe@acme.io or (415) 555-2671.'
const bodyClean = scanWhole(ruleSet, bodyText).text

t.test('body: text, thinking and every string of a tool input; a cut says refusal', async (t) => {
  const body = {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'claude',
    content: [
      { type: 'thinking', thinking: 'user is jane.doe@acme.io', signature: 'sig' },
      { type: 'text', text: bodyText },
      { type: 'tool_use', id: 'toolu_1', name: 'send', input: { to: ['jane.doe@acme.io'], note: { phone: '(415) 555-2671' }, n: 3 } }
    ],
    stop_reason: 'tool_use',
    stop_sequence: null
  }
  const r = sanitizeAnthropicMessagesBody(body, newScanner)
  const out = r.body as any
  t.equal(r.protocol, 'anthropic-messages')
  t.equal(out.content[1].text, bodyClean)
  t.notOk(out.content[0].thinking.includes('jane'))
  t.match(out.content[2].input.to[0], /^\[email:[0-9a-f]+\]$/)
  t.match(out.content[2].input.note.phone, /^\[phone:[0-9a-f]+\]$/)
  t.equal(out.content[2].input.n, 3)
  const cut = sanitizeAnthropicMessagesBody({ ...body, content: [{ type: 'text', text: 'launch the missiles' }] }, newScanner).body as any
  t.equal(cut.stop_reason, 'refusal')
  t.equal(cut.content[0].text, '')
})

t.test('body: findings name each block\'s channel as the stream does, tool input included', async (t) => {
  const body = {
    type: 'message',
    role: 'assistant',
    content: [
      { type: 'text', text: 'mail jane.doe@acme.io' },
      { type: 'tool_use', id: 'toolu_1', name: 'send', input: { to: 'jane.doe@acme.io' } }
    ]
  }
  const seen: string[] = []
  sanitizeAnthropicMessagesBody(body, newScanner, { onFinding: (f, ctx) => seen.push(`${ctx.channel}:${ctx.field}:${f.ruleId}`) })
  t.same(seen, ['0:text:pii.email', '1:tool_arguments:pii.email'])
})
