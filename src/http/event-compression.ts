/**
 * @module http/event-compression
 * Compression of event streams (SSE, NDJSON) for clients on slow links,
 * without giving up streaming: the compressor flushes after every write
 * (zlib `Z_SYNC_FLUSH`, Brotli `BROTLI_OPERATION_FLUSH`), and a write is one
 * or more whole events, so each event reaches the client decodable as soon
 * as it is sanitized. The cost is a few bytes of flush marker per write;
 * the shared dictionary across events is kept, which is where an event
 * stream's repetition (`data: {"id":"chatcmpl-…","choices":[…`) pays off.
 */
import { constants, createBrotliCompress, createGzip } from 'node:zlib'
import type { Transform } from 'node:stream'

export type EventEncoding = 'br' | 'gzip'

interface Coding { name: string, q: number }

function codings (header: string): Coding[] {
  return header.split(',').map((part) => {
    const [name = '', ...params] = part.trim().split(';')
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
    const weight = q === undefined ? 1 : Number(q.slice(2))
    return { name: name.trim().toLowerCase(), q: Number.isFinite(weight) ? weight : 0 }
  })
}

/**
 * The encoding to answer with for an `Accept-Encoding` header (RFC 9110
 * §12.5.3): `br` before `gzip` at equal weight (smaller for text), none
 * when neither is acceptable. `*` accepts both unless named with q=0.
 */
export function negotiateEventEncoding (acceptEncoding: string | undefined, allowed: readonly EventEncoding[] = ['br', 'gzip']): EventEncoding | undefined {
  if (acceptEncoding === undefined || acceptEncoding.trim() === '') return undefined
  const list = codings(acceptEncoding)
  const star = list.find((c) => c.name === '*')
  let best: { encoding: EventEncoding, q: number } | undefined
  for (const encoding of allowed) {
    const named = list.find((c) => c.name === encoding || (encoding === 'gzip' && c.name === 'x-gzip'))
    const q = named?.q ?? star?.q ?? 0
    if (q > 0 && (best === undefined || q > best.q)) best = { encoding, q }
  }
  return best?.encoding
}

/** A compressor that flushes after every write, so each event leaves decodable. */
export function createEventCompressor (encoding: EventEncoding): Transform {
  if (encoding === 'br') {
    return createBrotliCompress({
      flush: constants.BROTLI_OPERATION_FLUSH,
      params: {
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
        // Quality 4: most of Brotli's gain on text at a fraction of the CPU of 11 (its default).
        [constants.BROTLI_PARAM_QUALITY]: 4
      }
    })
  }
  return createGzip({ flush: constants.Z_SYNC_FLUSH, level: 6 })
}
