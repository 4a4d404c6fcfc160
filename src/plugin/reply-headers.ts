/**
 * @module plugin/reply-headers
 * The headers of a sanitized reply are text the client reads too: the
 * values a route set are scanned, and the Content-Type Sluice sends is one
 * that says how the body was read and scans clean.
 */
import type { FastifyReply } from 'fastify'
import { canonicalMediaType } from '../http/media-types.js'
import type { BodyKind, ContentType } from '../http/media-types.js'
import type { RuleSet } from '../rules/rule-set.js'
import { cleanTextsOf, rememberClean } from '../scanner/clean-texts.js'
import { scanText } from '../scanner/scan-text.js'
import type { ScannerOptions } from '../scanner/types.js'

/**
 * Headers not scanned as text: the body's label is checked where it is
 * rewritten (`labelFor`), the encoding is removed once decoded, and the rest
 * are framing the HTTP layer owns.
 */
const kUnscannedHeaders = new Set(['content-type', 'content-length', 'content-encoding', 'transfer-encoding', 'connection', 'keep-alive'])
/** Media types remembered as clean per rule set (labelFor). */
const maxCleanTypes = 256
/**
 * Per rule set, the media types that scanned clean. Whether a text scans
 * clean depends on the rules alone (the HMAC key only shapes replacements),
 * so plugin instances with the same rule set share the entry.
 */
const cleanTypes = new WeakMap<RuleSet, Set<string>>()

/**
 * Header values a route set are text the client reads too (a route that
 * copies an upstream's trace header copies whatever it says): each is
 * scanned whole, and one a rule would change is removed.
 */
export function scanReplyHeaders (reply: FastifyReply, rules: RuleSet, scannerOptions: ScannerOptions): void {
  const clean = cleanTextsOf(rules)
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (kUnscannedHeaders.has(name) || name.startsWith('x-sluice-')) continue
    const values = Array.isArray(value) ? value : typeof value === 'string' ? [value] : []
    for (const v of values) {
      if (clean.has(v)) continue
      const result = scanText(rules, v, scannerOptions)
      if (result.text !== v) {
        reply.removeHeader(name)
        break
      }
      rememberClean(clean, v, result.text, result.findings)
    }
  }
}

/**
 * The Content-Type Sluice sends: the route's media type when it was one
 * clear label that scans clean, else the one for the kind the body was
 * read as; always UTF-8 (what was scanned is what is sent).
 */
export function labelFor (ct: ContentType, kind: Exclude<BodyKind, 'binary' | 'unknown'>, rules: RuleSet, scannerOptions: ScannerOptions): string {
  // A text/* or an added stream type may carry any of the kinds; a JSON,
  // SSE or NDJSON label on a body read as another kind would mislead the client.
  const keep = !ct.ambiguous && (ct.kind === kind || ct.kind === 'text' || ct.kind === 'binary')
  let type = keep ? ct.mediaType : canonicalMediaType(kind)
  // The media type is upstream text too (`text/4111111111111111`).
  let clean = cleanTypes.get(rules)
  if (clean === undefined) cleanTypes.set(rules, (clean = new Set()))
  if (!clean.has(type)) {
    if (scanText(rules, type, scannerOptions).text !== type) type = canonicalMediaType(kind)
    else if (clean.size < maxCleanTypes) clean.add(type)
  }
  return `${type}; charset=utf-8`
}
