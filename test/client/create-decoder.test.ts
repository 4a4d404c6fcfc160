import t from 'tap'
import fc from 'fast-check'
import { createDecoder } from '../../src/client/create-decoder.js'
import type { DecodedEvent } from '../../src/client/create-decoder.js'
import type { Framing } from '../../src/client/select-reader.js'
import type { ClientProtocol, FinishReason } from '../../src/client/types.js'
import { createStreamSanitizer } from '../../src/stream/create-stream-sanitizer.js'
import { fixture, replay, scannerFactory, testRules } from '../stream/replay.js'
import { cut, encode, offsetsOf } from './split-bytes.js'

/** Each fixture (an upstream stream), the protocol the client is told, and how Sluice's output of it finishes. */
const kFixtures: Array<{ name: string, protocol: ClientProtocol, finish: FinishReason, raw: string }> = [
  { name: 'openai-chat.sse', protocol: 'openai-chat', finish: 'stop', raw: 'stop' },
  { name: 'openai-chat-n2.sse', protocol: 'openai-chat', finish: 'length', raw: 'length' },
  { name: 'openai-chat-tools.sse', protocol: 'openai-chat', finish: 'tool_calls', raw: 'tool_calls' },
  { name: 'openai-chat-cut.sse', protocol: 'openai-chat', finish: 'content_filter', raw: 'content_filter' },
  { name: 'openai-chat.ndjson', protocol: 'ndjson', finish: 'stop', raw: 'stop' },
  { name: 'openai-completions.sse', protocol: 'openai-completions', finish: 'length', raw: 'length' },
  { name: 'openai-completions-cut.sse', protocol: 'openai-completions', finish: 'content_filter', raw: 'content_filter' },
  { name: 'openai-responses.sse', protocol: 'openai-responses', finish: 'tool_calls', raw: 'completed' },
  { name: 'openai-responses-cut.sse', protocol: 'openai-responses', finish: 'content_filter', raw: 'content_filter' },
  { name: 'anthropic-messages.sse', protocol: 'anthropic-messages', finish: 'tool_calls', raw: 'tool_use' },
  { name: 'anthropic-messages-cut.sse', protocol: 'anthropic-messages', finish: 'refusal', raw: 'refusal' },
  { name: 'gemini.sse', protocol: 'gemini', finish: 'tool_calls', raw: 'STOP' },
  { name: 'gemini-cut.sse', protocol: 'gemini', finish: 'content_filter', raw: 'SAFETY' },
  { name: 'ollama-chat.ndjson', protocol: 'ollama', finish: 'tool_calls', raw: 'stop' },
  { name: 'ollama-chat-cut.ndjson', protocol: 'ollama', finish: 'content_filter', raw: 'content_filter' },
  { name: 'ollama-generate.ndjson', protocol: 'ollama', finish: 'stop', raw: 'stop' },
  { name: 'cohere-chat.sse', protocol: 'cohere', finish: 'stop', raw: 'COMPLETE' },
  { name: 'cohere-chat-cut.sse', protocol: 'cohere', finish: 'content_filter', raw: 'ERROR' }
]

function framingOfName (name: string): Framing {
  return name.endsWith('.ndjson') ? 'ndjson' : 'sse'
}

/** What Sluice sends a client for this upstream stream (the shipped rules and the test cut rule). */
async function sanitized (name: string): Promise<Uint8Array> {
  const ruleSet = await testRules()
  const contentType = name.endsWith('.ndjson') ? 'application/x-ndjson' : 'text/event-stream'
  return encode(replay(ruleSet, fixture(name), [], { contentType }).output)
}

function decode (protocol: ClientProtocol, framing: Framing, chunks: readonly Uint8Array[]): DecodedEvent[] {
  const decoder = createDecoder({ protocol, framing })
  const events: DecodedEvent[] = []
  for (const chunk of chunks) events.push(...decoder.push(chunk))
  events.push(...decoder.end())
  return events
}

function textsOf (events: readonly DecodedEvent[]): Map<string, string> {
  const texts = new Map<string, string>()
  for (const e of events) if (e.type === 'text') texts.set(`${e.ref.channel}:${e.ref.key}`, (texts.get(`${e.ref.channel}:${e.ref.key}`) ?? '') + e.text)
  return texts
}

function finishOf (events: readonly DecodedEvent[]): Extract<DecodedEvent, { type: 'finish' }> | undefined {
  const finishes = events.filter((e): e is Extract<DecodedEvent, { type: 'finish' }> => e.type === 'finish')
  return finishes.length === 1 && events.at(-1) === finishes[0] ? finishes[0] : undefined
}

