import t from 'tap'
import fc from 'fast-check'
import { readdirSync } from 'node:fs'
import { createSseParser } from '../../src/framing/sse-parser.js'
import { serializeSseComment, serializeSseFrame, serializeSseRetry } from '../../src/framing/sse-writer.js'
import { createUtf8Decoder } from '../../src/framing/utf8-decoder.js'
import type { DataFrame } from '../../src/protocols/types.js'
import { fixture, fixturesDir } from '../stream/replay.js'

interface Parsed {
  frames: DataFrame[]
  comments: string[]
  retries: number[]
  lineEnding: string
}

/** Decodes and parses `bytes` fed in pieces cut at `splits`. */
function parse (bytes: Uint8Array, splits: readonly number[] = [], maxEventSize = 1 << 20): Parsed {
  const frames: DataFrame[] = []
  const comments: string[] = []
  const retries: number[] = []
  const decoder = createUtf8Decoder()
  const parser = createSseParser({
    maxEventSize,
    onEvent: (f) => frames.push(f),
    onComment: (c) => comments.push(c),
    onRetry: (ms) => retries.push(ms)
  })
  let last = 0
  for (const at of [...splits].sort((a, b) => a - b)) {
    parser.feed(decoder.write(bytes.subarray(last, at)))
    last = at
  }
  parser.feed(decoder.write(bytes.subarray(last)))
  parser.feed(decoder.end())
  parser.end()
  return { frames, comments, retries, lineEnding: parser.lineEnding }
}

const enc = (s: string): Buffer => Buffer.from(s, 'utf8')

t.test('reads data, event and id fields, and joins multi-line data with LF', async (t) => {
  const r = parse(enc('event: update\nid: 7\ndata: first\ndata: second\n\ndata:no-space\n\n'))
  t.same(r.frames, [
    { event: 'update', id: '7', data: 'first\nsecond' },
    { event: undefined, id: undefined, data: 'no-space' }
  ])
})

t.test('hands comments and retry values on, and ignores unknown fields', async (t) => {
  const r = parse(enc(': keep-alive\n\n:\n\nretry: 3000\nfoo: bar\ndata: x\n\n'))
  t.same(r.comments, ['keep-alive', ''])
  t.same(r.retries, [3000])
  t.same(r.frames.map((f) => f.data), ['x'])
})

t.test('accepts LF, CRLF and CR line endings and reports the first one', async (t) => {
  for (const eol of ['\n', '\r\n', '\r']) {
    const r = parse(enc(`data: a${eol}data: b${eol}${eol}data: c${eol}${eol}`))
    t.same(r.frames.map((f) => f.data), ['a\nb', 'c'], JSON.stringify(eol))
    t.equal(r.lineEnding, eol)
  }
})

t.test('a CR ending one read and its LF starting the next make one line break', async (t) => {
  const bytes = enc('data: one\r\n\r\ndata: two\r\n\r\n')
  for (let i = 1; i < bytes.length; i++) {
    const r = parse(bytes, [i])
    t.same(r.frames.map((f) => f.data), ['one', 'two'], `split at ${i}`)
    t.equal(r.lineEnding, '\r\n', `split at ${i}`)
  }
})

t.test('drops a leading BOM, even split across reads', async (t) => {
  const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), enc('data: hi\n\n')])
  for (let i = 0; i < 4; i++) {
    t.same(parse(bytes, i === 0 ? [] : [i]).frames.map((f) => f.data), ['hi'], `split at ${i}`)
  }
})

t.test('never breaks a multi-byte character split across reads', async (t) => {
  const bytes = enc('data: {"t":"café ☕ 🎉 日本"}\n\n')
  for (let i = 1; i < bytes.length; i++) {
    t.same(parse(bytes, [i]).frames.map((f) => f.data), ['{"t":"café ☕ 🎉 日本"}'], `split at ${i}`)
  }
})

