import t from 'tap'
import { isChatChunk, isStreamContentType, mediaTypeOf, recogniseFrame, selectFraming, sniffNdjsonProtocol, sniffProtocol } from '../../src/protocols/select-codec.js'
import { createStreamSanitizer } from '../../src/stream/create-stream-sanitizer.js'
import { buildAnthropicStream, buildChatStream, fixture, jsonFrames, parseSse, replay, scannerFactory, testRules } from '../stream/replay.js'

t.test('picks the framing from the content type, else from the protocol', async (t) => {
  t.equal(selectFraming('auto', 'text/event-stream; charset=utf-8'), 'sse')
  t.equal(selectFraming('openai-chat', 'Application/X-NDJSON'), 'ndjson')
  t.equal(selectFraming('auto', 'application/jsonl'), 'ndjson')
  t.equal(selectFraming('ndjson'), 'ndjson')
  t.equal(selectFraming('anthropic-messages'), 'sse')
  t.equal(selectFraming('auto', ''), 'sse')
})

t.test('refuses a content type that is not a stream, and an unknown protocol', async (t) => {
  t.throws(() => selectFraming('auto', 'application/json'), { code: 'SLUICE_UNSUPPORTED_PROTOCOL', message: /application\/json/ })
  t.throws(() => selectFraming('grpc' as never), { code: 'SLUICE_UNSUPPORTED_PROTOCOL' })
  t.equal(isStreamContentType('text/event-stream;charset=UTF-8'), true)
  t.equal(isStreamContentType('application/json'), false)
  t.equal(isStreamContentType(undefined), false)
  t.equal(mediaTypeOf(' Text/Event-Stream ; charset=utf-8'), 'text/event-stream')
})

t.test('recognises each protocol from its first frame', async (t) => {
  const first = (name: string): { event?: string | undefined, data: string } => parseSse(fixture(name).toString('utf8')).frames[0] as { data: string }
  for (const [name, protocol] of [
    ['openai-chat.sse', 'openai-chat'],
    ['openai-completions.sse', 'openai-completions'],
    ['openai-responses.sse', 'openai-responses'],
    ['anthropic-messages.sse', 'anthropic-messages']
  ] as const) {
    const f = first(name)
    t.equal(sniffProtocol(f.event, f.data), protocol, name)
    t.equal(sniffProtocol(undefined, f.data), protocol, `${name} without event names`)
  }
  t.equal(sniffProtocol(undefined, '[DONE]'), 'openai-chat')
  t.equal(sniffProtocol(undefined, 'not json'), undefined)
  t.equal(sniffProtocol(undefined, '[1,2]'), undefined)
})

t.test('auto decides at the first frame it recognises, reporting and dropping unreadable frames before it', async (t) => {
  const ruleSet = await testRules()
  const input = Buffer.concat([Buffer.from('data: garbage\n\n'), fixture('anthropic-messages.sse')])
  const { sanitizer, malformed } = replay(ruleSet, input, [])
  t.equal(sanitizer.stats().protocol, 'anthropic-messages')
  t.equal(malformed.length, 1)
  t.equal(sanitizer.stats().finishReason, 'tool_use')
})

t.test('recognises each frame on its own; Chat Completions only by its shape', async (t) => {
  const sse = (data: unknown, event?: string): ReturnType<typeof recogniseFrame> => recogniseFrame('sse', { event, data: typeof data === 'string' ? data : JSON.stringify(data) })
  t.equal(sse({ type: 'content_block_delta', index: 0 }).protocol, 'anthropic-messages')
  t.equal(sse('{}', 'message_stop').protocol, 'anthropic-messages', 'by the event name')
  t.equal(sse('{}', 'message_stop').value, undefined, 'an event name that decides spares the parse')
  t.equal(sse({ type: 'response.output_text.delta' }).protocol, 'openai-responses')
  t.equal(sse({ type: 'content-delta' }).protocol, 'cohere')
  t.equal(sse({ type: 'text-delta', id: 't', delta: 'x' }).protocol, 'vercel-ai')
  t.equal(sse({ object: 'text_completion', choices: [] }).protocol, 'openai-completions')
  t.equal(sse({ candidates: [] }).protocol, 'gemini')
  t.equal(sse({ choices: [] }).protocol, 'openai-chat')
  t.equal(sse({ object: 'chat.completion.chunk', usage: {} }).protocol, 'openai-chat', 'a usage chunk without choices')
  for (const unknown of [{}, { foo: { bar: 'x' } }, { error: { message: 'x' } }, { object: 'chat.completion.chunk', choices: { '#0': {} } }, { object: 'text_completion', choices: {} }, { candidates: { '#0': {} }, promptFeedback: {} }]) {
    const r = sse(unknown)
    t.equal(r.protocol, undefined, JSON.stringify(unknown))
    t.same(r.value, unknown, 'the parsed value comes with it')
  }
  for (const unreadable of ['[DONE]', 'not json', '[1,2]', '"text"', ' {"broken"']) t.same(sse(unreadable), { protocol: undefined, value: undefined }, unreadable)
  t.same(sse(' {"choices":[]}').protocol, 'openai-chat', 'leading white space is JSON too')
  const ndjson = (value: unknown): unknown => recogniseFrame('ndjson', { data: JSON.stringify(value) }).protocol
  t.equal(ndjson({ model: 'm', created_at: 't', message: { content: 'x' }, done: false }), 'ollama')
  t.equal(ndjson({ choices: [] }), 'ndjson')
  t.equal(ndjson({ type: 'content_block_delta' }), undefined, 'NDJSON knows only Ollama and chat chunks')
  t.equal(isChatChunk({ choices: null }), false)
})

