import t from 'tap'
import { frameData } from '../../src/protocols/json-frame.js'
import fc from 'fast-check'
import { createCohereCodec } from '../../src/protocols/cohere.js'
import { sanitizeJsonBody, sniffJsonProtocol } from '../../src/protocols/sanitize-json-body.js'
import { sniffProtocol } from '../../src/protocols/select-codec.js'
import { createTextChannels } from '../../src/protocols/text-channels.js'
import { createStreamSanitizer } from '../../src/stream/create-stream-sanitizer.js'
import {
  checkSplitInvariance, expectedTexts, fixture, jsonFrames, parseSse, replay, scanWhole, scannerFactory, testRules, tokenize
} from '../stream/replay.js'

const ruleSet = await testRules()
const enc = (s: string): Buffer => Buffer.from(s, 'utf8')
type Json = Record<string, any>
const events = (s: string): Json[] => jsonFrames(parseSse(s).frames) as Json[]

/** Each channel's text as a client joins it: `c:<index>` content, `t:<index>` tool arguments, `plan`. */
function textsOf (s: string): Map<string, string> {
  const out = new Map<string, string>()
  const add = (key: string, text: unknown): void => { if (typeof text === 'string') out.set(key, (out.get(key) ?? '') + text) }
  for (const e of events(s)) {
    const message = e.delta?.message
    if (e.type === 'content-delta') add(`c:${e.index as number}`, message?.content?.text ?? message?.content?.thinking)
    if (e.type === 'tool-plan-delta') add('plan', message?.tool_plan)
    if (e.type === 'tool-call-delta') add(`t:${e.index as number}`, message?.tool_calls?.function?.arguments)
  }
  for (const [key, text] of out) if (text === '') out.delete(key)
  return out
}

const ev = (obj: Json, named = true): string => (named ? `event: ${obj.type as string}\n` : '') + `data: ${JSON.stringify(obj)}\n\n`
function buildCohere (tokens: readonly string[], named = true): string {
  return ev({ id: 'm1', type: 'message-start', delta: { message: { role: 'assistant' } } }, named) +
    ev({ type: 'content-start', index: 0, delta: { message: { content: { type: 'text', text: '' } } } }, named) +
    tokens.map((text) => ev({ type: 'content-delta', index: 0, delta: { message: { content: { text } } } }, named)).join('') +
    ev({ type: 'content-end', index: 0 }, named) +
    ev({ type: 'message-end', delta: { finish_reason: 'COMPLETE', usage: { tokens: { output_tokens: tokens.length } } } }, named)
}

function newCodec (frames: Array<{ event?: string | undefined, data: string }> = [], namedEvents = true): ReturnType<typeof createCohereCodec> {
  return createCohereCodec({ channels: createTextChannels({ newScanner: scannerFactory(ruleSet) }), emit: (f) => frames.push({ event: f.event, data: frameData(f) }), malformed: () => {}, upstreamFinish: () => {}, namedEvents: () => namedEvents })
}

t.test('content, tool plan and tool arguments come out as their whole-text scans', async (t) => {
  const input = fixture('cohere-chat.sse')
  const { output, sanitizer, findings } = replay(ruleSet, input, [])
  t.same([...textsOf(output)], [...expectedTexts(ruleSet, textsOf(input.toString('utf8')))])
  t.notOk(output.includes('jane.doe') || output.includes('555-26') || output.includes('4111 1111'))
  t.equal(sanitizer.stats().protocol, 'cohere')
  t.equal(sanitizer.stats().upstreamFinishReason, 'COMPLETE')
  for (const field of ['text', 'reasoning', 'tool_arguments']) t.ok(findings.some((f) => f.context.field === field), field)
  t.ok(JSON.parse(textsOf(output).get('t:0') as string), 'the tool arguments are still valid JSON')
})

t.test('events keep their names; held text is flushed right before content-end / tool-call-end', async (t) => {
  const { output } = replay(ruleSet, fixture('cohere-chat.sse'), [])
  const frames = parseSse(output).frames
  for (const f of frames) t.equal(f.event, JSON.parse(f.data).type)
  const out = events(output)
  // Whatever was still held went out before content-end, never after it.
  const contentEnd = out.findIndex((e) => e.type === 'content-end')
  t.ok(contentEnd > 0)
  t.notOk(out.slice(contentEnd).some((e) => e.type === 'content-delta'), 'no content after content-end')
  const toolEnd = out.findIndex((e) => e.type === 'tool-call-end')
  t.match(out[toolEnd - 1], { type: 'tool-call-delta', index: 0 })
  const firstCall = out.findIndex((e) => e.type === 'tool-call-start')
  t.equal(out[firstCall - 1]?.type, 'tool-plan-delta', 'the plan is flushed before the first tool call')
  const held = events(replay(ruleSet, enc(buildCohere(['Mail ', 'jane', '.doe@acme', '.io'])), []).output)
  const end = held.findIndex((e) => e.type === 'content-end')
  t.match(held[end - 1], { type: 'content-delta', index: 0, delta: { message: { content: { text: /^\[email:[0-9a-f]+\]$/ } } } })
})

