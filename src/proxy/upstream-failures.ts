/**
 * @module proxy/upstream-failures
 * What an upstream failure means: which errors of the connection leave
 * nothing answered (so another attempt is safe), which answers are worth
 * another attempt and how long to wait for it, and the coded error each
 * final failure becomes (`UpstreamTimeoutError` → 504,
 * `UpstreamError` → 502).
 */
import { errors as undiciErrors } from 'undici'
import { UpstreamError, UpstreamTimeoutError } from '../errors.js'
import type { ProxyTimeouts } from './proxy-config.js'

/** Errors of the connection itself: nothing was answered, so another attempt is safe. */
const connectionErrorCodes = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_CLOSED'
])

/** The `code` of an error, when it is a string. */
function errorCode (err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/**
 * What an attempt that got no answer means: another attempt (a connection
 * error, while attempts are left), or the coded error to fail with. `kind`
 * is the upstream-error metric's label.
 */
export type AttemptFailure =
  | { retry: true, kind: 'connection' }
  | { retry: false, kind: string, error: Error }

export function attemptFailure (err: unknown, attemptsLeft: boolean, timeouts: ProxyTimeouts): AttemptFailure {
  if (err instanceof undiciErrors.HeadersTimeoutError) {
    // Not retried: the provider may still be working on it, and waiting again doubles the wait.
    return { retry: false, kind: 'timeout_headers', error: new UpstreamTimeoutError(`no response headers within ${timeouts.headersMs} ms`) }
  }
  const code = errorCode(err)
  if (code !== undefined && connectionErrorCodes.has(code) && attemptsLeft) return { retry: true, kind: 'connection' }
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    return { retry: false, kind: 'timeout_connect', error: new UpstreamTimeoutError(`could not connect within ${timeouts.connectMs} ms`) }
  }
  return { retry: false, kind: 'connection', error: new UpstreamError(code ?? (err as Error).message) }
}

/** An answer another attempt may change: a server error, or a rate limit. */
export function isRetryableStatus (status: number): boolean {
  return status >= 500 || status === 429
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

export interface RetryWait {
  attempt: number
  baseMs: number
  maxMs: number
  /** The answer's `retry-after`. */
  retryAfter: string | string[] | undefined
  /** The next attempt uses another provider key. */
  otherKey: boolean
}

/**
 * How long to wait before retrying an answer with `status`: the backoff;
 * for a 429, nothing when another key (with its own quota) is tried, else
 * at least the provider's `retry-after`, within the largest backoff.
 */
export function retryWaitMs (status: number, { attempt, baseMs, maxMs, retryAfter, otherKey }: RetryWait): number {
  const backoff = backoffDelay(attempt, baseMs, maxMs)
  if (status !== 429) return backoff
  if (otherKey) return 0
  const after = retryAfterMs(retryAfter)
  return after === undefined ? backoff : Math.min(maxMs, Math.max(backoff, after))
}

/**
 * The body's own failure as the error the plugin ends the stream with: a
 * coded timeout or upstream error as it is, an abort as it is (the client
 * left), anything else a connection closed mid-body.
 */
export function bodyFailure (err: Error): Error {
  if (err instanceof UpstreamTimeoutError || err instanceof UpstreamError) return err
  if (errorCode(err) === 'UND_ERR_ABORTED' || err.name === 'AbortError') return err
  return new UpstreamError(`connection closed mid-body (${errorCode(err) ?? err.message})`)
}
