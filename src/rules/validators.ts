/**
 * @module rules/validators
 * The checks a rule names in `validator:`. A validator sees the candidate
 * value (the rule's `group`, else the whole match) and the code point just
 * before the match, and says whether it is a real finding. This is where
 * checksums live (Luhn, mod-97, Verhoeff, mod-11 …) and the invalidation
 * lists that regexes cannot express (as Microsoft Presidio's recognizers
 * split `validate_result` from `invalidate_result`).
 *
 * Everything here is pure: no I/O, no state, no clock.
 */
import { isCardNumber } from './card-brands.js'
import { allSameDigits, continuesGroupedNumber, continuesNumber } from './digit-boundaries.js'
import { shannonEntropy } from './entropy.js'
import { luhnValid } from './luhn.js'
import { phoneInContext, phoneInternational, phoneNanp, phoneNational } from './phone-numbers.js'
import { isSecretPlaceholder, refusesSecretValue, secretValidators } from './secret-checks.js'
import type { Validator } from './types.js'

export { luhnValid }

// Helpers ----------------------------------------------------------------------

/** Digits of `value` with the usual grouping separators (spaces, dashes, dots) removed; '' if anything else remains. */
function digitsOf (value: string): string {
  const stripped = value.replace(/[\s\-.]/g, '')
  return /^[0-9]+$/.test(stripped) ? stripped : ''
}

// Luhn (payment cards, CA SIN) -----------------------------------------------

/** Luhn over a value that may be grouped with spaces or dashes; all-same digits rejected. */
const luhn: Validator = (value) => {
  const digits = digitsOf(value.replace(/\./g, 'x'))
  return digits.length >= 2 && !allSameDigits(digits) && luhnValid(digits)
}

/**
 * A payment card number (rules/card-brands.ts: a brand's IIN prefix and
 * length, Luhn) standing alone: not the fraction of a decimal
 * (`0.5309136012499991` passes Luhn), not the tail or the head of a longer
 * number (`1234 4111 1111 1111 1111`), one kind of separator. A short
 * group of at most three digits after a spaced 16-digit number (a CVV, the
 * month of `12/27`: `4111 1111 1111 1111 123`) is redacted with it when the
 * whole is no 19-digit card; a fifth group of four is a longer number.
 */
const paymentCard: Validator = (value, { before, lead = '' }) => {
  if (continuesNumber(before) || continuesGroupedNumber(lead, value)) return false
  const seps = new Set(value.replace(/[0-9]/g, ''))
  if (seps.size > 1) return false
  const digits = value.replace(/[^0-9]/g, '')
  if (isCardNumber(digits)) return true
  const groups = value.split(' ')
  const last = groups[groups.length - 1] ?? ''
  return groups.length === 5 && last.length <= 3 && isCardNumber(digits.slice(0, -last.length))
}

/**
 * Canadian Social Insurance Number: 9 digits, Luhn, first digit never 0 or 8
 * (not assigned), grouped with one kind of separator, not part of a longer
 * number.
 */
const caSin: Validator = (value, { before, lead = '' }) => {
  if (continuesNumber(before) || continuesGroupedNumber(lead, value)) return false
  const seps = new Set(value.replace(/[0-9]/g, ''))
  if (seps.size > 1) return false
  const digits = digitsOf(value)
  return digits.length === 9 && !/^[08]/.test(digits) && !allSameDigits(digits) && luhnValid(digits)
}

// IBAN -------------------------------------------------------------------------

/**
 * IBAN length per country: the SWIFT IBAN registry (ISO 13616), plus the
 * "partial" countries whose banks issue IBANs outside the registry (mostly
 * francophone Africa and Iran). The check digits still guard every one.
 */
