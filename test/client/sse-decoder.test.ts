import t from 'tap'
import fc from 'fast-check'
import { createSseDecoder } from '../../src/client/sse-decoder.js'
import type { SseEvent } from '../../src/client/sse-decoder.js'
import { cut, encode, offsetsOf } from './split-bytes.js'

/** Decodes text pieces (already split) into events. */
function events (pieces: readonly string[], maxEventSize?: number): { events: SseEvent[], retries: number[] } {
  const out: SseEvent[] = []
  const retries: number[] = []
  const sse = createSseDecoder({ onEvent: (e) => out.push(e), onRetry: (ms) => retries.push(ms), maxEventSize })
  for (const piece of pieces) sse.feed(piece)
  sse.end()
  return { events: out, retries }
}

/** Bytes through a streaming TextDecoder (as create-decoder.ts does), then the SSE parser. */
function fromBytes (chunks: readonly Uint8Array[]): SseEvent[] {
  const utf8 = new TextDecoder('utf-8')
  const texts = chunks.map((c) => utf8.decode(c, { stream: true }))
  texts.push(utf8.decode())
  return events(texts).events
}

t.test('reads events with LF, CRLF and CR line endings alike', async (t) => {
  const expected = [{ event: 'a', data: 'one', id: undefined }, { event: undefined, data: 'two', id: undefined }]
  for (const eol of ['\n', '\r\n', '\r']) {
    t.same(events([`event: a${eol}data: one${eol}${eol}data: two${eol}${eol}`]).events, expected, JSON.stringify(eol))
  }
})

t.test('a CR ending one chunk and the LF starting the next are one line ending', async (t) => {
  const text = 'data: x\r\n\r\ndata: y\r\n\r\n'
  for (let i = 1; i < text.length; i++) {
    t.same(events([text.slice(0, i), text.slice(i)]).events.map((e) => e.data), ['x', 'y'], `split at ${i}`)
  }
})

t.test('joins data lines with LF, drops one leading space, reads a field without a colon as empty', async (t) => {
  const { events: out } = events(['data:  two spaces\ndata\ndata:last\n\n'])
  t.same(out, [{ event: undefined, data: ' two spaces\n\nlast', id: undefined }])
})

t.test('ignores comments and unknown fields; an event without data dispatches nothing', async (t) => {
  const { events: out } = events([': keep-alive\n\nevent: lonely\n\nfoo: bar\ndata: x\n\n'])
  t.same(out, [{ event: undefined, data: 'x', id: undefined }], 'the name of a data-less event does not leak into the next')
})

t.test('keeps the last id across events, and ignores an id with NUL', async (t) => {
  const { events: out } = events(['id: 1\ndata: a\n\ndata: b\n\nid: x\0y\ndata: c\n\n'])
  t.same(out.map((e) => e.id), ['1', '1', '1'])
})

t.test('hands on retry: values made of digits only', async (t) => {
  t.same(events(['retry: 3000\nretry: 1.5\nretry: x\n\n']).retries, [3000])
})

t.test('discards an event the input ends in the middle of', async (t) => {
  t.same(events(['data: whole\n\ndata: half\n']).events.map((e) => e.data), ['whole'])
  t.same(events(['data: whole\n\ndata: no newline']).events.map((e) => e.data), ['whole'])
})

t.test('fails with SLUICE_CLIENT_FRAME_TOO_LARGE past the cap in bytes, however split, and not at it', async (t) => {
  const big = 'é'.repeat(40) // 80 bytes
  for (const pieces of [[`data: ${big}\n\n`], [`data: ${big.slice(0, 10)}`, `${big.slice(10)}\n`, '\n']]) {
    t.throws(() => events(pieces, 60), { code: 'SLUICE_CLIENT_FRAME_TOO_LARGE' })
  }
  t.throws(() => events([`data: ${'y'.repeat(500)}`], 60), { code: 'SLUICE_CLIENT_FRAME_TOO_LARGE' }, 'an unfinished line too')
  t.throws(() => events(['data: 12345\n'.repeat(100)], 60), { code: 'SLUICE_CLIENT_FRAME_TOO_LARGE' }, 'an event growing by many data lines too')
  t.throws(() => events(['data: 12345\n'.repeat(20) + '\n'], 60), { code: 'SLUICE_CLIENT_FRAME_TOO_LARGE' }, 'a finished one of many lines')
  t.same(events([`data: ${'y'.repeat(60)}\n\n`], 60).events.map((e) => e.data.length), [60], 'exactly at the cap passes')
})

// A model of a stream: events of data lines, names and ids, with comments between.
interface ModelEvent {
  event: string | undefined
  id: string | undefined
  data: string[]
}

const kChars = ['a', 'Z', '0', ' ', ':', '{', '"', 'é', 'ß', '水', '🌊', '👩‍👩‍👧', '\u2028', '\t', '\0']
const lineText = fc.array(fc.constantFrom(...kChars), { maxLength: 12 }).map((a) => a.join(''))
const name = fc.array(fc.constantFrom('a', 'b', '.', '_', 'é'), { minLength: 1, maxLength: 8 }).map((a) => a.join(''))
const eol = fc.constantFrom('\n', '\r\n', '\r')
const modelEvent: fc.Arbitrary<ModelEvent> = fc.record({
  event: fc.option(name, { nil: undefined }),
  id: fc.option(name, { nil: undefined }),
  data: fc.array(lineText, { maxLength: 4 })
})

/** Serializes the model; an empty line after a CR line ending is never written as a lone LF (that would be one CRLF). */
function serialize (model: readonly ModelEvent[], eols: readonly string[], comments: readonly boolean[], bom: boolean): string {
  let text = bom ? '\uFEFF' : ''
  let n = 0
  let previous = '\n'
  const line = (content: string): void => {
    let end = eols[n++ % eols.length] as string
    if (content === '' && previous === '\r' && end === '\n') end = '\r'
    text += content + end
    previous = end
  }
  model.forEach((event, i) => {
    if (comments[i % comments.length] === true) line(': comment ' + i)
    if (event.event !== undefined) line('event: ' + event.event)
    if (event.id !== undefined) line('id: ' + event.id)
    for (const data of event.data) line('data: ' + data)
    line('')
  })
  return text
}

function expectedOf (model: readonly ModelEvent[]): SseEvent[] {
  const out: SseEvent[] = []
  let id: string | undefined
  for (const event of model) {
    if (event.id !== undefined) id = event.id
    if (event.data.length > 0) out.push({ event: event.event, data: event.data.join('\n'), id })
  }
  return out
}

t.test('gives the same events for any chunking of the bytes: inside UTF-8 sequences, between CR and LF (fast-check)', async (t) => {
  const stream = fc.record({
    model: fc.array(modelEvent, { maxLength: 8 }),
    eols: fc.array(eol, { minLength: 1, maxLength: 6 }),
    comments: fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
    bom: fc.boolean()
  }).chain((s) => {
    const bytes = encode(serialize(s.model, s.eols, s.comments, s.bom))
    return fc.tuple(fc.constant(s.model), fc.constant(bytes), offsetsOf(bytes.length))
  })
  fc.assert(fc.property(stream, ([model, bytes, offsets]) => {
    const expected = JSON.stringify(expectedOf(model))
    return JSON.stringify(fromBytes([bytes])) === expected && JSON.stringify(fromBytes(cut(bytes, offsets))) === expected
  }), { numRuns: 400 })
  t.pass('400 generated cases')
})
