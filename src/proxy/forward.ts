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
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool, errors as undiciErrors } from 'undici'
import type { Dispatcher } from 'undici'
import { UpstreamError, UpstreamTimeoutError } from '../errors.js'
import type { ProxyTimeouts } from './proxy-config.js'

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

export interface ForwardRequest {
  method: 'GET' | 'POST'
  /** Path and query as the client sent them, e.g. `/v1/chat/completions`. */
  path: string
  /** The client's headers; only end-to-end ones that matter upstream are kept. */
  headers: Record<string, string | string[] | undefined>
  body?: string
  /** Anthropic routes authenticate with `x-api-key`, OpenAI ones with a bearer token. */
  authStyle: 'bearer' | 'x-api-key'
  /** Aborts the upstream exchange at once (the client went away). */
  signal: AbortSignal
}

export interface ForwardResponse {
  status: number
  /** Response headers safe to pass to the client (hop-by-hop and length/encoding removed). */
  headers: Record<string, string | string[]>
  /** The body, guarded by the idle and total timeouts; destroying it aborts the upstream request. */
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

/** Hop-by-hop headers (RFC 9110 §7.6.1) and those the proxy sets itself; never forwarded. */
const dropRequestHeaders = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding',
  'upgrade', 'host', 'content-length', 'accept-encoding', 'cookie', 'authorization', 'x-api-key', 'expect',
  'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto'
])

/** The body is re-framed by Sluice (a Transform changes its length), so length and encoding go too. */
const dropResponseHeaders = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding',
  'upgrade', 'content-length', 'content-encoding', 'set-cookie', 'date', 'server'
])

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

function responseHeaders (raw: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [name, value] of Object.entries(raw)) {
    if (value !== undefined && !dropResponseHeaders.has(name)) out[name] = value
  }
  return out
}

/**
 * Wraps the upstream body: restarts an idle timer on every chunk (paused
 * while the client applies backpressure, since a slow reader is not a silent
 * upstream) and turns the body's own failures into coded errors the plugin
 * can end the stream with.
 */
function guardBody (body: Readable, idleMs: number, onTimeoutKind: (kind: string) => void): Readable {
  let idleTimer: NodeJS.Timeout | undefined
  const clearIdle = (): void => {
    if (idleTimer !== undefined) clearTimeout(idleTimer)
    idleTimer = undefined
  }
  const armIdle = (): void => {
    clearIdle()
    idleTimer = setTimeout(() => {
      onTimeoutKind('idle')
      guarded.destroy(new UpstreamTimeoutError(`no data from upstream for ${idleMs} ms`))
    }, idleMs)
  }
  const guarded = new Readable({
    read () {
      if (body.isPaused()) body.resume()
      if (!body.readableEnded) armIdle()
    },
    destroy (err, callback) {
      clearIdle()
      body.off('data', onData)
      // Destroying undici's body aborts the request and frees (or drops) the socket.
      if (!body.destroyed) body.destroy()
      callback(err)
    }
  })
  const onData = (chunk: Buffer): void => {
    armIdle()
    if (!guarded.push(chunk)) {
      body.pause()
      clearIdle()
    }
  }
  body.on('data', onData)
  body.once('end', () => {
    clearIdle()
    guarded.push(null)
  })
  body.once('error', (err) => {
    clearIdle()
    if (guarded.destroyed) return
    const coded = err instanceof UpstreamTimeoutError || err instanceof UpstreamError
      ? err
      : errorCode(err) === 'UND_ERR_ABORTED' || err.name === 'AbortError'
        ? err
        : new UpstreamError(`connection closed mid-body (${errorCode(err) ?? err.message})`)
    guarded.destroy(coded)
  })
  armIdle()
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
    const out: Record<string, string | string[]> = {}
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined && !dropRequestHeaders.has(name)) out[name] = value
    }
    // Sluice must read the body to sanitize it.
    out['accept-encoding'] = 'identity'
    if (request.body !== undefined) out['content-type'] = 'application/json'
    const clientAuthorization = request.headers.authorization
    const clientApiKey = request.headers['x-api-key']
    if (options.forwardClientAuth && (clientAuthorization !== undefined || clientApiKey !== undefined)) {
      if (clientAuthorization !== undefined) out.authorization = clientAuthorization
      if (clientApiKey !== undefined) out['x-api-key'] = clientApiKey
    } else if (key !== undefined) {
      if (request.authStyle === 'x-api-key') out['x-api-key'] = key
      else out.authorization = `Bearer ${key}`
    }
    return out
  }

  async function forward (request: ForwardRequest): Promise<ForwardResponse> {
    const keys = options.upstreamKeys
    // Round-robin across requests; a 429 moves this request on to the next key.
    let keyIndex = keys.length === 0 ? 0 : nextKey++ % keys.length
    if (nextKey >= Number.MAX_SAFE_INTEGER) nextKey = 0
    const totalController = new AbortController()
    let totalTimedOut = false
    const totalTimer = timeouts.totalMs > 0
      ? setTimeout(() => {
        totalTimedOut = true
        metrics?.countUpstreamError('timeout_total')
        totalController.abort(new UpstreamTimeoutError(`upstream exchange exceeded ${timeouts.totalMs} ms`))
      }, timeouts.totalMs)
      : undefined
    const signal = AbortSignal.any([request.signal, totalController.signal])
    const done = (): void => { if (totalTimer !== undefined) clearTimeout(totalTimer) }
    const path = upstreamPath(request.path)

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
          await sleep(backoffDelay(attempt, options.retryBaseDelayMs, options.retryMaxDelayMs), undefined, { signal }).catch(() => {})
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
        if (wait > 0) await sleep(wait, undefined, { signal }).catch(() => {})
        continue
      }
      const guarded = guardBody(response.body, timeouts.idleMs, (kind) => metrics?.countUpstreamError(`timeout_${kind}`))
      guarded.once('close', done)
      // The total cap also applies to the body: its abort destroys undici's body, which guardBody
      // reports; replace that error with the coded timeout.
      totalController.signal.addEventListener('abort', () => {
        if (!guarded.destroyed) guarded.destroy(new UpstreamTimeoutError(`upstream exchange exceeded ${timeouts.totalMs} ms`))
      }, { once: true })
      return {
        status,
        headers: responseHeaders(response.headers),
        body: guarded,
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
