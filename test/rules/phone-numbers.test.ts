/**
 * @module test/rules/phone-numbers
 * The phone validators (src/rules/phone-numbers.ts) and the phone rules on
 * text: numbers of many countries in their written forms, extensions, local
 * numbers after a phone word, and the numbers that are no phones (versions,
 * dates, times, ids, prices, ports, dumps, ISBNs, UUIDs, coordinates).
 */
import t from 'tap'
import { kContextCountries, kTrunkCountries, phoneInContext, phoneInternational, phoneNanp, phoneNational, splitExtension, validIn } from '../../src/rules/phone-numbers.js'
import { defaultRulesDir, loadRuleSet } from '../../src/rules/load-rules.js'
import { digestValue } from '../../src/scanner/digest.js'
import { scanText } from '../../src/scanner/scan-text.js'

const alone = { before: ' ', lead: ' ' }

t.test('splitExtension takes x, ext., extension and # off the end', async (t) => {
  t.same(splitExtension('+1-903-140-4508x769'), { body: '+1-903-140-4508', ext: true })
  t.same(splitExtension('(213) 373-4253 ext. 1234'), { body: '(213) 373-4253', ext: true })
  t.same(splitExtension('030 901820, extension 12'), { body: '030 901820', ext: true })
  t.same(splitExtension('415-555-2671 #123'), { body: '415-555-2671', ext: true })
  t.same(splitExtension('020 7946 0958'), { body: '020 7946 0958', ext: false })
})

t.test('validIn asks the numbering plans of the listed countries', async (t) => {
  t.ok(validIn('02079460958', ['GB']), 'a London number')
  t.ok(validIn('030901820', ['GB', 'DE']), 'a Berlin number, in the second country tried')
  t.notOk(validIn('030901820', ['GB']), 'not a British number')
  t.notOk(validIn('07700900123', ['GB']), 'the drama range is never assigned')
  t.ok(kContextCountries.includes('US') && kTrunkCountries.every((c) => kContextCountries.includes(c)), 'a phone word widens the trunk countries')
})

t.test('phone_e164: a possible length after +, a valid number after 00, 8-15 digits', async (t) => {
  for (const v of ['+44 20 7946 0958', '+44 (0)20 7946 0958', '+49 30 901820', '+1-903-140-4508x769', '+33 1 23 45 67 89',
    '+7 (495) 123-45-67', '+81 3-6369-1332', '+55 61 99341-7245', '0044 20 7946 0958', '+442079460958']) {
    t.ok(phoneInternational(v, alone), v)
  }
  for (const v of ['+5 10', '+12.5', '+1 2024-05.17', '+1234567890', '+1 (419) 346-477', '+1 415 555 26710', '00442079460958', '0044 12 3456']) {
    t.notOk(phoneInternational(v, alone), v)
  }
  t.notOk(phoneInternational('+4420718387', { before: '3', lead: '123' }), 'after a digit')
  t.ok(phoneInternational('+44 20 7946 0958 2024-01-15', alone), 'a number the groups ran into is taken with the phone')
})

t.test('phone_nanp: a plain 3-3-4 must be valid, parentheses, a 1 prefix or an extension are enough', async (t) => {
  for (const v of ['415-555-2671', '(415) 555-2671', '212.555.0147', '416 555 2671', '+1 (415) 555-2671', '1-800-555-0199',
    '(555) 010-9999', '903-140-4508x769', '(213) 373-4253 ext. 1234', '555-0142']) {
    t.ok(phoneNanp(v, alone), v)
  }
  for (const v of ['903-140-4508', '555-010-9999', '415-555.2671', '415-555-2671-3', '555-5555', '222-222-2222']) {
    t.notOk(phoneNanp(v, alone), v)
  }
  t.notOk(phoneNanp('415-555-2671', { before: '-', lead: '12-' }), 'the tail of a longer id')
})

t.test('phone_national: a trunk 0, 9-12 digits, one kind of separator, valid in a trunk country', async (t) => {
  for (const v of ['020 7946 0958', '07911 123456', '0161 496 0000', '030 901820', '030/1234 5678', '01 23 45 67 89',
    '06.12.34.56.78', '098765 43210', '(020) 7946 0958', '(02) 9876 5432', '03-1234-5678', '(11) 91234-5678', '02 1234 5678', '030 901820 ext. 12']) {
    t.ok(phoneNational(v, alone), v)
  }
  for (const v of ['01.02.2024', '01/02/2024 12', '15.01.2024 0930', '020 7183-8750', '20 7183 8750', '0151 1283', '0755 0644 0600',
    '0300.0250.01.01', '064-55-8962', '01 02 07 03 04 05 06', '0111 111 1111']) {
    t.notOk(phoneNational(v, alone), v)
  }
  t.notOk(phoneNational('01 23 45 67 89', { before: ' ', lead: ' de ' }), 'the tail of a byte dump')
  t.notOk(phoneNational('020 7946 0958', { before: ' ', lead: '1234 ' }), 'the tail of a longer spaced number')
})

t.test('phone_in_context: a local number, a bare run or a no-trunk format, valid somewhere common', async (t) => {
  for (const v of ['867-5309', '4155552671', '612 34 56 78', '138 0013 8000', '501 234 567', '(720) 747-0457 x858', '020 7946 0958']) {
    t.ok(phoneInContext(v, alone), v)
  }
  for (const v of ['1234567', '555-5555', '2024-01-15', '12.5', '01 02 2024 12 30', '0755 0644 0600']) {
    t.notOk(phoneInContext(v, alone), v)
  }
  t.notOk(phoneInContext('2147483648', { before: '.', lead: '' }), 'a method call (fn.call(this, 2147483648))')
})

