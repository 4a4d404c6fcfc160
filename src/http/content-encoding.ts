/**
 * @module http/content-encoding
 * Undoes a response's Content-Encoding so its text can be scanned: a
 * compressed body read as bytes would match no rule and reach the client,
 * whose HTTP stack decompresses it, intact. The proxy asks for `identity`,
 * but a hostile or misconfigured upstream may compress anyway, and a
 * plugin route may set the header itself.
 *
 * Codings (RFC 9110 §8.4.1): `gzip` and `x-gzip`, `deflate` (the zlib
 * format, RFC 1950), `br` (RFC 7932), `zstd` (RFC 8878) where this Node
 * has a zstd decoder, `identity`. Anything else cannot be read, so it is
 * refused (`SLUICE_UNSUPPORTED_ENCODING`), never passed on.
 */
import { pipeline } from 'node:stream'
import type { Duplex, Readable } from 'node:stream'
import * as zlib from 'node:zlib'
import { UnscannableBodyError, UnsupportedEncodingError } from '../errors.js'

/** More codings than this on one body is no real server's doing: refused. */
const maxCodings = 2

type DecoderFactory = () => Duplex

/** zstd landed in node:zlib in Node 22.15 / 23.8; looked up so Node 20 still type-checks and runs. */
const createZstd = (zlib as unknown as { createZstdDecompress?: DecoderFactory }).createZstdDecompress

const kDecoders: ReadonlyMap<string, DecoderFactory> = new Map<string, DecoderFactory>([
  ['gzip', () => zlib.createGunzip()],
  ['x-gzip', () => zlib.createGunzip()],
  ['deflate', () => zlib.createInflate()],
  ['br', () => zlib.createBrotliDecompress()],
  ...(typeof createZstd === 'function' ? [['zstd', createZstd] as [string, DecoderFactory]] : [])
])

/**
 * The codings of a Content-Encoding header, in the order they were
 * applied, `identity` left out; [] when there is nothing to undo.
 * Throws UnsupportedEncodingError for a coding Sluice cannot undo.
 */
export function contentCodings (header: unknown): string[] {
  if (header === undefined || header === null) return []
  const values = Array.isArray(header) ? header.map(String) : [String(header)]
  const codings = values.flatMap((v) => v.split(',')).map((c) => c.trim().toLowerCase()).filter((c) => c !== '' && c !== 'identity')
  for (const coding of codings) {
    if (!kDecoders.has(coding)) throw new UnsupportedEncodingError('content-encoding', coding.slice(0, 64))
  }
  if (codings.length > maxCodings) throw new UnsupportedEncodingError('content-encoding', codings.join(', ').slice(0, 64))
  return codings
}

/**
 * Pipes `body` through the decoders for `codings` (last applied, first
 * undone) and returns the decoded stream. Errors travel down the chain (a
 * corrupt body fails with zlib's `Z_*` error, an upstream failure keeps its
 * own coded error) and destroying the result destroys `body`.
 * @example
 * const decoded = decodeContent(upstreamBody, contentCodings(headers['content-encoding']))
 */
export function decodeContent (body: Readable, codings: readonly string[]): Readable {
  if (codings.length === 0) return body
  const decoders = [...codings].reverse().map((coding) => (kDecoders.get(coding) as DecoderFactory)())
  pipeline([body, ...decoders], () => {})
  return decoders[decoders.length - 1] as unknown as Readable
}

/** A zlib failure (`Z_DATA_ERROR`, …) as a coded error; any other error as it is. */
export function codedDecodeError (err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('Z_') ? new UnscannableBodyError(`corrupt compressed body (${code})`) : err
}
