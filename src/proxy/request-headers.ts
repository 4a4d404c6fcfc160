/**
 * @module proxy/request-headers
 * Which client request headers reach the provider: an allowlist, like the
 * response side (http/response-headers.ts). The proxy calls the provider
 * with the operator's key, so a header that selects who is billed or what
 * account is used (`openai-organization`, `openai-project`,
 * `x-goog-user-project`) or opts into unreleased features (`anthropic-beta`)
 * is the operator's choice, not the client's: it goes on only for clients
 * the operator named (`forwardHeaders`, globally or per client key).
 * Everything else a client sends — custom headers, `x-real-ip`, SDK
 * telemetry — stays here.
 */

import { isPlainHeaderValue } from '../http/response-headers.js'

/**
 * Headers any client may send: content negotiation, the client's name,
 * idempotency keys (retries must not double-bill) and the provider's API
 * version headers, which only select the wire format.
 */
const kAlwaysForwarded: ReadonlySet<string> = new Set([
  'accept',
  'user-agent',
  'idempotency-key',
  // Anthropic: required API version (docs.anthropic.com "Versions").
  'anthropic-version',
  // OpenAI: API version selectors (`openai-beta: assistants=v2`).
  'openai-version',
  'openai-beta',
  // Google's client library version header.
  'x-goog-api-client'
])

/** Longest header value passed on (Node's default cap on all headers together is 16 KiB). */
const maxHeaderValueLength = 8192

/**
 * The client headers to send upstream: those always allowed, plus the ones
 * `allowed` names for this client. A header given twice or with a value that
 * is not short printable text is dropped (a provider may read either copy).
 *
 * @example
 * const headers = forwardedRequestHeaders(request.headers, new Set(['openai-project']))
 */
export function forwardedRequestHeaders (raw: Readonly<Record<string, string | string[] | undefined>>, allowed: ReadonlySet<string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name in raw) {
    if (!kAlwaysForwarded.has(name) && !allowed.has(name)) continue
    const value = raw[name]
    if (typeof value !== 'string' || !isPlainHeaderValue(value, maxHeaderValueLength)) continue
    out[name] = value
  }
  return out
}
