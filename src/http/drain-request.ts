/**
 * @module http/drain-request
 * Reads and discards what is left of a request body. A server that answers
 * 413 and closes while the client is still sending makes the client's
 * kernel receive data for a closed socket: the peer answers with a reset,
 * and a reset discards the client's unread receive buffer, so the client
 * sees EPIPE or ECONNRESET instead of the 413 (RFC 9112 §9.6 asks servers
 * to close in stages for this reason). Draining first, within bounds, lets
 * the answer arrive after the client has finished sending.
 */
import type { IncomingMessage } from 'node:http'

/**
 * Resolves true once the request body has ended, false when more than
 * `maxBytes` arrived or `maxMs` passed first (the caller then answers and
 * closes anyway).
 *
 * @example
 * if (!request.raw.complete) await drainRequest(request.raw, 64 * 1024 * 1024, 10_000)
 */
export function drainRequest (req: IncomingMessage, maxBytes: number, maxMs: number): Promise<boolean> {
  if (req.complete || req.destroyed) return Promise.resolve(req.complete)
  return new Promise((resolve) => {
    let received = 0
    const finish = (ended: boolean): void => {
      clearTimeout(timer)
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('close', onClose)
      resolve(ended)
    }
    const onData = (chunk: Buffer): void => {
      received += chunk.length
      if (received > maxBytes) finish(false)
    }
    const onEnd = (): void => { finish(true) }
    const onClose = (): void => { finish(req.complete) }
    const timer = setTimeout(() => { finish(false) }, maxMs)
    req.on('data', onData)
    req.once('end', onEnd)
    req.once('close', onClose)
    req.resume()
  })
}
