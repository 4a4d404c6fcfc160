/**
 * @module text/escape-regexp
 * A literal text as a regular-expression source that matches exactly it:
 * every syntax character escaped (ECMAScript's, `/` and `-` too, so the
 * result is safe inside a literal or a character class as well).
 */

export function escapeRegExp (text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&')
}
