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
import type { Readable } from 'node:stream'
import { Pool } from 'undici'
import type { Dispatcher } from 'undici'
import { UpstreamTimeoutError } from '../errors.js'
import { contentCodings, decodeContent } from '../http/content-encoding.js'
import { allowedResponseHeaders } from '../http/response-headers.js'
import { createCanceller, onCancel, pause } from './cancel.js'
import type { CancelSignal, CancellerSignal } from './cancel.js'
import type { ProxyTimeouts } from './proxy-config.js'
import { forwardedRequestHeaders } from './request-headers.js'
import { guardBody } from './upstream-body.js'
import { attemptFailure, backoffDelay, isRetryableStatus, retryWaitMs } from './upstream-failures.js'

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
  /** Offer HTTP/2 to a TLS upstream (ALPN): one connection carries many streams. */
  allowH2?: boolean
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

/**
 * One exchange's stop: the client's signal or the total cap, whichever
 * comes first. (`AbortSignal.any` over two AbortControllers did the same
 * for ~29 µs per request in Node 20; this costs well under 1 µs.)
 */
interface Exchange {
  readonly signal: CancellerSignal
  /** True once the total cap has passed. */
  readonly timedOut: boolean
  /** The error of the total cap (an `UpstreamTimeoutError`). */
  timeoutError: () => Error
  /** Stops the clock and the listening (the body closed, or the exchange failed). */
  done: () => void
}

