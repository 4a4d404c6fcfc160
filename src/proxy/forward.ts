/**
 * @module proxy/forward
 * The upstream call: one keep-alive undici `Pool` for the provider's origin,
 * provider keys used in turn, retries before the first byte, and every
 * timeout the proxy promises (connect, time to first byte, idle gap between
 * body chunks, a total cap).
 *
 * The split that matters is the first byte. Before the response headers
 * nothing has reached the client, so a failed attempt may be retried
 * (connection errors, 5xx, 429) and a final failure becomes a plain 502/504
 * JSON error. After them the status is out, so a failure can only end the
 * body: the body stream is destroyed with a coded error (`UpstreamTimeoutError`,
 * `UpstreamError`) and the plugin's Transform ends the stream in the
 * protocol's own shape (fastify's rule: once headers are out, a mid-stream
 * error is ended in-band, never by changing the status).
 */
import { EventEmitter } from 'node:events'
import { Readable } from 'node:stream'
import { Pool, errors as undiciErrors } from 'undici'
import type { Dispatcher } from 'undici'
import { UpstreamError, UpstreamTimeoutError } from '../errors.js'
import { contentCodings, decodeContent } from '../http/content-encoding.js'
import { allowedResponseHeaders } from '../http/response-headers.js'
import type { ProxyTimeouts } from './proxy-config.js'
import { forwardedRequestHeaders } from './request-headers.js'

const kNone: ReadonlySet<string> = new Set()

/** The counters forwarding feeds (a subset of the ops helper's `ProxyMetrics`). */
export interface ForwardMetrics {
  countRetry: () => void
  countUpstreamError: (kind: string) => void
}

export interface UpstreamClientOptions {
  /** Base URL; a path prefix is kept (`https://host/openai` + `/v1/chat/completions`). */
  upstream: string
  upstreamKeys: readonly string[]
  forwardClientAuth: boolean
  retries: number
  retryBaseDelayMs: number
  retryMaxDelayMs: number
  timeouts: ProxyTimeouts
  metrics?: ForwardMetrics
}

/** How a route's provider takes its key. */
export type AuthStyle = 'bearer' | 'x-api-key' | 'x-goog-api-key'

/**
 * The path and query to send upstream: a `key` query parameter (Gemini's
 * other way to pass a key) is the client's credential for Sluice, never
 * the upstream's.
 */
export function withoutKeyParam (path: string): string {
  const q = path.indexOf('?')
  if (q === -1) return path
  const params = new URLSearchParams(path.slice(q + 1))
  if (!params.has('key')) return path
  params.delete('key')
  const rest = params.toString()
  return rest === '' ? path.slice(0, q) : `${path.slice(0, q)}?${rest}`
}

export interface ForwardRequest {
  method: 'GET' | 'POST'
  /** Path and query as the client sent them, e.g. `/v1/chat/completions`. */
  path: string
  /** The client's headers; only the allowed ones go on (proxy/request-headers.ts). */
  headers: Record<string, string | string[] | undefined>
  /** Identity or billing headers this client may send (`openai-organization`…). */
  forwardHeaders?: ReadonlySet<string>
  body?: string
  /** Anthropic routes authenticate with `x-api-key`, Gemini ones with `x-goog-api-key`, the others with a bearer token. */
  authStyle: AuthStyle
  /** Aborts the upstream exchange at once (the client went away). */
  signal: CancelSignal
}

/**
 * What stops an exchange: an `AbortSignal`, or the cheaper `Canceller`
 * signal (an EventEmitter with `aborted` and `reason` that emits 'abort',
 * which undici accepts as a request signal too).
 */
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
function onCancel (signal: CancelSignal, fn: () => void): () => void {
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
function pause (ms: number, signal: CancelSignal): Promise<void> {
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

export interface ForwardResponse {
  status: number
  /**
   * The upstream headers a client may get (http/response-headers.ts: an
   * allowlist; values not yet scanned with the rules).
   */
  headers: Record<string, string | string[]>
  /**
   * The body, decoded if the upstream compressed it anyway, guarded by the
   * idle and total timeouts; destroying it aborts the upstream request.
   */
  body: Readable
  /** Attempts made (1 + retries used). */
  attempts: number
}

export interface UpstreamClient {
  forward: (request: ForwardRequest) => Promise<ForwardResponse>
  /** Closes the pool's connections (after in-flight requests end). */
  close: () => Promise<void>
  /** Destroys every connection now. */
  destroy: () => Promise<void>
}

/** The headers a client's key comes in (OpenAI, Anthropic, Gemini): forwarded only with `forwardClientAuth`. */
const kAuthHeaders = ['authorization', 'x-api-key', 'x-goog-api-key'] as const

/** Errors of the connection itself: nothing was answered, so another attempt is safe. */
const connectionErrorCodes = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_CLOSED'
])

