import t from 'tap'
import { frameData } from '../../src/protocols/json-frame.js'
import fc from 'fast-check'
import { createOllamaCodec } from '../../src/protocols/ollama.js'
import { sanitizeJsonBody, sniffJsonProtocol } from '../../src/protocols/sanitize-json-body.js'
import { createCodec, selectFraming, sniffNdjsonProtocol } from '../../src/protocols/select-codec.js'
import { createTextChannels } from '../../src/protocols/text-channels.js'
import type { CodecContext } from '../../src/protocols/types.js'
import { createStreamSanitizer } from '../../src/stream/create-stream-sanitizer.js'
import {
  expectedTexts, fixture, parseNdjson, replay, scanWhole, scannerFactory, testRules, tokenize
} from '../stream/replay.js'

const ruleSet = await testRules()
const enc = (s: string): Buffer => Buffer.from(s, 'utf8')
type Json = Record<string, any>
const ndjson = { contentType: 'application/x-ndjson' }
const lines = (s: string): Json[] => parseNdjson(s).map((f) => JSON.parse(f.data) as Json)

/** The text of each channel as a client joins it. */
function textsOf (s: string): Map<string, string> {
  const out = new Map<string, string>()
  const add = (key: string, text: unknown): void => { if (typeof text === 'string') out.set(key, (out.get(key) ?? '') + text) }
  for (const line of lines(s)) {
    add('message.content', line.message?.content)
    add('message.thinking', line.message?.thinking)
    add('response', line.response)
    add('thinking', line.thinking)
  }
  for (const [key, text] of out) if (text === '') out.delete(key)
  return out
}

function buildChat (tokens: readonly string[], done = true): string {
  let out = ''
  tokens.forEach((content, i) => { out += JSON.stringify({ model: 'llama3.2', created_at: `2025-08-01T10:00:0${i % 10}Z`, message: { role: 'assistant', content }, done: false }) + '\n' })
  if (done) out += JSON.stringify({ model: 'llama3.2', created_at: '2025-08-01T10:00:59Z', message: { role: 'assistant', content: '' }, done: true, done_reason: 'stop', eval_count: tokens.length }) + '\n'
  return out
}

function codecContext (): { ctx: CodecContext, frames: string[] } {
  const frames: string[] = []
  const ctx: CodecContext = { channels: createTextChannels({ newScanner: scannerFactory(ruleSet) }), emit: (f) => frames.push(frameData(f)), malformed: () => {}, upstreamFinish: () => {}, namedEvents: () => false }
  return { ctx, frames }
}

t.test('chat content and thinking come out as their whole-text scans', async (t) => {
  const input = fixture('ollama-chat.ndjson')
  const { output, sanitizer, findings } = replay(ruleSet, input, [], ndjson)
  t.same([...textsOf(output)], [...expectedTexts(ruleSet, textsOf(input.toString('utf8')))])
  t.notOk(output.includes('jane.doe') || output.includes('555-26') || output.includes('4111 1111'))
  t.equal(sanitizer.stats().protocol, 'ollama')
  t.equal(sanitizer.stats().upstreamFinishReason, 'stop')
  t.ok(findings.some((f) => f.context.field === 'thinking'))
  t.ok(findings.some((f) => f.context.field === 'content'))
})

t.test('tool call arguments are an object: every string leaf is scanned, the rest kept', async (t) => {
  const out = lines(replay(ruleSet, fixture('ollama-chat.ndjson'), [], ndjson).output)
  const call = out.flatMap((l) => l.message?.tool_calls ?? [])[0]
  t.equal(call.function.name, 'send_email')
  t.match(call.function.arguments.to, /^\[email:[0-9a-f]+\]$/)
  t.notMatch(call.function.arguments.body, /555/)
  t.equal(call.function.arguments.urgent, true)
})

