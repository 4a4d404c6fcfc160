/**
 * @module pseudonym/placeholder-format
 * The typed placeholders that stand for a user's values on the way to the
 * provider (`<EMAIL_1>`, `<IBAN_2>`): how one is written, how a complete one
 * is found in an answer, and how much of an answer's end could still grow
 * into one (what a stream holds back while restoring).
 *
 * A template has `{TYPE}` and `{N}` once each, and starts and ends with a
 * literal character: the first one is what the restorer waits for, the last
 * one closes the placeholder, so a hold never outlasts one placeholder.
 * Models copy such tokens reliably when they look like tags or variables;
 * angle brackets read as "a name for something", the number keeps two
 * values of one type apart.
 */
import { PseudonymConfigError } from '../errors.js'
import { escapeRegExp } from '../text/escape-regexp.js'

/** Characters of a type name (`EMAIL`, `PERSON_ID`): uppercase, digits, `_`. */
const kTypeClass = '[A-Z][A-Z0-9_]{0,31}'
/** A placeholder's number: 1 to 999,999,999. */
const kNumberClass = '[1-9][0-9]{0,8}'
const kMaxTypeLength = 32
const kMaxNumberLength = 9

export const defaultPlaceholderTemplate = '<{TYPE}_{N}>'

export interface PlaceholderFormat {
  readonly template: string
  /** The placeholder for the `n`th value of `type`. */
  format: (type: string, n: number) => string
  /** Finds complete placeholders (global; reset `lastIndex` before use). */
  readonly pattern: RegExp
  /** Where in `text` a placeholder that is not complete yet could start (the earliest such index), or -1. */
  partialStart: (text: string) => number
  /** Longest placeholder, in UTF-16 units. */
  readonly maxLength: number
  /** The type and number of a complete placeholder, or undefined. */
  parse: (text: string) => { type: string, n: number } | undefined
}

type Part = { kind: 'literal', text: string } | { kind: 'type' } | { kind: 'number' }

function partsOf (template: string): Part[] {
  const parts: Part[] = []
  let last = 0
  for (const m of template.matchAll(/\{(TYPE|N)\}/g)) {
    const index = m.index
    if (index > last) parts.push({ kind: 'literal', text: template.slice(last, index) })
    parts.push(m[1] === 'TYPE' ? { kind: 'type' } : { kind: 'number' })
    last = index + m[0].length
  }
  if (last < template.length) parts.push({ kind: 'literal', text: template.slice(last) })
  return parts
}

function check (template: string, parts: readonly Part[]): void {
  const count = (kind: Part['kind']): number => parts.filter((p) => p.kind === kind).length
  const fail = (why: string): never => { throw new PseudonymConfigError(`placeholder template "${template}": ${why}`) }
  if (count('type') !== 1 || count('number') !== 1) fail('needs {TYPE} and {N} exactly once each')
  const first = parts[0]
  const end = parts[parts.length - 1]
  if (first?.kind !== 'literal' || end?.kind !== 'literal') fail('must start and end with literal characters (say `<` and `>`)')
  if (/[\sA-Z0-9_]/.test((first as { text: string }).text[0] ?? '')) fail('must start with a character that is no letter, digit, `_` or space')
  for (let i = 1; i < parts.length; i++) {
    if ((parts[i] as Part).kind !== 'literal' && (parts[i - 1] as Part).kind !== 'literal') fail('{TYPE} and {N} must be separated by a literal')
  }
}

/**
 * The source of a regex matching every proper prefix of a placeholder (and
 * whole ones): literals a character at a time, then a class run that may
 * end anywhere, each followed by what may come next.
 */
function prefixSource (parts: readonly Part[]): string {
  let rest = ''
  for (let i = parts.length - 1; i >= 0; i--) {
    const part = parts[i] as Part
    if (part.kind === 'literal') {
      for (let j = part.text.length - 1; j >= 0; j--) rest = `(?:${escapeRegExp(part.text[j] as string)}${rest})?`
    } else {
      const cls = part.kind === 'type' ? kTypeClass : kNumberClass
      rest = `(?:${cls}${rest})?`
    }
  }
  return rest
}

/**
 * Compiles a placeholder template; throws PseudonymConfigError when it
 * could not be found back reliably in an answer.
 *
 * @example
 * const f = createPlaceholderFormat('<{TYPE}_{N}>')
 * f.format('EMAIL', 1) // '<EMAIL_1>'
 */
export function createPlaceholderFormat (template: string = defaultPlaceholderTemplate): PlaceholderFormat {
  const parts = partsOf(template)
  check(template, parts)
  const source = parts.map((p) => p.kind === 'literal' ? escapeRegExp(p.text) : p.kind === 'type' ? `(${kTypeClass})` : `(${kNumberClass})`).join('')
  const literalLength = parts.reduce((n, p) => n + (p.kind === 'literal' ? p.text.length : 0), 0)
  const maxLength = literalLength + kMaxTypeLength + kMaxNumberLength
  const prefix = new RegExp(`^${prefixSource(parts)}$`)
  const opener = (parts[0] as { text: string }).text[0] as string
  const pattern = new RegExp(source, 'g')
  const whole = new RegExp(`^${source}$`)
  const typeGroup = parts.findIndex((p) => p.kind === 'type') < parts.findIndex((p) => p.kind === 'number') ? 1 : 2
  return {
    template,
    pattern,
    maxLength,
    format (type, n) {
      return template.replace('{TYPE}', type).replace('{N}', String(n))
    },
    partialStart (text) {
      const from = Math.max(0, text.length - maxLength + 1)
      for (let i = text.indexOf(opener, from); i !== -1; i = text.indexOf(opener, i + 1)) {
        const tail = text.slice(i)
        // A complete placeholder at the very end is no partial one.
        if (prefix.test(tail) && !whole.test(tail)) return i
      }
      return -1
    },
    parse (text) {
      const m = whole.exec(text)
      return m === null ? undefined : { type: m[typeGroup] as string, n: Number(m[3 - typeGroup]) }
    }
  }
}

/** Splits a complete placeholder into its type and number, or undefined. */
export function parsePlaceholder (format: PlaceholderFormat, text: string): { type: string, n: number } | undefined {
  return format.parse(text)
}