function errorCode (err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** Equal jitter (AWS architecture blog, "Exponential Backoff and Jitter"): half fixed, half random, so retries spread out. */
export function backoffDelay (attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt)
  return Math.round(ceiling / 2 + random() * ceiling / 2)
}

/** Seconds or an HTTP date (RFC 9110 §10.2.3), in ms; undefined when absent or unreadable. */
function retryAfterMs (value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value
  if (text === undefined) return undefined
  const seconds = Number(text)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const date = Date.parse(text)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}

/**
 * Wraps the upstream body: an idle clock that restarts on every chunk
 * (stopped while the client applies backpressure, since a slow reader is not
 * a silent upstream) and the body's own failures turned into coded errors
 * the plugin can end the stream with.
 *
 * One timer per stream, not one per chunk: a chunk only notes the time, and
 * when the timer fires it either times out or re-arms for what is left of
 * the allowed gap. (A `clearTimeout` + `setTimeout` per chunk cost ~2% of
 * the proxy's CPU at saturation, plus a Timeout object per chunk to collect.)
 */
function guardBody (body: Readable, idleMs: number, onTimeoutKind: (kind: string) => void): Readable {
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
    if (guarded.destroyed) return
    const coded = err instanceof UpstreamTimeoutError || err instanceof UpstreamError
      ? err
      : errorCode(err) === 'UND_ERR_ABORTED' || err.name === 'AbortError'
        ? err
        : new UpstreamError(`connection closed mid-body (${errorCode(err) ?? err.message})`)
    guarded.destroy(coded)
  })
  startIdle()
  return guarded
}

/**
 * Creates the client for one upstream origin.
 *
 * @example
 * const upstream = createUpstreamClient({ upstream: 'http://127.0.0.1:9000', upstreamKeys: [], forwardClientAuth: false,
 *   retries: 2, retryBaseDelayMs: 100, retryMaxDelayMs: 2000, timeouts })
 * const res = await upstream.forward({ method: 'GET', path: '/v1/models', headers: {}, authStyle: 'bearer', signal })
 */
