// The fast path of OpenAI choices streams: text-only chunks matched against a
// template instead of parsed, and the chunks of one read coalesced into one.
// Whatever the splitting, a client must assemble the same text, see the same
// non-text frames in the same order, and nothing a rule redacts may leak.
import t from 'tap'
import fc from 'fast-check'
import {
  buildChatStream, clientTexts, fixture, jsonFrames, parseNdjson, parseSse,
  replay, scanWhole, testRules, tokenize
} from '../stream/replay.js'
import type { ClientFrame } from '../stream/replay.js'

const enc = (s: string): Buffer => Buffer.from(s, 'utf8')
const ruleSet = await testRules()
const coalesced = { coalesce: true }

type Json = Record<string, any>

/** Whether a chunk carries nothing but one choice's content (the frames coalescing may merge). */
function textOnly (f: Json | '[DONE]'): f is Json {
  if (f === '[DONE]' || f.choices?.length !== 1) return false
  const c = f.choices[0]
  return c.finish_reason == null && Object.keys(c.delta ?? {}).join() === 'content'
}

/**
 * The output as a client understands it: consecutive text-only chunks of
 * one envelope merged into one, empty ones dropped, `obfuscation` padding
 * ignored. Equal for two outputs
 * when only the frame boundaries of the text differ.
 */
function normalized (frames: readonly ClientFrame[]): unknown[] {
  const out: Array<Json | '[DONE]'> = []
  for (const f of jsonFrames(frames)) {
    // Padding is kept on chunks passed unchanged and dropped from changed or merged ones.
    if (f !== '[DONE]') delete f.obfuscation
    const prev = out.at(-1)
    if (textOnly(f) && prev !== undefined && textOnly(prev) && prev.id === f.id && prev.model === f.model && prev.choices[0].index === f.choices[0].index) {
      prev.choices[0].delta.content += f.choices[0].delta.content
      continue
    }
    if (textOnly(f) && f.choices[0].delta.content === '') continue
    out.push(f)
  }
  return out
}

const sseFrames = (output: string): ClientFrame[] => parseSse(output).frames

t.test('a read of many text chunks goes out as one chunk with all their text', async (t) => {
  const input = enc(buildChatStream(['Hello, ', 'how ', 'are ', 'you ', 'today? ']))
  const { output } = replay(ruleSet, input, [], coalesced)
  const frames = jsonFrames(sseFrames(output))
  t.equal(frames.length, 4, 'role chunk, one text chunk, finishing chunk, [DONE]')
  t.equal((frames[1] as Json).choices[0].delta.content, 'Hello, how are you today? ')
  t.equal((frames[1] as Json).id, 'chatcmpl-gen', 'the envelope is the upstream\'s')
  t.equal((frames[2] as Json).choices[0].finish_reason, 'stop')
})

t.test('coalesced or not, any splitting gives the same text, frames and findings (fast-check)', async (t) => {
  const text = 'Hi! Reach jane.doe@acme.io or +44 20 7183 8750, card 4111-1111-1111-1111. "Quoted" \\ back\nslash, Café ☕ 🎉 done. Thanks'
  const expected = scanWhole(ruleSet, text).text
  fc.assert(fc.property(
    fc.array(fc.integer({ min: 1, max: text.length - 1 }), { maxLength: 30 }),
    fc.array(fc.integer({ min: 1, max: 2000 }), { maxLength: 30 }),
    fc.boolean(),
    (cuts, splits, padded) => {
      let stream = buildChatStream(tokenize(text, cuts))
      // OpenAI's per-chunk padding, a different length each chunk.
      let n = 0
      if (padded) stream = stream.replace(/"finish_reason":null\}\]\}/g, () => `"finish_reason":null}],"obfuscation":"${'p'.repeat(n++ % 7)}"}`)
      const input = enc(stream)
      const one = replay(ruleSet, input, [], { coalesce: false })
      const many = replay(ruleSet, input, splits, coalesced)
      const frames = sseFrames(many.output)
      return clientTexts('chat', frames).get('0:content') === expected &&
        JSON.stringify(normalized(frames)) === JSON.stringify(normalized(sseFrames(one.output))) &&
        JSON.stringify(many.findings.map((f) => [f.finding.ruleId, f.finding.start])) === JSON.stringify(one.findings.map((f) => [f.finding.ruleId, f.finding.start])) &&
        !many.output.includes('jane.doe') && !many.output.includes('4111-1111')
    }), { numRuns: 200 })
  t.pass('200 tokenizations × splittings')
})