t.test('the first-frame sniffers keep their defaults', async (t) => {
  t.equal(sniffProtocol(undefined, '{"foo":1}'), 'openai-chat', 'any JSON object reads as Chat Completions')
  t.equal(sniffProtocol('content_block_delta', 'not json'), 'anthropic-messages')
  t.equal(sniffNdjsonProtocol('not json'), 'ndjson')
  t.equal(sniffNdjsonProtocol('{"model":"m","created_at":"t","response":"x","done":false}'), 'ollama')
})

t.test('a JSON object of no known shape before any protocol is passed on, scanned, and decides nothing', async (t) => {
  const ruleSet = await testRules()
  const input = Buffer.from('data: {"note":"mail jane.doe@acme-corp.com"}\n\n' + buildChatStream(['Hi. ']))
  const { output, sanitizer, malformed, findings } = replay(ruleSet, input, [])
  t.equal(malformed.length, 0)
  t.equal(sanitizer.stats().protocol, 'openai-chat')
  // The generic path reads an unknown string as a delta: what could start an address waits for the next frame at that path.
  const notes = jsonFrames(parseSse(output).frames).map((f) => (f === '[DONE]' ? undefined : f.note)).filter((n) => typeof n === 'string')
  t.ok(notes.length > 0, 'the frame is passed on')
  t.match(notes.join(''), /^mail \[email:[0-9a-f]+\]$/)
  t.same(findings.map((f) => f.context.field), ['json'])
  t.equal(jsonFrames(parseSse(output).frames).at(-1), '[DONE]')
})

t.test('[DONE] goes to the primary, whatever its protocol; before any, it makes Chat Completions the primary', async (t) => {
  const ruleSet = await testRules()
  const anthropic = replay(ruleSet, Buffer.from(buildAnthropicStream(['Hi. ']) + 'data: [DONE]\n\n'), [])
  t.equal(anthropic.sanitizer.stats().protocol, 'anthropic-messages')
  t.equal(anthropic.malformed.length, 1, 'the Anthropic codec cannot read it: reported and dropped, as before')
  t.notOk(anthropic.output.includes('[DONE]'))
  const alone = replay(ruleSet, Buffer.from('data: [DONE]\n\n'), [])
  t.equal(alone.sanitizer.stats().protocol, 'openai-chat')
  t.equal(alone.output, 'data: [DONE]\n\n')
})

t.test('a cut before any protocol is recognised ends the stream with no closing frames; a failure speaks OpenAI', async (t) => {
  const ruleSet = await testRules()
  const cut = replay(ruleSet, Buffer.from('data: {"note":"now launch the missiles at dawn"}\n\n' + buildChatStream(['Hi. '])), [])
  t.equal(cut.sanitizer.state(), 'cut')
  t.equal(cut.sanitizer.stats().protocol, undefined)
  t.notOk(cut.output.toLowerCase().includes('missiles'))
  t.notOk(cut.output.includes('[DONE]'), 'no protocol to close')
  t.notOk(cut.output.includes('Hi. '), 'nothing after the cut')
  const sanitizer = createStreamSanitizer({ newScanner: scannerFactory(ruleSet) })
  const head = sanitizer.write('data: {"model":"m1"}\n\n')
  const tail = sanitizer.fail(new Error('boom'))
  t.same(jsonFrames(parseSse(head).frames), [{ model: 'm1' }])
  t.match(jsonFrames(parseSse(tail).frames), [{ error: { type: 'upstream_error', code: 'SLUICE_UPSTREAM' } }], 'the OpenAI error shape')
})
