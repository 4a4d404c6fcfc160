/**
 * @module protocols/body-scan
 * What every non-streamed body sanitizer needs: text channels that collect
 * findings, a copy of the body to change (unless the caller lets it be
 * changed in place), one call to scan a text whole, one to scan a text
 * field whole on its stream channel, and the result in the shape
 * `sanitizeJsonBody` returns.
 *
 * Deny by default: the result is made only after every other string, key
 * and long number of the body has been scanned whole too
 * (sanitize-json-value.ts) — unknown fields at any depth, metadata, error
 * objects. What the protocol's own pass released is not scanned again: each
 * scanner's whole output is recorded as it ends.
 */
import type { Finding, Scanner } from '../scanner/types.js'
import type { JsonObject } from '../json/json-object.js'
import { isText } from './json-frame.js'
import { sanitizeJsonValue } from './sanitize-json-value.js'
import { createTextChannels } from './text-channels.js'
import type { TextChannels } from './text-channels.js'
import type { ChannelInfo, FindingContext, JsonSanitizeOptions, JsonSanitizeResult, Protocol } from './types.js'

/** Where findings of the generic pass are reported. */
const kBodyContext: FindingContext = { channel: 'json:body', choice: 0, field: 'json' }

/** A scanner that adds the text it released, once ended, to `released`. */
function recording (scanner: Scanner, released: Set<string>): Scanner {
  const out: string[] = []
  // Over the scanner by prototype: its counters (plain fields) read through,
  // with no getter per object (see createScanner).
  return Object.assign(Object.create(scanner) as Scanner, {
    write (text: string) {
      const result = scanner.write(text)
      out.push(result.text)
      return result
    },
    end () {
      const result = scanner.end()
      out.push(result.text)
      released.add(out.join(''))
      return result
    }
  })
}

export interface BodyScan<T> {
  readonly channels: TextChannels
  /** The body to change: the input itself with `inPlace`, else a deep copy. */
  readonly body: T
  /**
   * Whether the protocol's pass changed the body. `scanField` sets it; a
   * pass that changes text its own way sets it too.
   */
  changed: boolean
  /** Scans `text` as one whole text, on its own. */
  whole: (info: ChannelInfo, text: string) => string
  /**
   * Scans the string `holder[name]` (if not empty) as one whole text and
   * writes back what was released; returns whether it changed. By default
   * on the channel `info`, written then finished: the field gets the
   * scanner its stream channel gets, so tool arguments are read as the
   * JSON a client parses. `scanText` scans it another way (say `whole`).
   */
  scanField: (holder: JsonObject, name: string, info: ChannelInfo, scanText?: (info: ChannelInfo, text: string) => string) => boolean
  /**
   * Scans every string the protocol's pass did not, then gives the result
   * (the input itself when nothing changed). `markCut` says on the body why
   * it stopped, the protocol's way, when either pass cut it.
   */
  result: (protocol: Protocol | undefined, markCut?: () => void) => JsonSanitizeResult
}

/** Starts scanning one body. */
export function createBodyScan<T> (input: T, newScanner: () => Scanner, options: JsonSanitizeOptions): BodyScan<T> {
  const findings: Finding[] = []
  const released = new Set<string>()
  const channels = createTextChannels({
    newScanner: () => recording(newScanner(), released),
    onFinding: (finding, context) => {
      findings.push(finding)
      options.onFinding?.(finding, context)
    },
    onCut: options.onCut
  })
  const body = options.inPlace === true ? input : structuredClone(input)
  const inChannel = (info: ChannelInfo, text: string): string => channels.scan(info, text) + channels.finish(info.key)
  const scan: BodyScan<T> = {
    channels,
    body,
    changed: false,
    whole (info, text) {
      return channels.scanOnce(info, text)
    },
    scanField (holder, name, info, scanText = inChannel) {
      const text = holder[name]
      if (!isText(text)) return false
      const next = scanText(info, text)
      if (next === text) return false
      holder[name] = next
      scan.changed = true
      return true
    },
    result (protocol, markCut) {
      let cut = channels.cutFinding()
      const rest = sanitizeJsonValue(body, {
        // Detached from the channels: after a cut they release nothing, yet
        // the envelope (ids, model, roles) must survive, scanned.
        scan: (text) => {
          const scanner = newScanner()
          const first = scanner.write(text)
          if (scanner.cut !== undefined) return first
          const last = scanner.end()
          return { text: first.text + last.text, findings: [...first.findings, ...last.findings], ...(scanner.cut === undefined ? {} : { cut: scanner.cut }) }
        },
        onFinding: (finding) => {
          findings.push(finding)
          options.onFinding?.(finding, kBodyContext)
        },
        onCut: (finding) => {
          if (cut !== undefined) return
          cut = finding
          options.onCut?.(finding, kBodyContext)
        },
        released
      })
      if (cut !== undefined) markCut?.()
      return scan.changed || rest.changed || cut !== undefined
        ? { body: rest.value as T, changed: true, findings, cut, protocol }
        : { body: input, changed: false, findings, cut, protocol }
    }
  }
  return scan
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
