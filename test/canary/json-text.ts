/**
 * @module test/canary/json-text
 * JSON written the way a hostile upstream may write it: values that are
 * raw text (duplicated keys, `\uXXXX` escapes of ordinary characters), and
 * string literals with chosen characters escaped.
 */

/** Text written into the JSON as it is. */
export class Raw {
  constructor (readonly text: string) {}
}

export type Json = null | boolean | number | string | Raw | Json[] | { [key: string]: Json }
export type Path = Array<string | number>

/** JSON text of `value`; `Raw` parts are written verbatim. */
export function serialize (value: Json): string {
  if (value instanceof Raw) return value.text
  if (Array.isArray(value)) return `[${value.map(serialize).join(',')}]`
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${serialize(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

/**
 * A JSON string literal of `text` where the characters `escapeAt` picks are
 * written as `\uXXXX` (any character may be, RFC 8259 §7); at least one is.
 */
export function escapedLiteral (text: string, escapeAt: (i: number) => boolean): string {
  let out = '"'
  let escaped = false
  // UTF-16 units: a surrogate pair escaped unit by unit is valid JSON.
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    const forced = !escaped && i === text.length - 1
    if (escapeAt(i) || forced || code === 0x22 || code === 0x5c || code < 0x20) {
      out += `\\u${code.toString(16).padStart(4, '0')}`
      escaped = true
    } else {
      out += text[i]
    }
  }
  return out + '"'
}

/** A copy of `value` (Raw parts shared). */
export function clone<T extends Json> (value: T): T {
  if (value instanceof Raw || value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.map(clone) as T
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clone(v)])) as T
}

/** The value at `path`, or undefined. */
export function getAt (value: Json, path: Path): Json | undefined {
  let cur: Json | undefined = value
  for (const key of path) {
    if (cur === null || typeof cur !== 'object' || cur instanceof Raw) return undefined
    cur = Array.isArray(cur) ? cur[key as number] : (cur as Record<string, Json>)[String(key)]
  }
  return cur
}

/** Sets `path` in `value` (the parents must exist). */
export function setAt (value: Json, path: Path, v: Json): void {
  const parent = getAt(value, path.slice(0, -1))
  const last = path[path.length - 1]
  if (parent === null || parent === undefined || typeof parent !== 'object' || parent instanceof Raw || last === undefined) {
    throw new Error(`no container at ${path.join('.')}`)
  }
  if (Array.isArray(parent)) parent[last as number] = v
  else (parent as Record<string, Json>)[String(last)] = v
}
