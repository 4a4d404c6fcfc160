/**
 * @module http/collect-body
 * Reads a whole non-streamed body into memory, with a cap: a JSON or text
 * body is scanned once, whole, so it must be held whole, and an upstream
 * that never stops (or a small gzip bomb) must not take the process down.
 * Past `maxBytes` the body is destroyed (which aborts an upstream request)
 * and the caller gets `SLUICE_BODY_TOO_LARGE`.
 *
 * Plain events rather than `for await`: the async iterator costs an object
 * and a promise per chunk on every non-streamed answer.
 */
import type { Readable } from 'node:stream'
import { BodyTooLargeError, UnscannableBodyError } from '../errors.js'
import { codedDecodeError } from './content-encoding.js'

/** Default cap on a non-streamed body: 8 MiB. */
export const kDefaultMaxBodySize = 8 * 1024 * 1024

/**
 * Collects `body` into one Buffer; `closedEarly` makes the error for a
 * body that closes without ending or failing.
 * @example
 * const bytes = await collectBody(upstreamBody, kDefaultMaxBodySize)
 */
export function collectBody (body: Readable, maxBytes: number, closedEarly: () => Error = () => new UnscannableBodyError('body closed before its end')): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let settled = false
    const fail = (err: unknown): void => {
      if (settled) return
      settled = true
      reject(err)
    }
    body.on('data', (chunk: Buffer | string) => {
      if (settled) return
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)
      size += buf.length
      if (size > maxBytes) {
        fail(new BodyTooLargeError(maxBytes))
        body.destroy()
        return
      }
      chunks.push(buf)
    })
    body.once('end', () => {
      if (settled) return
      settled = true
      resolve(chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks, size))
    })
    body.once('error', (err) => { fail(codedDecodeError(err)) })
    // A close without 'end' or 'error' would otherwise hang the request.
    body.once('close', () => { fail(closedEarly()) })
  })
}