t.test('generate streams: response text scanned, held text flushed into the done line', async (t) => {
  const input = fixture('ollama-generate.ndjson')
  const { output, sanitizer } = replay(ruleSet, input, [], ndjson)
  t.same([...textsOf(output)], [...expectedTexts(ruleSet, textsOf(input.toString('utf8')))])
  t.equal(sanitizer.stats().protocol, 'ollama')
  const out = lines(output)
  const done = out.at(-1) as Json
  t.equal(done.done, true)
  t.equal(done.done_reason, 'stop')
  t.same(done.context, [128006, 882, 128007])
  t.equal(out.length, lines(input.toString('utf8')).length, 'one line out per line in')
})

t.test('the output is the same however the upstream bytes were split', async (t) => {
  for (const name of ['ollama-chat.ndjson', 'ollama-generate.ndjson', 'ollama-chat-cut.ndjson']) {
    const input = fixture(name)
    const reference = replay(ruleSet, input, [], ndjson).output
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: input.length - 1 }), { maxLength: 40 }), (splits) => {
      return replay(ruleSet, input, splits, ndjson).output === reference
    }), { numRuns: 25 })
    t.equal(replay(ruleSet, input, Array.from({ length: input.length }, (_, i) => i), ndjson).output, reference, `${name}: one byte at a time`)
  }
  // Without a content type the framing comes from the protocol.
  t.equal(selectFraming('ollama'), 'ndjson')
})

t.test('held text is flushed into the done: true line', async (t) => {
  const out = lines(replay(ruleSet, enc(buildChat(['Mail ', 'jane', '.doe@acme', '.io'])), [], ndjson).output)
  const done = out.at(-1) as Json
  t.equal(done.done, true)
  t.match(done.message.content, /\[email:[0-9a-f]+\]$/)
})

t.test('a stream that ends without done gets its held text in an added line', async (t) => {
  const text = 'write to jane.doe@acme'
  const { output } = replay(ruleSet, enc(buildChat([text], false)), [], ndjson)
  const out = lines(output)
  t.equal(out.length, 2)
  t.same(Object.keys(out[1] as Json), ['model', 'created_at', 'message', 'done'])
  t.equal(out[1]?.done, false)
  t.equal(textsOf(output).get('message.content'), scanWhole(ruleSet, text).text)
})

t.test('a cut ends the stream with a done line whose done_reason is content_filter', async (t) => {
  const { output, sanitizer } = replay(ruleSet, fixture('ollama-chat-cut.ndjson'), [], ndjson)
  const out = lines(output)
  // The cut line repeats the model and the last time the upstream gave.
  const tripped = lines(fixture('ollama-chat-cut.ndjson').toString('utf8')).find((l) => l.message.content.includes('iles')) as Json
  t.same(out.at(-1), { model: 'qwen3:8b', created_at: tripped.created_at, message: { role: 'assistant', content: '' }, done: true, done_reason: 'content_filter' })
  t.equal(textsOf(output).get('message.content'), scanWhole(ruleSet, 'Okay, the plan: launch the missiles at dawn. Mail bob@corp.io.').text)
  t.notOk(output.includes('missiles') || output.includes('bob@corp'))
  t.equal(sanitizer.stats().finishReason, 'content_filter')
})

t.test('a cut of a generate stream ends it in the generate shape', async (t) => {
  const { ctx, frames } = codecContext()
  const codec = createOllamaCodec(ctx)
  codec.frame({ data: JSON.stringify({ model: 'llama3.2', created_at: '2025-08-01T10:00:00Z', response: 'Hi', done: false }) })
  codec.cut({} as never)
  t.same(JSON.parse(frames.at(-1) as string), { model: 'llama3.2', created_at: '2025-08-01T10:00:00Z', response: '', done: true, done_reason: 'content_filter' })
})

t.test('an upstream failure is an { error } line, Ollama\'s own shape', async (t) => {
  const sanitizer = createStreamSanitizer({ newScanner: scannerFactory(ruleSet), ...ndjson })
  sanitizer.write(buildChat(['Hello there']).split('\n')[0] + '\n')
  const out = lines(sanitizer.fail(new Error('boom')))
  t.match(out.at(-1), { error: /^Upstream failed/ })
  t.same(Object.keys(out.at(-1) as Json), ['error'])
})

