/**
 * @module proxy/upstream-body
 * The upstream answer's body as the proxy passes it on: guarded by the idle
 * timeout, its failures turned into coded errors the plugin can end the
 * stream with (upstream-failures.ts).
 */
import { Readable } from 'node:stream'
import { UpstreamTimeoutError } from '../errors.js'
import { bodyFailure } from './upstream-failures.js'

/**
 * Wraps the upstream body: an idle clock that restarts on every chunk
 * (stopped while the client applies backpressure, since a slow reader is not
 * a silent upstream) and the body's own failures turned into coded errors.
 *
 * One timer per stream, not one per chunk: a chunk only notes the time, and
 * when the timer fires it either times out or re-arms for what is left of
 * the allowed gap. (A `clearTimeout` + `setTimeout` per chunk cost ~2% of
 * the proxy's CPU at saturation, plus a Timeout object per chunk to collect.)
 *
 * @example
 * const guarded = guardBody(response.body, 30_000, (kind) => metrics.countUpstreamError(`timeout_${kind}`))
 */
export function guardBody (body: Readable, idleMs: number, onTimeoutKind: (kind: string) => void): Readable {
  let idleTimer: NodeJS.Timeout | undefined
  let lastActivity = 0
  /** True while the consumer is full: the upstream is paused, the idle clock stopped. */
  let waiting = false
  const onIdleTimer = (): void => {
    idleTimer = undefined
    if (waiting || guarded.destroyed) return
    const quiet = performance.now() - lastActivity
    if (quiet < idleMs) {
      idleTimer = setTimeout(onIdleTimer, idleMs - quiet)
      return
    }
    onTimeoutKind('idle')
    guarded.destroy(new UpstreamTimeoutError(`no data from upstream for ${idleMs} ms`))
  }
  const startIdle = (): void => {
    lastActivity = performance.now()
    idleTimer ??= setTimeout(onIdleTimer, idleMs)
  }
  const stopIdle = (): void => {
    if (idleTimer !== undefined) clearTimeout(idleTimer)
    idleTimer = undefined
  }
  const guarded = new Readable({
    read () {
      if (!waiting) return
      waiting = false
      body.resume()
      if (!body.readableEnded) startIdle()
    },
    destroy (err, callback) {
      stopIdle()
      body.off('data', onData)
      // Destroying undici's body aborts the request and frees (or drops) the socket.
      if (!body.destroyed) body.destroy()
      callback(err)
    }
  })
  const onData = (chunk: Buffer): void => {
    lastActivity = performance.now()
    if (!guarded.push(chunk)) {
      waiting = true
      body.pause()
      stopIdle()
    }
  }
  body.on('data', onData)
  body.once('end', () => {
    stopIdle()
    guarded.push(null)
  })
  body.once('error', (err) => {
    stopIdle()
    if (!guarded.destroyed) guarded.destroy(bodyFailure(err))
  })
  startIdle()
  return guarded
}
