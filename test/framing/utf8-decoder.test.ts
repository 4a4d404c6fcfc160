import t from 'tap'
import fc from 'fast-check'
import { createUtf8Decoder } from '../../src/framing/utf8-decoder.js'

function decodeIn (bytes: Uint8Array, splits: readonly number[]): string {
  const decoder = createUtf8Decoder()
  let out = ''
  let last = 0
  for (const at of [...splits].sort((a, b) => a - b)) {
    out += decoder.write(bytes.subarray(last, at))
    last = at
  }
  return out + decoder.write(bytes.subarray(last)) + decoder.end()
}

t.test('a character split across two reads comes out whole, never as U+FFFD', async (t) => {
  const text = 'a é € 🎉 日本語 z'
  const bytes = Buffer.from(text)
  for (let i = 0; i <= bytes.length; i++) t.equal(decodeIn(bytes, [i]), text, `split at ${i}`)
  t.equal(decodeIn(bytes, Array.from({ length: bytes.length }, (_, i) => i)), text, 'one byte at a time')
})

t.test('holds an unfinished character until its last byte arrives', async (t) => {
  const decoder = createUtf8Decoder()
  t.equal(decoder.write(Buffer.from([0xf0, 0x9f])), '')
  t.equal(decoder.write(Buffer.from([0x8e])), '')
  t.equal(decoder.write(Buffer.from([0x89, 0x41])), '🎉A')
  t.equal(decoder.end(), '')
})

t.test('drops a leading BOM but keeps one later in the text', async (t) => {
  const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('x\uFEFFy')])
  t.equal(decodeIn(bytes, [1, 2]), 'x\uFEFFy')
})

t.test('invalid bytes become U+FFFD and decoding goes on', async (t) => {
  t.equal(decodeIn(Buffer.from([0x61, 0xff, 0x62]), [2]), 'a\uFFFDb')
  t.equal(decodeIn(Buffer.from([0x61, 0xe2, 0x82]), []), 'a\uFFFD', 'a character cut off by the end of input')
})

t.test('any string survives any splitting of its bytes (fast-check)', async (t) => {
  fc.assert(fc.property(fc.string({ unit: 'binary' }), fc.array(fc.nat()), (text, raw) => {
    const bytes = Buffer.from(text)
    const splits = raw.map((n) => (bytes.length === 0 ? 0 : n % (bytes.length + 1)))
    return decodeIn(bytes, splits) === Buffer.from(text).toString('utf8').replace(/^\uFEFF/, '')
  }), { numRuns: 500 })
  t.pass('500 strings')
})
