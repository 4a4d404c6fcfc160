/**
 * @module protocols/sanitize-json-value
 * Deny by default for a whole JSON body: every string a client can read —
 * values at any depth, object keys, and numbers, which can spell a card
 * number as well as a string can — is scanned on its own, whole. What goes
 * out is built from the scanned value (`JSON.stringify`), never the
 * upstream's text: a duplicated key (`{"content":"<secret>","content":"hi"}`)
 * reads as its last value to `JSON.parse` and as its first to other
 * parsers, and an escape (`\u0040`) only means `@` once parsed.
 *
 * A string that is itself JSON text (tool arguments, by any provider's
 * name) is scanned as the value a client parses out of it, escapes decoded.
 *
 * It runs after the protocol's own body sanitizer (which knows the text
 * fields and how a cut reads in that protocol; see body-scan.ts), and skips
 * the strings that sanitizer already released, so a field is scanned, and
 * reported, once.
 */
import { UnscannableBodyError } from '../errors.js'
import type { Finding, ScanResult } from '../scanner/types.js'

/** Deeper than this is no LLM answer; refused rather than risk the stack (JSON.stringify recurses too). */
export const maxJsonDepth = 512
/** Longest string remembered as clean (see `clean`). */
const kMaxRemembered = 256

export interface JsonValueScanOptions {
  /** Scans one whole text. */
  scan: (text: string) => ScanResult
  onFinding?: (finding: Finding) => void
  onCut?: (finding: Finding) => void
  /** Strings already scanned and released as they are (by the protocol's sanitizer): not scanned again. */
  released?: ReadonlySet<string>
}

export interface JsonValueScanResult {
  value: unknown
  changed: boolean
}

/**
 * Scans every string, key and number of a parsed JSON value, in place;
 * returns the value (a new one only when `input` itself is a string or a
 * number) and whether anything changed.
 * Throws UnscannableBodyError past `maxJsonDepth`.
 * @example
 * const { value } = sanitizeJsonValue(JSON.parse(text), { scan: (s) => scanText(ruleSet, s) })
 * reply.send(JSON.stringify(value))
 */
export function sanitizeJsonValue (input: unknown, options: JsonValueScanOptions): JsonValueScanResult {
  const { scan, onFinding, onCut, released } = options
  let changed = false
  // Keys and short values repeat (every element of an array has the same
  // keys): one that scanned clean, without a finding, is not scanned again.
  const clean = new Set<string>()

  /** JSON text inside a string is scanned as what `JSON.parse` makes of it; undefined when it is not JSON. */
  function scanJsonText (text: string, depth: number): string | undefined {
    const first = text.trimStart()[0]
    if (first !== '{' && first !== '[') return undefined
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      return undefined
    }
    const before = changed
    changed = false
    const value = walk(parsed, depth + 1)
    const inner = changed
    changed = before || inner
    return inner ? JSON.stringify(value) : text
  }

  function scanString (text: string): string {
    if (text === '' || released?.has(text) === true || clean.has(text)) return text
    const result = scan(text)
    if (result.findings.length === 0 && text.length <= kMaxRemembered) clean.add(text)
    for (const finding of result.findings) onFinding?.(finding)
    if (result.cut !== undefined) onCut?.(result.cut)
    if (result.text !== text) changed = true
    return result.text
  }

  function walk (value: unknown, depth: number): unknown {
    if (typeof value === 'string') {
      if (released?.has(value) === true || clean.has(value)) return value
      return scanJsonText(value, depth) ?? scanString(value)
    }
    if (typeof value === 'number') {
      // A number is re-serialized as JSON writes it; if that text is not
      // clean, the scanned text goes out instead, as a string.
      const text = JSON.stringify(value)
      const safe = scanString(text)
      return safe === text ? value : safe
    }
    if (value === null || typeof value !== 'object') return value
    if (depth >= maxJsonDepth) throw new UnscannableBodyError(`JSON nested deeper than ${maxJsonDepth} levels`)
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) value[i] = walk(value[i], depth + 1)
      return value
    }
    // Changed in place (the caller made the copy, if one was wanted), with
    // defineProperty: a key "__proto__" (JSON.parse makes it an own
    // property) would otherwise set the prototype instead of a field.
    const record = value as Record<string, unknown>
    const entries: Array<[string, unknown]> = []
    let renamed = false
    for (const [key, item] of Object.entries(record)) {
      const safeKey = scanString(key)
      if (safeKey !== key) renamed = true
      entries.push([safeKey, walk(item, depth + 1)])
    }
    // A redacted key: the object is rebuilt in its key order.
    if (renamed) for (const key of Object.keys(record)) Reflect.deleteProperty(record, key)
    for (const [key, item] of entries) Object.defineProperty(record, key, { value: item, enumerable: true, writable: true, configurable: true })
    return record
  }

  const value = walk(input, 0)
  return { value, changed }
}
