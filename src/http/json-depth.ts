/**
 * @module http/json-depth
 * How deeply a JSON text nests, found before it is parsed. `JSON.parse`
 * recurses once per level, and so does everything that walks the result
 * (the input stage, `structuredClone`): a 1 MB body of `[[[[…` overflows the
 * stack, which surfaced as a 500. Counting brackets outside strings is one
 * linear pass and turns that into a 400 that names the limit.
 */

/**
 * True when `text` opens more than `max` arrays or objects inside each
 * other. Brackets inside strings do not count; the text need not be valid
 * JSON (the parser reports that).
 *
 * @example
 * exceedsJsonDepth('{"a":[[1]]}', 2) // → true
 */
export function exceedsJsonDepth (text: string, max: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c /* \ */) i++
      else if (c === 0x22 /* " */) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > max) return true
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--
    }
  }
  return false
}