const ibanLengths: Readonly<Record<string, number>> = {
  AD: 24,
  AE: 23,
  AL: 28,
  AT: 20,
  AZ: 28,
  BA: 20,
  BE: 16,
  BG: 22,
  BH: 22,
  BI: 27,
  BR: 29,
  BY: 28,
  CH: 21,
  CR: 22,
  CY: 28,
  CZ: 24,
  DE: 22,
  DJ: 27,
  DK: 18,
  DO: 28,
  EE: 20,
  EG: 29,
  ES: 24,
  FI: 18,
  FK: 18,
  FO: 18,
  FR: 27,
  GB: 22,
  GE: 22,
  GI: 23,
  GL: 18,
  GR: 27,
  GT: 28,
  HN: 28,
  HR: 21,
  HU: 28,
  IE: 22,
  IL: 23,
  IQ: 23,
  IS: 26,
  IT: 27,
  JO: 30,
  KW: 30,
  KZ: 20,
  LB: 28,
  LC: 32,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  LY: 25,
  MC: 27,
  MD: 24,
  ME: 22,
  MK: 19,
  MN: 20,
  MR: 27,
  MT: 31,
  MU: 30,
  NI: 28,
  NL: 18,
  NO: 15,
  OM: 23,
  PK: 24,
  PL: 28,
  PS: 29,
  PT: 25,
  QA: 29,
  RO: 24,
  RS: 22,
  RU: 33,
  SA: 24,
  SC: 31,
  SD: 18,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
  SO: 23,
  ST: 25,
  SV: 28,
  TL: 23,
  TN: 24,
  TR: 26,
  UA: 29,
  VA: 22,
  VG: 24,
  XK: 20,
  YE: 30,
  // Partial (issued, not in the registry).
  AO: 25,
  BF: 28,
  BJ: 28,
  CF: 27,
  CG: 27,
  CI: 28,
  CM: 27,
  CV: 25,
  DZ: 26,
  GA: 27,
  GQ: 27,
  GW: 25,
  IR: 26,
  KM: 27,
  MA: 28,
  MG: 27,
  ML: 28,
  MZ: 25,
  NE: 28,
  SN: 28,
  TD: 27,
  TG: 28
}

/** `n mod 97` of a decimal string of any length, 7 digits at a time (stays far below 2^53, no BigInt). */
function mod97 (digits: string): number {
  let rest = 0
  for (let i = 0; i < digits.length; i += 7) {
    rest = Number(String(rest) + digits.slice(i, i + 7)) % 97
  }
  return rest
}

/**
 * An IBAN (ISO 13616): known country, that country's length, alphanumeric
 * BBAN, and the ISO 7064 mod-97-10 check (the rearranged number mod 97 is 1).
 * Spaces are ignored and letters may be in either case.
 * @example ibanValid('GB82 WEST 1234 5698 7654 32') === true
 */
export function ibanValid (s: string): boolean {
  const iban = s.replace(/\s/g, '').toUpperCase()
  if (!/^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$/.test(iban)) return false
  if (ibanLengths[iban.slice(0, 2)] !== iban.length) return false
  // ISO 7064 mod 97-10 only ever yields check digits 02..98.
  const check = Number(iban.slice(2, 4))
  if (check < 2 || check > 98) return false
  const rearranged = iban.slice(4) + iban.slice(0, 4)
  const numeric = rearranged.replace(/[A-Z]/g, (ch) => String(ch.charCodeAt(0) - 55))
  return mod97(numeric) === 1
}

/**
 * An IBAN as the pattern found it. The grouped form `BE68 5390 0754 7034 BIC`
 * can swallow a short trailing word into its last group (RE2 has no
 * lookahead to stop it), so when the whole value fails, the value without
 * its last space-separated chunk is tried too: the chunk is then redacted
 * with the IBAN, which costs a word, not a leak.
 */
const iban: Validator = (value) => {
  if (ibanValid(value)) return true
  const cut = value.lastIndexOf(' ')
  return cut > 0 && value.length - cut <= 5 && ibanValid(value.slice(0, cut))
}

// US identifiers -----------------------------------------------------------------