t.test('every fixture parses to the same frames however its bytes are split', async (t) => {
  const names = readdirSync(fixturesDir).filter((n) => n.endsWith('.sse'))
  t.ok(names.length >= 8)
  // Every two-piece split costs O(n²): done on the three smallest fixtures;
  // one byte at a time (every boundary in one run) on all of them.
  const everySplit = new Set(['anthropic-messages-cut.sse', 'openai-completions-cut.sse', 'openai-chat-cut.sse'])
  for (const name of names) {
    const bytes = fixture(name)
    const whole = JSON.stringify(parse(bytes).frames)
    t.ok(JSON.parse(whole).length > 5, name)
    if (everySplit.has(name)) {
      let bad = -1
      for (let i = 1; i < bytes.length && bad === -1; i++) if (JSON.stringify(parse(bytes, [i]).frames) !== whole) bad = i
      t.equal(bad, -1, `${name}: every two-piece split`)
    }
    t.equal(JSON.stringify(parse(bytes, Array.from({ length: bytes.length }, (_, i) => i)).frames), whole, `${name}: one byte at a time`)
  }
})

t.test('random splits of CRLF streams with a BOM give the same frames (fast-check)', async (t) => {
  const text = '\uFEFF' + fixture('anthropic-messages.sse').toString('utf8').replace(/\n/g, '\r\n')
  const bytes = enc(text)
  const whole = JSON.stringify(parse(bytes).frames)
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 60 }), (splits) => {
    return JSON.stringify(parse(bytes, splits).frames) === whole
  }), { numRuns: 300 })
  t.pass('300 random splittings')
})

t.test('fails with FrameTooLargeError when one event exceeds the cap, however split', async (t) => {
  const big = enc(`data: ok\n\ndata: ${'x'.repeat(200)}\n\n`)
  for (const splits of [[], [10], [20, 40, 60, 80, 100, 150], Array.from({ length: big.length }, (_, i) => i)]) {
    const seen: string[] = []
    const decoder = createUtf8Decoder()
    const parser = createSseParser({ maxEventSize: 100, onEvent: (f) => seen.push(f.data) })
    let last = 0
    const err = t.throws(() => {
      for (const at of splits) {
        parser.feed(decoder.write(big.subarray(last, at)))
        last = at
      }
      parser.feed(decoder.write(big.subarray(last)))
    }) as { code?: string }
    t.equal(err?.code, 'SLUICE_FRAME_TOO_LARGE')
    t.same(seen, ['ok'], 'events before the big one were delivered')
  }
})

t.test('the cap counts UTF-8 bytes, not characters', async (t) => {
  // 40 × "é" is 40 characters but 80 bytes.
  t.throws(() => parse(enc(`data: ${'é'.repeat(40)}\n\n`), [], 60), { code: 'SLUICE_FRAME_TOO_LARGE' })
  t.same(parse(enc(`data: ${'e'.repeat(60)}\n\n`), [], 60).frames.length, 1, 'exactly at the cap passes')
  t.same(parse(enc(`data: ${'é'.repeat(30)}\n\n`), [7, 19, 33], 60).frames.length, 1, 'split, exactly at the cap passes')
})

t.test('the writer round-trips events, multi-line data, comments and retry', async (t) => {
  const frames: DataFrame[] = [
    { event: 'message_start', data: '{"a":1}' },
    { id: '42', data: 'line one\nline two' },
    { data: '' }
  ]
  for (const eol of ['\n', '\r\n', '\r'] as const) {
    const text = frames.map((f) => serializeSseFrame(f, eol)).join('') + serializeSseComment('ping', eol) + serializeSseRetry(1500, eol)
    const r = parse(enc(text))
    t.same(r.frames, frames.map((f) => ({ event: f.event, id: f.id, data: f.data })), JSON.stringify(eol))
    t.same(r.comments, ['ping'])
    t.same(r.retries, [1500])
    t.equal(r.lineEnding, eol)
  }
  t.equal(serializeSseFrame({ data: '{"x":1}' }), 'data: {"x":1}\n\n', 'OpenAI framing byte for byte')
  t.equal(serializeSseFrame({ event: 'ping', data: '{"type": "ping"}' }), 'event: ping\ndata: {"type": "ping"}\n\n', 'Anthropic framing byte for byte')
})
