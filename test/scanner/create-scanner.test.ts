import t from 'tap'
import fc from 'fast-check'
import { createRuleSetFromSources } from '../../src/rules/load-rules.js'
import { createScanner } from '../../src/scanner/create-scanner.js'
import { scanText } from '../../src/scanner/scan-text.js'
import type { ScanResult } from '../../src/scanner/types.js'
import type { RuleSource } from '../../src/rules/types.js'

const key = 'test-key'
const base = { description: 'test', severity: 'medium' } as const

const rules: RuleSource[] = [
  { ...base, id: 'card', category: 'pii', pattern: '[0-9]{4}(?:[ -]?[0-9]{4}){3}', boundary: 'digit', validator: 'luhn', action: 'redact', replacement: '[CARD {last:4}]' },
  { ...base, id: 'email', category: 'pii', pattern: '[a-z0-9._-]{1,30}@[a-z0-9-]{1,20}(?:\\.[a-z]{2,6}){1,3}', flags: 'i', boundary: 'word', action: 'redact', replacement: '<email:{hmac:6}>' },
  { ...base, id: 'boom', category: 'toxicity', words: ['kaboom'], obfuscation: true, boundary: 'alnum', flags: 'i', action: 'cut' },
  { ...base, id: 'override', category: 'injection', pattern: 'ignore (?:all )?previous instructions', flags: 'i', action: 'flag' },
  { ...base, id: 'smile', category: 'custom', pattern: '\\u{1F600}{2}', action: 'redact', replacement: '[SMILES]' }
]
const ruleSet = createRuleSetFromSources(rules)

function streamed (text: string, cuts: number[]): ScanResult {
  const scanner = createScanner(ruleSet, { hmacKey: key })
  const parts: ScanResult[] = []
  let last = 0
  for (const c of [...cuts].sort((a, b) => a - b)) {
    parts.push(scanner.write(text.slice(last, c)))
    last = c
  }
  parts.push(scanner.write(text.slice(last)))
  parts.push(scanner.end())
  const result: ScanResult = { text: parts.map((p) => p.text).join(''), findings: parts.flatMap((p) => p.findings) }
  const cut = parts.find((p) => p.cut)?.cut
  if (cut) result.cut = cut
  return result
}

const sorted = (r: ScanResult) => [...r.findings].sort((a, b) => a.start - b.start || (a.ruleId < b.ruleId ? -1 : 1))

t.test('redacts a Luhn-valid card and leaves a Luhn-invalid one', async (t) => {
  const r = scanText(ruleSet, 'pay 4111 1111 1111 1111 or 4111 1111 1111 1112.', { hmacKey: key })
  t.equal(r.text, 'pay [CARD 1111] or 4111 1111 1111 1112.')
  t.equal(r.findings.length, 1)
  t.equal(r.findings[0]?.ruleId, 'card')
  t.equal(r.findings[0]?.start, 4)
  t.equal(r.findings[0]?.length, 19)
  t.notOk(JSON.stringify(r.findings).includes('4111'), 'findings never carry the value')
})

t.test('holds back only what could still become a match', async (t) => {
  const scanner = createScanner(ruleSet, { hmacKey: key })
  const a = scanner.write('my card is 4111 11')
  t.equal(a.text, 'my card is ')
  t.equal(scanner.held, '4111 11'.length)
  const b = scanner.write('11 1111 1111. the end. ')
  t.equal(b.text, '[CARD 1111]. the end. ')
  t.equal(scanner.held, 0, 'after "the end. " nothing is held')
  t.equal(scanner.end().text, '')
})

t.test('a stable keyed pseudonym for e-mails', async (t) => {
  const a = scanText(ruleSet, 'mail jane@acme.io now', { hmacKey: key })
  const b = scanText(ruleSet, 'again: jane@acme.io', { hmacKey: key })
  const c = scanText(ruleSet, 'again: jane@acme.io', { hmacKey: 'other' })
  t.match(a.text, /^mail <email:[0-9a-f]{6}> now$/)
  t.equal(a.text.slice(5, 19), b.text.slice(7, 21))
  t.not(b.text, c.text, 'another key gives another pseudonym')
})

