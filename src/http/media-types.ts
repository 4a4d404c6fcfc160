/**
 * @module http/media-types
 * The one place where a Content-Type header becomes a decision: what kind
 * of body it labels, and so which path scans it. Deny by default: every
 * media type falls into a kind, the kind `binary` (what no scanner can
 * read) is refused by the callers, and a label that cannot be trusted —
 * missing, repeated, or more than one media type — is `unknown`, which
 * means "sniff the body": every kind a sniff can yield is scanned.
 *
 * Used by the plugin, the proxy and the stream codecs (select-codec.ts).
 */

/**
 * - `sse`: text/event-stream;
 * - `ndjson`: one JSON value per line (NDJSON, JSON Lines, RFC 7464 JSON text sequences);
 * - `json`: application/json and every `+json` type (RFC 6839 §3.1), problem+json (RFC 9457) included;
 * - `text`: any other `text/*`;
 * - `binary`: everything else;
 * - `unknown`: no usable label: the body must be sniffed.
 */
export type BodyKind = 'sse' | 'ndjson' | 'json' | 'text' | 'binary' | 'unknown'

export interface ContentType {
  /** `type/subtype`, lower-cased; '' when there is no single valid media type. */
  mediaType: string
  /** The `charset` parameter, lower-cased, without quotes. */
  charset: string | undefined
  kind: BodyKind
  /** Missing, given twice (an array, or comma-joined), or not a media type: sniff the body. */
  ambiguous: boolean
}

/** Every NDJSON / JSON-lines media type in use (none is registered with IANA but json-seq). */
export const kNdjsonTypes: ReadonlySet<string> = new Set([
  'application/x-ndjson',
  'application/ndjson',
  'application/jsonl',
  'application/x-jsonlines',
  'application/jsonlines',
  'application/json-seq'
])

/** The media type that labels each kind after Sluice re-wrote the body. */
const kCanonicalTypes: Record<Exclude<BodyKind, 'binary' | 'unknown'>, string> = {
  sse: 'text/event-stream',
  ndjson: 'application/x-ndjson',
  json: 'application/json',
  text: 'text/plain'
}

/** RFC 9110 §5.6.2 token characters. */
const kToken = /^[!#$%&'*+.^_`|~0-9a-z-]+$/

const kAmbiguous: ContentType = { mediaType: '', charset: undefined, kind: 'unknown', ambiguous: true }

/** The kind of a lower-cased, valid `type/subtype`. */
export function classifyMediaType (mediaType: string): BodyKind {
  if (mediaType === '') return 'unknown'
  if (mediaType === 'text/event-stream') return 'sse'
  if (kNdjsonTypes.has(mediaType)) return 'ndjson'
  if (mediaType === 'application/json' || mediaType.endsWith('+json')) return 'json'
  if (mediaType.startsWith('text/')) return 'text'
  return 'binary'
}

/**
 * Splits a header value at the commas outside quoted strings (RFC 9110
 * §5.6.4): a comma-joined list of media types is two labels, a comma inside
 * `boundary="a,b"` is not.
 */
function splitList (value: string): string[] {
  const parts: string[] = []
  let start = 0
  let quoted = false
  for (let i = 0; i < value.length; i++) {
    const c = value[i]
    if (quoted && c === '\\') i++
    else if (c === '"') quoted = !quoted
    else if (c === ',' && !quoted) {
      parts.push(value.slice(start, i))
      start = i + 1
    }
  }
  parts.push(value.slice(start))
  return parts.filter((p) => p.trim() !== '')
}

/**
 * Parses a Content-Type header as Node or fastify hand it over (a string,
 * an array when the header came more than once, a number, or nothing).
 * @example
 * parseContentType('Application/JSON; charset="UTF-16LE"') // { mediaType: 'application/json', charset: 'utf-16le', kind: 'json', ambiguous: false }
 */
export function parseContentType (header: unknown): ContentType {
  let value: string
  if (typeof header === 'string') value = header
  else if (Array.isArray(header) && header.length === 1 && typeof header[0] === 'string') value = header[0]
  else return kAmbiguous
  const labels = splitList(value)
  if (labels.length !== 1) return kAmbiguous
  const [typePart, ...params] = (labels[0] as string).split(';')
  const mediaType = (typePart ?? '').trim().toLowerCase()
  const slash = mediaType.indexOf('/')
  if (slash <= 0 || !kToken.test(mediaType.slice(0, slash)) || !kToken.test(mediaType.slice(slash + 1))) return kAmbiguous
  let charset: string | undefined
  for (const param of params) {
    const eq = param.indexOf('=')
    if (eq === -1 || param.slice(0, eq).trim().toLowerCase() !== 'charset') continue
    // A charset given twice is as untrustworthy as a type given twice.
    if (charset !== undefined) return kAmbiguous
    charset = param.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase()
  }
  return { mediaType, charset, kind: classifyMediaType(mediaType), ambiguous: false }
}

/** The media type of a Content-Type header, lower-cased, without parameters ('' when unusable). */
export function mediaTypeOf (contentType: unknown): string {
  return parseContentType(contentType).mediaType
}

/** Whether a body of this content type is a stream of frames (SSE or NDJSON). */
export function isStreamContentType (contentType: unknown): boolean {
  const kind = parseContentType(contentType).kind
  return kind === 'sse' || kind === 'ndjson'
}

/** The media type Sluice labels a body of `kind` with when the upstream's label was unusable. */
export function canonicalMediaType (kind: BodyKind): string {
  return kind === 'binary' || kind === 'unknown' ? kCanonicalTypes.text : kCanonicalTypes[kind]
}

/** An SSE line that starts a field or a comment (WHATWG HTML §9.2.6, "event stream interpretation"). */
const kSseLine = /^(?::|(?:data|event|id|retry)(?::|\r?$))/

/**
 * What a whole body is, from its text: JSON when it parses as an object
 * or an array, NDJSON when every line does, SSE when its first line is an
 * SSE field or comment, else text. Never `binary`: whatever a sniff says,
 * the body is scanned.
 */
export function sniffBodyKind (text: string): 'sse' | 'ndjson' | 'json' | 'text' {
  const body = text.replace(/^\uFEFF/, '').trimStart()
  const first = body[0]
  if (first === '{' || first === '[') {
    if (parsesAsJson(body)) return 'json'
    const lines = body.split('\n').filter((line) => line.trim() !== '')
    if (lines.length > 1 && lines.every(parsesAsJson)) return 'ndjson'
  }
  const firstLine = body.slice(0, body.indexOf('\n') === -1 ? body.length : body.indexOf('\n'))
  if (kSseLine.test(firstLine)) return 'sse'
  return 'text'
}

function parsesAsJson (text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}