export function createUpstreamClient (options: UpstreamClientOptions): UpstreamClient {
  const base = new URL(options.upstream)
  let prefix = base.pathname.replace(/\/+$/, '')
  const { timeouts, metrics } = options
  const pool = new Pool(base.origin, {
    connect: { timeout: timeouts.connectMs },
    headersTimeout: timeouts.headersMs,
    // The idle gap is enforced by guardBody, which knows about client backpressure.
    bodyTimeout: 0,
    keepAliveTimeout: 30_000
  })
  let nextKey = 0

  function upstreamPath (path: string): string {
    // `--upstream https://api.openai.com/v1` and a client calling `/v1/...` must not give `/v1/v1/...`.
    if (prefix.endsWith('/v1') && (path === '/v1' || path.startsWith('/v1/') || path.startsWith('/v1?'))) {
      return prefix.slice(0, -3) + path
    }
    return prefix + path
  }
  // Normalise once so `upstreamPath` stays cheap.
  prefix = prefix === '/' ? '' : prefix

  function headersFor (request: ForwardRequest, key: string | undefined): Record<string, string | string[]> {
    const out: Record<string, string | string[]> = forwardedRequestHeaders(request.headers, request.forwardHeaders ?? kNone)
    // Sluice must read the body to sanitize it (RFC 9110 §12.5.3); one
    // compressed anyway is decoded (see forward), an unknown coding refused.
    out['accept-encoding'] = 'identity'
    if (request.body !== undefined) out['content-type'] = 'application/json'
    const clientAuth = kAuthHeaders.filter((name) => request.headers[name] !== undefined)
    if (options.forwardClientAuth && clientAuth.length > 0) {
      for (const name of clientAuth) out[name] = request.headers[name] as string | string[]
    } else if (key !== undefined) {
      if (request.authStyle === 'bearer') out.authorization = `Bearer ${key}`
      else out[request.authStyle] = key
    }
    return out
  }

  async function forward (request: ForwardRequest): Promise<ForwardResponse> {
    const keys = options.upstreamKeys
    // Round-robin across requests; a 429 moves this request on to the next key.
    let keyIndex = keys.length === 0 ? 0 : nextKey++ % keys.length
    if (nextKey >= Number.MAX_SAFE_INTEGER) nextKey = 0
    // One canceller for both reasons to stop: the client's signal and the
    // total cap. (`AbortSignal.any` over two AbortControllers did the same
    // for ~29 µs per request in Node 20; this costs well under 1 µs.)
    const cancel = createCanceller()
    const signal = cancel.signal
    let totalTimedOut = false
    const totalTimer = timeouts.totalMs > 0
      ? setTimeout(() => {
        totalTimedOut = true
        metrics?.countUpstreamError('timeout_total')
        cancel.abort(new UpstreamTimeoutError(`upstream exchange exceeded ${timeouts.totalMs} ms`))
      }, timeouts.totalMs)
      : undefined
    const stopListening = onCancel(request.signal, () => { cancel.abort(request.signal.reason) })
    const done = (): void => {
      if (totalTimer !== undefined) clearTimeout(totalTimer)
      stopListening()
    }
    // With client auth forwarded, a `?key=` is the client's own upstream key.
    const path = upstreamPath(options.forwardClientAuth ? request.path : withoutKeyParam(request.path))

    for (let attempt = 0; ; attempt++) {
      const key = keys[keyIndex % Math.max(1, keys.length)]
      let response: Dispatcher.ResponseData
      try {
        response = await pool.request({
          path,
          method: request.method,
          headers: headersFor(request, key),
          body: request.body ?? null,
          signal
        })
      } catch (err) {
        if (request.signal.aborted) {
          done()
          throw err
        }
        if (totalTimedOut) {
          done()
          throw new UpstreamTimeoutError(`upstream exchange exceeded ${timeouts.totalMs} ms`)
        }
        const code = errorCode(err)
        if (err instanceof undiciErrors.HeadersTimeoutError) {
          // Not retried: the provider may still be working on it, and waiting again doubles the wait.
          done()
          metrics?.countUpstreamError('timeout_headers')
          throw new UpstreamTimeoutError(`no response headers within ${timeouts.headersMs} ms`)
        }
        if (code !== undefined && connectionErrorCodes.has(code) && attempt < options.retries) {
          metrics?.countUpstreamError('connection')
          metrics?.countRetry()
          // An abort during the wait makes the next attempt fail at once, through the checks above.
          await pause(backoffDelay(attempt, options.retryBaseDelayMs, options.retryMaxDelayMs), signal)
          continue
        }
        done()
        if (code === 'UND_ERR_CONNECT_TIMEOUT') {
          metrics?.countUpstreamError('timeout_connect')
          throw new UpstreamTimeoutError(`could not connect within ${timeouts.connectMs} ms`)
        }
        metrics?.countUpstreamError('connection')
        throw new UpstreamError(code ?? (err as Error).message)
      }
      const status = response.statusCode
      const retryable = status >= 500 || status === 429
      if (retryable && attempt < options.retries && !signal.aborted) {
        metrics?.countUpstreamError(status === 429 ? 'status_429' : 'status_5xx')
        metrics?.countRetry()
        // Drain, so the keep-alive socket can serve the next attempt.
        await response.body.dump().catch(() => {})
        let wait = backoffDelay(attempt, options.retryBaseDelayMs, options.retryMaxDelayMs)
        if (status === 429) {
          if (keys.length > 1) {
            // Another key has its own quota: no reason to wait.
            keyIndex++
            wait = 0
          } else {
            const after = retryAfterMs(response.headers['retry-after'])
            if (after !== undefined) wait = Math.min(options.retryMaxDelayMs, Math.max(wait, after))
          }
        }
        if (wait > 0) await pause(wait, signal)
        continue
      }
      let codings: string[]
      try {
        codings = contentCodings(response.headers['content-encoding'])
      } catch (err) {
        // A coding Sluice cannot undo: the body could not be scanned. Refused before the first byte.
        response.body.on('error', () => {})
        response.body.destroy()
        done()
        throw err
      }
      const guarded = guardBody(response.body, timeouts.idleMs, (kind) => metrics?.countUpstreamError(`timeout_${kind}`))
      guarded.once('close', done)
      // The total cap also applies to the body: its abort destroys undici's body, which guardBody
      // reports; replace that error with the coded timeout.
      signal.once('abort', () => {
        if (totalTimedOut && !guarded.destroyed) guarded.destroy(new UpstreamTimeoutError(`upstream exchange exceeded ${timeouts.totalMs} ms`))
      })
      return {
        status,
        headers: allowedResponseHeaders(response.headers),
        // Decoded after the guard, so the idle clock watches the upstream's bytes.
        body: decodeContent(guarded, codings),
        attempts: attempt + 1
      }
    }
  }

  return {
    forward,
    close: async function closeUpstream () { await pool.close() },
    destroy: async function destroyUpstream () { await pool.destroy() }
  }
}
