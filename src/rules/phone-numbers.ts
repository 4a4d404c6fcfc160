/**
 * @module rules/phone-numbers
 * The validators of the phone rules (rules/pii.yaml). The patterns find
 * candidates in the shapes people write numbers in; here each candidate is
 * judged by its shape (one kind of separator, no date, no byte dump, no
 * run-on number) and then by the numbering plans in libphonenumber-js's
 * `max` metadata (the per-country number ranges of Google's libphonenumber),
 * which is what tells `415-555-2671` (a San Francisco number) from
 * `903-140-4508` (no NANP exchange starts with 1).
 *
 * How much evidence a candidate needs depends on how it is written:
 *
 * - `+44 20 7946 0958`: the `+` says "phone number". A length the country's
 *   plan allows is enough (libphonenumber's "possible"): the plans lag new
 *   allocations, and a number written this way is read as a phone either
 *   way. `0044 20 …` (the international call prefix) is weaker, as ids
 *   are zero-padded: it must be a valid number, and grouped.
 * - NANP: an area code in parentheses, a `+1`/`1-` prefix or an extension
 *   (`(555) 010-9999`, `1-800-555-0199`, `903-140-4508x769`) is as plain as
 *   the `+`; a bare `415-555-2671` must be valid for a NANP country.
 * - A national number with a trunk `0` (`020 7946 0958`, `030 901820`,
 *   `01 23 45 67 89`) must be valid in one of `kTrunkCountries`. Validity
 *   alone is weak here (about 70% of random 0-prefixed 10-digit strings
 *   are valid German or Italian numbers), so the shape carries most of the
 *   weight: grouped, one kind of separator, 9–12 digits, not a date or a
 *   dump.
 * - After a word that announces a phone ("Phone:", "call me at", "Tel.",
 *   "WhatsApp"), a bare run, a 7-digit local number (`555-0142`) or the
 *   national format of a country without a trunk prefix (`612 34 56 78`
 *   in Spain) counts when it is valid in one of `kContextCountries`.
 *
 * Validation costs 10–50 µs per country tried, so every cheap test comes
 * first, and the patterns take only grouped digits (bare runs only right
 * after a phone word): in a run of digits no candidate starts.
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js/max'
import type { CountryCode, PhoneNumber } from 'libphonenumber-js/max'
import { allSameDigits, continuesGroupedNumber, continuesNumber, separatorsOf } from './digit-boundaries.js'
import type { Validator } from './types.js'

/**
 * Countries tried for a national number written with a trunk `0` (or,
 * in Italy, a leading 0 that is part of the number). Any valid country
 * accepts, so the order only sets how many tries a number costs: the
 * English-speaking plans first (most of the text Sluice sees is English:
 * GB, IN, AU, then IE, NZ, ZA), then the largest economies whose numbers
 * are written this way (DE, FR, IT, NL, BE, CH, AT, then JP, CN). Countries
 * without a trunk prefix (ES, PL, PT, DK …) write 9-digit groups that are
 * indistinguishable from amounts (`612 345 678`): they count only after a
 * phone word (`kContextCountries`).
 */
export const kTrunkCountries: readonly CountryCode[] = ['GB', 'IN', 'AU', 'IE', 'NZ', 'ZA', 'DE', 'FR', 'IT', 'NL', 'BE', 'CH', 'AT', 'JP', 'CN']

/** Where the area code is written in parentheses without a trunk 0: `(11) 91234-5678`, `(55) 1234 5678`. */
export const kAreaInParensCountries: readonly CountryCode[] = ['BR', 'MX']

/**
 * Countries tried after a phone word: the trunk countries, NANP (as US,
 * which resolves Canada and the rest of +1), the area-in-parentheses ones,
 * and the largest plans without a trunk prefix or with another one (RU's 8).
 */
export const kContextCountries: readonly CountryCode[] = [
  'US', ...kTrunkCountries, ...kAreaInParensCountries,
  'ES', 'PL', 'PT', 'SE', 'DK', 'NO', 'RU', 'TR', 'KR', 'AR', 'SG', 'HK', 'PH', 'NG', 'PK', 'IL'
]

// Shapes -----------------------------------------------------------------------

