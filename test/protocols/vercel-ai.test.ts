import t from 'tap'
import { frameData } from '../../src/protocols/json-frame.js'
import fc from 'fast-check'
import { sniffProtocol } from '../../src/protocols/select-codec.js'
import { createTextChannels } from '../../src/protocols/text-channels.js'
import { createVercelAiCodec } from '../../src/protocols/vercel-ai.js'
import { createStreamSanitizer } from '../../src/stream/create-stream-sanitizer.js'
import {
  checkSplitInvariance, expectedTexts, fixture, jsonFrames, parseSse, replay, scanWhole, scannerFactory, testRules, tokenize
} from '../stream/replay.js'

const ruleSet = await testRules()
const enc = (s: string): Buffer => Buffer.from(s, 'utf8')
type Json = Record<string, any>
const parts = (s: string): Array<Json | '[DONE]'> => jsonFrames(parseSse(s).frames) as Array<Json | '[DONE]'>

/** Each part's text as the AI SDK client joins it: `text:<id>`, `reasoning:<id>`, `tool:<toolCallId>`. */
function textsOf (s: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const p of parts(s)) {
    if (p === '[DONE]') continue
    if (p.type === 'text-delta') out.set(`text:${p.id as string}`, (out.get(`text:${p.id as string}`) ?? '') + (p.delta as string))
    if (p.type === 'reasoning-delta') out.set(`reasoning:${p.id as string}`, (out.get(`reasoning:${p.id as string}`) ?? '') + (p.delta as string))
    if (p.type === 'tool-input-delta') out.set(`tool:${p.toolCallId as string}`, (out.get(`tool:${p.toolCallId as string}`) ?? '') + (p.inputTextDelta as string))
  }
  for (const [key, text] of out) if (text === '') out.delete(key)
  return out
}

const sse = (obj: Json | string): string => `data: ${typeof obj === 'string' ? obj : JSON.stringify(obj)}\n\n`
function buildVercel (tokens: readonly string[]): string {
  return sse({ type: 'start' }) + sse({ type: 'start-step' }) + sse({ type: 'text-start', id: 't0' }) +
    tokens.map((delta) => sse({ type: 'text-delta', id: 't0', delta })).join('') +
    sse({ type: 'text-end', id: 't0' }) + sse({ type: 'finish-step' }) + sse({ type: 'finish' }) + sse('[DONE]')
}

t.test('text, reasoning and tool input deltas come out as their whole-text scans', async (t) => {
  const input = fixture('vercel-ai.sse')
  const { output, sanitizer, findings } = replay(ruleSet, input, [])
  t.same([...textsOf(output)], [...expectedTexts(ruleSet, textsOf(input.toString('utf8')))])
  t.notOk(output.includes('jane.doe') || output.includes('555-26') || output.includes('4111 1111'))
  t.equal(sanitizer.stats().protocol, 'vercel-ai')
  t.equal(sanitizer.stats().upstreamFinishReason, 'tool-calls')
  for (const field of ['text', 'reasoning', 'tool_arguments']) t.ok(findings.some((f) => f.context.field === field), field)
  t.ok(JSON.parse(textsOf(output).get('tool:call_Yx8dK2mQ') as string), 'the streamed tool input is still valid JSON')
})

t.test('parts keep their order; a part\'s held text is flushed right before its end', async (t) => {
  const out = parts(replay(ruleSet, enc(buildVercel(['Mail ', 'jane', '.doe@acme', '.io'])), []).output)
  const end = out.findIndex((p) => p !== '[DONE]' && p.type === 'text-end')
  t.match(out[end - 1], { type: 'text-delta', id: 't0', delta: /^\[email:[0-9a-f]+\]$/ })
  t.same(Object.keys(out[end - 1] as Json), ['type', 'id', 'delta'], 'only the fields the SDK schema allows')
  t.same(out.map((p) => (p === '[DONE]' ? p : p.type)).filter((type) => type !== 'text-delta'),
    ['start', 'start-step', 'text-start', 'text-end', 'finish-step', 'finish', '[DONE]'])
})

t.test('the output is the same however the upstream bytes were split', async (t) => {
  checkSplitInvariance(t, ruleSet, ['vercel-ai.sse', 'vercel-ai-cut.sse'])
})

t.test('a cut ends open parts and the step, then finish with finishReason content-filter and [DONE]', async (t) => {
  const { output, sanitizer } = replay(ruleSet, fixture('vercel-ai-cut.sse'), [])
  t.same(parts(output).slice(-4), [
    { type: 'text-end', id: 'txt_0' },
    { type: 'finish-step' },
    { type: 'finish', finishReason: 'content-filter' },
    '[DONE]'
  ])
  t.equal(textsOf(output).get('text:txt_0'), scanWhole(ruleSet, 'Okay, the plan: launch the missiles at dawn. Mail bob@corp.io.').text)
  t.notOk(output.includes('missiles') || output.includes('bob@corp'))
  t.equal(sanitizer.stats().finishReason, 'content-filter')
})