t.test('recorded fixtures (tools, n = 2, cut, NDJSON) read the same coalesced, whole or byte by byte', async (t) => {
  for (const name of ['openai-chat.sse', 'openai-chat-tools.sse', 'openai-chat-n2.sse', 'openai-chat-cut.sse', 'openai-completions.sse', 'openai-completions-cut.sse']) {
    const input = fixture(name)
    const plain = normalized(sseFrames(replay(ruleSet, input, [], { coalesce: false }).output))
    t.same(normalized(sseFrames(replay(ruleSet, input, [], coalesced).output)), plain, `${name}: whole`)
    const bytes = Array.from({ length: input.length }, (_, i) => i)
    t.same(normalized(sseFrames(replay(ruleSet, input, bytes, coalesced).output)), plain, `${name}: byte by byte`)
  }
  const ndjson = fixture('openai-chat.ndjson')
  const options = { contentType: 'application/x-ndjson' }
  const plain = parseNdjson(replay(ruleSet, ndjson, [], { ...options, coalesce: false }).output)
  t.same(normalized(parseNdjson(replay(ruleSet, ndjson, [], { ...options, ...coalesced }).output)), normalized(plain), 'openai-chat.ndjson')
})

t.test('a cut inside a coalesced read ends the stream after the text before the match', async (t) => {
  const input = enc(buildChatStream(['Step one. ', 'Now launch ', 'the missiles', ' and relax.']))
  const { output, sanitizer } = replay(ruleSet, input, [], coalesced)
  const frames = jsonFrames(sseFrames(output))
  t.equal(sanitizer.state(), 'cut')
  t.equal(clientTexts('chat', sseFrames(output)).get('0:content'), 'Step one. Now ')
  t.equal((frames.at(-2) as Json).choices[0].finish_reason, 'content_filter')
  t.equal(frames.at(-1), '[DONE]')
  t.notOk(output.includes('missiles') || output.includes('relax'))
})