t.test('the output is the same however the upstream bytes were split', async (t) => {
  checkSplitInvariance(t, ruleSet, ['cohere-chat.sse', 'cohere-chat-cut.sse'])
})

t.test('a cut closes the open content, then message-end with finish_reason ERROR and why', async (t) => {
  const { output, sanitizer } = replay(ruleSet, fixture('cohere-chat-cut.sse'), [])
  t.same(events(output).slice(-2), [
    { type: 'content-end', index: 0 },
    { type: 'message-end', delta: { finish_reason: 'ERROR', error: 'The answer was stopped by a content policy.' } }
  ])
  t.same(parseSse(output).frames.slice(-2).map((f) => f.event), ['content-end', 'message-end'])
  t.equal(textsOf(output).get('c:0'), scanWhole(ruleSet, 'Okay, the plan: launch the missiles at dawn. Mail bob@corp.io.').text)
  t.notOk(output.includes('missiles') || output.includes('bob@corp'))
  t.equal(sanitizer.stats().finishReason, 'ERROR')
})

t.test('a cut found when a content ends still ends that content, once', async (t) => {
  const out = events(replay(ruleSet, enc(buildCohere(['Fine. Now launch the ', 'missiles'])), []).output)
  t.same(out.filter((e) => e.type === 'content-end'), [{ type: 'content-end', index: 0 }])
  t.equal(out.at(-1)?.delta.finish_reason, 'ERROR')
})

t.test('text written after content-end continues its scanner: a match spanning the end is found', async (t) => {
  const input = ev({ type: 'content-start', index: 0, delta: { message: { content: { type: 'text', text: '' } } } }) +
    ev({ type: 'content-delta', index: 0, delta: { message: { content: { text: 'Mail jane.doe@' } } } }) +
    ev({ type: 'content-end', index: 0 }) +
    ev({ type: 'content-delta', index: 0, delta: { message: { content: { text: 'acme.io now' } } } }) +
    ev({ type: 'message-end', delta: { finish_reason: 'COMPLETE' } })
  const { output } = replay(ruleSet, enc(input), [])
  t.notOk(output.includes('acme.io'))
})

t.test('streams without event: names get inserted events without them too', async (t) => {
  const { output } = replay(ruleSet, enc(buildCohere(['Mail ', 'jane.doe@acme', '.io'], false)), [])
  t.equal(replay(ruleSet, enc(buildCohere(['x'], false)), []).sanitizer.stats().protocol, 'cohere')
  for (const f of parseSse(output).frames) t.equal(f.event, undefined)
  t.match(textsOf(output).get('c:0'), /^Mail \[email:[0-9a-f]+\]$/)
})

t.test('an upstream failure ends the stream with message-end ERROR and its message', async (t) => {
  const sanitizer = createStreamSanitizer({ newScanner: scannerFactory(ruleSet), contentType: 'text/event-stream' })
  sanitizer.write(buildCohere(['Hello']).split('\n\n').slice(0, 2).join('\n\n') + '\n\n')
  const out = events(sanitizer.fail(new Error('boom')))
  t.match(out.at(-1), { type: 'message-end', delta: { finish_reason: 'ERROR', error: /^Upstream failed/ } })
})

t.test('events are re-serialized from the parsed value: a duplicate key cannot smuggle text', async (t) => {
  const raw = 'event: content-delta\ndata: {"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"jane.doe@acme.io","text":"fine"}}}}\n\n'
  const { output } = replay(ruleSet, enc(raw), [])
  t.notOk(output.includes('jane.doe'))
  t.equal(textsOf(output).get('c:0'), 'fine')
})