t.test('a cut before the first delta still ends the started part', async (t) => {
  const frames: string[] = []
  const codec = createVercelAiCodec({ channels: createTextChannels({ newScanner: scannerFactory(ruleSet) }), emit: (f) => frames.push(frameData(f)), malformed: () => {}, upstreamFinish: () => {}, namedEvents: () => false })
  codec.frame({ data: JSON.stringify({ type: 'reasoning-start', id: 'r1' }) })
  codec.cut({} as never)
  t.same(frames.slice(1).map((d) => (d === '[DONE]' ? d : JSON.parse(d))), [{ type: 'reasoning-end', id: 'r1' }, { type: 'finish', finishReason: 'content-filter' }, '[DONE]'])
})

t.test('a cut found when a part ends still ends that part, once', async (t) => {
  const out = parts(replay(ruleSet, enc(buildVercel(['Fine. Now launch the ', 'missiles'])), []).output)
  t.same(out.filter((p) => p !== '[DONE]' && p.type === 'text-end'), [{ type: 'text-end', id: 't0' }])
  t.same(out.slice(-3), [{ type: 'finish-step' }, { type: 'finish', finishReason: 'content-filter' }, '[DONE]'])
})

t.test('text written after a part\'s end continues its scanner: a match spanning the end is found', async (t) => {
  const input = sse({ type: 'start' }) + sse({ type: 'text-start', id: 't0' }) + sse({ type: 'text-delta', id: 't0', delta: 'Mail jane.doe@' }) +
    sse({ type: 'text-end', id: 't0' }) + sse({ type: 'text-delta', id: 't0', delta: 'acme.io now' }) + sse({ type: 'finish' }) + sse('[DONE]')
  const { output, findings } = replay(ruleSet, enc(input), [])
  t.notOk(output.includes('acme.io'))
  t.ok(findings.some((f) => f.finding.ruleId.includes('email')))
})

t.test('an upstream failure is an error part, then [DONE]', async (t) => {
  const sanitizer = createStreamSanitizer({ newScanner: scannerFactory(ruleSet), contentType: 'text/event-stream' })
  sanitizer.write(sse({ type: 'start' }) + sse({ type: 'text-start', id: 't0' }))
  const out = parts(sanitizer.fail(new Error('boom')))
  t.match(out.slice(-2), [{ type: 'error', errorText: /^Upstream failed/ }, '[DONE]'])
  t.same(Object.keys(out.at(-2) as Json), ['type', 'errorText'])
})

t.test('parts are re-serialized from the parsed value: a duplicate key cannot smuggle text', async (t) => {
  const raw = sse('{"type":"text-delta","id":"t0","delta":"jane.doe@acme.io","delta":"fine"}') + sse('[DONE]')
  const { output } = replay(ruleSet, enc(sse({ type: 'start' }) + raw), [])
  t.notOk(output.includes('jane.doe'))
  t.equal(textsOf(output).get('text:t0'), 'fine')
})

t.test('auto recognises UI message stream parts', async (t) => {
  t.equal(sniffProtocol(undefined, '{"type":"start","messageId":"m"}'), 'vercel-ai')
  t.equal(sniffProtocol(undefined, '{"type":"text-delta","id":"t","delta":"x"}'), 'vercel-ai')
  t.equal(sniffProtocol(undefined, '{"type":"data-weather","data":{"city":"Paris"}}'), 'vercel-ai')
  t.equal(sniffProtocol(undefined, '{"type":"error","errorText":"x"}'), 'vercel-ai')
  t.not(sniffProtocol(undefined, '{"type":"error","error":{"type":"overloaded_error"}}'), 'vercel-ai')
})

t.test('ownsPath claims exactly the delta texts', async (t) => {
  const codec = createVercelAiCodec({ channels: createTextChannels({ newScanner: scannerFactory(ruleSet) }), emit: () => {}, malformed: () => {}, upstreamFinish: () => {}, namedEvents: () => false })
  t.ok(codec.ownsPath?.({ type: 'text-delta', id: 't', delta: 'x' }, ['delta'], undefined))
  t.ok(codec.ownsPath?.({ type: 'reasoning-delta', id: 't', delta: 'x' }, ['delta'], undefined))
  t.ok(codec.ownsPath?.({ type: 'tool-input-delta', toolCallId: 't', inputTextDelta: 'x' }, ['inputTextDelta'], undefined))
  t.notOk(codec.ownsPath?.({ type: 'text-delta', id: 't', delta: 'x' }, ['id'], undefined))
  t.notOk(codec.ownsPath?.({ type: 'text-delta', delta: 'x' }, ['delta'], undefined), 'a delta without an id is not scanned by the codec')
  t.notOk(codec.ownsPath?.({ type: 'tool-input-available', toolCallId: 't', input: { a: 'x' } }, ['input', 'a'], undefined))
  t.notOk(codec.ownsPath?.({ type: 'data-x', delta: 'x' }, ['delta'], undefined))
  t.notOk(codec.ownsPath?.({ type: 'error', errorText: 'x' }, ['errorText'], undefined))
})

t.test('generated streams: any tokenization gives the whole-text scan (fast-check)', async (t) => {
  const text = 'Reach jane.doe@acme.io or (415) 555-2671; card 5555-5555-5555-4444. Café ☕ 🎉'
  const expected = scanWhole(ruleSet, text).text
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: text.length - 1 }), { maxLength: 25 }), (cuts) => {
    return textsOf(replay(ruleSet, enc(buildVercel(tokenize(text, cuts))), []).output).get('text:t0') === expected
  }), { numRuns: 100 })
  t.pass('100 tokenizations')
})
