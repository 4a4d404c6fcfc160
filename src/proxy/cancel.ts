/**
 * @module proxy/cancel
 * What stops an upstream exchange: an `AbortSignal`, or the cheaper
 * `Canceller` (an EventEmitter with `aborted` and `reason` that emits
 * 'abort', which undici accepts as a request signal too), and the two
 * things done with either: listening for the abort, and a pause it cuts
 * short.
 */
import { EventEmitter } from 'node:events'

export type CancelSignal = AbortSignal | CancellerSignal

export interface CancellerSignal extends EventEmitter {
  readonly aborted: boolean
  readonly reason: unknown
}

export interface Canceller {
  readonly signal: CancellerSignal
  /** Aborts once; later calls do nothing. */
  abort: (reason?: unknown) => void
}

class CancellerEmitter extends EventEmitter implements CancellerSignal {
  aborted = false
  reason: unknown = undefined
}

/**
 * An AbortController for one request, at a fraction of the cost: in Node 20
 * making an AbortController and listening to it costs ~6.6 µs, an
 * EventEmitter ~0.3 µs (and `AbortSignal.any` over two ~29 µs). Every
 * proxied request makes two of them.
 *
 * @example
 * const cancel = createCanceller()
 * onClientGone(reply.raw, () => { cancel.abort() })
 * await upstream.forward({ ..., signal: cancel.signal })
 */
export function createCanceller (): Canceller {
  const signal = new CancellerEmitter()
  return {
    signal,
    abort: function abort (reason?: unknown) {
      if (signal.aborted) return
      signal.aborted = true
      signal.reason = reason
      signal.emit('abort')
    }
  }
}

/** Calls `fn` once when `signal` aborts (at once if it has); returns a function that stops listening. */
export function onCancel (signal: CancelSignal, fn: () => void): () => void {
  if (signal.aborted) {
    fn()
    return () => {}
  }
  if (signal instanceof EventEmitter) {
    signal.once('abort', fn)
    return () => { signal.removeListener('abort', fn) }
  }
  signal.addEventListener('abort', fn, { once: true })
  return () => { signal.removeEventListener('abort', fn) }
}

/** Waits `ms`, or less if `signal` aborts first (the caller then sees the abort). */
export function pause (ms: number, signal: CancelSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      stop()
      resolve()
    }, ms)
    const stop = onCancel(signal, () => {
      clearTimeout(timer)
      resolve()
    })
  })
}
