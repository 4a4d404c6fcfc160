import t from 'tap'
import { injectionGroups } from '../../bench/eval-sets/injection.js'
import { piiGroups } from '../../bench/eval-sets/pii.js'
import { secretGroups } from '../../bench/eval-sets/secrets.js'
import { toxicityGroups } from '../../bench/eval-sets/toxicity.js'
import type { EvalGroup } from '../../bench/eval-sets/types.js'

// Independent of src/rules/validators.ts on purpose: the fixtures must be
// right by the published algorithms, not by the code they evaluate.

function luhn (digits: string): boolean {
  let sum = 0
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i])
    if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9 }
    sum += d
  }
  return sum % 10 === 0
}

function mod97 (iban: string): number {
  const s = (iban.slice(4) + iban.slice(0, 4)).toUpperCase()
  let r = 0
  for (const c of s) {
    const v = Number.parseInt(c, 36)
    r = v > 9 ? (r * 100 + v) % 97 : (r * 10 + v) % 97
  }
  return r
}

// SWIFT IBAN registry lengths of the countries the set uses.
const ibanLength: Record<string, number> = {
  AT: 20,
  AE: 23,
  AZ: 28,
  BE: 16,
  BG: 22,
  BR: 29,
  CH: 21,
  CY: 28,
  CZ: 24,
  DE: 22,
  DK: 18,
  EE: 20,
  EG: 29,
  ES: 24,
  FI: 18,
  FR: 27,
  GB: 22,
  GE: 22,
  GR: 27,
  HR: 21,
  HU: 28,
  IE: 22,
  IL: 23,
  IS: 26,
  IT: 27,
  JO: 30,
  KW: 30,
  KZ: 20,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  MC: 27,
  MT: 31,
  NL: 18,
  NO: 15,
  PK: 24,
  PL: 28,
  PT: 25,
  QA: 29,
  RO: 24,
  RS: 22,
  SA: 24,
  SE: 24,
  SI: 19,
  SK: 24,
  TN: 24,
  TR: 26,
  UA: 29,
  XK: 20
}

const group = (id: string): EvalGroup => {
  const g = piiGroups.find((x) => x.id === id)
  if (g === undefined) throw new Error(`no group ${id}`)
  return g
}

t.test('every value occurs in its text, and group ids are unique', async (t) => {
  const all = [...piiGroups, ...secretGroups, ...injectionGroups, ...toxicityGroups]
  t.equal(new Set(all.map((g) => g.id)).size, all.length)
  for (const g of all) {
    for (const item of [...g.positives, ...g.negatives]) {
      if (item.value !== undefined) t.ok(item.text.includes(item.value), `${g.id}: ${item.value.slice(0, 40)}`)
    }
    t.ok(g.positives.every((p) => p.value !== undefined || p.accept !== undefined), `${g.id}: positives name their value`)
  }
})

t.test('card positives pass Luhn with a length their brand issues', async (t) => {
  for (const p of group('pii:card').positives) {
    const digits = (p.value ?? '').replace(/[ -]/g, '')
    t.ok(luhn(digits), `${p.tag ?? ''} ${p.value ?? ''} passes Luhn`)
    t.ok(digits.length >= 12 && digits.length <= 19, `${p.value ?? ''} has 12-19 digits`)
  }
  const failing = group('pii:card').negatives.find((n) => n.tag === undefined && n.text.includes('fails the Luhn'))
  t.notOk(luhn((failing?.value ?? '').replace(/ /g, '')), 'the Luhn near miss fails Luhn')
})

t.test('IBAN positives have their country\'s length and valid check digits', async (t) => {
  for (const p of group('pii:iban').positives) {
    const iban = (p.value ?? '').replace(/ /g, '')
    const cc = iban.slice(0, 2).toUpperCase()
    t.equal(iban.length, ibanLength[cc], `${p.value ?? ''} has the ${cc} length`)
    t.equal(mod97(iban), 1, `${p.value ?? ''} passes MOD 97-10`)
  }
  const countries = new Set(group('pii:iban').positives.map((p) => (p.value ?? '').slice(0, 2)))
  t.ok([...countries].filter((c) => c === c.toUpperCase()).length >= 20, 'at least 20 countries in upper case')
  t.ok([...countries].filter((c) => c === c.toLowerCase()).length >= 20, 'at least 20 countries in lower case')
})

t.test('SSN positives avoid the ranges never issued', async (t) => {
  for (const p of group('pii:ssn').positives) {
    const digits = (p.value ?? '').replace(/[ -]/g, '')
    const area = Number(digits.slice(0, 3))
    t.ok(area !== 0 && area !== 666 && area < 900, `${p.value ?? ''} area`)
    t.not(digits.slice(3, 5), '00')
    t.not(digits.slice(5), '0000')
  }
})

t.test('every secret provider group has a bare positive and a near miss', async (t) => {
  for (const g of secretGroups.filter((x) => x.summary === 'provider-secret')) {
    t.ok(g.positives.some((p) => p.tag === 'bare'), `${g.id} has a positive with no keyword nearby`)
    t.ok(g.negatives.length > 0, `${g.id} has a negative`)
  }
})
