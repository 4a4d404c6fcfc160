/**
 * @module test/scanner/default-rules.property
 * Property tests of the streaming scanner with the SHIPPED rules (rules/*.yaml),
 * on generated texts: prose, Unicode (accents, CJK, emoji, arbitrary code
 * points), code blocks and realistic sensitive values, fed in random pieces —
 * also inside surrogate pairs.
 *
 * 1. Streaming changes nothing: output, findings and cut equal `scanText`.
 * 2. No value of a redact/cut rule survives in the streamed output.
 * 3. Text without findings comes out identical, code unit for code unit.
 *
 * fast-check picks a new seed each run; a failure prints the seed and the
 * shrunk counterexample (replay with `{ seed, path }`). `numRuns` is kept
 * moderate: the rules take seconds to load and each run scans kilobytes
 * several times, and the file must stay well under a minute on 2 loaded cores.
 */
import t from 'tap'
import type { Test } from 'tap'
import fc from 'fast-check'
import { deepStrictEqual, ok, strictEqual } from 'node:assert'
import { defaultRulesDir, loadRuleSet } from '../../src/rules/load-rules.js'
import { createScanner } from '../../src/scanner/create-scanner.js'
import { scanText } from '../../src/scanner/scan-text.js'
import type { Finding, ScanResult } from '../../src/scanner/types.js'
import { feedPieces } from './scan-helpers.js'
import { prose, sensitiveValue } from '../fixtures/sensitive-values.js'
import type { SensitiveValue } from '../fixtures/sensitive-values.js'
import { tokenize } from '../stream/replay.js'

const hmacKey = 'sluice-default-rules-property'
const ruleSet = await loadRuleSet(defaultRulesDir())
const actionOf = new Map(ruleSet.rules.map((r) => [r.id, r.action]))

// Texts ------------------------------------------------------------------------

/** Unicode the prose fixture has little of: whole words, and arbitrary code points. */
const unicodeRun: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('Ærøskøbing', 'Łódź', 'Ångström', 'İstanbul', 'Ελληνικά', 'Привет', 'עברית', 'العربية', 'हिन्दी',
    '中文字符', '日本語のテキスト', '한국어', '𠜎𠜱𠝹𠱓', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', '🧑‍💻', '👩🏾‍🚀', '🇩🇪🇯🇵', '😀😃😄'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 12 })
)

const codeBlock: fc.Arbitrary<string> = fc.constantFrom(
  '```ts\nexport function add (a: number, b: number): number { return a + b }\n```',
  '```json\n{ "id": 42, "tags": ["a", "b"], "ok": true }\n```',
  '```sql\nSELECT id, name FROM users WHERE created_at > now() - interval \'1 day\';\n```',
  '    indented(code) { return [1, 2, 3].map((x) => x * 2) }',
  '`const x = 1`'
)

const filler: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: prose, weight: 4 },
  { arbitrary: unicodeRun, weight: 2 },
  { arbitrary: codeBlock, weight: 1 }
)

/** How a value sits in the text: between spaces, on its own line, in a code block. */
const placement = fc.constantFrom(
  (v: string) => ` ${v} `,
  (v: string) => ` ${v} `,
  (v: string) => `\n${v}\n`,
  (v: string) => `\n\`\`\`\n${v}\n\`\`\`\n`
)

interface Mixed {
  text: string
  values: SensitiveValue[]
  /**
   * The same text without the values. A value that also occurs here (a
   * single tag character is part of the Scotland flag) cannot be told apart
   * from legitimate text, so property 2 does not look for it.
   */
  plain: string
}

/** Fillers with (sometimes) a sensitive value after each one. */
const mixed: fc.Arbitrary<Mixed> = fc.array(
  fc.tuple(filler, fc.option(fc.tuple(sensitiveValue, placement), { nil: undefined, freq: 2 })),
  { minLength: 1, maxLength: 6 }
).map((parts) => {
  let text = ''
  let plain = ''
  const values: SensitiveValue[] = []
  for (const [f, v] of parts) {
    text += f
    plain += f
    // A filler that renders with a number at its end (`㊱` reads as "36")
    // would make a spaced value part of a longer number, which the rules
    // rightly refuse ("36 302 145 669" is no SIN): a word keeps them apart.
    if (v !== undefined && /[0-9][\s\u200b-\u200d\u2060\ufeff]*$/.test(f.normalize('NFKC'))) {
      text += ' and'
      plain += ' and'
    }
    if (v === undefined) {
      text += ' '
      plain += ' '
    } else {
      text += v[1](v[0].value)
      plain += v[1]('')
      values.push(v[0])
    }
  }
  return { text, values, plain }
})

// Splits -------------------------------------------------------------------------

/** Where to cut a text into chunks: random points, fixed sizes, or inside every surrogate pair. */
type SplitPlan =
  | { kind: 'points', seeds: number[] }
  | { kind: 'size', size: number }
  | { kind: 'surrogates' }