function startExchange (clientSignal: CancelSignal, totalMs: number, metrics: ForwardMetrics | undefined): Exchange {
  const cancel = createCanceller()
  let timedOut = false
  const timeoutError = (): Error => new UpstreamTimeoutError(`upstream exchange exceeded ${totalMs} ms`)
  const totalTimer = totalMs > 0
    ? setTimeout(() => {
      timedOut = true
      metrics?.countUpstreamError('timeout_total')
      cancel.abort(timeoutError())
    }, totalMs)
    : undefined
  const stopListening = onCancel(clientSignal, () => { cancel.abort(clientSignal.reason) })
  return {
    signal: cancel.signal,
    get timedOut () { return timedOut },
    timeoutError,
    done () {
      if (totalTimer !== undefined) clearTimeout(totalTimer)
      stopListening()
    }
  }
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
  const { timeouts, metrics, upstreamKeys: keys } = options
  const pool = new Pool(base.origin, {
    connect: { timeout: timeouts.connectMs },
    headersTimeout: timeouts.headersMs,
    // The idle gap is enforced by guardBody, which knows about client backpressure.
    bodyTimeout: 0,
    keepAliveTimeout: 30_000,
    allowH2: options.allowH2 === true
  })
  // Normalised once so `upstreamPath` stays cheap.
  const trimmed = base.pathname.replace(/\/+$/, '')
  const prefix = trimmed === '/' ? '' : trimmed
  let nextKey = 0

  function upstreamPath (path: string): string {
    // `--upstream https://api.openai.com/v1` and a client calling `/v1/...` must not give `/v1/v1/...`.
    if (prefix.endsWith('/v1') && (path === '/v1' || path.startsWith('/v1/') || path.startsWith('/v1?'))) {
      return prefix.slice(0, -3) + path
    }
    return prefix + path
  }

  /** Round-robin across requests; a 429 moves a request on to the next key. */
  function firstKeyIndex (): number {
    const index = keys.length === 0 ? 0 : nextKey++ % keys.length
    if (nextKey >= Number.MAX_SAFE_INTEGER) nextKey = 0
    return index
  }

  function headersFor (request: ForwardRequest, key: string | undefined): Record<string, string | string[]> {
    const out: Record<string, string | string[]> = forwardedRequestHeaders(request.headers, request.forwardHeaders ?? kNone)
    // Sluice must read the body to sanitize it (RFC 9110 §12.5.3); one
    // compressed anyway is decoded (see deliver), an unknown coding refused.
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

  /**
   * The wait before another attempt after `err` (no answer came), or throws
   * the error the exchange ends with: the client's abort as it is, the total
   * cap, or the coded failure (upstream-failures.ts).
   */
  function waitAfterFailure (err: unknown, request: ForwardRequest, exchange: Exchange, attempt: number): number {
    if (request.signal.aborted) throw err
    if (exchange.timedOut) throw exchange.timeoutError()
    const failure = attemptFailure(err, attempt < options.retries, timeouts)
    metrics?.countUpstreamError(failure.kind)
    if (!failure.retry) throw failure.error
    metrics?.countRetry()
    return backoffDelay(attempt, options.retryBaseDelayMs, options.retryMaxDelayMs)
  }

  /**
   * Whether an answer is final; when it is not (a 5xx or 429 while retries
   * are left and nothing aborted the exchange), drains it and says how long
   * to wait, and whether to move on to the next key.
   */
  async function retryOf (response: Dispatcher.ResponseData, attempt: number, exchange: Exchange): Promise<{ waitMs: number, nextKey: boolean } | undefined> {
    const status = response.statusCode
    if (!isRetryableStatus(status) || attempt >= options.retries || exchange.signal.aborted) return undefined
    metrics?.countUpstreamError(status === 429 ? 'status_429' : 'status_5xx')
    metrics?.countRetry()
    // Drain, so the keep-alive socket can serve the next attempt.
    await response.body.dump().catch(() => {})
    // Another key has its own quota: a 429 moves on to it.
    const nextKey = status === 429 && keys.length > 1
    const waitMs = retryWaitMs(status, { attempt, baseMs: options.retryBaseDelayMs, maxMs: options.retryMaxDelayMs, retryAfter: response.headers['retry-after'], otherKey: nextKey })
    return { waitMs, nextKey }
  }

  /** Attempts until an answer is final (see waitAfterFailure and retryOf). */
  async function answerOf (request: ForwardRequest, path: string, exchange: Exchange): Promise<{ response: Dispatcher.ResponseData, attempts: number }> {
    let keyIndex = firstKeyIndex()
    for (let attempt = 0; ; attempt++) {
      const key = keys[keyIndex % Math.max(1, keys.length)]
      let response: Dispatcher.ResponseData
      try {
        response = await pool.request({ path, method: request.method, headers: headersFor(request, key), body: request.body ?? null, signal: exchange.signal })
      } catch (err) {
        // An abort during the wait makes the next attempt fail at once, through the checks of waitAfterFailure.
        await pause(waitAfterFailure(err, request, exchange, attempt), exchange.signal)
        continue
      }
      const retry = await retryOf(response, attempt, exchange)
      if (retry === undefined) return { response, attempts: attempt + 1 }
      if (retry.nextKey) keyIndex++
      if (retry.waitMs > 0) await pause(retry.waitMs, exchange.signal)
    }
  }

  /**
   * The final answer as the client will get it: its body decoded and
   * guarded (idle timeout; the total cap ends it with the coded timeout).
   * A content coding Sluice cannot undo is refused before the first byte.
   */
  function deliver (response: Dispatcher.ResponseData, attempts: number, exchange: Exchange): ForwardResponse {
    let codings: string[]
    try {
      codings = contentCodings(response.headers['content-encoding'])
    } catch (err) {
      response.body.on('error', () => {})
      response.body.destroy()
      throw err
    }
    const guarded = guardBody(response.body, timeouts.idleMs, (kind) => metrics?.countUpstreamError(`timeout_${kind}`))
    guarded.once('close', exchange.done)
    // The total cap's abort destroys undici's body, which guardBody reports: replace that error with the coded timeout.
    exchange.signal.once('abort', () => {
      if (exchange.timedOut && !guarded.destroyed) guarded.destroy(exchange.timeoutError())
    })
    return {
      status: response.statusCode,
      headers: allowedResponseHeaders(response.headers),
      // Decoded after the guard, so the idle clock watches the upstream's bytes.
      body: decodeContent(guarded, codings),
      attempts
    }
  }

  async function forward (request: ForwardRequest): Promise<ForwardResponse> {
    const exchange = startExchange(request.signal, timeouts.totalMs, metrics)
    // With client auth forwarded, a `?key=` is the client's own upstream key.
    const path = upstreamPath(options.forwardClientAuth ? request.path : withoutKeyParam(request.path))
    try {
      const { response, attempts } = await answerOf(request, path, exchange)
      return deliver(response, attempts, exchange)
    } catch (err) {
      exchange.done()
      throw err
    }
  }

  return {
    forward,
    close: async function closeUpstream () { await pool.close() },
    destroy: async function destroyUpstream () { await pool.destroy() }
  }
}
