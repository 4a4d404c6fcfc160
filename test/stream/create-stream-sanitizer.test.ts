import t from 'tap'
import fc from 'fast-check'
import { createStreamSanitizer } from '../../src/stream/create-stream-sanitizer.js'
import {
  buildAnthropicStream, buildChatStream, buildResponsesStream, clientTexts, fixture, jsonFrames,
  parseNdjson, parseSse, replay, replayBytes, scannerFactory, scanWhole, testRules
} from '../stream/replay.js'

const ruleSet = await testRules()
const enc = (s: string): Buffer => Buffer.from(s, 'utf8')
const chatText = (s: string): string | undefined => clientTexts('chat', parseSse(s).frames).get('0:content')
const text = 'Mail jane.doe@acme.io — café ☕ 🎉 日本語. '

t.test('a stream split at every byte gives the same output as unsplit', async (t) => {
  const input = enc(buildChatStream(['Mail ', 'jane', '.doe@acme.io', ' — café', ' ☕ 🎉', ' 日本語. ']))
  const reference = replay(ruleSet, input, []).output
  t.equal(chatText(reference), scanWhole(ruleSet, text).text)
  for (let i = 1; i < input.length; i++) {
    const out = replay(ruleSet, input, [i]).output
    if (out !== reference) {
      t.fail(`split at ${i}`)
      return
    }
  }
  t.pass(`all ${input.length - 1} two-piece splits`)
})

t.test('multi-byte characters split across reads are never broken', async (t) => {
  const input = enc(buildChatStream(['café ☕ 🎉 日本語']))
  const out = replayBytes(ruleSet, input).output
  t.notOk(out.includes('\uFFFD'))
  t.equal(chatText(out), 'café ☕ 🎉 日本語')
})

t.test('CRLF upstreams get CRLF back, whatever the split, and a BOM is dropped', async (t) => {
  const input = enc(buildChatStream(['Mail ', 'jane.doe@acme.io', ' ok. '], { eol: '\r\n', bom: true }))
  const reference = replay(ruleSet, input, []).output
  t.notOk(reference.startsWith('\uFEFF'))
  t.notOk(/[^\r]\n/.test(reference), 'every LF comes after a CR')
  t.ok(reference.endsWith('data: [DONE]\r\n\r\n'))
  t.equal(chatText(reference), scanWhole(ruleSet, 'Mail jane.doe@acme.io ok. ').text)
  for (let i = 1; i < input.length; i++) {
    if (replay(ruleSet, input, [i]).output !== reference) {
      t.fail(`split at ${i}`)
      return
    }
  }
  t.pass('every split')
})

t.test('comments are dropped (nothing in them is scanned); retry passes', async (t) => {
  const input = enc(': OPENROUTER PROCESSING jane.doe@acme.io\n\n' + buildChatStream(['Hi. ']).replace('data: [DONE]', 'retry: 2000\n\n: ping\n\ndata: [DONE]'))
  const { output } = replay(ruleSet, input, [])
  t.notOk(output.includes('OPENROUTER'))
  t.notOk(output.includes(': ping'))
  t.ok(output.includes('retry: 2000\n\ndata: [DONE]\n\n'))
  t.equal(chatText(output), 'Hi. ')
})

t.test('an event over maxEventSize ends the stream in-band with an error frame', async (t) => {
  const good = buildChatStream(['Hello there. '])
  const big = `data: {"choices":[{"index":0,"delta":{"content":"${'x'.repeat(5000)}"}}]}\n\n`
  const input = enc(good.replace('data: [DONE]\n\n', big + 'data: [DONE]\n\n'))
  for (const splits of [[], [100, 900, 1500, 3000], Array.from({ length: input.length }, (_, i) => i)]) {
    const { output, sanitizer } = replay(ruleSet, input, splits, { maxEventSize: 4096 })
    const frames = jsonFrames(parseSse(output).frames)
    const last = frames.at(-1) as Record<string, any>
    t.same(last.error, { message: 'A single frame exceeded 4096 bytes', type: 'upstream_error', param: null, code: 'SLUICE_FRAME_TOO_LARGE' })
    t.notOk(frames.includes('[DONE]'))
    t.equal(chatText(output), 'Hello there. ', 'frames before it went out')
    t.equal(sanitizer.state(), 'failed')
    t.equal(sanitizer.stats().errorCode, 'SLUICE_FRAME_TOO_LARGE')
    t.equal(sanitizer.stats().finishReason, 'error')
    t.equal(sanitizer.write(enc('data: [DONE]\n\n')), '')
  }
})

t.test('an NDJSON line over the cap fails the same way', async (t) => {
  const input = enc(`{"choices":[{"index":0,"delta":{"content":"${'y'.repeat(300)}"}}]}\n`)
  const { output } = replay(ruleSet, input, [7], { contentType: 'application/x-ndjson', maxEventSize: 100 })
  t.equal(JSON.parse(parseNdjson(output)[0]?.data ?? '').error.code, 'SLUICE_FRAME_TOO_LARGE')
})

