/**
 * @module client/redaction-markers
 * Sluice replaces what a `redact` rule finds with the rule's replacement
 * template (rules/*.yaml, rendered by src/rules/replacement.ts): the shipped
 * rules write `[email:{hmac}]`, `[phone:{hmac}]`, `[ip:{hmac}]`,
 * `[SECRET:{id}]`, fixed labels (`[SSN]`, `[NHS number]`, `[blocked link]`…),
 * `{mask}` for cards and IBANs (`**** **** **** 1111`), and rules without
 * a template `[REDACTED:{category}]`. The markers below recognise those, so a
 * UI can style them; a deployment with its own templates passes its own
 * markers (`markers` option). Templates that remove text (`''`) leave
 * nothing to see.
 *
 * Splitting: a marker must reach the UI whole, however the bytes were
 * chunked. `holdbackStart` tells how much of a channel's tail could still be
 * the start of a marker (an unclosed `[` with marker characters after it, or
 * a run of mask stars with at most four letters or digits after it); that
 * tail waits for the next delta or the end of the stream.
 */
import type { RedactionSpan } from './types.js'

/**
 * One kind of marker. Named groups in `pattern` override the fixed fields:
 * `(?<rule>…)`, `(?<category>…)`, `(?<label>…)`. Plain data (a RegExp is
 * structured-cloneable), so markers can be sent to the Worker.
 */
export interface RedactionMarker {
  pattern: RegExp
  rule?: string
  category?: string
  label?: string
}

const pii = 'pii'

/** Markers for the replacements the shipped rules write (a test renders every shipped template and checks each is found whole). */
export const defaultRedactionMarkers: readonly RedactionMarker[] = [
  { pattern: /\[email:[0-9a-f]{1,64}\]/, rule: 'pii.email', category: pii, label: 'email' },
  { pattern: /\[phone:[0-9a-f]{1,64}\]/, category: pii, label: 'phone' },
  { pattern: /\[ip:[0-9a-f]{1,64}\]/, category: pii, label: 'ip' },
  { pattern: /\[SECRET:(?<rule>[A-Za-z0-9_.-]{1,100})\]/, category: 'secret', label: 'secret' },
  { pattern: /\[REDACTED:(?<category>[A-Za-z0-9_.-]{1,64})\]/, label: 'redacted' },
  { pattern: /\[SSN\]/, category: pii, label: 'SSN' },
  { pattern: /\[ITIN\]/, rule: 'pii.us_itin', category: pii, label: 'ITIN' },
  { pattern: /\[NINO\]/, rule: 'pii.uk_nino', category: pii, label: 'NINO' },
  { pattern: /\[NHS number\]/, rule: 'pii.uk_nhs', category: pii, label: 'NHS number' },
  { pattern: /\[Aadhaar\]/, rule: 'pii.in_aadhaar', category: pii, label: 'Aadhaar' },
  { pattern: /\[NIF\]/, rule: 'pii.es_nif', category: pii, label: 'NIF' },
  { pattern: /\[SIN\]/, rule: 'pii.ca_sin', category: pii, label: 'SIN' },
  { pattern: /\[blocked image\]/, rule: 'injection.markdown_image_exfil', category: 'injection', label: 'blocked image' },
  { pattern: /\[blocked link\]/, category: 'injection', label: 'blocked link' },
  { pattern: /\[blocked\]/, rule: 'injection.html_image_exfil', category: 'injection', label: 'blocked' },
  // `{mask}`: letters and digits starred but the last four, anything else
  // (spaces, dashes, dots, a soft hyphen) kept. At least eight stars (a card
  // gives twelve, an IBAN more), so a markdown rule (`******`) is no mask.
  { pattern: /\*(?:[^\p{L}\p{N}*\n]?\*){7,}(?:[^\p{L}\p{N}*\n]?[\p{L}\p{N}]){1,4}(?![\p{L}\p{N}])/u, category: pii, label: 'masked' }
]

/** Longest tail held back waiting for a marker to close; longer, it goes out as plain text. */
export const kMaxHeldMarker = 128

const kGlobal = new WeakMap<RegExp, RegExp>()

function globalOf (pattern: RegExp): RegExp {
  let re = kGlobal.get(pattern)
  if (re === undefined) {
    re = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, '') + 'g')
    kGlobal.set(pattern, re)
  }
  return re
}

/**
 * The markers in `text`, in order, never overlapping (on a tie the earlier,
 * then the longer, wins).
 * @example
 * findRedactions('mail [email:3f9a1c] now')
 * // [{ start: 5, end: 19, kind: 'redaction', rule: 'pii.email', category: 'pii', label: 'email' }]
 */
export function findRedactions (text: string, markers: readonly RedactionMarker[] = defaultRedactionMarkers): RedactionSpan[] {
  // Every marker of the shipped set starts with `[` or `*`: most deltas have neither.
  if (markers === defaultRedactionMarkers && !text.includes('[') && !text.includes('*')) return []
  const found: RedactionSpan[] = []
  for (const marker of markers) {
    const re = globalOf(marker.pattern)
    re.lastIndex = 0
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (m[0] === '') {
        re.lastIndex++
        continue
      }
      const span: RedactionSpan = { start: m.index, end: m.index + m[0].length, kind: 'redaction' }
      const rule = m.groups?.rule ?? marker.rule
      const category = m.groups?.category ?? marker.category
      const label = m.groups?.label ?? marker.label
      if (rule !== undefined) span.rule = rule
      if (category !== undefined) span.category = category
      if (label !== undefined) span.label = label
      found.push(span)
    }
  }
  if (found.length < 2) return found
  found.sort((a, b) => a.start - b.start || b.end - a.end)
  const kept: RedactionSpan[] = []
  let until = 0
  for (const span of found) {
    if (span.start < until) continue
    kept.push(span)
    until = span.end
  }
  return kept
}

const kMarkerChars = /^[A-Za-z0-9 :._-]*$/
/** A run of stars that a mask could still complete: up to four letters or digits after it (a fifth would undo the mask). */
const kMaskTail = /\*(?:[^\p{L}\p{N}*\n]?\*)*(?:(?:[^\p{L}\p{N}*\n]?[\p{L}\p{N}]){0,3}[^\p{L}\p{N}*\n]?|(?:[^\p{L}\p{N}*\n]?[\p{L}\p{N}]){4})$/u
/** Characters after a mask's last star: four separators and letters or digits, and one separator. */
const kMaskTailChars = 9

/**
 * Where the tail of `text` that could still grow into a marker starts
 * (`text.length` when none could): an unclosed `[` followed only by marker
 * characters, or a run of mask stars with at most four letters or digits
 * after it. At most `kMaxHeldMarker` characters are held.
 * @example
 * holdbackStart('write to [email:3f') // 9
 */
export function holdbackStart (text: string): number {
  const from = Math.max(0, text.length - kMaxHeldMarker)
  let hold = text.length
  const open = text.lastIndexOf('[')
  if (open >= from && text.indexOf(']', open) === -1 && kMarkerChars.test(text.slice(open + 1))) hold = open
  const tail = text.lastIndexOf('*')
  if (tail >= from && text.length - 1 - tail <= kMaskTailChars) {
    const m = kMaskTail.exec(text.slice(from))
    if (m !== null && from + m.index < hold) hold = from + m.index
  }
  return hold
}