for (const { name, protocol, finish, raw } of kFixtures) {
  t.test(`${name}: Sluice's output reads as text, markers and a ${finish} finish, however the bytes are split`, async (t) => {
    const bytes = await sanitized(name)
    const framing = framingOfName(name)
    const events = decode(protocol, framing, [bytes])
    const end = finishOf(events)
    t.match(end, { reason: finish, raw }, 'one finish, last')
    t.equal(end?.protocol, protocol)
    const all = [...textsOf(events).values()].join('\n')
    t.ok(all.length > 0, 'some text')
    t.notMatch(all, /jane\.doe@acme\.io|bob@corp\.io/, 'no e-mail address left')
    if (!name.includes('-cut')) {
      const spans = events.flatMap((e) => (e.type === 'text' ? e.spans : []))
      t.ok(spans.some((s) => s.label === 'email' && s.rule === 'pii.email'), 'the e-mail redactions are spans')
    } else {
      t.notMatch(all, /missiles/, 'nothing of the cut match')
    }
    t.same(decode('auto', framing, [bytes]), events, 'auto recognises it')
    const whole = JSON.stringify(events)
    fc.assert(fc.property(offsetsOf(bytes.length), (offsets) => JSON.stringify(decode(protocol, framing, cut(bytes, offsets))) === whole), { numRuns: 40 })
  })
}

