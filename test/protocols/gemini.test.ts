import t from 'tap'
import fc from 'fast-check'
import { createGeminiCodec, sanitizeGeminiBody } from '../../src/protocols/gemini.js'
import { sanitizeJsonBody, sniffJsonProtocol } from '../../src/protocols/sanitize-json-body.js'
import { sniffProtocol } from '../../src/protocols/select-codec.js'
import { createTextChannels } from '../../src/protocols/text-channels.js'
import { createStreamSanitizer } from '../../src/stream/create-stream-sanitizer.js'
import {
  checkSplitInvariance, expectedTexts, fixture, jsonFrames, parseSse, replay, scanWhole, scannerFactory, testRules, tokenize
} from '../stream/replay.js'
import type { ClientFrame } from '../stream/replay.js'

const ruleSet = await testRules()
const enc = (s: string): Buffer => Buffer.from(s, 'utf8')
type Json = Record<string, any>
const chunks = (s: string): Json[] => jsonFrames(parseSse(s).frames) as Json[]

/** Each candidate's answer and thought text as a client joins it (`<index>:text`, `<index>:thought`). */
function texts (frames: readonly ClientFrame[]): Map<string, string> {
  const out = new Map<string, string>()
  for (const chunk of jsonFrames(frames) as Json[]) {
    for (const [k, candidate] of (chunk.candidates ?? []).entries()) {
      for (const part of candidate.content?.parts ?? []) {
        if (typeof part.text !== 'string') continue
        const key = `${candidate.index ?? k}:${part.thought === true ? 'thought' : 'text'}`
        out.set(key, (out.get(key) ?? '') + part.text)
      }
    }
  }
  for (const [key, text] of out) if (text === '') out.delete(key)
  return out
}
const textsOf = (s: string): Map<string, string> => texts(parseSse(s).frames)

const sse = (obj: Json): string => `data: ${JSON.stringify(obj)}\r\n\r\n`
function buildGemini (tokens: readonly string[], index = 0): string {
  return tokens.map((text, i) => sse({
    candidates: [{ content: { parts: [{ text }], role: 'model' }, index, ...(i === tokens.length - 1 ? { finishReason: 'STOP' } : {}) }],
    modelVersion: 'gemini-2.5-flash'
  })).join('')
}

t.test('answer and thought text come out as their whole-text scans, per candidate', async (t) => {
  const input = fixture('gemini.sse')
  const { output, sanitizer, findings } = replay(ruleSet, input, [])
  t.same([...textsOf(output)], [...expectedTexts(ruleSet, textsOf(input.toString('utf8')))])
  t.ok(textsOf(output).has('0:thought'), 'thoughts stay thought parts')
  t.notOk(output.includes('jane.doe') || output.includes('555-26') || output.includes('4111 1111'))
  t.equal(sanitizer.stats().protocol, 'gemini')
  t.equal(sanitizer.stats().upstreamFinishReason, 'STOP')
  t.ok(findings.some((f) => f.context.field === 'thinking'))
  t.ok(findings.some((f) => f.context.field === 'text'))
})

t.test('every string leaf of functionCall args is scanned; the args stay an object', async (t) => {
  const out = chunks(replay(ruleSet, fixture('gemini.sse'), []).output)
  const call = out.flatMap((c) => c.candidates?.[0]?.content?.parts ?? []).find((p: Json) => p.functionCall !== undefined)?.functionCall
  t.equal(call.name, 'send_email')
  t.match(call.args.to, /^\[email:[0-9a-f]+\]$/)
  t.notMatch(call.args.body, /555/)
  t.match(call.args.cc[0], /^\[email:[0-9a-f]+\]$/)
  t.equal(call.args.priority, 2)
})

t.test('the output is the same however the upstream bytes were split', async (t) => {
  checkSplitInvariance(t, ruleSet, ['gemini.sse', 'gemini-cut.sse'])
})

t.test('held text is flushed into the chunk that carries finishReason', async (t) => {
  const out = chunks(replay(ruleSet, enc(buildGemini(['Mail ', 'jane', '.doe@acme', '.io'])), []).output)
  const last = out.at(-1) as Json
  t.equal(last.candidates[0].finishReason, 'STOP')
  t.match(last.candidates[0].content.parts.at(-1).text, /\[email:[0-9a-f]+\]$/)
  t.equal(out.length, 2, 'chunks left with nothing to say are dropped')
})

