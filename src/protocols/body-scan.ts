/**
 * @module protocols/body-scan
 * What every non-streamed body sanitizer of a provider module needs: text
 * channels that collect findings, a copy of the body to change (unless the
 * caller lets it be changed in place), one call to scan a text whole, and
 * the result in the shape `sanitizeJsonBody` returns.
 */
import type { Finding, Scanner } from '../scanner/types.js'
import type { JsonSanitizeOptions, JsonSanitizeResult } from './sanitize-json-body.js'
import { createTextChannels } from './text-channels.js'
import type { TextChannels } from './text-channels.js'
import type { ChannelInfo, Protocol } from './types.js'

export interface BodyScan<T> {
  readonly channels: TextChannels
  /** The body to change: the input itself with `inPlace`, else a deep copy. */
  readonly body: T
  /** Scans `text` as one whole text, on its own. */
  whole: (info: ChannelInfo, text: string) => string
  /** The result; the input itself when nothing changed. */
  result: (changed: boolean, protocol: Protocol) => JsonSanitizeResult
}

/** Starts scanning one body. */
export function createBodyScan<T> (input: T, newScanner: () => Scanner, options: JsonSanitizeOptions): BodyScan<T> {
  const findings: Finding[] = []
  const channels = createTextChannels({
    newScanner,
    onFinding: (finding, context) => {
      findings.push(finding)
      options.onFinding?.(finding, context)
    },
    onCut: options.onCut
  })
  const body = options.inPlace === true ? input : structuredClone(input)
  return {
    channels,
    body,
    whole (info, text) {
      return channels.scanOnce(info, text)
    },
    result (changed, protocol) {
      const cut = channels.cut
      return changed || cut !== undefined
        ? { body, changed: true, findings, cut, protocol }
        : { body: input, changed: false, findings, cut, protocol }
    }
  }
}

/**
 * Whether a path segment is an array position: a number, or `#<index>` for
 * an element with an integer `index` (how the generic JSON path names
 * array elements, see generic-json.ts).
 */
export function isPosition (segment: string | number | undefined): boolean {
  return typeof segment === 'number' || (typeof segment === 'string' && /^#\d+$/.test(segment))
}

/**
 * Scans every string leaf of a JSON value (a tool call's arguments sent as
 * an object), each as its own whole text, so the value stays valid JSON
 * whatever is redacted. `scan` scans one leaf whole.
 * Returns the (possibly new) value and whether anything changed.
 */
export function scanStringLeaves (value: unknown, scan: (text: string) => string): { value: unknown, changed: boolean } {
  let changed = false
  const walk = (item: unknown): unknown => {
    if (typeof item === 'string') {
      if (item === '') return item
      const next = scan(item)
      if (next !== item) changed = true
      return next
    }
    if (Array.isArray(item)) {
      for (let i = 0; i < item.length; i++) item[i] = walk(item[i])
      return item
    }
    if (typeof item === 'object' && item !== null) {
      const record = item as Record<string, unknown>
      for (const name of Object.keys(record)) record[name] = walk(record[name])
    }
    return item
  }
  return { value: walk(value), changed }
}