const ruleSet = await loadRuleSet(defaultRulesDir())
const hmacKey = 'phone-numbers-test'

function phoneFindings (text: string): string[] {
  return scanText(ruleSet, text, { hmacKey }).findings.filter((f) => f.ruleId.startsWith('pii.phone')).map((f) => f.digest)
}

function digest (value: string): string {
  return digestValue(Buffer.from(hmacKey), value)
}

t.test('finds numbers of many countries in their usual written forms', async (t) => {
  const numbers = [
    '+44 20 7946 0958', '020 7946 0958', '0161 496 0000', '07911 123456', '+49 30 901820', '030 901820', '0171 1234567',
    '01 23 45 67 89', '+33 6 12 34 56 78', '(415) 555-2671', '415-555-2671', '+1 415 555 2671', '1-800-555-0199',
    '+91 98765 43210', '098765 43210', '(02) 9876 5432', '0412 345 678', '+61 412 345 678', '02 1234 5678',
    '+39 02 1234 5678', '06-12345678', '+31 6 12345678', '(11) 91234-5678', '+55 11 91234-5678', '03-1234-5678',
    '090-1234-5678', '010-1234-5678', '+86 138 0013 8000', '+34 612 34 56 78', '0044 20 7946 0958', '0049 30 901820'
  ]
  for (const n of numbers) t.same(phoneFindings(`Reach Ann at ${n}, thanks.`), [digest(n)], n)
})

t.test('redacts the number with its extension', async (t) => {
  for (const n of ['+1-903-140-4508x769', '(213) 373-4253 ext. 1234', '415-555-2671 #123', '+49 30 901820 ext. 12', '030 901820 ext. 12']) {
    const r = scanText(ruleSet, `office ${n}.`, { hmacKey })
    t.same(r.findings.map((f) => f.digest), [digest(n)], n)
    t.equal(r.text, `office [phone:${digest(n).slice(0, 6)}].`, `nothing of ${n} is left`)
  }
})

t.test('after a phone word, bare runs, local numbers and no-trunk formats count; only the number is redacted', async (t) => {
  const cases: Array<[string, string]> = [
    ['Phone: 4155552671', '4155552671'], ['call me at 867-5309 tonight', '867-5309'], ['Tel. 612 34 56 78', '612 34 56 78'],
    ['WhatsApp: 138 0013 8000', '138 0013 8000'], ['her number is 55 2658 0147', '55 2658 0147'], ['reach us on 867-5309 today', '867-5309'],
    ['Téléphone : 06 12 34 56 78', '06 12 34 56 78'], ['Fax (mobile): 612 345 678', '612 345 678']
  ]
  for (const [text, number] of cases) {
    const r = scanText(ruleSet, text, { hmacKey })
    t.same(r.findings.map((f) => f.digest), [digest(number)], text)
    t.ok(r.text.startsWith(text.slice(0, text.indexOf(number))), `the words before ${number} stay`)
  }
  for (const text of ['reach Ann at 867-5309', 'order number 4155552671', 'Ann 612 34 56 78', 'the call took 12.5 seconds',
    'call 3 times', 'phone model 1234567', 'fn.call(this, 2147483648)', 'dial(2125550147)', 'smartphone sales 612 345 678']) {
    t.same(phoneFindings(text), [], text)
  }
})

t.test('versions, dates, times, ids, prices, ports, dumps, ISBNs, UUIDs, long runs and coordinates are no phones', async (t) => {
  const negatives = [
    'upgrade to 1.2.3', 'node v10.15.3', 'build v2.1.1.108', 'Chrome 120.0.6099.109', 'version 0.12.3 and 0.10.24',
    'due 2024-01-15', 'on 15.01.2024', 'on 01/15/2024', 'born 01.02.1985', 'from 01.01.2024 to 31.12.2024', '15/01/2024 09:30',
    'log 2024-01-15 12:30:45,123', 'at 12:30:45', 'between 2019-2024',
    'order 4155552671', 'Invoice INV-2024-000123', 'user_id=1234567890', 'pid 123456', 'sku 0012-3456-7890', 'the id is 0123456789',
    'price $1,299.00', '€ 49,90', 'costs 1 234 567 €', 'up 12.5%', 'budget 250 000 000 EUR', 'delta -0.0012',
    'localhost:8080', 'ports 5432 and 6379', '<Buffer 01 02 03 04 05 06 07 08>', 'dump: 00 00 00 00 00 00 00 28 13 de 02 00 00 00 00 05 00 00',
    '0x7fff5fbff8c8', 'chmod 0755 0644 0600', 'octal 0300.0250.01.01',
    'ISBN 978-3-16-148410-0', 'ISBN 0-306-40615-2', 'ISSN 0317-8471', 'uuid 123e4567-e89b-12d3-a456-426614174000',
    '12345678901234567890', 'unix 1715953530', 'ms 1715953530123', '2147483647 and 4294967295',
    'Paris 48.8566, 2.3522', 'Sydney -33.8688, 151.2093', 'lat=52.520008&lon=13.404954',
    'pages 123-4567', 'between 250-1000 rows', 'ZIP 94105-1234', 'resolution 1920x1080', 'score +5 in 10 minutes',
    'offset +0530 from UTC', 'times 10 20 30 40 50 60 70', 'weights 0.25 0.5 0.75 1.0', 'C++ 17', 'growth +12.5%'
  ]
  for (const text of negatives) t.same(phoneFindings(text), [], text)
})

t.test('a phone number inside a longer number is refused', async (t) => {
  for (const text of ['id 7-415-555-2671', 'id 415-555-2671-3', 'ref 4-020-7946-0958', 'ref 020-7946-0958-12', 'a 1234 020 7946 0958']) {
    t.same(phoneFindings(text), [], text)
  }
})
