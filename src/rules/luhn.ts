/**
 * @module rules/luhn
 * The Luhn mod-10 check digit (ISO/IEC 7812-1 annex B), shared by payment
 * cards (rules/card-brands.ts) and the Canadian SIN (rules/validators.ts).
 */

/**
 * The Luhn check over a string of digits whose last digit is the check digit.
 * @example luhnValid('4111111111111111') === true
 */
export function luhnValid (digits: string): boolean {
  if (!/^[0-9]+$/.test(digits)) return false
  let sum = 0
  let double = false
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48
    if (double) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
    double = !double
  }
  return sum % 10 === 0
}