const splitPlan: fc.Arbitrary<SplitPlan> = fc.oneof(
  { arbitrary: fc.array(fc.nat(), { minLength: 1, maxLength: 40 }).map((seeds): SplitPlan => ({ kind: 'points', seeds })), weight: 4 },
  { arbitrary: fc.integer({ min: 1, max: 7 }).map((size): SplitPlan => ({ kind: 'size', size })), weight: 2 },
  { arbitrary: fc.constant<SplitPlan>({ kind: 'surrogates' }), weight: 1 }
)

function isHigh (code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff
}

function chunks (text: string, plan: SplitPlan): string[] {
  let cuts: number[]
  switch (plan.kind) {
    case 'points':
      cuts = [...new Set(plan.seeds.map((s) => s % (text.length + 1)))].sort((a, b) => a - b)
      break
    case 'size':
      cuts = []
      for (let i = plan.size; i < text.length; i += plan.size) cuts.push(i)
      break
    case 'surrogates':
      cuts = []
      for (let i = 0; i < text.length - 1; i++) if (isHigh(text.charCodeAt(i))) cuts.push(i + 1)
      break
  }
  return tokenize(text, cuts)
}

// Scanning -----------------------------------------------------------------------

function streamed (text: string, plan: SplitPlan): ScanResult {
  return feedPieces(createScanner(ruleSet, { hmacKey }), chunks(text, plan))
}

function sorted (findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => a.start - b.start || (a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0))
}

/** Runs a property; one tap assertion, with fast-check's report (seed, counterexample) on failure. */
function check<T> (t: Test, arb: fc.Arbitrary<T>, numRuns: number, predicate: (value: T) => void): void {
  const details = fc.check(fc.property(arb, predicate), { numRuns })
  const report = details.failed ? `${String(details.errorInstance)}\n${fc.defaultReportMessage(details) ?? ''}` : `${numRuns} runs`
  t.notOk(details.failed, report)
}

t.test('streamed output and findings equal whole-text scanning for any split', async (t) => {
  check(t, fc.tuple(fc.oneof(mixed, filler.map((text): Mixed => ({ text, values: [], plain: text }))), splitPlan), 300, ([m, plan]) => {
    const whole = scanText(ruleSet, m.text, { hmacKey, sliceChars: Infinity })
    const s = streamed(m.text, plan)
    strictEqual(s.text, whole.text, 'output text')
    deepStrictEqual(sorted(s.findings), sorted(whole.findings), 'findings')
    deepStrictEqual(s.cut, whole.cut, 'cut')
  })
})

t.test('long texts: scanning in 512-character slices (the default) equals one unsliced scan', async (t) => {
  // A write longer than `sliceChars` is scanned piece by piece; the
  // reference here scans it in one piece, however long.
  const long = fc.array(mixed, { minLength: 4, maxLength: 12 }).map((parts) => parts.map((m) => m.text).join('\n'))
  check(t, fc.tuple(long, fc.integer({ min: 1, max: 700 })), 40, ([text, slice]) => {
    const whole = scanText(ruleSet, text, { hmacKey, sliceChars: Infinity })
    for (const sliced of [scanText(ruleSet, text, { hmacKey }), scanText(ruleSet, text, { hmacKey, sliceChars: slice })]) {
      strictEqual(sliced.text, whole.text, 'output text')
      deepStrictEqual(sorted(sliced.findings), sorted(whole.findings), 'findings')
      deepStrictEqual(sliced.cut, whole.cut, 'cut')
    }
  })
})

t.test('no value of a redact or cut rule survives in the streamed output', async (t) => {
  const withValues = mixed.filter((m) => m.values.length > 0)
  check(t, fc.tuple(withValues, splitPlan), 300, ([m, plan]) => {
    const s = streamed(m.text, plan)
    ok(s.findings.length > 0, 'a text with sensitive values yields findings')
    for (const v of m.values) {
      const action = actionOf.get(v.ruleId)
      ok(action === 'redact' || action === 'cut', `${v.ruleId} is a shipped redact/cut rule`)
      const secret = v.finding ?? v.value
      if (m.plain.includes(secret)) continue
      ok(!s.text.includes(secret), `the value of ${v.ruleId} (${JSON.stringify(secret)}) survived`)
    }
  })
})

t.test('prose comes out identical, with no findings, in any split', async (t) => {
  check(t, fc.tuple(prose, splitPlan), 500, ([text, plan]) => {
    const s = streamed(text, plan)
    deepStrictEqual(s.findings, [], 'no findings')
    strictEqual(s.cut, undefined, 'no cut')
    strictEqual(s.text, text, 'identical output')
  })
})

t.test('any text without findings comes out identical in any split', async (t) => {
  const anyText = fc.array(fc.oneof(filler, fc.string({ unit: 'binary', maxLength: 40 })), { minLength: 1, maxLength: 6 })
    .map((parts) => parts.join(' '))
  check(t, fc.tuple(anyText, splitPlan), 500, ([text, plan]) => {
    const s = streamed(text, plan)
    if (s.findings.length === 0) {
      strictEqual(s.cut, undefined, 'no cut without a finding')
      strictEqual(s.text, text, 'identical output')
    } else {
      ok(s.text !== text || s.findings.every((f) => f.action === 'flag'), 'a redact/cut finding changes the text')
    }
  })
})
