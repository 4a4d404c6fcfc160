/**
 * @module test/http/media-types
 * Every Content-Type becomes a kind; a label that cannot be trusted is
 * `unknown` (sniffed), and a sniff never yields `binary`.
 */
import t from 'tap'
import { canonicalMediaType, classifyMediaType, isStreamContentType, mediaTypeOf, parseContentType, sniffBodyKind } from '../../src/http/media-types.js'

t.test('classifies each family of media types', async (t) => {
  const cases: Array<[string, string]> = [
    ['text/event-stream', 'sse'],
    ['application/x-ndjson', 'ndjson'],
    ['application/ndjson', 'ndjson'],
    ['application/jsonl', 'ndjson'],
    ['application/x-jsonlines', 'ndjson'],
    ['application/jsonlines', 'ndjson'],
    ['application/json-seq', 'ndjson'],
    ['application/json', 'json'],
    ['application/problem+json', 'json'],
    ['application/vnd.api+json', 'json'],
    ['text/plain', 'text'],
    ['text/html', 'text'],
    ['application/octet-stream', 'binary'],
    ['image/png', 'binary'],
    ['application/xml', 'binary']
  ]
  for (const [type, kind] of cases) t.equal(classifyMediaType(type), kind, type)
})

t.test('parses a Content-Type: lower-cased, charset unquoted', async (t) => {
  t.same(parseContentType('Application/JSON; Charset="UTF-16LE"'), { mediaType: 'application/json', charset: 'utf-16le', kind: 'json', ambiguous: false })
  t.same(parseContentType(['text/event-stream']), { mediaType: 'text/event-stream', charset: undefined, kind: 'sse', ambiguous: false })
  t.equal(parseContentType('multipart/form-data; boundary="a,b"').ambiguous, false, 'a comma inside quotes is no list')
})

t.test('a missing, repeated or malformed label is ambiguous: the body is sniffed', async (t) => {
  for (const header of [undefined, '', ['text/plain', 'application/json'], 'text/plain, application/json', 'json', 'text/plain; charset=utf-8; charset=utf-16le', 42, 'a b/c']) {
    const ct = parseContentType(header)
    t.equal(ct.ambiguous, true, JSON.stringify(header))
    t.equal(ct.kind, 'unknown', JSON.stringify(header))
  }
})

t.test('the select-codec helpers keep working through this module', async (t) => {
  t.equal(mediaTypeOf(' Text/Event-Stream ; charset=utf-8'), 'text/event-stream')
  t.equal(isStreamContentType('application/jsonl'), true)
  t.equal(isStreamContentType('application/json'), false)
  t.equal(isStreamContentType(undefined), false)
  t.equal(canonicalMediaType('binary'), 'text/plain')
})

t.test('sniffs JSON, NDJSON, SSE and text; never binary', async (t) => {
  t.equal(sniffBodyKind('\uFEFF  {"a":1}'), 'json')
  t.equal(sniffBodyKind('[1,2]'), 'json')
  t.equal(sniffBodyKind('{"a":1}\n{"b":2}\n'), 'ndjson')
  t.equal(sniffBodyKind('data: {"a":1}\n\n'), 'sse')
  t.equal(sniffBodyKind(': keep-alive\n\ndata: x\n\n'), 'sse')
  t.equal(sniffBodyKind('event: ping\ndata: {}\n\n'), 'sse')
  t.equal(sniffBodyKind('{"a":'), 'text')
  t.equal(sniffBodyKind('hello'), 'text')
  t.equal(sniffBodyKind('\u0089PNG\r\n'), 'text')
})
