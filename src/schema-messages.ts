/**
 * @module schema-messages
 * TypeBox's validation errors as sentences for the person who wrote the
 * file, each with the path of the field at fault (rule files, the proxy's
 * config file). TypeBox says "Expected union value" for an enum and
 * reports a missing field twice; an author needs the allowed values, the
 * value they wrote, and one line per field.
 */
import { ValueErrorType } from '@sinclair/typebox/value'
import type { ValueError } from '@sinclair/typebox/value'
import { Value } from '@sinclair/typebox/value'
import type { TSchema } from '@sinclair/typebox'

export interface SchemaProblem {
  /** Path of the field at fault, e.g. `['action']` or `['examples', 'match', 0]`. */
  path: Array<string | number>
  /** True when the problem is the key itself (an unknown field): point at the key, not its value. */
  atKey: boolean
  message: string
}

/**
 * Edit distance with adjacent transpositions counted as one edit (optimal
 * string alignment): "cuont" is one slip from "count", as a typist sees it.
 */
function distance (a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  const at = (i: number, j: number): number => d[i]?.[j] ?? 0
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1)
      const row = d[i]
      if (row !== undefined) row[j] = best
    }
  }
  return at(a.length, b.length)
}

/** The closest of `candidates` to a misspelt `name`, if one is close enough to be what was meant. */
export function closestName (name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestDistance = Infinity
  for (const c of candidates) {
    const d = distance(name.toLowerCase(), c.toLowerCase())
    if (d < bestDistance) { best = c; bestDistance = d }
  }
  // Up to a third of the name may differ: "colour" is not "category", "actoin" is "action".
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(name.length / 3)) ? best : undefined
}

/** A value as the author wrote it, short. */
export function describeValue (value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

function pathOf (pointer: string): Array<string | number> {
  return pointer.split('/').filter(Boolean).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).map((s) => (/^\d+$/.test(s) ? Number(s) : s))
}

/** The literal values of a union of literals (an enum), else undefined. */
function literalsOf (schema: TSchema): unknown[] | undefined {
  const anyOf = (schema as { anyOf?: TSchema[] }).anyOf
  if (anyOf === undefined || !anyOf.every((s) => 'const' in s)) return undefined
  return anyOf.map((s) => (s as unknown as { const: unknown }).const)
}

function kindOf (schema: TSchema): string {
  const s = schema as { type?: string, const?: unknown, anyOf?: TSchema[] }
  if ('const' in s) return describeValue(s.const)
  if (s.anyOf !== undefined) return s.anyOf.map(kindOf).join(' or ')
  if (s.type === 'object') return 'an object'
  if (s.type === 'array') return 'a list'
  if (s.type === 'integer') return 'an integer'
  return s.type === undefined ? 'a value' : `a ${s.type}`
}

function messageOf (e: ValueError, field: string): string {
  const got = describeValue(e.value)
  switch (e.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return `missing required field "${field.replace(/^.*[.\]]/, '')}"`
    case ValueErrorType.Union: {
      const literals = literalsOf(e.schema)
      if (literals !== undefined) return `${field} must be one of ${literals.join(', ')} (got ${got})`
      return `${field} must be ${kindOf(e.schema)} (got ${got})`
    }
    case ValueErrorType.String:
    case ValueErrorType.Number:
    case ValueErrorType.Integer:
    case ValueErrorType.Boolean:
    case ValueErrorType.Array:
    case ValueErrorType.Object:
      return `${field} must be ${kindOf(e.schema)} (got ${got})`
    case ValueErrorType.StringPattern:
      return `${field} must match ${String((e.schema as { pattern?: string }).pattern)} (got ${got})`
    default:
      return `${field}: ${e.message.charAt(0).toLowerCase()}${e.message.slice(1)} (got ${got})`
  }
}

/** `examples.match[0]`: a path as the author reads it, under an optional name for the whole value. */
function fieldName (path: ReadonlyArray<string | number>, label: string | undefined): string {
  let name = label ?? ''
  for (const segment of path) name += typeof segment === 'number' ? `[${segment}]` : name === '' ? segment : `.${segment}`
  return name === '' ? 'the value' : name
}

export interface SchemaProblemsOptions {
  /** Most problems reported (default 5). */
  max?: number
  /** Name of the whole value in messages (`disable` → `disable[2]`). */
  label?: string
}

/**
 * Checks `value` against `schema`; one problem per field (the first TypeBox
 * reports for it), at most `max`.
 */
export function schemaProblems (schema: TSchema, value: unknown, { max = 5, label }: SchemaProblemsOptions = {}): SchemaProblem[] {
  const problems: SchemaProblem[] = []
  const seen = new Set<string>()
  for (const e of Value.Errors(schema, value)) {
    if (seen.has(e.path)) continue
    seen.add(e.path)
    const path = pathOf(e.path)
    const field = fieldName(path, label)
    if (e.type === ValueErrorType.ObjectAdditionalProperties) {
      const name = String(path.at(-1) ?? '')
      const known = Object.keys((e.schema as { properties?: object }).properties ?? {})
      const suggestion = closestName(name, known)
      problems.push({ path, atKey: true, message: `unknown field "${field}"${suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`}` })
    } else {
      problems.push({ path, atKey: false, message: messageOf(e, field) })
    }
    if (problems.length >= max) break
  }
  return problems
}