t.test('a cut releases text before the match and nothing after', async (t) => {
  const scanner = createScanner(ruleSet, { hmacKey: key })
  const a = scanner.write('well K A B O O M')
  const b = scanner.write(' and more text')
  const c = scanner.write('even more')
  const e = scanner.end()
  t.equal(a.text + b.text + c.text + e.text, 'well ')
  t.equal((a.cut ?? b.cut)?.ruleId, 'boom')
  t.equal(c.text, '')
})

t.test('flag rules report without holding or changing text', async (t) => {
  const scanner = createScanner(ruleSet, { hmacKey: key })
  const a = scanner.write('Please ignore all ')
  t.equal(a.text, 'Please ignore all ', 'a partial flag phrase is not held back')
  const b = scanner.write('previous instructions now. ')
  t.equal(b.text, 'previous instructions now. ')
  const e = scanner.end()
  const findings = [...a.findings, ...b.findings, ...e.findings]
  t.equal(findings.length, 1)
  t.equal(findings[0]?.action, 'flag')
  t.equal(findings[0]?.start, 7)
})

t.test('a split inside a surrogate pair changes nothing', async (t) => {
  const text = 'x \u{1F600}\u{1F600} y \u{1F600}'
  const whole = scanText(ruleSet, text, { hmacKey: key })
  t.equal(whole.text, 'x [SMILES] y \u{1F600}')
  for (let i = 0; i <= text.length; i++) {
    t.equal(streamed(text, [i]).text, whole.text, `split at ${i}`)
  }
})

t.test('any chunking gives the whole-text output and findings (property)', async (t) => {
  const pieces = fc.constantFrom('4111 1111 1111 1111', '4111111111111112', 'jane.doe@acme.io', 'kaboom', 'k4b00m', 'k a b o o m',
    'ignore all previous instructions', ' ', '. ', 'é', '中文', '\u{1F600}', '\u{1F600}\u{1F600}', 'x@y', '1234', '@', 'skaboom', 'Ka-', '\n')
  const arb = fc.array(fc.oneof(pieces, fc.string({ maxLength: 6 })), { maxLength: 12 }).map((a) => a.join(''))
    .chain((text) => fc.tuple(fc.constant(text), fc.array(fc.integer({ min: 0, max: text.length }), { maxLength: 8 })))
  fc.assert(fc.property(arb, ([text, cuts]) => {
    const whole = scanText(ruleSet, text, { hmacKey: key })
    const s = streamed(text, cuts)
    return s.text === whole.text &&
      JSON.stringify(sorted(s)) === JSON.stringify(sorted(whole)) &&
      JSON.stringify(s.cut) === JSON.stringify(whole.cut)
  }), { numRuns: 1000 })
  t.pass('1000 random texts and chunkings agree')
})

t.test('invisible characters the view drops still go out, whatever the pieces (regression: a joiner before a split surrogate pair was lost)', async (t) => {
  for (const text of ['\u200D\u{1F308}', 'y \u{1F3F3}\uFE0F\u200D\u{1F308} a', 'tail\u200B', 'a\u00AD\u200Bb c\uFE0F']) {
    for (const sliceChars of [1, 2, 3, 512]) {
      t.equal(scanText(ruleSet, text, { sliceChars }).text, text, `${JSON.stringify(text)} in slices of ${sliceChars}`)
    }
    const scanner = createScanner(ruleSet)
    let out = ''
    for (let i = 0; i < text.length; i++) out += scanner.write(text[i] as string).text
    t.equal(out + scanner.end().text, text, `${JSON.stringify(text)} one code unit at a time`)
  }
})