t.test('thinking content is its own kind of text on the content channel', async (t) => {
  const input = enc(ev({ type: 'content-start', index: 0, delta: { message: { content: { type: 'thinking', thinking: '' } } } }) +
    ev({ type: 'content-delta', index: 0, delta: { message: { content: { thinking: 'the user is jane.doe@' } } } }) +
    ev({ type: 'content-delta', index: 0, delta: { message: { content: { thinking: 'acme.io' } } } }) +
    ev({ type: 'content-end', index: 0 }))
  const out = events(replay(ruleSet, input, []).output)
  t.match(out.filter((e) => e.type === 'content-delta').map((e) => e.delta.message.content.thinking).join(''), /^the user is \[email:[0-9a-f]+\]$/)
})

t.test('a content event carrying both text and thinking has both scanned', async (t) => {
  const input = enc(ev({ type: 'content-delta', index: 0, delta: { message: { content: { text: 'mail jane.doe@acme.io', thinking: 'call bob@corp.io' } } } }))
  const { output } = replay(ruleSet, input, [])
  t.notOk(output.includes('jane.doe') || output.includes('bob@corp'))
})

t.test('auto recognises Cohere events by event name or type', async (t) => {
  t.equal(sniffProtocol('message-start', '{}'), 'cohere')
  t.equal(sniffProtocol(undefined, '{"type":"content-delta","index":0}'), 'cohere')
})

t.test('ownsPath claims exactly the content, plan and argument texts', async (t) => {
  const codec = newCodec()
  t.ok(codec.ownsPath?.({ type: 'content-delta' }, ['delta', 'message', 'content', 'text'], undefined))
  t.ok(codec.ownsPath?.({ type: 'content-delta' }, ['delta', 'message', 'content', 'thinking'], undefined))
  t.ok(codec.ownsPath?.({ type: 'tool-plan-delta' }, ['delta', 'message', 'tool_plan'], undefined))
  t.ok(codec.ownsPath?.({ type: 'tool-call-delta' }, ['delta', 'message', 'tool_calls', 'function', 'arguments'], undefined))
  t.notOk(codec.ownsPath?.({ type: 'tool-call-start' }, ['delta', 'message', 'tool_calls', 'function', 'name'], undefined))
  t.notOk(codec.ownsPath?.({ type: 'citation-start' }, ['delta', 'message', 'citations', 'text'], undefined))
  t.notOk(codec.ownsPath?.({ type: 'message-end' }, ['delta', 'error'], undefined))
  t.notOk(codec.ownsPath?.({ type: 'message-start' }, ['delta', 'message', 'content', 'text'], undefined))
})

t.test('non-streamed /v2/chat bodies are sanitized; a cut says ERROR', async (t) => {
  const body = {
    id: 'c14c80c3',
    finish_reason: 'TOOL_CALL',
    message: {
      role: 'assistant',
      tool_plan: 'I will mail jane.doe@acme.io',
      tool_calls: [{ id: 'send_email_1', type: 'function', function: { name: 'send_email', arguments: '{"to":"jane.doe@acme.io"}' } }],
      content: [{ type: 'text', text: 'Call (415) 555-2671.' }]
    },
    usage: { tokens: { input_tokens: 5, output_tokens: 9 } }
  }
  t.equal(sniffJsonProtocol(body), 'cohere')
  const result = sanitizeJsonBody(body, scannerFactory(ruleSet))
  const out = result.body as Json
  t.equal(result.protocol, 'cohere')
  t.match(out.message.tool_plan, /^I will mail \[email:[0-9a-f]+\]$/)
  t.match(JSON.parse(out.message.tool_calls[0].function.arguments).to, /^\[email:[0-9a-f]+\]$/)
  t.notMatch(out.message.content[0].text, /555/)
  t.equal(out.finish_reason, 'TOOL_CALL')
  t.equal(body.message.tool_plan, 'I will mail jane.doe@acme.io', 'input unchanged')
  const cut = sanitizeJsonBody({ id: 'x', finish_reason: 'COMPLETE', message: { role: 'assistant', content: [{ type: 'text', text: 'Now launch the missiles.' }] } }, scannerFactory(ruleSet))
  t.ok(cut.cut)
  t.equal((cut.body as Json).finish_reason, 'ERROR')
  t.notOk(JSON.stringify(cut.body).includes('missiles'))
})

t.test('generated streams: any tokenization gives the whole-text scan (fast-check)', async (t) => {
  const text = 'Reach jane.doe@acme.io or (415) 555-2671; card 5555-5555-5555-4444. Café ☕ 🎉'
  const expected = scanWhole(ruleSet, text).text
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: text.length - 1 }), { maxLength: 25 }), (cuts) => {
    return textsOf(replay(ruleSet, enc(buildCohere(tokenize(text, cuts))), []).output).get('c:0') === expected
  }), { numRuns: 100 })
  t.pass('100 tokenizations')
})