t.test('a stream that ends without finishReason gets its held text in an added chunk', async (t) => {
  const text = 'reach me at jane.doe@acme'
  const input = enc(sse({ candidates: [{ content: { parts: [{ text }], role: 'model' }, index: 0 }], modelVersion: 'gemini-2.5-flash', responseId: 'r1' }))
  const { output } = replay(ruleSet, input, [])
  const out = chunks(output)
  t.equal(out.length, 2)
  t.match(out[1], { candidates: [{ content: { role: 'model', parts: [{ text: /acme$/ }] }, index: 0 }], modelVersion: 'gemini-2.5-flash', responseId: 'r1' })
  t.equal(textsOf(output).get('0:text'), scanWhole(ruleSet, text).text)
})

t.test('candidates are separate channels: text of one never completes a match in another', async (t) => {
  const input = enc(
    sse({ candidates: [{ content: { parts: [{ text: 'write to jane.doe@' }], role: 'model' }, index: 0 }, { content: { parts: [{ text: 'acme.io is ' }], role: 'model' }, index: 1 }] }) +
    sse({ candidates: [{ content: { parts: [{ text: 'acme.io now' }], role: 'model' }, finishReason: 'STOP', index: 0 }, { content: { parts: [{ text: 'a domain' }], role: 'model' }, finishReason: 'STOP', index: 1 }] }))
  const got = textsOf(replay(ruleSet, input, []).output)
  t.match(got.get('0:text'), /^write to \[email:[0-9a-f]+\] now$/)
  t.equal(got.get('1:text'), 'acme.io is a domain')
})

t.test('a cut ends the stream with every candidate finished SAFETY', async (t) => {
  const { output, sanitizer } = replay(ruleSet, fixture('gemini-cut.sse'), [])
  const out = chunks(output)
  t.same(out.at(-1), { candidates: [{ content: { role: 'model', parts: [] }, finishReason: 'SAFETY', index: 0 }], modelVersion: 'gemini-2.5-flash', responseId: 'mKx2aNqLBoGcz7IP6t3Q2Ak' })
  t.equal(textsOf(output).get('0:text'), scanWhole(ruleSet, 'Okay, the plan: launch the missiles at dawn. Mail bob@corp.io.').text)
  t.notOk(output.includes('missiles') || output.includes('bob@corp'))
  t.equal(sanitizer.stats().finishReason, 'SAFETY')
})

t.test('an upstream failure is told in Google\'s error shape', async (t) => {
  const sanitizer = createStreamSanitizer({ newScanner: scannerFactory(ruleSet), protocol: 'gemini', contentType: 'text/event-stream' })
  sanitizer.write(buildGemini(['Hello there, ', 'friend']).split('\r\n\r\n')[0] + '\r\n\r\n')
  const out = chunks(sanitizer.fail(new Error('boom')))
  t.match(out.at(-1), { error: { code: 500, message: /^Upstream failed/, status: 'INTERNAL' } })
  t.equal(sanitizer.state(), 'failed')
})

t.test('frames are re-serialized from the parsed value: a duplicate key cannot smuggle text', async (t) => {
  const raw = 'data: {"candidates":[{"content":{"parts":[{"text":"jane.doe@acme.io","text":"fine"}],"role":"model"},"index":0}]}\r\n\r\n'
  const { output } = replay(ruleSet, enc(raw), [])
  t.notOk(output.includes('jane.doe'))
  t.equal(textsOf(output).get('0:text'), 'fine')
})

t.test('ownsPath claims exactly the text parts and function call args leaves', async (t) => {
  const codec = createGeminiCodec({ channels: createTextChannels({ newScanner: scannerFactory(ruleSet) }), emit: () => {}, malformed: () => {}, upstreamFinish: () => {}, namedEvents: () => false })
  const frame = { candidates: [] }
  t.ok(codec.ownsPath?.(frame, ['candidates', 0, 'content', 'parts', 1, 'text'], undefined))
  t.ok(codec.ownsPath?.(frame, ['candidates', '#1', 'content', 'parts', 0, 'text'], undefined), 'an element named by its index')
  t.ok(codec.ownsPath?.(frame, ['candidates', 0, 'content', 'parts', 0, 'functionCall', 'args', 'to'], undefined))
  t.ok(codec.ownsPath?.(frame, ['candidates', 0, 'content', 'parts', 0, 'functionCall', 'args', 'cc', 0], undefined))
  for (const path of [['modelVersion'], ['responseId'], ['candidates', 0, 'finishReason'], ['candidates', 0, 'content', 'role'],
    ['candidates', 0, 'content', 'parts', 0, 'functionCall', 'name'], ['candidates', 0, 'content', 'parts', 0, 'thoughtSignature'],
    ['candidates', 0, 'content', 'parts', 0, 'functionCall', 'args'], ['candidates', 0, 'content', 'parts', 0, 'text', 'x']]) {
    t.notOk(codec.ownsPath?.(frame, path, undefined), path.join('.'))
  }
})

