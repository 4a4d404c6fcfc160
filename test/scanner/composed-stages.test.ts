/**
 * @module test/scanner/composed-stages
 * A rule set with `view: raw` rules runs two stages in a row: the raw stage
 * first (it sees invisible characters), the normalized view on what it
 * releases. All findings are in input offsets, in input order; a finding of
 * the first stage is reported once the second has passed it, and never when
 * the second cut before it; a cut in either stage ends the stream. Streamed
 * in any pieces, the pair says what a whole-text scan says.
 */
import t from 'tap'
import fc from 'fast-check'
import { createRuleSetFromSources } from '../../src/rules/load-rules.js'
import type { RuleSource } from '../../src/rules/types.js'
import { createScanner } from '../../src/scanner/create-scanner.js'
import { scanText } from '../../src/scanner/scan-text.js'
import type { ScanResult } from '../../src/scanner/types.js'
import { comparable, feedPieces } from './scan-helpers.js'

const base = { category: 'test', description: 'a test rule' }
const rules: RuleSource[] = [
  { ...base, id: 'raw.zw', view: 'raw', action: 'redact', pattern: '[\\u200B-\\u200D]{2,8}', replacement: '' },
  { ...base, id: 'raw.cut', view: 'raw', action: 'cut', pattern: 'RAWCUT' },
  { ...base, id: 'raw.flag', view: 'raw', action: 'flag', pattern: 'rawflag' },
  { ...base, id: 'n.secret', action: 'redact', pattern: 'secret-[0-9]{3}', replacement: '[S]' },
  { ...base, id: 'n.boom', action: 'cut', words: ['kaboom'], obfuscation: true, flags: 'i', boundary: 'alnum' },
  { ...base, id: 'n.flag', action: 'flag', pattern: 'flagme' }
]
const set = createRuleSetFromSources(rules)
const key = 'composed-stages'

const summary = (r: ScanResult): string => r.findings.map((f) => `${f.ruleId}@${f.start}`).join(' ')

/** `text` cut at `cuts` (offsets, any order), scanned as a stream. */
function streamed (text: string, cuts: readonly number[]): ScanResult {
  const at = [...new Set(cuts.map((c) => Math.min(c, text.length)))].sort((a, b) => a - b)
  const pieces: string[] = []
  let last = 0
  for (const c of at) {
    pieces.push(text.slice(last, c))
    last = c
  }
  pieces.push(text.slice(last))
  return feedPieces(createScanner(set, { hmacKey: key }), pieces)
}

t.test('the second stage\'s findings are mapped back through the first stage\'s redactions', async (t) => {
  const text = 'a\u200b\u200bsecret-123 flagme rawflag'
  const r = scanText(set, text, { hmacKey: key })
  t.equal(r.text, 'a[S] flagme rawflag')
  t.equal(summary(r), 'raw.zw@1 n.secret@3 n.flag@14 raw.flag@21', 'input offsets, in input order')
  t.equal(r.findings.find((f) => f.ruleId === 'n.secret')?.length, 10)
})

t.test('a cut in the first stage ends the stream after what the second released before it', async (t) => {
  const text = 'hello secret-123 RAWCUT tail secret-456'
  const r = scanText(set, text, { hmacKey: key })
  t.equal(r.text, 'hello [S] ')
  t.equal(r.cut?.ruleId, 'raw.cut')
  t.equal(summary(r), 'n.secret@6 raw.cut@17', 'nothing after the cut')
  const scanner = createScanner(set, { hmacKey: key })
  const first = scanner.write('hello secret-123 RAW')
  const second = scanner.write('CUT tail')
  t.equal(first.text + second.text, 'hello [S] ')
  t.equal(scanner.cut?.ruleId, 'raw.cut')
  t.same(scanner.write('more secret-789'), { text: '', findings: [] }, 'a write after the cut gives nothing')
  t.same(scanner.end('and more'), { text: '', findings: [] }, 'nor does the end')
})

t.test('a cut in the second stage drops the first stage\'s findings after it', async (t) => {
  const text = 'kaboom \u200b\u200b secret-111'
  const r = scanText(set, text, { hmacKey: key })
  t.equal(r.text, '')
  t.equal(summary(r), 'n.boom@0')
  t.equal(r.cut?.ruleId, 'n.boom')
  const s = streamed(text, [3, 8])
  t.equal(s.cut?.ruleId, 'n.boom')
  t.same(comparable(s.findings), comparable(r.findings))
})

t.test('a first-stage finding waits until the second stage has passed it', async (t) => {
  const scanner = createScanner(set, { hmacKey: key })
  // "secr" may still become a redaction: the second stage holds it, so the
  // raw finding after it waits too; then both come, in input order.
  const a = scanner.write('secr\u200b\u200b')
  t.equal(a.findings.length, 0)
  t.equal(a.text, '')
  t.ok(scanner.held >= 4, `held ${scanner.held}: both stages together`)
  const b = scanner.write('et-123 ok')
  const end = scanner.end()
  t.equal(summary({ text: '', findings: [...a.findings, ...b.findings, ...end.findings] }), 'n.secret@0 raw.zw@4')
  t.equal(a.text + b.text + end.text, '[S] ok', 'the invisible pair no longer splits the secret')
  t.equal(scanner.charsIn, 'secr\u200b\u200bet-123 ok'.length)
  t.equal(scanner.charsOut, '[S] ok'.length)
})

t.test('stages with flag rules only pass the text through and report their flags', async (t) => {
  const flagsOnly = createRuleSetFromSources([
    { ...base, id: 'raw.flag', view: 'raw', action: 'flag', pattern: 'raw\u200bflag' },
    { ...base, id: 'n.flag', action: 'flag', pattern: 'café' }
  ])
  const text = 'un café, raw\u200bflag 😀'
  const whole = scanText(flagsOnly, text, { hmacKey: key })
  t.equal(whole.text, text, 'nothing changed')
  t.equal(summary(whole), 'n.flag@3 raw.flag@9')
  const s = feedPieces(createScanner(flagsOnly, { hmacKey: key }), ['un ca', 'fé, raw', '\u200bfl', 'ag \ud83d', '\ude00'])
  t.equal(s.text, text)
  t.same(comparable(s.findings), comparable(whole.findings))
})

t.test('in any pieces, the two stages say what a whole-text scan says', async () => {
  const piece = fc.constantFrom('secret-', '123', ' ', '\u200b', '\u200c', 'flagme', 'rawflag', 'RAW', 'CUT', 'ka', 'boom', 'x', '😀')
  fc.assert(fc.property(fc.array(piece, { maxLength: 24 }), fc.array(fc.nat({ max: 200 }), { maxLength: 6 }), (parts, cuts) => {
    const text = parts.join('')
    const whole = scanText(set, text, { hmacKey: key })
    const s = streamed(text, cuts)
    return s.text === whole.text &&
      JSON.stringify(comparable(s.findings)) === JSON.stringify(comparable(whole.findings)) &&
      s.cut?.ruleId === whole.cut?.ruleId
  }), { numRuns: 400 })
})