t.test('an upstream failure gives each protocol its own error frame, once, and drops held text', async (t) => {
  const cases = [
    { input: buildChatStream(['Mail jane']).split('data: {"id":"chatcmpl-gen","object":"chat.completion.chunk","created":1754000000,"model":"gpt-4o-mini","system_fingerprint":"fp_gen","choices":[{"index":0,"delta":{},')[0] as string, protocol: 'openai-chat', check: (e: any) => e.error.type === 'upstream_error' && e.error.code === 'SLUICE_UPSTREAM' && e.error.message === 'Upstream failed: ECONNRESET' },
    { input: buildResponsesStream(['Mail jane']).split('event: response.output_text.done')[0] as string, protocol: 'openai-responses', check: (e: any) => e.type === 'error' && e.code === 'SLUICE_UPSTREAM' && Number.isInteger(e.sequence_number) },
    { input: buildAnthropicStream(['Mail jane']).split('event: content_block_stop')[0] as string, protocol: 'anthropic-messages', check: (e: any) => e.type === 'error' && e.error.type === 'api_error' }
  ]
  for (const c of cases) {
    const sanitizer = createStreamSanitizer({ newScanner: scannerFactory(ruleSet) })
    let out = sanitizer.write(enc(c.input))
    const err = Object.assign(new Error('read ECONNRESET with secret sk-abc'), { code: 'ECONNRESET' })
    out += sanitizer.fail(err)
    out += sanitizer.fail(err)
    out += sanitizer.end()
    const frames = parseSse(out).frames
    const last = JSON.parse(frames.at(-1)?.data ?? '{}')
    t.ok(c.check(last), `${c.protocol}: ${JSON.stringify(last)}`)
    t.equal(frames.filter((f) => f.data.includes('Upstream failed: ECONNRESET')).length, 1, 'exactly one error frame')
    t.notOk(out.includes('jane'), 'held text is dropped')
    t.notOk(out.includes('sk-abc'), 'the error message is not echoed')
    t.equal(sanitizer.state(), 'failed')
    t.equal(sanitizer.stats().protocol, c.protocol)
    if (c.protocol === 'anthropic-messages') t.equal(frames.at(-1)?.event, 'error')
  }
})

t.test('stats: chars, findings by action, finish reasons, time to first token, frames, held', async (t) => {
  let clock = 1000
  // Not coalesced: the three text chunks are scanned one by one, so the e-mail's start is held.
  const sanitizer = createStreamSanitizer({ newScanner: scannerFactory(ruleSet), now: () => clock, coalesce: false })
  const input = buildChatStream(['Mail ', 'jane.doe@acme.io', ' thanks. '])
  const [first, ...rest] = input.split('\n\n')
  clock = 1010
  sanitizer.write(enc(first + '\n\n'))
  t.equal(sanitizer.stats().timeToFirstTokenMs, undefined, 'the role chunk has no text')
  clock = 1025
  sanitizer.write(enc(rest.join('\n\n')))
  sanitizer.end()
  const s = sanitizer.stats()
  t.equal(s.timeToFirstTokenMs, 25)
  t.equal(s.firstTextAt, 1025)
  t.equal(s.charsIn, 'Mail jane.doe@acme.io thanks. '.length)
  t.equal(s.charsOut, scanWhole(ruleSet, 'Mail jane.doe@acme.io thanks. ').text.length)
  t.same(s.findings, { redact: 1, cut: 0, flag: 1 })
  t.equal(s.upstreamFinishReason, 'stop')
  t.equal(s.finishReason, 'stop')
  t.equal(s.cut, undefined)
  t.equal(s.framesIn, 6)
  t.ok(s.framesOut >= 4)
  t.ok(s.maxHeld > 0)
  t.equal(sanitizer.state(), 'ended')
})

t.test('auto reads every protocol fixture (fast-check over splits)', async (t) => {
  for (const [name, protocol] of [
    ['openai-chat.sse', 'openai-chat'], ['openai-completions.sse', 'openai-completions'],
    ['openai-responses.sse', 'openai-responses'], ['anthropic-messages.sse', 'anthropic-messages']
  ] as const) {
    const input = fixture(name)
    const reference = replay(ruleSet, input, [], { contentType: 'text/event-stream' })
    t.equal(reference.sanitizer.stats().protocol, protocol)
    t.equal(reference.output, replay(ruleSet, input, [], { protocol }).output, `${name}: auto = explicit`)
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: input.length - 1 }), { maxLength: 20 }), (splits) => {
      return replay(ruleSet, input, splits).output === reference.output
    }), { numRuns: 15 })
  }
})

t.test('accepts decoded text as well as bytes', async (t) => {
  const input = buildChatStream(['Mail ', 'jane.doe@acme.io'])
  const sanitizer = createStreamSanitizer({ newScanner: scannerFactory(ruleSet) })
  const out = sanitizer.write(input) + sanitizer.end()
  t.equal(out, replay(ruleSet, enc(input), []).output)
})

t.test('refuses a JSON content type at creation', async (t) => {
  t.throws(() => createStreamSanitizer({ newScanner: scannerFactory(ruleSet), contentType: 'application/json' }), { code: 'SLUICE_UNSUPPORTED_PROTOCOL' })
})

t.test('a hook that throws fails the stream in-band instead of crashing it', async (t) => {
  const sanitizer = createStreamSanitizer({ newScanner: scannerFactory(ruleSet), onFinding: () => { throw new TypeError('bug in hook') } })
  const out = sanitizer.write(enc(buildChatStream(['mail jane.doe@acme.io. ok'])))
  t.equal(sanitizer.state(), 'failed')
  t.equal(JSON.parse(parseSse(out).frames.at(-1)?.data ?? '{}').error.message, 'Upstream failed: TypeError')
})