t.test('lines are re-serialized from the parsed value: a duplicate key cannot smuggle text', async (t) => {
  const raw = '{"model":"m","created_at":"2025-08-01T10:00:00Z","message":{"role":"assistant","content":"jane.doe@acme.io","content":"fine"},"done":true,"done_reason":"stop"}\n'
  const { output } = replay(ruleSet, enc(raw), [], ndjson)
  t.notOk(output.includes('jane.doe'))
  t.equal(textsOf(output).get('message.content'), 'fine')
})

t.test('auto over NDJSON picks Ollama from the first line\'s shape, Chat Completions otherwise', async (t) => {
  t.equal(sniffNdjsonProtocol(buildChat(['x']).split('\n')[0] as string), 'ollama')
  t.equal(sniffNdjsonProtocol('{"model":"m","created_at":"t","response":"x","done":false}'), 'ollama')
  t.equal(sniffNdjsonProtocol('{"id":"c","object":"chat.completion.chunk","choices":[]}'), 'ndjson')
  t.equal(replay(ruleSet, fixture('openai-chat.ndjson'), [], ndjson).sanitizer.stats().protocol, 'ndjson', 'OpenAI chunks keep the ndjson codec')
  const { ctx } = codecContext()
  const codec = createCodec('auto', 'ndjson', ctx)
  codec.frame({ data: buildChat(['x']).split('\n')[0] as string })
  t.equal(codec.protocol, 'ollama')
})

t.test('ownsPath claims exactly the text fields and tool argument leaves', async (t) => {
  const { ctx } = codecContext()
  const codec = createOllamaCodec(ctx)
  for (const path of [['message', 'content'], ['message', 'thinking'], ['response'], ['thinking'], ['message', 'tool_calls', 0, 'function', 'arguments', 'to']]) {
    t.ok(codec.ownsPath?.({}, path, undefined), path.join('.'))
  }
  for (const path of [['model'], ['created_at'], ['done_reason'], ['error'], ['message', 'role'], ['message', 'tool_calls', 0, 'function', 'name'], ['message', 'images', 0]]) {
    t.notOk(codec.ownsPath?.({}, path, undefined), path.join('.'))
  }
})

t.test('non-streamed bodies (stream: false) are sanitized; a cut says content_filter', async (t) => {
  const body = { model: 'llama3.2', created_at: '2025-08-01T10:00:00Z', message: { role: 'assistant', content: 'Mail jane.doe@acme.io', thinking: 'call (415) 555-2671', tool_calls: [{ function: { name: 'f', arguments: { to: 'bob@corp.io', n: 1 } } }] }, done: true, done_reason: 'stop', eval_count: 9 }
  t.equal(sniffJsonProtocol(body), 'ollama')
  const result = sanitizeJsonBody(body, scannerFactory(ruleSet))
  const out = result.body as Json
  t.equal(result.protocol, 'ollama')
  t.match(out.message.content, /^Mail \[email:[0-9a-f]+\]$/)
  t.notMatch(out.message.thinking, /555/)
  t.match(out.message.tool_calls[0].function.arguments.to, /^\[email:[0-9a-f]+\]$/)
  t.equal(out.done_reason, 'stop')
  t.equal(body.message.content, 'Mail jane.doe@acme.io', 'input unchanged')
  const generate = { model: 'llama3.2', created_at: '2025-08-01T10:00:00Z', response: 'Now launch the missiles.', done: true, done_reason: 'stop' }
  const cut = sanitizeJsonBody(generate, scannerFactory(ruleSet))
  t.ok(cut.cut)
  t.equal((cut.body as Json).done_reason, 'content_filter')
  t.notOk(JSON.stringify(cut.body).includes('missiles'))
})

t.test('generated streams: any tokenization gives the whole-text scan (fast-check)', async (t) => {
  const text = 'Reach jane.doe@acme.io or (415) 555-2671; card 5555-5555-5555-4444. Café ☕ 🎉'
  const expected = scanWhole(ruleSet, text).text
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: text.length - 1 }), { maxLength: 25 }), (cuts) => {
    return textsOf(replay(ruleSet, enc(buildChat(tokenize(text, cuts))), [], ndjson).output).get('message.content') === expected
  }), { numRuns: 100 })
  t.pass('100 tokenizations')
})
