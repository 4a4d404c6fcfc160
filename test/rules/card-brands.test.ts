/**
 * @module test/rules/card-brands
 * Payment card brands by IIN range and length (src/rules/card-brands.ts),
 * and the credit-card rule on text: grouped forms, and no card inside a
 * longer number.
 */
import t from 'tap'
import { cardBrandOf, cardBrands, isCardNumber } from '../../src/rules/card-brands.js'
import { luhnValid } from '../../src/rules/luhn.js'
import { defaultRulesDir, loadRuleSet } from '../../src/rules/load-rules.js'
import { digestValue } from '../../src/scanner/digest.js'
import { scanText } from '../../src/scanner/scan-text.js'

/** `prefix` padded with zeros to `length - 1` digits and completed with its Luhn check digit. */
function cardOf (prefix: string, length: number): string {
  const body = prefix.padEnd(length - 1, '0')
  for (let d = 0; d <= 9; d++) if (luhnValid(body + String(d))) return body + String(d)
  throw new Error('unreachable: one digit always completes a Luhn number')
}

t.test('published test numbers of every major brand are cards of that brand', async (t) => {
  const known: Array<[string, string]> = [
    ['4111111111111111', 'visa'], ['4222222222222', 'visa'], ['5555555555554444', 'mastercard'],
    ['2223003122003222', 'mastercard'], ['378282246310005', 'amex'], ['371449635398431', 'amex'],
    ['6011111111111117', 'discover'], ['3530111333300000', 'jcb'], ['3566002020360505', 'jcb'],
    ['30569309025904', 'diners'], ['38520000023237', 'diners'], ['6200000000000005', 'unionpay'],
    ['6205500000000000004', 'unionpay'], ['6759649826438453', 'maestro'], ['5018000000000009', 'maestro']
  ]
  for (const [number, brand] of known) {
    t.equal(cardBrandOf(number)?.name, brand, `${number} is ${brand}`)
    t.ok(isCardNumber(number), `${number} is a card number`)
  }
})

t.test('each brand issues only its lengths', async (t) => {
  for (const length of [13, 16, 19]) t.ok(isCardNumber(cardOf('4', length)), `Visa ${length}`)
  for (const length of [12, 14, 15, 17, 18]) t.notOk(isCardNumber(cardOf('4', length)), `no Visa of ${length} digits`)
  t.ok(isCardNumber(cardOf('37', 15)), 'Amex 15')
  t.notOk(isCardNumber(cardOf('37', 16)), 'no Amex of 16 digits')
  t.notOk(isCardNumber(cardOf('51', 15)), 'no Mastercard of 15 digits')
  for (let length = 12; length <= 19; length++) t.ok(isCardNumber(cardOf('6759', length)), `Maestro ${length}`)
  for (let length = 16; length <= 19; length++) t.ok(isCardNumber(cardOf('62', length)), `UnionPay ${length}`)
  for (let length = 14; length <= 19; length++) t.ok(isCardNumber(cardOf('36', length)), `Diners ${length}`)
  t.ok(isCardNumber(cardOf('1800', 15)), 'JCB 1800, 15 digits')
  t.notOk(isCardNumber(cardOf('1800', 16)), 'no 16-digit 1800 numbers')
})

t.test('IIN ranges are inclusive at both ends and nothing outside them is a card', async (t) => {
  const edges: Array<[string, boolean]> = [
    ['2220', false], ['2221', true], ['2720', true], ['2721', false], ['50', false], ['51', true], ['55', true], ['56', false],
    ['3527', false], ['3528', true], ['3589', true], ['3590', false], ['643', false], ['644', true], ['649', true],
    ['2199', false], ['2200', true], ['2204', true], ['2206', false], ['7', false], ['0', false], ['1234', false]
  ]
  for (const [prefix, card] of edges) t.equal(isCardNumber(cardOf(prefix, 16)), card, `a 16-digit number starting ${prefix}`)
})

t.test('the table is well formed: ranges of equal-length digit strings, lengths within ISO/IEC 7812', async (t) => {
  for (const brand of cardBrands) {
    t.ok(brand.lengths.length > 0 && brand.lengths.every((n) => n >= 12 && n <= 19), `${brand.name} lengths`)
    for (const [from, to] of brand.ranges) {
      t.ok(/^[0-9]+$/.test(from) && from.length === to.length && from <= to, `${brand.name} ${from}-${to}`)
    }
  }
})

t.test('isCardNumber wants Luhn, digits only, and not one digit repeated', async (t) => {
  t.notOk(isCardNumber('4111111111111112'), 'Luhn fails')
  t.notOk(isCardNumber('4444444444444444'), 'one digit repeated (passes Luhn)')
  t.notOk(isCardNumber('4111-1111-1111-1111'), 'separators are the validator\'s business')
  t.notOk(isCardNumber(''), 'empty')
})

const ruleSet = await loadRuleSet(defaultRulesDir())
const hmacKey = 'card-brands-test'

function cardFindings (text: string): string[] {
  return scanText(ruleSet, text, { hmacKey }).findings.filter((f) => f.ruleId === 'pii.credit_card').map((f) => text.slice(f.start, f.start + f.length))
}

t.test('finds cards plain, spaced, dashed and dotted, in the groupings brands print', async (t) => {
  for (const value of ['4111111111111111', '4111 1111 1111 1111', '4111-1111-1111-1111', '4111.1111.1111.1111',
    '3782 822463 10005', '3056 930902 5904', '4222 2222 2222 2', '6205 5000 0000 0000 004', '5018 0000 0009']) {
    t.same(cardFindings(`pay with ${value} today`), [value], value)
  }
})

t.test('a card followed by its CVV or expiry month is redacted with it', async (t) => {
  const r = scanText(ruleSet, 'card 4111 1111 1111 1111 123 12/27', { hmacKey })
  t.equal(r.text, 'card **** **** **** ***1 123 12/27', 'the CVV is masked with it; the last four digits stay')
  t.equal(r.findings[0]?.digest, digestValue(Buffer.from(hmacKey), '4111 1111 1111 1111 123'))
})

t.test('a valid card inside a longer number is not a card', async (t) => {
  for (const text of ['ref 12344111111111111111 end', 'ref 1234 4111 1111 1111 1111 end', 'ref 4111 1111 1111 1111 1234 end',
    'ref 4111111111111111-2 end', 'ref 9-4111111111111111 end', 'ref 4111-1111-1111-1111-1 end', 'p = 0.4111111111111111']) {
    t.same(cardFindings(text), [], text)
  }
})

t.test('numbers without a brand or with a brand\'s wrong length are no cards', async (t) => {
  for (const text of [`id ${cardOf('7', 16)}`, `id ${cardOf('4', 15)}`, `id ${cardOf('34', 16)}`, 'FedEx 61299995669352455464', 'tracking 794644790138']) {
    t.same(cardFindings(text), [], text)
  }
})
