import t from 'tap'
import fc from 'fast-check'
import { createNdjsonDecoder } from '../../src/client/ndjson-decoder.js'
import { cut, encode, offsetsOf } from './split-bytes.js'

function lines (pieces: readonly string[], maxLineSize?: number): string[] {
  const out: string[] = []
  const nd = createNdjsonDecoder({ onLine: (l) => out.push(l), maxLineSize })
  for (const piece of pieces) nd.feed(piece)
  nd.end()
  return out
}

function fromBytes (chunks: readonly Uint8Array[]): string[] {
  const utf8 = new TextDecoder('utf-8')
  const texts = chunks.map((c) => utf8.decode(c, { stream: true }))
  texts.push(utf8.decode())
  return lines(texts)
}

t.test('one line per LF or CRLF, blank lines skipped, a last line without newline kept', async (t) => {
  t.same(lines(['{"a":1}\r\n\n  \n{"b":2}\n{"c"', ':3}']), ['{"a":1}', '{"b":2}', '{"c":3}'])
})

t.test('a CR and its LF in different chunks end one line', async (t) => {
  const text = '{"a":1}\r\n{"b":2}\r\n'
  for (let i = 1; i < text.length; i++) t.same(lines([text.slice(0, i), text.slice(i)]), ['{"a":1}', '{"b":2}'], `split at ${i}`)
})

t.test('fails with SLUICE_CLIENT_FRAME_TOO_LARGE past the cap in bytes, however split', async (t) => {
  const line = `{"x":"${'é'.repeat(40)}"}\n`
  t.throws(() => lines([line], 60), { code: 'SLUICE_CLIENT_FRAME_TOO_LARGE' })
  t.throws(() => lines([line.slice(0, 20), line.slice(20)], 60), { code: 'SLUICE_CLIENT_FRAME_TOO_LARGE' })
  t.throws(() => lines([`{"x":"${'y'.repeat(100)}`], 60), { code: 'SLUICE_CLIENT_FRAME_TOO_LARGE' }, 'an unfinished line too')
  const exact = `{"x":"${'y'.repeat(52)}"}`
  t.same(lines([exact.slice(0, 30), exact.slice(30) + '\r\n'], 60), [exact], 'exactly at the cap, with CRLF, passes')
})

t.test('gives the same lines for any chunking of the bytes, inside UTF-8 sequences too (fast-check)', async (t) => {
  const value = fc.jsonValue().map((v) => JSON.stringify(v))
  const stream = fc.record({
    values: fc.array(fc.oneof(value, fc.constantFrom('{"t":"café ☕ 🎉 水"}', '{"e":"\\u2028"}')), { maxLength: 10 }),
    eols: fc.array(fc.constantFrom('\n', '\r\n', '\n\n', '\r\n  \n'), { minLength: 1, maxLength: 4 }),
    lastEol: fc.boolean()
  }).chain((s) => {
    let text = ''
    s.values.forEach((v, i) => {
      text += v
      if (i < s.values.length - 1 || s.lastEol) text += s.eols[i % s.eols.length] as string
    })
    const bytes = encode(text)
    return fc.tuple(fc.constant(s.values), fc.constant(bytes), offsetsOf(bytes.length))
  })
  fc.assert(fc.property(stream, ([values, bytes, offsets]) => {
    const expected = values.filter((v) => v.trim() !== '')
    return JSON.stringify(fromBytes(cut(bytes, offsets))) === JSON.stringify(expected)
  }), { numRuns: 400 })
  t.pass('400 generated cases')
})
