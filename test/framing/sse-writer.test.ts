/**
 * @module test/framing/sse-writer
 * The exact bytes of serialized SSE: field order, one space after each colon,
 * the upstream's line ending, multi-line data and comments, and the empty
 * line that ends every block (HTML §9.2.6). The round trip through the
 * parser is in sse-parser.test.ts.
 */
import t from 'tap'
import { createSseParser } from '../../src/framing/sse-parser.js'
import { serializeSseComment, serializeSseFrame, serializeSseRetry } from '../../src/framing/sse-writer.js'
import type { DataFrame } from '../../src/protocols/types.js'

t.test('a data-only frame is one data line and an empty line', async (t) => {
  t.equal(serializeSseFrame({ data: '{"a":1}' }), 'data: {"a":1}\n\n')
})

t.test('event and id come before data, in the order upstreams send them', async (t) => {
  t.equal(serializeSseFrame({ event: 'message_delta', id: '7', data: '{}' }), 'event: message_delta\nid: 7\ndata: {}\n\n')
  t.equal(serializeSseFrame({ event: 'ping', data: '' }), 'event: ping\ndata: \n\n')
  t.equal(serializeSseFrame({ id: '', data: 'x' }), 'id: \ndata: x\n\n', 'an empty id is written (it resets the last event id)')
})

t.test('fields left undefined are not written', async (t) => {
  t.equal(serializeSseFrame({ event: undefined, id: undefined, data: 'x' }), 'data: x\n\n')
})

t.test('the upstream\'s line ending is kept on every line', async (t) => {
  const frame = { event: 'e', id: '1', data: 'x' }
  t.equal(serializeSseFrame(frame, '\r\n'), 'event: e\r\nid: 1\r\ndata: x\r\n\r\n')
  t.equal(serializeSseFrame(frame, '\r'), 'event: e\rid: 1\rdata: x\r\r')
})

t.test('data with line breaks becomes one data line per line, whatever the break', async (t) => {
  t.equal(serializeSseFrame({ data: 'a\nb' }), 'data: a\ndata: b\n\n')
  t.equal(serializeSseFrame({ data: 'a\r\nb\rc\nd' }), 'data: a\ndata: b\ndata: c\ndata: d\n\n')
  t.equal(serializeSseFrame({ data: 'a\n' }), 'data: a\ndata: \n\n', 'a trailing break is an empty last line')
  t.equal(serializeSseFrame({ data: '\n' }, '\r\n'), 'data: \r\ndata: \r\n\r\n')
})

t.test('multi-line data reads back joined with LF', async (t) => {
  const frames: DataFrame[] = []
  const parser = createSseParser({ maxEventSize: 1 << 16, onEvent: (f) => frames.push(f) })
  parser.feed(serializeSseFrame({ event: 'x', data: 'one\r\ntwo\rthree\n' }, '\r\n'))
  parser.end()
  t.same(frames.map((f) => [f.event, f.data]), [['x', 'one\ntwo\nthree\n']])
})

t.test('a comment is one colon line per line, then an empty line', async (t) => {
  t.equal(serializeSseComment('keep-alive'), ': keep-alive\n\n')
  t.equal(serializeSseComment(''), ':\n\n', 'an empty comment is a bare colon')
  t.equal(serializeSseComment('a\n\nb'), ': a\n:\n: b\n\n', 'an empty line inside a comment stays a comment')
  t.equal(serializeSseComment('a\r\nb', '\r\n'), ': a\r\n: b\r\n\r\n')
})

t.test('a retry is passed on as its own block', async (t) => {
  t.equal(serializeSseRetry(3000), 'retry: 3000\n\n')
  t.equal(serializeSseRetry(0, '\r\n'), 'retry: 0\r\n\r\n')
})
