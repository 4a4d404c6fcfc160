/**
 * @module rules/digit-boundaries
 * Where a written number begins. Digit identifiers (cards, phones, SSN,
 * SIN, NHS and Aadhaar numbers) are only what they claim when they stand
 * alone: the last 12 digits of a 16-digit number are no Aadhaar number,
 * and `4-123-45-6789` holds no SSN. The rules' `boundary: word` keeps a
 * digit from touching either end; these helpers catch the other way a
 * number runs on, through a separator: a digit and a glue character
 * (`-`, `.`, `/`) right before the match, or, for a value grouped with
 * spaces, a group of digits and one space.
 *
 * The end of a match is handled in the patterns: each one may take a glue
 * character and one more digit (or a space and a group of two or more
 * digits after a spaced form), so a run-on number reaches the validator
 * whole and fails its digit count. A validator sees only the text before a
 * match, through the rule's `after`.
 *
 * A group is two digits or more: a single digit and a space is too often a
 * neighbour (`Box 1 2341 …`, a compatibility digit such as `⁰` that the
 * normalized view reads as `0`) to give up a finding for it.
 */

/**
 * True when the match continues a number right before it: after a '.' it
 * is the fraction of a decimal (`0.5309136012499991` is not a card,
 * `2.718281828459` is not an Aadhaar number), after a digit the tail of a
 * longer run.
 */
export function continuesNumber (before: string): boolean {
  return before === '.' || (before >= '0' && before <= '9' && before.length === 1)
}

/** A digit then a glue separator: `4-`, `2024.`, `12/`. */
const kGlueBefore = /[0-9][-./]$/
/** Two digits and one space: the previous group of a spaced number. */
const kGroupBefore = /[0-9]{2} $/
/** A value grouped with single spaces between digits. */
const kSpaced = /[0-9] [0-9]/

/**
 * True when `lead` (the text just before the match, from the rule's
 * `after`) ends a number that `value` would continue: a digit and a glue
 * separator before any value; a group of digits and a space before a value
 * that is itself grouped with spaces (`1234 2341 2341 2346`: the last three
 * groups are no Aadhaar number; `12 130 456 783` is a count written in
 * thousands, no SIN). Before a value without spaces, a number and a space
 * is a neighbour (`415-555-2671 415-555-2672`), not a group.
 */
export function continuesGroupedNumber (lead: string, value: string): boolean {
  if (kGlueBefore.test(lead)) return true
  return kGroupBefore.test(lead) && kSpaced.test(value)
}

/** The value's characters other than digits (and the parentheses of an area code). */
export function separatorsOf (value: string): Set<string> {
  return new Set(value.replace(/[0-9()+]/g, ''))
}

/** "1111111111111111" passes Luhn but is a test pattern, not an identifier. */
export function allSameDigits (digits: string): boolean {
  return /^(.)\1*$/.test(digits)
}