/** Numbers the SSA has voided after they were published (Woolworth wallet card, SSA leaflet). */
const voidedSsns = new Set(['078051120', '219099999'])

/**
 * US Social Security Number: area not 000, 666 or 900–999 (900s are ITINs),
 * group not 00, serial not 0000 (SSA's "never assigned" ranges); voided
 * published numbers, all-same digits and parts of longer numbers rejected.
 */
const usSsn: Validator = (value, { before, lead = '' }) => {
  if (continuesNumber(before) || continuesGroupedNumber(lead, value)) return false
  const digits = digitsOf(value)
  if (digits.length !== 9 || allSameDigits(digits) || voidedSsns.has(digits)) return false
  const area = digits.slice(0, 3)
  return area !== '000' && area !== '666' && area[0] !== '9' &&
    digits.slice(3, 5) !== '00' && digits.slice(5) !== '0000'
}

/** US ITIN: 9xx-GG-xxxx with the IRS group ranges 50–65, 70–88, 90–92, 94–99. */
const usItin: Validator = (value, { before, lead = '' }) => {
  if (continuesNumber(before) || continuesGroupedNumber(lead, value)) return false
  const digits = digitsOf(value)
  if (digits.length !== 9 || digits[0] !== '9') return false
  const group = Number(digits.slice(3, 5))
  return (group >= 50 && group <= 65) || (group >= 70 && group <= 88) ||
    (group >= 90 && group <= 92) || (group >= 94 && group <= 99)
}

// Verhoeff (Aadhaar) ---------------------------------------------------------------