t.test('a chunk that only looks like the template is read whole: extra fields are kept', async (t) => {
  const base = { id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm' }
  const chunk = (delta: Json): string => `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: null }] })}\n\n`
  const template = chunk({ content: 'Hello ' })
  // Same prefix and suffix as the template, but the middle closes the string and adds a key.
  const crafted = template.replace('"content":"Hello "', '"content":"there ","refusal":"no "')
  t.ok(crafted.startsWith(template.slice(0, template.indexOf('Hello'))), 'the crafted chunk shares the template\'s prefix')
  const input = enc(template + crafted + chunk({ content: 'world. ' }) + 'data: [DONE]\n\n')
  for (const options of [coalesced, { coalesce: false }]) {
    const frames = sseFrames(replay(ruleSet, input, [], options).output)
    const texts = clientTexts('chat', frames)
    t.equal(texts.get('0:content'), 'Hello there world. ')
    t.equal(texts.get('0:refusal'), 'no ', 'the refusal field survives')
  }
})

t.test('escaped text (quotes, backslashes, controls, \\u escapes, lone surrogates) decodes like JSON.parse', async (t) => {
  const base = '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"'
  const tail = '"},"logprobs":null,"finish_reason":null}]}'
  const bodies = ['Say ', '\\"hi\\" ', 'c:\\\\dir ', 'line\\nnext ', 'caf\\u00e9 ', '\\ud83c\\udf89 ', 'tab\\there. ']
  const input = enc(bodies.map((b) => `data: ${base}${b}${tail}\n\n`).join('') + 'data: [DONE]\n\n')
  const expected = bodies.map((b) => JSON.parse(`"${b}"`) as string).join('')
  for (const options of [coalesced, { coalesce: false }]) {
    const { output, malformed } = replay(ruleSet, input, [], options)
    t.equal(clientTexts('chat', sseFrames(output)).get('0:content'), scanWhole(ruleSet, expected).text)
    t.equal(malformed.length, 0)
  }
  // A raw control character is invalid JSON: dropped as malformed, as a parsed chunk would be.
  const bad = enc(`data: ${base}ok ${tail}\n\ndata: ${base}a\u0001b${tail}\n\ndata: [DONE]\n\n`)
  const { output, malformed } = replay(ruleSet, bad, [], coalesced)
  t.equal(malformed.length, 1)
  t.equal(clientTexts('chat', sseFrames(output)).get('0:content'), 'ok ')
})

t.test('chunks of different envelopes (id, model, choice) are never merged', async (t) => {
  const chunk = (id: string, index: number, content: string): string =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index, delta: { content }, logprobs: null, finish_reason: null }] })}\n\n`
  const input = enc(chunk('a', 0, 'one ') + chunk('a', 0, 'two ') + chunk('b', 0, 'three ') + chunk('b', 1, 'other ') + chunk('b', 0, 'four ') + 'data: [DONE]\n\n')
  const frames = sseFrames(replay(ruleSet, input, [], coalesced).output)
  const chunks = (jsonFrames(frames) as Json[]).slice(0, 4)
  // (What a scanner still holds at the end goes out at [DONE], after these.)
  t.same(chunks.map((f) => [f.id, f.choices[0].index]), [['a', 0], ['b', 0], ['b', 1], ['b', 0]], 'one chunk per envelope, in order')
  t.match(chunks[0]?.choices[0].delta.content, /^one two/, 'the two chunks of envelope a were merged')
  const texts = clientTexts('chat', frames)
  t.equal(texts.get('0:content'), 'one two three four ')
  t.equal(texts.get('1:content'), 'other ')
})

t.test('an SSE comment never reaches the client; the text around it does, in order', async (t) => {
  const stream = buildChatStream(['Hello ', 'there. ', 'More ', 'text. '])
  const parts = stream.split('\n\n')
  const withComment = [...parts.slice(0, 3), ': keep-alive jane.doe@acme.io', ...parts.slice(3)].join('\n\n')
  const { output } = replay(ruleSet, enc(withComment), [], coalesced)
  t.notOk(output.includes('keep-alive'), 'comments are dropped: nothing in them was scanned')
  t.notOk(output.includes('jane.doe'))
  t.ok(output.indexOf('Hello there. ') < output.indexOf('More text. '))
  t.equal(clientTexts('chat', parseSse(output).frames).get('0:content'), 'Hello there. More text. ')
})

t.test('chunks with OpenAI\'s per-chunk obfuscation padding take the fast path; changed or merged ones lose the padding', async (t) => {
  const chunk = (content: string, obfuscation: string): string =>
    `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }], obfuscation })}\n\n`
  // Text that spells the template's own suffix, quotes escaped: it must stay text.
  const tricky = '"},"logprobs":null,"finish_reason":null}],"obfuscation":"x"} '
  const input = enc(chunk('Write to ', 'x1') + chunk('jane.doe@', 'y22') + chunk('acme.io now. ', 'z333') + chunk(tricky, 'q4') + chunk('Bye. ', 'w55555') + 'data: [DONE]\n\n')
  const expected = scanWhole(ruleSet, 'Write to jane.doe@acme.io now. ' + tricky + 'Bye. ').text
  for (const options of [coalesced, { coalesce: false }]) {
    const { output, malformed } = replay(ruleSet, input, [], options)
    t.equal(clientTexts('chat', sseFrames(output)).get('0:content'), expected)
    t.equal(malformed.length, 0)
    t.notOk(output.includes('jane.doe'))
    t.notOk(output.includes('y22') || output.includes('z333'), 'padding sized to the original text is gone from changed chunks')
  }
  // Merged: one chunk, no padding at all.
  const merged = jsonFrames(sseFrames(replay(ruleSet, input, [], coalesced).output)) as Json[]
  t.ok(merged.length <= 3, `${merged.length} frames`)
  t.notOk(merged.some((f) => typeof f === 'object' && 'obfuscation' in f), 'no merged chunk carries padding')
  // One frame per read, nothing held or changed: the upstream's own bytes, padding included.
  const plain = chunk('Hello there. ', 'abc') + chunk('All fine. ', 'defg') + 'data: [DONE]\n\n'
  const bytes = Buffer.from(plain)
  const split = plain.indexOf('data:', 5)
  t.equal(replay(ruleSet, bytes, [split, plain.lastIndexOf('data:')], coalesced).output, plain, 'unchanged chunks pass byte for byte')
})
