import t from 'tap'
import fc from 'fast-check'
import { createNdjsonParser, serializeNdjsonFrame } from '../../src/framing/ndjson.js'
import { fixture } from '../stream/replay.js'

function lines (text: string, splits: readonly number[] = [], maxLineSize = 1 << 20): { data: string[], eol: string } {
  const data: string[] = []
  const parser = createNdjsonParser({ maxLineSize, onLine: (f) => data.push(f.data) })
  let last = 0
  for (const at of [...splits].sort((a, b) => a - b)) {
    parser.feed(text.slice(last, at))
    last = at
  }
  parser.feed(text.slice(last))
  parser.end()
  return { data, eol: parser.lineEnding }
}

t.test('yields one frame per line, skipping empty lines', async (t) => {
  t.same(lines('{"a":1}\n\n{"b":2}\n  \n').data, ['{"a":1}', '{"b":2}'])
})

t.test('accepts CRLF, even when CR and LF arrive in different reads', async (t) => {
  const text = '{"a":1}\r\n{"b":2}\r\n'
  for (let i = 1; i < text.length; i++) {
    const r = lines(text, [i])
    t.same(r.data, ['{"a":1}', '{"b":2}'], `split at ${i}`)
    t.equal(r.eol, '\r\n')
  }
})

t.test('a last line without a newline is still a frame', async (t) => {
  t.same(lines('{"a":1}\n{"b":2}').data, ['{"a":1}', '{"b":2}'])
})

t.test('the fixture gives the same lines however it is split (fast-check)', async (t) => {
  const text = fixture('openai-chat.ndjson').toString('utf8')
  const whole = lines(text).data
  t.equal(whole.length, 33)
  for (let i = 1; i < text.length; i += 7) t.same(lines(text, [i]).data, whole)
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: text.length - 1 }), { maxLength: 80 }), (splits) => {
    return JSON.stringify(lines(text, splits).data) === JSON.stringify(whole)
  }), { numRuns: 200 })
})

t.test('fails with FrameTooLargeError when a line exceeds the cap in bytes, however split', async (t) => {
  const text = `{"ok":1}\n{"x":"${'é'.repeat(40)}"}\n`
  for (const splits of [[], [12], [12, 20, 30, 40, 50]]) {
    t.throws(() => lines(text, splits, 60), { code: 'SLUICE_FRAME_TOO_LARGE' })
  }
  t.throws(() => lines(`{"x":"${'y'.repeat(100)}"`, [], 60), { code: 'SLUICE_FRAME_TOO_LARGE' }, 'an unfinished line too')
  const exact = `{"x":"${'y'.repeat(52)}"}`
  t.equal(Buffer.byteLength(exact), 60)
  t.same(lines(exact + '\r\n', [30], 60).data, [exact], 'exactly at the cap, with CRLF, passes')
})

t.test('serializes a frame as one line', async (t) => {
  t.equal(serializeNdjsonFrame({ data: '{"a":1}' }), '{"a":1}\n')
  t.equal(serializeNdjsonFrame({ data: '{"a":1}' }, '\r\n'), '{"a":1}\r\n')
})