// Verhoeff's dihedral-group tables (D5 multiplication and the position permutation).
const verhoeffD: readonly (readonly number[])[] = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
  [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
  [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
  [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
  [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
  [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
  [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
  [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
  [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
]
const verhoeffP: readonly (readonly number[])[] = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
  [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
  [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
  [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
  [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
  [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
  [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]
]

/**
 * The Verhoeff check over a string of digits whose last digit is the check digit.
 * @example verhoeffValid('2363') === true
 */
export function verhoeffValid (digits: string): boolean {
  if (!/^[0-9]+$/.test(digits)) return false
  let c = 0
  for (let i = 0; i < digits.length; i++) {
    const d = digits.charCodeAt(digits.length - 1 - i) - 48
    c = (verhoeffD[c] as readonly number[])[(verhoeffP[i % 8] as readonly number[])[d] as number] as number
  }
  return c === 0
}

/** Verhoeff over a value that may be grouped with spaces or dashes. */
const verhoeff: Validator = (value) => {
  const digits = digitsOf(value)
  return digits.length >= 2 && verhoeffValid(digits)
}

/**
 * Indian Aadhaar number: 12 digits, first digit 2–9, Verhoeff check (UIDAI);
 * palindromes and all-same digits rejected (UIDAI never issues them), and
 * never the tail of a decimal, of a UUID's last group or of a longer
 * number (the last 12 digits of a 16-digit one).
 */
const inAadhaar: Validator = (value, { before, lead = '' }) => {
  if (continuesNumber(before) || before === '-' || continuesGroupedNumber(lead, value)) return false
  const digits = digitsOf(value)
  if (digits.length !== 12 || !/^[2-9]/.test(digits) || allSameDigits(digits)) return false
  if (digits === [...digits].reverse().join('')) return false
  return verhoeffValid(digits)
}

// UK identifiers -----------------------------------------------------------------

/** Prefixes HMRC never allocates (NIM39110). */
const ninoBadPrefixes = new Set(['BG', 'GB', 'KN', 'NK', 'NT', 'TN', 'ZZ'])

/**
 * UK National Insurance number: two prefix letters (D F I Q U V never used,
 * O never second; BG GB KN NK NT TN ZZ never allocated), six digits, suffix A–D.
 */
const ukNino: Validator = (value) => {
  const nino = value.replace(/\s/g, '').toUpperCase()
  if (!/^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]$/.test(nino)) return false
  return !ninoBadPrefixes.has(nino.slice(0, 2))
}

/**
 * UK NHS number: 10 digits, mod-11 check with weights 10..2 (NHS Data
 * Dictionary); a computed check of 10 means the number is never issued.
 * Not part of a longer number.
 */
const ukNhs: Validator = (value, { before, lead = '' }) => {
  if (continuesNumber(before) || continuesGroupedNumber(lead, value)) return false
  const digits = digitsOf(value)
  if (digits.length !== 10 || allSameDigits(digits)) return false
  let sum = 0
  for (let i = 0; i < 9; i++) sum += (digits.charCodeAt(i) - 48) * (10 - i)
  let check = 11 - (sum % 11)
  if (check === 11) check = 0
  return check !== 10 && check === digits.charCodeAt(9) - 48
}

// Spain --------------------------------------------------------------------------

const nifLetters = 'TRWAGMYFPDXBNJZSQVHLCKE'

/**
 * Spanish NIF/DNI (8 digits + check letter) and NIE (X/Y/Z + 7 digits +
 * letter, X/Y/Z read as 0/1/2): the letter is the number mod 23 in
 * `TRWAGMYFPDXBNJZSQVHLCKE` (Real Decreto 1553/2005). All-zero numbers rejected.
 */
const esNif: Validator = (value) => {
  const v = value.replace(/[\s-]/g, '').toUpperCase()
  const m = /^([XYZ]?)([0-9]{7,8})([A-Z])$/.exec(v)
  if (m === null) return false
  const [, prefix = '', body = '', letter] = m
  if (prefix === '' ? body.length !== 8 : body.length !== 7) return false
  if (/^0+$/.test(body)) return false
  const n = Number((prefix === '' ? '' : String('XYZ'.indexOf(prefix))) + body)
  return nifLetters[n % 23] === letter
}

// Network addresses ----------------------------------------------------------------

function octetValid (s: string): boolean {
  return /^(?:0|[1-9][0-9]{0,2})$/.test(s) && Number(s) <= 255
}

/**
 * Whether four octets name no one: addresses of this host or network
 * (0/8, loopback 127/8), private ranges (10/8, 172.16/12, 192.168/16),
 * shared CGNAT space (100.64/10), link-local (169.254/16), IETF and
 * documentation ranges (192.0.0/24, 192.0.2/24, 198.18/15, 198.51.100/24,
 * 203.0.113/24), multicast, reserved and netmasks (224/3 and above), and a
 * network or broadcast address (last octet 0 or 255). Only the others,
 * public hosts, can point at a person's machine.
 */
function isNonPublicV4 ([a, b, c, d]: readonly number[]): boolean {
  if (a === undefined || b === undefined || c === undefined || d === undefined) return true
  return a === 0 || a === 10 || a === 127 || a >= 224 ||
    (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) ||
    (a === 192 && b === 0 && (c === 0 || c === 2)) || (a === 198 && (b === 18 || b === 19)) ||
    (a === 198 && b === 51 && c === 100) || (a === 203 && b === 0 && c === 113) ||
    d === 0 || d === 255
}

/**
 * Text just before a dotted number that makes it a section or a version,
 * not an address: `Section 13.3.3.7`, `rfc3986#section-6.2.2.1`, `§ 4.1.2.3`,
 * `zlib@1.2.13.1`, `version 3.14.5.9`.
 */
const kNumberedContext = /(?:section|sect\.|sec\.|§|chapter|clause|paragraph|version|ver\.|release|@)[\s#-]{0,3}$/i
/**
 * A user before `@` in a login (`ssh admin@104.16.132.229`, `scp f
 * deploy@…`, `http://user@…`): an address, where `name@` is otherwise a
 * package's version (`zlib@1.2.13.1`).
 */
const kLoginBefore = /(?:(?:ssh|scp|sftp|rsync|mosh|telnet|ftp)\s(?:[^\n@]{0,60}\s)?[A-Za-z0-9._-]{1,32}|:\/\/[^\s/@]{1,64})@$/i

/**
 * Public addresses that name a service, not anyone's machine (the DNS
 * resolvers of Google, Cloudflare, Quad9, OpenDNS, Level 3), and the
 * counting sequences documentation writes as an example address.
 */
const kServiceAddresses = new Set(['8.8.8.8', '8.8.4.4', '1.1.1.1', '1.0.0.1', '9.9.9.9', '149.112.112.112', '208.67.222.222', '208.67.220.220', '4.2.2.1', '4.2.2.2', '1.2.3.4', '4.3.2.1', '5.6.7.8', '2.3.4.5', '6.7.8.9'])
/** The same resolvers' IPv6 addresses (compared in lower case). */
const kServiceAddressesV6 = new Set(['2001:4860:4860::8888', '2001:4860:4860::8844', '2606:4700:4700::1111', '2606:4700:4700::1001', '2620:fe::fe', '2620:fe::9', '2620:119:35::35', '2620:119:53::53'])

/**
 * A public IPv4 host address standing alone (see isNonPublicV4 for what is
 * not redacted): exactly four valid octets (the pattern swallows a trailing
 * `.digits` so that `192.168.1.1.1` reaches us whole and is refused), no
 * `/prefix` (a network, not a host), not continuing a number or a dotted
 * version (`v2.1.1.108` is stopped by the word boundary, `1.2.3.4.5` by the
 * '.' before), not numbering a section or a version (the rule's `after`
 * reads the text before it; `user@` is a login's, `pkg@` a version's), and
 * not a well-known service address or an example sequence.
 */
const ipv4: Validator = (value, { before, lead = '' }) => {
  if (continuesNumber(before) || value.includes('/') || kServiceAddresses.has(value)) return false
  if (kNumberedContext.test(lead) && !kLoginBefore.test(lead)) return false
  const parts = value.split('.')
  return parts.length === 4 && parts.every(octetValid) && !isNonPublicV4(parts.map(Number))
}

/**
 * Whether an IPv6 address (already well formed) names no one: unspecified
 * and loopback, link-local fe80::/10, unique local fc00::/7, multicast
 * ff00::/8, documentation 2001:db8::/32, and IPv4-mapped or -compatible
 * forms of a non-public IPv4 address.
 */
function isNonPublicV6 (value: string): boolean {
  const lower = value.toLowerCase()
  if (/^::1?$/.test(lower)) return true
  if (/^fe[89ab][0-9a-f]?:/.test(lower) || /^f[cd][0-9a-f]{0,2}:/.test(lower) || /^ff[0-9a-f]{0,2}:/.test(lower)) return true
  if (/^2001:0?db8:/.test(lower)) return true
  const v4 = /^::(?:ffff:)?([0-9.]+)$/.exec(lower)
  if (v4?.[1] !== undefined) return isNonPublicV4(v4[1].split('.').map(Number))
  // The same in hex groups: `::ffff:c0a8:101` is 192.168.1.1.
  const hex = /^::(?:ffff:)?([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower)
  if (hex?.[1] === undefined || hex[2] === undefined) return false
  const high = Number.parseInt(hex[1], 16)
  const low = Number.parseInt(hex[2], 16)
  return isNonPublicV4([high >> 8, high & 255, low >> 8, low & 255])
}

/**
 * A public IPv6 host address in full, `::`-compressed or IPv4-embedded form
 * (RFC 4291 §2.2). To keep `12:30:45`, MAC addresses and `A::B` in code out,
 * the address must be well formed, contain a decimal digit, and a
 * compressed form must have three groups or a group of three hex digits
 * (`::`, `::1` and the slice `a[10::20]` carry no person). A `/prefix`
 * (`2001::/32`) is a network, and the ranges of isNonPublicV6 are no one's.
 */
const ipv6: Validator = (value, { before }) => {
  if (before === ':' || before === '.' || value.includes('/') || kServiceAddressesV6.has(value.toLowerCase())) return false
  let addr = value
  let groups = 0
  const lastColon = addr.lastIndexOf(':')
  const tail = addr.slice(lastColon + 1)
  if (tail.includes('.')) {
    const parts = tail.split('.')
    if (parts.length !== 4 || !parts.every(octetValid)) return false
    addr = addr.slice(0, lastColon + 1) + '0:0'
  }
  const halves = addr.split('::')
  if (halves.length > 2) return false
  const compressed = halves.length === 2
  for (const half of halves) {
    if (half === '') continue
    for (const g of half.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false
      groups++
    }
  }
  if (compressed ? groups > 7 : groups !== 8) return false
  if (!/[0-9]/.test(value)) return false
  // `fe80::1`, `2001:db8::` carry a long group or many groups; `b[10::20]` neither.
  if (compressed && groups < 3 && !/[0-9a-fA-F]{3}/.test(value)) return false
  return !isNonPublicV6(value)
}

// Secrets ----------------------------------------------------------------------------

/**
 * A JSON Web Token: base64url parts whose header decodes to a JSON object
 * naming its algorithm (RFC 7515 §4.1.1: "alg" is required). Two parts are
 * accepted because a rule may stop inside an overlong payload; the start
 * must not continue a longer base64url run.
 */
const jwt: Validator = (value, { before }) => {
  if (/^[A-Za-z0-9_-]$/.test(before)) return false
  const parts = value.split('.')
  if (parts.length < 2 || parts.length > 3) return false
  try {
    const header: unknown = JSON.parse(Buffer.from(parts[0] as string, 'base64url').toString('utf8'))
    return typeof header === 'object' && header !== null && typeof (header as { alg?: unknown }).alg === 'string'
  } catch {
    return false
  }
}

/**
 * The password of a `scheme://user:password@host` URL: anything but a
 * placeholder (`${DB_PASS}`, `<password>`, `****`, `password`, `changeme`)
 * or a stock value (`guest`, `foo:bar`; see secret-checks.ts). Short real
 * passwords count: a URL is context enough.
 */
const urlPassword: Validator = (value) => value.length > 0 && !/^(?:pass|pwd|pw|\.\.\.)$/i.test(value) && !refusesSecretValue(value)

/**
 * A value assigned to a password/secret/api_key-like name: long enough,
 * not a reference or placeholder, and not an identifier (`API_KEY`,
 * `userPassword`: a name, not a value). Real secrets mix character kinds,
 * so at least two of lower, upper, digit, symbol are required; entropy is
 * left to the rule's `minEntropy`. Stock values, code, paths, and names
 * before the keyword (`lead`) that make it a lookup key are refused by
 * refusesSecretValue (secret-checks.ts).
 */
const secretValue: Validator = (value, { lead }) => {
  if (value.length < 8 || refusesSecretValue(value, lead)) return false
  // CONSTANT_CASE names and identifiers without any digit are names.
  if (/^[A-Z][A-Z0-9_]*$/.test(value) && value.includes('_')) return false
  if (/^[A-Za-z_][A-Za-z_]*$/.test(value)) return false
  if (/^[0-9]+$/.test(value)) return false
  let kinds = 0
  if (/[a-z]/.test(value)) kinds++
  if (/[A-Z]/.test(value)) kinds++
  if (/[0-9]/.test(value)) kinds++
  if (/[^A-Za-z0-9]/.test(value)) kinds++
  return kinds >= 2
}

/**
 * The credentials of an `Authorization: Basic` header: base64 of
 * `user:password` (RFC 7617), so it must decode to printable text with a colon.
 */
const basicAuth: Validator = (value) => {
  const decoded = Buffer.from(value, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon >= 0 && colon < decoded.length - 1 && /^[\x20-\x7e\u00a0-\uffff]+$/.test(decoded) && !isSecretPlaceholder(decoded.slice(colon + 1))
}

// Exfiltration links ------------------------------------------------------------------------

/** Query parameters that trackers and chat UIs add to ordinary links. */
const trackingParam = /^(?:utm_[a-z]+|ref|ref_src|source|fbclid|gclid)$/i

/** A run that may be encoded data: base64, base64url, hex, a token. */
const kEncodedRun = /[A-Za-z0-9+/_=-]{20,}/g

function decodePart (raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '))
  } catch {
    return raw
  }
}

/**
 * Whether one decoded query value can carry conversation data: long text,
 * an encoded blob or token (a long run mixing letters and digits, with the
 * entropy of random data), an address, a long number, or a sentence. What
 * badges, CI, avatar and docs links put in a query — `branch=main`,
 * `style=flat-square`, `v=4&s=100`, `maxAge=2592000`, `logo=github`,
 * `uri=github.com/fastify/fast-uri`, `query=workflow:"CI"` — is none of these.
 */
function isPayload (value: string, words: boolean): boolean {
  // A URL as a value (`endpoint?url=https://…`, a redirect): its own
  // pieces carry the data, if any, not its length.
  if (/^https?:\/\/[^\s]*$/i.test(value)) return value.slice(value.indexOf('//') + 2).split(/[/?&=#]/).some((part) => part !== '' && isPayload(decodePart(part), words))
  if (value.length >= 48) return true
  for (const run of value.match(kEncodedRun) ?? []) {
    // Base64 and random tokens mix upper case, lower case and digits; a
    // host or slug (`badge-u3jn4tfpocch`) is one case with a few digits.
    // About one random 24-character token in 60 has no digit: both cases
    // and the entropy of random text (4 bits; camel-case words have 3.6–3.8)
    // are enough then.
    const cased = /[a-z]/.test(run) && /[A-Z]/.test(run)
    const mixed = cased && (/[0-9]/.test(run) || shannonEntropy(run) >= 4)
    const hex = run.length >= 32 && /^[0-9a-f]+$/i.test(run)
    if ((mixed || hex) && shannonEntropy(run) >= 3.5) return true
  }
  if (/[^\s@]@[^\s@]+\.[A-Za-z]{2,}/.test(value)) return true
  const digits = value.match(/[0-9]/g)?.length ?? 0
  if (digits >= 12) return true
  // Four words or more: a sentence ("user lives in Berlin"), not a label;
  // for a link, only one that also holds a number (an id, a phone, an SSN).
  const sentence = value.trim().split(/[\s+]+/).filter((w) => /[\p{L}\p{N}]/u.test(w)).length >= 4
  return sentence && (words || digits >= 6)
}

/**
 * Base64 of an image format's own start (PNG, GIF, JPEG, WebP, SVG or XML),
 * after a `data:image/…;base64,` prefix: a badge's embedded logo
 * (`?logo=data:image/svg+xml;base64,PHN2Zy…`). The prefix alone would let
 * any payload through; the image's signature must follow it.
 */
const kImageData = /^data:image\/(?:png|gif|jpeg|webp|svg\+xml);base64,(?:iVBORw0KGgo|R0lGOD|\/9j\/|UklGR|PHN2Zy|PD94bWwg)/i

/** `raw` as sent (a base64 '+' is no space) or percent-decoded. */
function isInlineImage (raw: string): boolean {
  if (kImageData.test(raw)) return true
  try {
    return kImageData.test(decodeURIComponent(raw))
  } catch {
    return false
  }
}

/**
 * A markdown/HTML link or image whose URL query can carry data out: some
 * parameter (other than tracking ones) holds a payload (see isPayload).
 * Images load without a click, links need one; either way only a payload
 * is worth removing, and ordinary badge, CI and avatar URLs pass.
 */
const exfilUrl: Validator = (value, context) => carriesPayload(value, context.lead ?? '', true)

/**
 * The same for a link (it needs a click): a sentence counts only with a
 * number in it, as a link's query is as often a search
 * (`?q=how+to+center+a+div`), a share text or an issue filter written in
 * words; an encoded, high-entropy, long or numeric value still counts.
 */
const exfilLink: Validator = (value, context) => carriesPayload(value, context.lead ?? '', false)

function carriesPayload (value: string, lead: string, words: boolean): boolean {
  // With `after`, the value is the query and the URL before it is the lead.
  const text = lead + value
  const at = text.search(/https?:\/\//i)
  if (at < 0) return false
  const url = /^[^\s)>"']+/.exec(text.slice(at))?.[0] ?? ''
  const q = url.indexOf('?')
  if (q < 0) return false
  const query = url.slice(q + 1).replace(/#.*$/, '')
  return query.split('&').filter((p) => p !== '').some((p) => {
    const eq = p.indexOf('=')
    const name = eq < 0 ? p : p.slice(0, eq)
    if (trackingParam.test(name)) return false
    // A bare parameter name is read as its value (`?c2VjcmV0IGtleQ`); a
    // malformed escape is still a payload, measured raw.
    const raw = eq < 0 ? name : p.slice(eq + 1)
    return !isInlineImage(raw) && isPayload(decodePart(raw), words)
  })
}

// Unicode smuggling ---------------------------------------------------------------------

const blackFlag = '\u{1F3F4}'
/** Tag digits and lowercase tag letters: what a subdivision flag spells. */
const tagSpecChar = /^[\u{E0030}-\u{E0039}\u{E0061}-\u{E007A}]$/u
/** ISO 3166-2 subdivision codes are 3-6 characters (gbsct, usca, frbre), then CANCEL TAG. */
const flagTagSpec = /^[\u{E0030}-\u{E0039}\u{E0061}-\u{E007A}]{1,6}\u{E007F}$/u
/** What is left of a flag's tag run after one or more of its letters. */
const flagTagTail = /^[\u{E0030}-\u{E0039}\u{E0061}-\u{E007A}]{0,5}\u{E007F}$/u

/**
 * A run of Unicode tag characters (U+E0000–E007F) that is NOT an emoji flag
 * tag sequence. UTS #51 §2.8: 🏴 followed by tag digits/lowercase letters
 * and CANCEL TAG is a subdivision flag (🏴󠁧󠁢󠁳󠁣󠁴󠁿); any other tag run is invisible
 * text (ASCII smuggling) and is a finding.
 *
 * The scanner retries a rejected match one code point later, so the tail of
 * a flag (after its first tag letter) must pass too: a short spec-and-cancel
 * tail preceded by a tag letter is accepted. The cost is that at most six
 * hidden letters can follow a 64-character chunk already removed.
 */
const tagSmuggling: Validator = (value, { before }) => {
  if (before === blackFlag) return !flagTagSpec.test(value)
  if (tagSpecChar.test(before)) return !flagTagTail.test(value)
  return true
}

// The catalogue ----------------------------------------------------------------------------

/** Every validator a rule can name, by the name used in rule files. */
export const validators: Readonly<Record<string, Validator>> = Object.freeze({
  luhn,
  payment_card: paymentCard,
  ca_sin: caSin,
  iban,
  us_ssn: usSsn,
  us_itin: usItin,
  verhoeff,
  in_aadhaar: inAadhaar,
  uk_nino: ukNino,
  uk_nhs: ukNhs,
  es_nif: esNif,
  ipv4,
  ipv6,
  phone_e164: phoneInternational,
  phone_nanp: phoneNanp,
  phone_national: phoneNational,
  phone_in_context: phoneInContext,
  jwt,
  secret_value: secretValue,
  url_password: urlPassword,
  basic_auth: basicAuth,
  ...secretValidators,
  exfil_url: exfilUrl,
  exfil_link: exfilLink,
  tag_smuggling: tagSmuggling
})
