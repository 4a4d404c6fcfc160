/**
 * @module proxy/request-target
 * The request target sent to the provider, built by the proxy rather than
 * copied from the client. Only origin-form targets (RFC 9112 §3.2.1,
 * `/path?query`) are served: an absolute-form one (`POST http://other:81/…`)
 * names another host, which a forward proxy would honour and an API gateway
 * must refuse. The path comes from the route and its validated parameters,
 * so an encoded `..` or `/` cannot steer the operator's key to another
 * endpoint, and only the query parameters the provider's API uses for that
 * route go on (a fragment never does).
 */

/** True for an origin-form target: a path from the root (RFC 9112 §3.2.1). */
export function isOriginForm (rawUrl: string): boolean {
  return rawUrl.charCodeAt(0) === 0x2f /* / */ && rawUrl.charCodeAt(1) !== 0x2f
}

/** A path parameter as a path segment: percent-encoded, with the `:` of `model:action` kept (RFC 3986 §3.3 allows it in a segment). */
function segment (value: string): string {
  return encodeURIComponent(value).replace(/%3A/gi, ':')
}

/**
 * The target for the upstream: `template` (a Fastify route path such as
 * `/v1beta/models/:modelAction`) with its parameters filled in, and the
 * query parameters of `rawUrl` that `allowedQuery` names, in their order.
 *
 * @example
 * upstreamTarget('/v1beta/models/:modelAction', { modelAction: 'gemini-2.0-flash:streamGenerateContent' },
 *   '/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse&debug=1', new Set(['alt']))
 * // → '/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse'
 */
export function upstreamTarget (template: string, params: unknown, rawUrl: string, allowedQuery: ReadonlySet<string>): string {
  const path = template.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => {
    const value = (params as Record<string, unknown> | undefined)?.[name]
    return typeof value === 'string' ? segment(value) : ''
  })
  if (allowedQuery.size === 0) return path
  const q = rawUrl.indexOf('?')
  if (q === -1) return path
  const hash = rawUrl.indexOf('#', q)
  const kept = new URLSearchParams()
  for (const [name, value] of new URLSearchParams(rawUrl.slice(q + 1, hash === -1 ? undefined : hash))) {
    if (allowedQuery.has(name)) kept.append(name, value)
  }
  const query = kept.toString()
  return query === '' ? path : `${path}?${query}`
}