t.test('auto recognises Gemini chunks', async (t) => {
  t.equal(sniffProtocol(undefined, JSON.stringify({ candidates: [] })), 'gemini')
  t.equal(sniffProtocol(undefined, JSON.stringify({ choices: [] })), 'openai-chat')
  t.equal(sniffJsonProtocol({ candidates: [], usageMetadata: {} }), 'gemini')
  t.equal(sniffJsonProtocol([{ candidates: [] }]), 'gemini')
})

t.test('generateContent bodies: text parts and args scanned, the input left alone', async (t) => {
  const body = {
    candidates: [{ content: { parts: [{ text: 'Mail jane.doe@acme.io', thought: true }, { text: 'Call (415) 555-2671 now.' }, { functionCall: { name: 'f', args: { to: 'bob@corp.io' } } }], role: 'model' }, finishReason: 'STOP', index: 0 }],
    usageMetadata: { totalTokenCount: 3 },
    modelVersion: 'gemini-2.5-flash'
  }
  const copy = structuredClone(body)
  const result = sanitizeJsonBody(body, scannerFactory(ruleSet))
  t.equal(result.protocol, 'gemini')
  t.ok(result.changed)
  t.same(body, copy, 'input unchanged')
  const parts = (result.body as Json).candidates[0].content.parts
  t.match(parts[0].text, /^Mail \[email:[0-9a-f]+\]$/)
  t.notMatch(parts[1].text, /555/)
  t.match(parts[2].functionCall.args.to, /^\[email:[0-9a-f]+\]$/)
  t.equal((result.body as Json).candidates[0].finishReason, 'STOP')
})

t.test('a streamGenerateContent JSON array is scanned as one stream', async (t) => {
  const body = [
    { candidates: [{ content: { parts: [{ text: 'Mail jane.doe@ac' }], role: 'model' }, index: 0 }] },
    { candidates: [{ content: { parts: [{ text: 'me.io today' }], role: 'model' }, finishReason: 'STOP', index: 0 }] }
  ]
  const result = sanitizeGeminiBody(body, scannerFactory(ruleSet))
  const joined = (result.body as Json[]).flatMap((c) => c.candidates[0].content.parts.map((p: Json) => p.text)).join('')
  t.equal(joined, scanWhole(ruleSet, 'Mail jane.doe@acme.io today').text)
})

t.test('a cut body ends at the chunk that tripped it, finished SAFETY', async (t) => {
  const body = [
    { candidates: [{ content: { parts: [{ text: 'Okay: launch the mis' }], role: 'model' }, index: 0 }] },
    { candidates: [{ content: { parts: [{ text: 'siles now' }], role: 'model' }, index: 0 }] },
    { candidates: [{ content: { parts: [{ text: 'more' }], role: 'model' }, finishReason: 'STOP', index: 0 }] }
  ]
  const result = sanitizeGeminiBody(body, scannerFactory(ruleSet))
  const out = result.body as Json[]
  t.ok(result.cut)
  t.equal(out.length, 2)
  t.equal(out[1]?.candidates[0].finishReason, 'SAFETY')
  t.notOk(JSON.stringify(out).includes('missiles'))
})

t.test('generated streams: any tokenization gives the whole-text scan (fast-check)', async (t) => {
  const text = 'Reach jane.doe@acme.io or (415) 555-2671; card 5555-5555-5555-4444. Café ☕ 🎉'
  const expected = scanWhole(ruleSet, text).text
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: text.length - 1 }), { maxLength: 25 }), (cuts) => {
    return textsOf(replay(ruleSet, enc(buildGemini(tokenize(text, cuts))), []).output).get('0:text') === expected
  }), { numRuns: 100 })
  t.pass('100 tokenizations')
})
