/**
 * @module rules/card-brands
 * Payment card brands by issuer identification number (IIN, the leading
 * digits of ISO/IEC 7812 numbers) and the lengths each brand issues, from
 * the brands' published ranges. A digit run is a card number only if some
 * brand issues numbers with its prefix at its length, and its Luhn check
 * holds: about one random digit string in ten passes Luhn, but few of them
 * start with a live IIN and have that brand's length, which is what keeps
 * order numbers, tracking numbers and timestamps out.
 *
 * A number may fit several brands (RuPay and Discover share 65, Troy and
 * Discover too); it is a card if any of them fits.
 */
import { allSameDigits } from './digit-boundaries.js'
import { luhnValid } from './luhn.js'

export interface CardBrand {
  readonly name: string
  /** IIN ranges, inclusive; both ends have the same number of digits (the prefix length). */
  readonly ranges: ReadonlyArray<readonly [string, string]>
  /** Card number lengths the brand issues, in digits. */
  readonly lengths: readonly number[]
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)
const one = (prefix: string): readonly [string, string] => [prefix, prefix]

/**
 * The brands, most common first (the lookup stops at the first fit). Brands
 * whose prefixes lie inside another brand's range with the same lengths
 * (Visa Electron in Visa, Dankort's 4571 in Visa) add nothing and are left out.
 */
export const cardBrands: readonly CardBrand[] = [
  { name: 'visa', ranges: [one('4')], lengths: [13, 16, 19] },
  { name: 'mastercard', ranges: [['51', '55'], ['2221', '2720']], lengths: [16] },
  { name: 'amex', ranges: [one('34'), one('37')], lengths: [15] },
  { name: 'discover', ranges: [one('6011'), ['644', '649'], one('65'), ['622126', '622925']], lengths: range(16, 19) },
  { name: 'unionpay', ranges: [one('62')], lengths: range(16, 19) },
  { name: 'jcb', ranges: [['3528', '3589']], lengths: range(16, 19) },
  // JCB's older 15-digit numbers.
  { name: 'jcb15', ranges: [one('1800'), one('2131')], lengths: [15] },
  { name: 'diners', ranges: [['300', '305'], one('3095'), one('36'), ['38', '39']], lengths: range(14, 19) },
  {
    name: 'maestro',
    ranges: [one('5018'), one('5020'), one('5038'), one('5893'), one('6304'), one('6759'), ['6761', '6763'], one('676770'), one('676774')],
    lengths: range(12, 19)
  },
  { name: 'mir', ranges: [['2200', '2204']], lengths: range(16, 19) },
  { name: 'rupay', ranges: [one('60'), one('65'), one('81'), one('82'), one('508'), one('353'), one('356')], lengths: [16] },
  { name: 'verve', ranges: [['506099', '506198'], ['507865', '507964'], ['650002', '650027']], lengths: [16, 18, 19] },
  { name: 'elo', ranges: [['506699', '506778'], ['509000', '509999'], one('627780'), one('636297'), one('636368')], lengths: [16] },
  { name: 'hipercard', ranges: [one('606282'), one('384100'), one('384140'), one('384160')], lengths: [16, 19] },
  { name: 'troy', ranges: [one('9792')], lengths: [16] },
  { name: 'dankort', ranges: [one('5019')], lengths: [16] },
  { name: 'borica', ranges: [one('2205')], lengths: [16] },
  { name: 'interpayment', ranges: [one('636')], lengths: range(16, 19) },
  { name: 'instapayment', ranges: [['637', '639']], lengths: [16] },
  { name: 'ukrcard', ranges: [['60400100', '60420099']], lengths: range(16, 19) },
  { name: 'lankapay', ranges: [one('357111')], lengths: [16] },
  { name: 'uzcard', ranges: [one('8600')], lengths: [16] },
  { name: 'humo', ranges: [one('9860')], lengths: [16] },
  { name: 'china-t-union', ranges: [one('31')], lengths: [19] }
]

function inRange (digits: string, [from, to]: readonly [string, string]): boolean {
  const prefix = digits.slice(0, from.length)
  // Same length, digits only: string order is numeric order.
  return prefix.length === from.length && prefix >= from && prefix <= to
}

/**
 * The first brand that issues `digits` (prefix and length), if any; the
 * Luhn check is separate (`isCardNumber`).
 * @example cardBrandOf('4111111111111111')?.name === 'visa'
 */
export function cardBrandOf (digits: string): CardBrand | undefined {
  for (const brand of cardBrands) {
    if (brand.lengths.includes(digits.length) && brand.ranges.some((r) => inRange(digits, r))) return brand
  }
  return undefined
}

/**
 * A payment card number: digits only, a brand's prefix and length, the
 * Luhn check, and not one digit repeated.
 * @example isCardNumber('378282246310005') === true; isCardNumber('4111111111111112') === false
 */
export function isCardNumber (digits: string): boolean {
  return /^[0-9]{12,19}$/.test(digits) && !allSameDigits(digits) && cardBrandOf(digits) !== undefined && luhnValid(digits)
}
