import t from 'tap'
import { isStreamContentType, mediaTypeOf, selectFraming, sniffProtocol } from '../../src/protocols/select-codec.js'
import { fixture, parseSse, replay, testRules } from '../stream/replay.js'

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

t.test('auto decides at the first frame it recognises, dropping frames before it', async (t) => {
  const ruleSet = await testRules()
  const input = Buffer.concat([Buffer.from('data: garbage\n\n'), fixture('anthropic-messages.sse')])
  const { sanitizer, malformed } = replay(ruleSet, input, [])
  t.equal(sanitizer.stats.protocol, 'anthropic-messages')
  t.equal(malformed.length, 1)
  t.equal(sanitizer.stats.finishReason, 'tool_use')
})