/** An extension glued on: `x769`, ` ext. 12`, `, extension 7`, ` #123`, ` poste 21` (French), `;ext=204` (RFC 3966). */
const kExtension = /(?:,? ?(?:x|ext\.?|extension|#|poste) ?|;ext=)[0-9]{1,6}$/i

/** The number without a trailing extension, and whether there was one. */
export function splitExtension (value: string): { body: string, ext: boolean } {
  const m = kExtension.exec(value)
  return m === null ? { body: value, ext: false } : { body: value.slice(0, m.index), ext: true }
}

/**
 * A date at the start: day, month and a four-digit year (`01.02.2024`,
 * `15/01/2024 12`, `01 02 2024`), or year, month, day. A two-digit year is
 * not checked: `06.12.34.56.78` is a French mobile number.
 */
const kDate = /^(?:[0-3]?[0-9]([./\- ])[01]?[0-9]\1(?:19|20)[0-9]{2}|(?:19|20)[0-9]{2}([./\- ])[01]?[0-9]\2[0-3]?[0-9])(?![0-9])/

/** Pairs of digits in a row, as a byte dump prints them (`<Buffer 01 02 07 04 05 06>`, `xxd`). */
const kHexPairs = /^(?:[0-9A-Fa-f]{2} ){5,}[0-9A-Fa-f]{2}$/
/** The text before a match ends inside such a dump. */
const kHexPairBefore = /(?:^|\s)[0-9A-Fa-f]{2} $/
/** Or names one: `<Buffer 01 02 03 04 05>`, `bytes: …`, `hex 01 23 …`. */
const kDumpWordBefore = /(?:buffer|bytes?|hex|dump)[ :=]{1,2}$/i

/** Pairs counting up or down by one (`01 02 03 04 05`): a byte sequence or a placeholder. */
function countingPairs (body: string): boolean {
  const pairs = body.split(/[ .-]/)
  if (pairs.length < 4 || !pairs.every((p) => p.length === 2)) return false
  const step = Number(pairs[1]) - Number(pairs[0])
  return Math.abs(step) === 1 && pairs.every((p, i) => i === 0 || Number(p) - Number(pairs[i - 1]) === step)
}

/**
 * A code of letters and digits right before (`1Z 999 AA1 01 2345 678 4`, a
 * tracking number): the groups after it are more of the code. Two
 * characters at least, so that one stray digit is no code.
 */
const kCodeBefore = /(?:^|\s)(?=[A-Za-z]*[0-9])(?=[0-9]*[A-Za-z])[A-Za-z0-9]{2,} $/

/** Four dotted groups are an address or a version (`0300.0250.01.01` is an IPv4 address in octal), not a phone. */
const kDottedQuad = /^[0-9]+(?:\.[0-9]+){3}$/

/** 3-2-4 with dashes is how an SSN is written (rules us_ssn, us_itin), not a national phone number. */
const kSsnShape = /^[0-9]{3}-[0-9]{2}-[0-9]{4}$/

/** Digits that are a placeholder, not a number: one digit repeated after the first. */
function isPlaceholder (digits: string): boolean {
  return allSameDigits(digits.slice(1))
}

/**
 * Subscriber groups of three or more digits that all start with 0 are
 * listed octal file modes or zero-padded counters (`0755 0644 0600`), not
 * the rest of a phone number (subscriber numbers do not start with 0).
 */
function zeroPaddedGroups (body: string): boolean {
  const groups = body.split(/[ .\-/]/).slice(1)
  return groups.length >= 2 && groups.every((g) => g.length >= 3 && g[0] === '0')
}

/**
 * The group after the area code starts with 0: no subscriber number does
 * (`0123456 020` is two ids). French pairs are the exception (`01 02 34 56 78`).
 */
function subscriberStartsWithZero (body: string): boolean {
  const groups = body.replace(/[()]/g, '').split(/[ .\-/]+/)
  if (groups.every((g) => g.length === 2)) return false
  return groups[1]?.startsWith('0') === true
}

/**
 * One kind of separator between groups (spaces, dots, dashes or slashes),
 * besides an area code in parentheses; German numbers also put a slash
 * after the area code and spaces in the subscriber number (`030/1234 5678`).
 */
function consistentSeparators (body: string): boolean {
  const inner = body.replace(/^\+?[0-9]*\s?\([0-9]{1,5}\)\s?/, '')
  const seps = separatorsOf(inner)
  if (seps.size <= 1) return true
  if (seps.size === 2 && seps.has('/') && seps.has(' ')) return inner.indexOf('/') < inner.indexOf(' ') && inner.split('/').length === 2
  return false
}

// libphonenumber -------------------------------------------------------------------

function parse (text: string, country?: CountryCode): PhoneNumber | undefined {
  return parsePhoneNumberFromString(text, country === undefined ? { extract: false } : { defaultCountry: country, extract: false })
}

/**
 * Whether `digits`, written nationally, is a valid number of one of
 * `countries` (libphonenumber `max` metadata: the number ranges in use).
 * @example validIn('02079460958', ['GB']) === true
 */
export function validIn (digits: string, countries: readonly CountryCode[]): boolean {
  for (const country of countries) {
    if (parse(digits, country)?.isValid() === true) return true
  }
  return false
}

// Validators --------------------------------------------------------------------------

/** Shared refusals: a number run on from before, a date. */
function refusedShape (value: string, before: string, lead: string): boolean {
  return continuesNumber(before) || continuesGroupedNumber(lead, value) || kDate.test(value)
}

/**
 * A byte dump: a run of pairs seen whole, pairs after a pair or after a
 * word that names a dump, pairs counting up. Only for shapes that can be
 * pairs (national and bare numbers); a word ending in two hex letters
 * (`free `) is no pair, as the pair must follow a space.
 */
function inByteDump (value: string, lead: string): boolean {
  return kHexPairs.test(value) || kHexPairBefore.test(lead) || kDumpWordBefore.test(lead) || countingPairs(value)
}

/**
 * The value, then the value without its last group, and so on (`drops`
 * times at most). A pattern that takes groups as long as they come
 * (`+44 20 7946 0958 2024-01-15`) may have run into the next number; a
 * prefix that is a phone number makes it a finding, and the extra groups
 * are redacted with it (a number lost, not a phone leaked).
 */
function withTrailingGroupsDropped (body: string, drops: number): string[] {
  const out = [body]
  let cut = body
  for (let i = 0; i < drops; i++) {
    const at = Math.max(cut.lastIndexOf(' '), cut.lastIndexOf('-'), cut.lastIndexOf('.'), cut.lastIndexOf('/'))
    if (at <= 0) break
    cut = cut.slice(0, at)
    out.push(cut)
  }
  return out
}

/** One candidate of phoneInternational, without extension. */
function internationalNumber (body: string): boolean {
  const viaZeros = body.startsWith('00')
  const plain = body.replace(/ ?\(0\)/, '')
  // Spaces after the country code and one other separator are usual
  // (`+81 3-6369-1332`, `+55 61 99341-7245`); two others are a date or a range.
  const seps = separatorsOf(plain)
  seps.delete(' ')
  if (seps.size > 1) return false
  const digits = plain.replace(/[^0-9]/g, '').slice(viaZeros ? 2 : 0)
  if (digits.length < 8 || digits.length > 15 || isPlaceholder(digits)) return false
  const n = parse('+' + digits)
  if (n === undefined) return false
  if (viaZeros) return /[ .\-/]/.test(plain) && n.isValid()
  return n.isPossible()
}

/**
 * A number written with its country code: `+44 20 7946 0958`,
 * `+44 (0)20 7946 0958` (the trunk 0 in parentheses is dropped),
 * `+1-903-140-4508x769`, `0049 30 901820`. E.164 allows 15 digits at
 * most; `+` needs a possible length for the country, `00` a valid number
 * in groups. The pattern takes up to six groups, so up to three trailing
 * ones are tried without.
 */
export const phoneInternational: Validator = (value, { before, lead = '' }) => {
  if (refusedShape(value, before, lead)) return false
  return withTrailingGroupsDropped(splitExtension(value).body, 3).some(internationalNumber)
}

/** NANP as written: optional `+1`/`1` prefix, area code (in parentheses or not), exchange, line. */
const kNanp = /^(\+?1[ .-]?)?(?:\(([0-9]{3})\)[ .-]?|([0-9]{3})([ .-]))([0-9]{3})([ .-])([0-9]{4})$/
/** The exchange that NANP keeps for directory assistance and fiction, written alone: `555-0142`. */
const kNanpFiction = /^555[.-][0-9]{4}$/

/**
 * A North American number: `(415) 555-2671`, `415-555-2671`,
 * `+1 415 555 2671`, `1-800-555-0199`, `555-0142`, with an extension or
 * not. A plain 3-3-4 grouping must be valid for a NANP country; with the
 * area code in parentheses, a `1` prefix or an extension, the writer has
 * said it is a phone and ten digits are enough. The exchange 555
 * (directory assistance, and the fictional 555-01xx) is accepted alone:
 * it is how examples and stories write a phone, and little else is
 * written that way.
 */
export const phoneNanp: Validator = (value, { before, lead = '' }) => {
  if (refusedShape(value, before, lead)) return false
  const { body, ext } = splitExtension(value)
  if (kNanpFiction.test(body)) return !allSameDigits(body.slice(4))
  const m = kNanp.exec(body)
  if (m === null) return false
  const [, prefix, parenArea, area = parenArea, areaSep, exchange = '', sep, line = ''] = m
  // 415-555.2671 mixes separators: not how a number is written.
  if (areaSep !== undefined && areaSep !== sep) return false
  const digits = `${area ?? ''}${exchange}${line}`
  if (allSameDigits(digits) || !/^[2-9]/.test(digits)) return false
  if (prefix !== undefined || parenArea !== undefined || ext) return true
  return parse('+1' + digits)?.isValid() === true
}

/**
 * A national number with a trunk `0` in one of `kTrunkCountries`
 * (`020 7946 0958`, `(030) 901820`, `01 23 45 67 89`, `06.12.34.56.78`,
 * `030/1234 5678`, `098765 43210`), or an area code in parentheses in one
 * of `kAreaInParensCountries` (`(11) 91234-5678`): 9–12 digits, one kind
 * of separator, valid in the country's plan; not a date, an SSN, a dotted
 * address or version, zero-padded groups, or a byte dump (the pattern
 * takes up to nine pairs, so a longer run of pairs is seen whole; the tail
 * of a dump has a pair or the dump's name before it), and not the rest of
 * a code (a tracking number's `AA1 01 2345 678`).
 */
export const phoneNational: Validator = (value, { before, lead = '' }) => {
  if (refusedShape(value, before, lead) || inByteDump(value, lead) || kCodeBefore.test(lead)) return false
  const { body } = splitExtension(value)
  if (!consistentSeparators(body) || zeroPaddedGroups(body) || kDottedQuad.test(body) || kSsnShape.test(body) || subscriberStartsWithZero(body)) return false
  const digits = body.replace(/[^0-9]/g, '')
  if (digits.length < 9 || digits.length > 12 || isPlaceholder(digits)) return false
  const areaInParens = body.startsWith('(') && body[1] !== '0'
  if (!areaInParens && digits[0] !== '0') return false
  return validIn(digits, areaInParens ? kAreaInParensCountries : kTrunkCountries)
}

/** A 7-digit local number: exchange and line, `555-0142`, `867 5309`. */
const kLocal = /^[2-9][0-9]{2}[ .-][0-9]{4}$/

/** One candidate of phoneInContext, without extension. */
function numberInContext (body: string): boolean {
  if (!consistentSeparators(body) || kDate.test(body)) return false
  const digits = body.replace(/[^0-9]/g, '')
  if (digits.length === 7) return kLocal.test(body) && !allSameDigits(digits.slice(3))
  if (digits.length < 8 || digits.length > 13 || isPlaceholder(digits)) return false
  const nanp = digits.length === 11 && digits[0] === '1' ? digits.slice(1) : digits
  if (nanp.length === 10 && /^[2-9][0-9]{2}[2-9]/.test(nanp)) return true
  return validIn(digits, kContextCountries)
}

/**
 * The number after a phone word (the rule's pattern starts at the word and
 * redacts the number, its group): a 7-digit local number, or 8–13 digits,
 * bare or grouped, valid in one of `kContextCountries` (ten NANP digits
 * with area code and exchange from 2–9 are enough: the word said it is a
 * phone). A '.' before the word makes it a method (`fn.call(this, 2147483648)`).
 * The last two groups are also tried without, as for phoneInternational.
 */
export const phoneInContext: Validator = (value, { before, lead = '' }) => {
  if (refusedShape(value, before, lead) || inByteDump(value, lead)) return false
  const { body } = splitExtension(value)
  return !zeroPaddedGroups(body) && withTrailingGroupsDropped(body, 2).some(numberInContext)
}
