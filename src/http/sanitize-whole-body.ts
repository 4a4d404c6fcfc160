/**
 * @module http/sanitize-whole-body
 * A response body held whole (a JSON or text answer, an error body, an
 * event stream sent as one string) → the text to send instead. Whatever
 * the label says, the body is read the way a client may read it:
 *
 * - JSON (labelled so, or any text that parses as an object or array: a
 *   client calling `res.json()` does not look at the label) goes through
 *   the protocol's body sanitizer, which scans every other string, key and
 *   number too (protocols/body-scan.ts), and the body is re-serialized;
 * - an event stream or NDJSON (labelled, or sniffed) goes through the stream
 *   sanitizer in one go: frames are re-written, unknown lines dropped;
 * - anything else is scanned as one text; a cut ends the body there.
 */
import type { FindingContext, ProtocolOption } from '../protocols/types.js'
import { sanitizeJsonBody } from '../protocols/sanitize-json-body.js'
import type { RuleSet } from '../rules/rule-set.js'
import { createScanner } from '../scanner/create-scanner.js'
import { scanText } from '../scanner/scan-text.js'
import type { Finding, Scanner, ScannerOptions } from '../scanner/types.js'
import { createStreamSanitizer } from '../stream/create-stream-sanitizer.js'
import { UnscannableBodyError } from '../errors.js'
import { canonicalMediaType, sniffBodyKind } from './media-types.js'
import type { BodyKind } from './media-types.js'

export interface WholeBodyOptions {
  ruleSet: RuleSet
  scannerOptions?: ScannerOptions
  protocol?: ProtocolOption
  maxEventSize?: number
  onFinding?: (finding: Finding, where: FindingContext) => void
  onCut?: (finding: Finding) => void
  /** Wraps each scanner (the proxy restores pseudonyms this way, after the rules ran). */
  wrapScanner?: (scanner: Scanner) => Scanner
  /** Sees a JSON body as parsed, before it is sanitized (the proxy reads usage off it). */
  onParsed?: (value: unknown) => void
}

function scannerOf (options: WholeBodyOptions): () => Scanner {
  const { ruleSet, scannerOptions, wrapScanner } = options
  return wrapScanner === undefined ? () => createScanner(ruleSet, scannerOptions) : () => wrapScanner(createScanner(ruleSet, scannerOptions))
}

export interface WholeBodyResult {
  text: string
  /** How the body was read (and is labelled when its own label was unusable). */
  kind: 'sse' | 'ndjson' | 'json' | 'text'
}

/** Where a finding outside the protocol's known fields is reported. */
const kBodyContext: FindingContext = { channel: 'body', choice: 0, field: 'content' }

/**
 * Sanitizes a whole body of the given (declared) kind.
 * @example
 * const { text } = sanitizeWholeBody('{"detail":"mail jane@example.com"}', 'json', { ruleSet })
 */
export function sanitizeWholeBody (text: string, declared: BodyKind, options: WholeBodyOptions): WholeBodyResult {
  // A BOM is not part of any of these formats; JSON.parse rejects it.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  let kind: WholeBodyResult['kind'] = declared === 'sse' || declared === 'ndjson' ? declared : sniffBodyKind(body)
  if (kind === 'json') {
    let value: unknown
    try {
      value = JSON.parse(body)
    } catch {
      // sniffBodyKind said JSON only when it parsed; kept for safety.
      kind = 'text'
    }
    if (kind === 'json') return { text: sanitizeJson(value, options), kind }
  }
  if (kind === 'sse' || kind === 'ndjson') return { text: sanitizeFrames(body, kind, options), kind }
  const result = options.wrapScanner === undefined ? scanText(options.ruleSet, body, options.scannerOptions) : scannerOf(options)().end(body)
  for (const finding of result.findings) options.onFinding?.(finding, kBodyContext)
  if (result.cut !== undefined) options.onCut?.(result.cut)
  return { text: result.text, kind: 'text' }
}

function sanitizeFrames (body: string, kind: 'sse' | 'ndjson', options: WholeBodyOptions): string {
  const sanitizer = createStreamSanitizer({
    newScanner: scannerOf(options),
    contentType: canonicalMediaType(kind),
    ...(options.protocol === undefined ? {} : { protocol: options.protocol }),
    ...(options.maxEventSize === undefined ? {} : { maxEventSize: options.maxEventSize }),
    ...(options.onFinding === undefined ? {} : { onFinding: options.onFinding })
  })
  const out = sanitizer.write(body) + sanitizer.end()
  const cut = sanitizer.cutFinding()
  if (cut !== undefined) options.onCut?.(cut)
  return out
}

function sanitizeJson (parsed: unknown, options: WholeBodyOptions): string {
  options.onParsed?.(parsed)
  const result = sanitizeJsonBody(parsed, scannerOf(options), {
    ...(options.protocol === undefined ? {} : { protocol: options.protocol }),
    // `parsed` is ours, fresh from JSON.parse: no copy.
    inPlace: true,
    onFinding: (finding, where) => { options.onFinding?.(finding, where) },
    onCut: (finding) => { options.onCut?.(finding) }
  })
  try {
    // Always from the parsed value, never the upstream's text: a duplicated
    // key reads as its last value to JSON.parse and as its first elsewhere.
    return JSON.stringify(result.body)
  } catch {
    throw new UnscannableBodyError('JSON body cannot be re-serialized')
  }
}