t.test('a stream that stops before any finish reason finishes missing', async (t) => {
  for (const { name, protocol } of kFixtures) {
    const bytes = await sanitized(name)
    const framing = framingOfName(name)
    const text = new TextDecoder().decode(bytes)
    const frames = text.split(framing === 'sse' ? /(?<=\n\n|\r\n\r\n|\r\r)/ : /(?<=\n)/)
    // Everything before the first frame that says how the answer ends.
    const ending = frames.findIndex((f) => /"(?:finish_reason|stop_reason|finishReason|done_reason)":"|"type":"(?:message-end|response\.(?:completed|incomplete|failed))"/.test(f))
    t.ok(ending > 0, `${name}: a frame ends it`)
    const events = decode(protocol, framing, [encode(frames.slice(0, ending).join(''))])
    t.match(finishOf(events), { reason: 'missing', raw: undefined }, name)
    t.ok(events.some((e) => e.type === 'text'), `${name}: the text before it is delivered`)
  }
})

/** Sluice's output when the upstream fails mid-stream (an in-band error frame). */
async function failedMidStream (name: string): Promise<Uint8Array> {
  const ruleSet = await testRules()
  const input = fixture(name)
  const sanitizer = createStreamSanitizer({ newScanner: scannerFactory(ruleSet), contentType: name.endsWith('.ndjson') ? 'application/x-ndjson' : 'text/event-stream' })
  const err = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
  return encode(sanitizer.write(input.subarray(0, input.length >> 1)) + sanitizer.fail(err))
}

t.test('an upstream failure mid-stream is an error, then an error finish, in every protocol', async (t) => {
  for (const { name, protocol } of kFixtures.filter((f) => !f.name.includes('-cut') && !f.name.includes('n2') && !f.name.includes('tools'))) {
    const events = decode(protocol, framingOfName(name), [await failedMidStream(name)])
    const error = events.find((e) => e.type === 'error')
    t.ok(error !== undefined, `${name}: an error`)
    if (error?.type === 'error') {
      t.match(error.error.message, /ECONNRESET/, `${name}: the message`)
      // Only the OpenAI shapes carry Sluice's code; the others carry a message (and a type).
      const coded = protocol.startsWith('openai') || protocol === 'ndjson'
      t.equal(error.error.code, coded ? 'SLUICE_UPSTREAM' : 'SLUICE_CLIENT_STREAM_ERROR', `${name}: the code`)
    }
    t.match(finishOf(events), { reason: 'error' }, `${name}: the finish`)
  }
})

t.test('an event over maxEventSize is an error finish, and nothing after it is read', async (t) => {
  const decoder = createDecoder({ protocol: 'openai-chat', framing: 'sse', maxEventSize: 100 })
  const chunk = (text: string): string => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: text } }] })}\n\n`
  const events = [...decoder.push(encode(chunk('Hello') + chunk('x'.repeat(200)) + chunk('later'))), ...decoder.end()]
  t.same(events.map((e) => e.type), ['text', 'error', 'finish'])
  t.match(events[1], { error: { code: 'SLUICE_CLIENT_FRAME_TOO_LARGE' } })
  t.match(events[2], { reason: 'error' })
})

t.test('a finish reason outranks the connection breaking after it; a cut outranks an error', async (t) => {
  const decoder = createDecoder({ protocol: 'gemini', framing: 'sse' })
  decoder.push(encode('data: {"candidates":[{"index":0,"content":{"parts":[{"text":"Hi"}]},"finishReason":"STOP"}]}\n\n'))
  t.match(decoder.fail({ code: 'SLUICE_CLIENT_NETWORK', message: 'reset' }), [{ type: 'finish', reason: 'stop' }], 'no error after a finish reason')
  const cutFirst = createDecoder({ protocol: 'openai-chat', framing: 'sse' })
  const events = [...cutFirst.push(encode('data: {"choices":[{"index":0,"delta":{},"finish_reason":"content_filter"}]}\n\ndata: {"error":{"message":"x","code":"SLUICE_UPSTREAM"}}\n\n')), ...cutFirst.end()]
  t.match(events.at(-1), { type: 'finish', reason: 'content_filter' })
})

t.test('an in-band error before any frame is recognised still reads (the proxy uses the OpenAI shape then)', async (t) => {
  const events = decode('auto', 'sse', [encode('data: {"error":{"message":"Upstream failed: ECONNREFUSED","type":"upstream_error","param":null,"code":"SLUICE_UPSTREAM"}}\n\n')])
  t.match(events, [{ type: 'error', error: { code: 'SLUICE_UPSTREAM', type: 'upstream_error' } }, { type: 'finish', reason: 'error', raw: 'upstream_error' }])
})

t.test('reads each channel of each protocol: content, reasoning, refusal, tool arguments with the tool name', async (t) => {
  const cases: Array<{ protocol: ClientProtocol, framing: Framing, body: string, expect: Array<[string, string, string | undefined]> }> = [
    {
      protocol: 'openai-chat',
      framing: 'sse',
      body: [
        { choices: [{ index: 0, delta: { reasoning_content: 'think ' } }] },
        { choices: [{ index: 0, delta: { content: 'Hi', refusal: 'No' } }] },
        { choices: [{ index: 0, delta: { tool_calls: [{ index: 1, id: 'c', function: { name: 'lookup', arguments: '{"q"' } }] } }] },
        { choices: [{ index: 0, delta: { tool_calls: [{ index: 1, function: { arguments: ':1}' } }] } }] }
      ].map((c) => `data: ${JSON.stringify(c)}\n\n`).join(''),
      expect: [['reasoning', 'think ', undefined], ['content', 'Hi', undefined], ['refusal', 'No', undefined], ['tool_arguments', '{"q":1}', 'lookup']]
    },
    {
      protocol: 'openai-responses',
      framing: 'sse',
      body: [
        { type: 'response.reasoning_summary_text.delta', output_index: 0, summary_index: 0, delta: 'plan' },
        { type: 'response.output_item.added', output_index: 1, item: { type: 'function_call', name: 'lookup', arguments: '' } },
        { type: 'response.function_call_arguments.delta', output_index: 1, delta: '{}' },
        { type: 'response.refusal.delta', output_index: 2, content_index: 0, delta: 'No' },
        { type: 'response.completed', response: { status: 'completed', output: [{ type: 'function_call' }] } }
      ].map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join(''),
      expect: [['reasoning', 'plan', undefined], ['tool_arguments', '{}', 'lookup'], ['refusal', 'No', undefined]]
    },
    {
      protocol: 'anthropic-messages',
      framing: 'sse',
      body: [
        { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hmm' } },
        { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 't', name: 'lookup', input: {} } },
        { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"q":1}' } },
        { type: 'message_stop' }
      ].map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join(''),
      expect: [['reasoning', 'hmm', undefined], ['tool_arguments', '{"q":1}', 'lookup']]
    },
    {
      protocol: 'cohere',
      framing: 'sse',
      body: [
        { type: 'tool-plan-delta', delta: { message: { tool_plan: 'plan' } } },
        { type: 'tool-call-start', index: 0, delta: { message: { tool_calls: { function: { name: 'lookup', arguments: '' } } } } },
        { type: 'tool-call-delta', index: 0, delta: { message: { tool_calls: { function: { arguments: '{}' } } } } },
        { type: 'content-delta', index: 0, delta: { message: { content: { thinking: 'hmm' } } } }
      ].map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join(''),
      expect: [['reasoning', 'plan', undefined], ['tool_arguments', '{}', 'lookup'], ['reasoning', 'hmm', undefined]]
    }
  ]
  for (const c of cases) {
    const events = decode(c.protocol, c.framing, [encode(c.body)])
    // Per channel key, in order of first text: channel, whole text, tool name.
    const byKey = new Map<string, [string, string, string | undefined]>()
    for (const e of events) {
      if (e.type !== 'text') continue
      const seen = byKey.get(e.ref.key)
      if (seen === undefined) byKey.set(e.ref.key, [e.ref.channel, e.text, e.ref.name])
      else seen[1] += e.text
    }
    const texts = [...byKey.values()]
    t.same(texts, c.expect, c.protocol)
  }
})
