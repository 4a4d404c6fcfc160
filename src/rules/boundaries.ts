/**
 * @module rules/boundaries
 * What a rule's `boundary` refuses next to a match, in one place: the
 * search (scanner/find-match.ts) refuses a match that touches one, and the
 * lane automaton (rules/lane-automaton.ts) starts no candidate where the
 * search would refuse it, so the two must read characters alike.
 *
 * A character has a boundary kind: 0 none of these, 1 an ASCII digit, 2 an
 * ASCII letter, 3 another letter or number. `_` is no word character:
 * markdown emphasis (`__AKIA…__`, `_4111 …_`) and snake_case glue
 * (`ssn_123-45-6789`) put it right against a value, and a value must not
 * hide behind it.
 */
import type { Boundary } from './types.js'

const kDigit = 1
const kLetter = 2
const kOther = 3

/** Per boundary, the kinds it touches, as bits (`1 << kind`). */
export const kTouch: Readonly<Record<Boundary, number>> = {
  none: 0,
  digit: 1 << kDigit,
  word: (1 << kDigit) | (1 << kLetter),
  alnum: (1 << kDigit) | (1 << kLetter) | (1 << kOther)
}

const alnum = /[\p{L}\p{N}]/u

/** The boundary kind of code point `cp` (see above; a lone surrogate is none). */
export function charKind (cp: number): number {
  if (cp >= 0x30 && cp <= 0x39) return kDigit
  if ((cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a)) return kLetter
  if (cp < 0x80) return 0
  return alnum.test(String.fromCodePoint(cp)) ? kOther : 0
}

/** Whether `boundary` refuses a match right next to the character `ch` ('' at either end of the text: never). */
export function touches (boundary: Boundary, ch: string): boolean {
  if (ch === '' || boundary === 'none') return false
  return (kTouch[boundary] & (1 << charKind(ch.codePointAt(0) as number))) !== 0
}
