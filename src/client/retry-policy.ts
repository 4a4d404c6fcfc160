/**
 * @module client/retry-policy
 * When and how long to wait before trying a request again. Retries happen
 * only before the first byte of the body (create-stream-client.ts): a POST
 * that generates text is not idempotent once text may have been shown.
 *
 * Backoff is exponential with "equal jitter" (half of base · 2^attempt,
 * capped, plus a uniform draw over the other half): never zero, and the
 * retries of many clients that failed together are spread out; a `Retry-After` the server sent (seconds or an
 * HTTP date, RFC 9110 §10.2.3) is waited instead, as long as it is within
 * the cap; past the cap the client gives up rather than retry sooner than
 * asked.
 */

/** Statuses worth another try: timeouts, conflicts of the moment, rate limits and server errors. */
const kRetryable = new Set([408, 425, 429, 500, 502, 503, 504])

export function isRetryableStatus (status: number): boolean {
  return kRetryable.has(status)
}

/**
 * A `Retry-After` value in milliseconds from `now`; undefined when absent or unreadable.
 * @example
 * parseRetryAfter('2', Date.now()) // 2000
 */
export function parseRetryAfter (value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/**
 * The backoff before retry number `attempt` (0 for the first retry), with equal jitter.
 * @example
 * backoffDelay(2, 250, 10_000, Math.random) // a value in [500, 1000]
 */
export function backoffDelay (attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt)
  return Math.floor(ceiling / 2 + random() * (ceiling / 2))
}
