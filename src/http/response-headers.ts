/**
 * @module http/response-headers
 * Which upstream response headers the proxy passes on: an allowlist, not a
 * blocklist. A header is text a client reads (SDKs log them, show them in
 * errors) and a hostile upstream chooses every byte of it; the unknown ones
 * are dropped by construction. An allowed header goes out only as one short
 * printable value, and Sluice's own headers (`x-sluice-*`) are never taken
 * from the upstream. The values that pass are scanned with the rules by the
 * plugin, like every header of a sanitized reply (plugin.ts).
 */

/** Upstream headers a client may need, by exact name. */
const kAllowed: ReadonlySet<string> = new Set([
  // Rewritten by the plugin when the body is re-labelled (see plugin.ts).
  'content-type',
  'cache-control',
  // Back-off signals: RFC 9110 §10.2.3, and OpenAI's SDKs read the other two.
  'retry-after',
  'retry-after-ms',
  'x-should-retry',
  // Request ids a provider's support asks for (OpenAI, Anthropic).
  'x-request-id',
  'request-id',
  'openai-processing-ms',
  'openai-version',
  // The Vercel AI SDK's UI message stream says its protocol version here (`v1`).
  'x-vercel-ai-ui-message-stream'
])

/** Families of rate-limit headers (OpenAI `x-ratelimit-*`, Anthropic `anthropic-ratelimit-*`). */
const kAllowedPrefixes = ['x-ratelimit-', 'anthropic-ratelimit-'] as const

/** Names Sluice sets itself: never from the upstream, whatever the allowlist says. */
const kOwnPrefix = 'x-sluice-'

/** Longest value passed on; ids, dates and limits are far shorter. */
const maxHeaderValueLength = 256

/** Printable ASCII (RFC 9110 §5.5 field-vchar and spaces), no control characters, no obs-text. */
const kPrintable = /^[\x20-\x7e]*$/

/**
 * A header value passed on between client and provider, either way: short,
 * and printable ASCII only (a control character or obs-text is read
 * differently by different parsers).
 */
export function isPlainHeaderValue (value: string, maxLength: number): boolean {
  return value.length <= maxLength && kPrintable.test(value)
}

function isAllowedName (name: string): boolean {
  if (name.startsWith(kOwnPrefix)) return false
  return kAllowed.has(name) || kAllowedPrefixes.some((prefix) => name.startsWith(prefix))
}

/**
 * The upstream headers the client gets. `content-type` is kept as given,
 * even repeated, so the plugin can tell a label it cannot trust (and sniffs
 * the body instead).
 * @example
 * const headers = allowedResponseHeaders(upstream.headers)
 */
export function allowedResponseHeaders (raw: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [rawName, value] of Object.entries(raw)) {
    const name = rawName.toLowerCase()
    if (value === undefined || !isAllowedName(name)) continue
    if (name === 'content-type') {
      out[name] = value
      continue
    }
    // Given twice: which one a client reads depends on the client.
    if (Array.isArray(value)) continue
    if (value === '' || !isPlainHeaderValue(value, maxHeaderValueLength)) continue
    out[name] = value
  }
  return out
}
