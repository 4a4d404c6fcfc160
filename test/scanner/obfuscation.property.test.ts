/**
 * @module test/scanner/obfuscation.property
 * The scanner matches on a normalized view of the text — compatibility
 * forms folded (NFKC per code point), invisible format characters removed,
 * HTML character references and markdown backslash escapes decoded — and
 * maps each match back onto the original characters. These tests pin that
 * down with the SHIPPED rules, on values disguised the ways a model (or an
 * injected instruction) can disguise them without changing what a reader
 * sees (test/scanner/obfuscate.ts):
 *
 * 1. No disguised value survives in a form a client would show: the output,
 *    read as a client renders it (references and escapes decoded, invisible
 *    characters removed, NFKC), contains neither the value nor its digits.
 * 2. The redaction covers exactly the disguised characters: the prose before
 *    and after comes out byte for byte, and the finding spans the whole
 *    disguised value, invisible characters included, in offsets of the input
 *    as written (Finding.start is documented so). Emphasis markers
 *    (`_`, `__`, `*`, `**`) around the value are generated as markup outside
 *    it; the finding may include them or not (`_` is a legal character of an
 *    e-mail's local part and an OpenAI key), but never the prose.
 * 3. A disguised value is rendered as its plain spelling would be: same
 *    output text (pseudonym, mask, marker), same digest.
 * 4. Any chunking — inside surrogate pairs, inside `&#64;`, between a
 *    backslash and its character — gives the whole-text output and findings.
 * 5. Normalization never changes text it does not redact: prose with
 *    references, escapes, fullwidth text and lone invisible characters, and
 *    the READMEs of installed packages, come out unchanged.
 *
 * fast-check picks a new seed each run; a failure prints the seed and the
 * shrunk counterexample (replay with `{ seed, path }`). `numRuns` is kept
 * moderate: the rules take seconds to load, and the file must stay well
 * under a minute on two loaded cores.
 */
import t from 'tap'
import type { Test } from 'tap'
import fc from 'fast-check'
import { deepStrictEqual, ok, strictEqual } from 'node:assert'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { defaultRulesDir, loadRuleSet } from '../../src/rules/load-rules.js'
import { createScanner } from '../../src/scanner/create-scanner.js'
import { scanText } from '../../src/scanner/scan-text.js'
import type { Finding, ScanResult } from '../../src/scanner/types.js'
import { tokenize } from '../stream/replay.js'
import { kValueKinds, obfuscatedCase, readerView, seams } from './obfuscate.js'
import { comparable, feedPieces } from './scan-helpers.js'
import type { ObfuscatedCase, ValueKind } from './obfuscate.js'

const hmacKey = 'sluice-obfuscation-property'
const ruleSet = await loadRuleSet(defaultRulesDir())
const repoRoot = fileURLToPath(new URL('../../', import.meta.url))

// Scanning -----------------------------------------------------------------------

function scan (text: string): ScanResult {
  return scanText(ruleSet, text, { hmacKey, sliceChars: Infinity })
}

function streamed (pieces: readonly string[]): ScanResult {
  return feedPieces(createScanner(ruleSet, { hmacKey }), pieces)
}

function changing (findings: readonly Finding[]): Finding[] {
  return findings.filter((f) => f.action !== 'flag')
}

/** Runs a property; one tap assertion, with fast-check's report (seed, counterexample) on failure. */
function check<T> (t: Test, name: string, arb: fc.Arbitrary<T>, numRuns: number, predicate: (value: T) => void): void {
  const details = fc.check(fc.property(arb, predicate), { numRuns })
  const report = details.failed ? `${name}: ${String(details.errorInstance)}\n${fc.defaultReportMessage(details) ?? ''}` : `${name}: ${numRuns} runs`
  t.notOk(details.failed, report)
}

/**
 * Runs a property once per kind of value, so that a kind the scanner does
 * not handle yet (shrinking always finds the simplest failure) cannot hide
 * the failures of the others.
 */
function checkEachKind<T> (t: Test, name: string, arb: (kind: ValueKind) => fc.Arbitrary<T>, numRuns: number, predicate: (value: T) => void): void {
  for (const kind of kValueKinds) check(t, `${name} [${kind}]`, arb(kind), numRuns, predicate)
}

function show (s: string): string {
  return JSON.stringify(s.length > 160 ? s.slice(0, 160) + '…' : s)
}

// Splits -------------------------------------------------------------------------

/** Where to cut a text: random points, every seam (plus random points), some seams, or fixed sizes. */
type SplitPlan =
  | { kind: 'points', seeds: number[] }
  | { kind: 'allSeams', seeds: number[] }
  | { kind: 'someSeams', seeds: number[] }
  | { kind: 'size', size: number }

const splitPlan: fc.Arbitrary<SplitPlan> = fc.oneof(
  fc.array(fc.nat(), { minLength: 1, maxLength: 30 }).map((seeds): SplitPlan => ({ kind: 'points', seeds })),
  fc.array(fc.nat(), { maxLength: 10 }).map((seeds): SplitPlan => ({ kind: 'allSeams', seeds })),
  fc.array(fc.nat(), { minLength: 1, maxLength: 10 }).map((seeds): SplitPlan => ({ kind: 'someSeams', seeds })),
  fc.integer({ min: 1, max: 5 }).map((size): SplitPlan => ({ kind: 'size', size }))
)

function pieces (text: string, plan: SplitPlan): string[] {
  const at = seams(text)
  let cuts: number[]
  switch (plan.kind) {
    case 'points': cuts = plan.seeds.map((s) => s % (text.length + 1)); break
    case 'allSeams': cuts = [...at, ...plan.seeds.map((s) => s % (text.length + 1))]; break
    case 'someSeams': cuts = at.length === 0 ? [] : plan.seeds.map((s) => at[s % at.length] as number); break
    case 'size':
      cuts = []
      for (let i = plan.size; i < text.length; i += plan.size) cuts.push(i)
      break
  }
  return tokenize(text, cuts)
}

// Properties ---------------------------------------------------------------------

function describe (c: ObfuscatedCase): string {
  return `${c.value.kind} ${show(c.value.value)} as ${show(c.open + c.core + c.close)}`
}

t.test('no disguised value survives in the output, raw or as a client shows it', async (t) => {
  checkEachKind(t, 'no value survives', (k) => obfuscatedCase([k]), 80, (c) => {
    const out = scan(c.text).text
    const view = readerView(out)
    const digits = view.replace(/[^0-9]/g, '')
    ok(!out.includes(c.core), `the disguised span survived: ${describe(c)} -> ${show(out)}`)
    for (const form of c.value.forms) {
      const found = /^[0-9]+$/.test(form) ? digits.includes(form) : view.includes(form)
      ok(!found, `${show(form)} readable in ${show(view)} (${describe(c)})`)
    }
  })
})

t.test('the prose around a disguised value is released unchanged, and nothing in it is redacted', async (t) => {
  checkEachKind(t, 'prose kept', (k) => obfuscatedCase([k]), 80, (c) => {
    const r = scan(c.text)
    ok(r.text.startsWith(c.before), `prose before changed: ${show(r.text)} (${describe(c)})`)
    ok(r.text.endsWith(c.after), `prose after changed: ${show(r.text)} (${describe(c)})`)
    const spanStart = c.before.length
    const spanEnd = spanStart + c.open.length + c.core.length + c.close.length
    for (const f of changing(r.findings)) {
      ok(f.start >= spanStart && f.start + f.length <= spanEnd, `${f.ruleId} at ${f.start}+${f.length} reaches into the prose (${describe(c)})`)
    }
  })
})

t.test('the finding spans the whole disguised value, invisible characters included, in input offsets', async (t) => {
  checkEachKind(t, 'exact span', (k) => obfuscatedCase([k]), 80, (c) => {
    const r = scan(c.text)
    const spanStart = c.before.length
    const coreStart = spanStart + c.open.length
    const coreEnd = coreStart + c.core.length
    const spanEnd = coreEnd + c.close.length
    const hit = r.findings.find((f) => f.ruleId === c.value.ruleId)
    ok(hit !== undefined, `no ${c.value.ruleId} finding for ${describe(c)}: ${show(r.text)}`)
    ok(hit.start >= spanStart && hit.start <= coreStart, `finding starts at ${hit.start}, the value at ${coreStart} (${describe(c)})`)
    const end = hit.start + hit.length
    ok(end >= coreEnd && end <= spanEnd, `finding ends at ${end}, the value at ${coreEnd} (${describe(c)})`)
  })
})

t.test('a disguised value is rendered as its plain spelling would be, with the same digest', async (t) => {
  checkEachKind(t, 'rendered from the normalized value', (k) => obfuscatedCase([k]), 60, (c) => {
    const plain = scan(c.plainText)
    const disguised = scan(c.text)
    strictEqual(disguised.text, plain.text, `output of ${describe(c)}`)
    const want = plain.findings.find((f) => f.ruleId === c.value.ruleId)
    if (want === undefined) return // the plain spelling is not caught either: property 1 reports it
    const got = disguised.findings.find((f) => f.ruleId === c.value.ruleId)
    strictEqual(got?.digest, want.digest, `digest of ${describe(c)}`)
  })
})

t.test('streamed output and findings equal whole-text scanning for any split', async (t) => {
  checkEachKind(t, 'split invariance', (k) => fc.tuple(obfuscatedCase([k]), splitPlan), 80, ([c, plan]) => {
    const whole = scan(c.text)
    const s = streamed(pieces(c.text, plan))
    strictEqual(s.text, whole.text, `output text of ${describe(c)}`)
    deepStrictEqual(comparable(s.findings), comparable(whole.findings), `findings of ${describe(c)}`)
    deepStrictEqual(s.cut, whole.cut, 'cut')
  })
})

// Regressions: one per kind of disguise ----------------------------------------------

interface Regression {
  name: string
  input: string
  /** The exact output, when it does not depend on the key. */
  expected?: string
  /** The same text spelled plainly: the output must equal its output (a pseudonym depends on the key). */
  plain?: string
  /** What the plain spelling's output looks like (checks that `plain` is caught at all). */
  shape?: RegExp
  /** The finding that must cover the disguised span. */
  finding?: { ruleId: string, start: number, length: number }
}

const kOpenAiTail = 'Xp1AfWwO0KLFqHQEq4UYT3BlbkFJx9c74yr1SOV0IjgaNlPj'
const kSecretAws = '[SECRET:secret.aws_access_key_id]'

const kRegressions: Regression[] = [
  // Invisible characters inside the value.
  { name: 'a zero-width space inside an e-mail', input: 'mail jane\u200B.doe@acme-corp.com now', plain: 'mail jane.doe@acme-corp.com now', shape: /^mail \[email:[0-9a-f]{6}\] now$/, finding: { ruleId: 'pii.email', start: 5, length: 23 } },
  { name: 'a soft hyphen inside a card number', input: 'card 41\u00AD11 1111 1111 1111 ok', expected: 'card **** **** **** 1111 ok', finding: { ruleId: 'pii.credit_card', start: 5, length: 20 } },
  { name: 'a word joiner inside an AWS key id', input: 'key AKIA\u2060QWERTYUIOPASDFGH ok', expected: `key ${kSecretAws} ok`, finding: { ruleId: 'secret.aws_access_key_id', start: 4, length: 21 } },
  { name: 'a variation selector inside an SSN', input: 'ssn 123-45\uFE0F-6789 ok', expected: 'ssn [SSN] ok', finding: { ruleId: 'pii.us_ssn', start: 4, length: 12 } },
  { name: 'a right-to-left override inside an AWS key id', input: 'key AKIAQWER\u202ETYUIOPASDFGH ok', expected: `key ${kSecretAws} ok`, finding: { ruleId: 'secret.aws_access_key_id', start: 4, length: 21 } },
  { name: 'bidi isolates and a left-to-right mark inside an e-mail', input: 'mail jane\u2066.\u2069doe@acme\u200E-corp.com now', plain: 'mail jane.doe@acme-corp.com now', shape: /^mail \[email:[0-9a-f]{6}\] now$/, finding: { ruleId: 'pii.email', start: 5, length: 25 } },
  { name: 'a BOM and a Mongolian vowel separator inside an OpenAI key', input: `k sk-\uFEFFproj-${kOpenAiTail.slice(0, 20)}\u180E${kOpenAiTail.slice(20)} ok`, expected: 'k [SECRET:secret.openai_key] ok' },
  // Compatibility forms.
  { name: 'a fullwidth e-mail', input: 'mail ｊａｎｅ．ｄｏｅ＠ａｃｍｅ－ｃｏｒｐ．ｃｏｍ now', plain: 'mail jane.doe@acme-corp.com now', shape: /^mail \[email:[0-9a-f]{6}\] now$/, finding: { ruleId: 'pii.email', start: 5, length: 22 } },
  { name: 'a fullwidth at sign', input: 'mail jane.doe＠acme-corp.com now', plain: 'mail jane.doe@acme-corp.com now', shape: /^mail \[email:[0-9a-f]{6}\] now$/ },
  { name: 'fullwidth digits: the mask is rendered from the folded digits', input: 'card ４１１１ １１１１ １１１１ １１１１ ok', expected: 'card **** **** **** 1111 ok' },
  { name: 'a mathematical bold AWS key id', input: 'key 𝐀𝐊𝐈𝐀𝐐𝐖𝐄𝐑𝐓𝐘𝐔𝐈𝐎𝐏𝐀𝐒𝐃𝐅𝐆𝐇 ok', expected: `key ${kSecretAws} ok`, finding: { ruleId: 'secret.aws_access_key_id', start: 4, length: 40 } },
  { name: 'no-break spaces between card groups', input: 'card 4111\u00A01111\u00A01111\u00A01111 ok', expected: 'card **** **** **** 1111 ok' },
  { name: 'ideographic spaces between card groups', input: 'card 5555\u30005555\u30005555\u30004444 ok', expected: 'card **** **** **** 4444 ok' },
  // HTML character references.
  { name: 'a decimal reference for @', input: 'mail jane.doe&#64;acme-corp.com now', plain: 'mail jane.doe@acme-corp.com now', shape: /^mail \[email:[0-9a-f]{6}\] now$/, finding: { ruleId: 'pii.email', start: 5, length: 26 } },
  { name: 'a hex reference for @', input: 'mail jane.doe&#x40;acme-corp.com now', plain: 'mail jane.doe@acme-corp.com now', shape: /^mail \[email:[0-9a-f]{6}\] now$/ },
  { name: 'named references for @ . and -', input: 'mail jane&period;doe&commat;acme&hyphen;corp&period;com now', plain: 'mail jane.doe@acme-corp.com now', shape: /^mail \[email:[0-9a-f]{6}\] now$/ },
  { name: 'a named reference for _', input: 'mail jane&lowbar;doe@acme-corp.com now', plain: 'mail jane_doe@acme-corp.com now', shape: /^mail \[email:[0-9a-f]{6}\] now$/ },
  { name: 'numeric and named references for the dashes of an SSN', input: 'ssn 123&#45;45&dash;6789 ok', expected: 'ssn [SSN] ok', finding: { ruleId: 'pii.us_ssn', start: 4, length: 20 } },
  { name: 'references for the dashes of a card number', input: 'card 4111&#x2D;1111&#45;1111&hyphen;1111 ok', expected: 'card ****-****-****-1111 ok' },
  // Markdown backslash escapes.
  { name: 'escaped punctuation in an e-mail', input: 'mail jane\\.doe\\@acme\\-corp\\.com now', plain: 'mail jane.doe@acme-corp.com now', shape: /^mail \[email:[0-9a-f]{6}\] now$/, finding: { ruleId: 'pii.email', start: 5, length: 26 } },
  { name: 'an escaped underscore in an e-mail', input: 'mail jane\\_doe@acme-corp.com now', plain: 'mail jane_doe@acme-corp.com now', shape: /^mail \[email:[0-9a-f]{6}\] now$/ },
  { name: 'escaped dashes in a card number', input: 'card 4111\\-1111\\-1111\\-1111 ok', expected: 'card ****-****-****-1111 ok' },
  { name: 'escaped dashes in an SSN', input: 'ssn 123\\-45\\-6789 ok', expected: 'ssn [SSN] ok' },
  // Emphasis: `_` and `__` are a boundary, the markers stay.
  { name: 'strong emphasis around an AWS key id', input: 'x __AKIAQWERTYUIOPASDFGH__ y', expected: `x __${kSecretAws}__ y`, finding: { ruleId: 'secret.aws_access_key_id', start: 4, length: 20 } },
  { name: 'emphasis around a card number', input: 'pay _4111 1111 1111 1111_ now', expected: 'pay _**** **** **** 1111_ now' },
  { name: 'an SSN after an underscore', input: 'ssn_123-45-6789', expected: 'ssn_[SSN]' },
  { name: 'asterisk emphasis around an e-mail', input: '**jane.doe@acme-corp.com**', plain: '**jane.doe@acme-corp.com**', shape: /^\*\*\[email:[0-9a-f]{6}\]\*\*$/ },
  // Dots as card separators.
  { name: 'a card number grouped with dots', input: 'card 4111.1111.1111.1111 ok', expected: 'card ****.****.****.1111 ok' },
  // Everything at once.
  { name: 'fullwidth, invisible, reference and escape in one e-mail', input: 'mail ｊａｎｅ\u200B&period;doe\\@acme&#x2D;corp．com now', plain: 'mail jane.doe@acme-corp.com now', shape: /^mail \[email:[0-9a-f]{6}\] now$/ }
]

t.test('regressions: each kind of disguise is redacted, the text around it kept', async (t) => {
  for (const reg of kRegressions) {
    const r = scan(reg.input)
    if (reg.expected !== undefined) t.equal(r.text, reg.expected, reg.name)
    if (reg.plain !== undefined) {
      const plain = scan(reg.plain).text
      if (reg.shape !== undefined) t.match(plain, reg.shape, `${reg.name}: the plain spelling is caught`)
      t.equal(r.text, plain, `${reg.name}: rendered as the plain spelling`)
    }
    if (reg.finding !== undefined) {
      const f = r.findings.find((x) => x.ruleId === reg.finding?.ruleId)
      t.same(f === undefined ? undefined : { ruleId: f.ruleId, start: f.start, length: f.length }, reg.finding, `${reg.name}: the finding covers the whole span`)
    }
    const oneByOne = streamed([...reg.input].flatMap((ch) => ch.length === 2 ? [ch.slice(0, 1), ch.slice(1)] : [ch]))
    t.equal(oneByOne.text, r.text, `${reg.name}: fed one code unit at a time`)
  }
})

// Clean text ---------------------------------------------------------------------

/**
 * Text that is not sensitive under any reading: references, escapes,
 * compatibility forms, lone invisible characters (a run of two or more is
 * an injection rule's business), emoji sequences. Each entry was checked to
 * give no finding in its raw form nor in its reader's view.
 */
const kCleanSnippets = [
  'Tom &amp; Jerry', 'price:&nbsp;42&nbsp;€', '&lt;div class="x"&gt;', 'e.g.&nbsp;this', '&copy; 2024 ACME', 'C&#43;&#43; and C&#x23;',
  'npm i &#64;fastify/error', 'use \\@decorator here', 'snake\\_case\\_name', 'file\\_name\\_v2.txt', '\\*not bold\\*', '\\[link\\]',
  '__init__ and __proto__', 'x_1 = y__2', '**bold** and __strong__', '_aside_', 'Ｈｅｌｌｏ　Ｗｏｒｌｄ', '（注）全角テキスト', 'ＡＢＣ１２３',
  '𝐁𝐨𝐥𝐝 and 𝑖𝑡𝑎𝑙𝑖𝑐', 'x² + y² = z²', 'ﬁle ﬂow', '① ② ③', '½ cup', 'Brand™', 'Ⅻ chapters', 'Donau\u00ADdampf\u00ADschiff',
  'word\u200Bbreak', 'no\u2060break', '❤️', '👨\u200D👩\u200D👧', '1️⃣', 'v2.1.1.108', '4111 1111 1111 1112', '4111.1111.1111.1112',
  'ISBN 978-3-16-148410-0', '12:30:45', 'a\\-b', 'key&colon; value', 'a&period;b', 'user&#95;id', '&hyphen;&dash;'
]

const cleanProse = fc.array(fc.constantFrom(...kCleanSnippets), { minLength: 1, maxLength: 8 })
  .chain((parts) => fc.array(fc.constantFrom(' ', ' ', '\n', ', '), { minLength: parts.length, maxLength: parts.length })
    .map((seps) => parts.map((p, i) => p + (seps[i] ?? '')).join('').trimEnd()))

/** Views in which the new scanner could see a value: the text, the reader's view, and `_` / `.` read as separators. */
function couldHoldValue (text: string): boolean {
  const view = readerView(text)
  return [text, view, view.replace(/_/g, ' '), view.replace(/(\d)\.(?=\d)/g, '$1 ')].some((v) => changing(scan(v).findings).length > 0)
}

t.test('each clean snippet is clean under every reading (test data check)', async (t) => {
  for (const s of kCleanSnippets) t.notOk(couldHoldValue(s), show(s))
})

t.test('clean prose with references, escapes and fullwidth text comes out unchanged, in any split', async (t) => {
  check(t, 'clean prose unchanged', fc.tuple(cleanProse, splitPlan), 300, ([text, plan]) => {
    const whole = scan(text)
    deepStrictEqual(changing(whole.findings), [], `findings in ${show(text)}`)
    strictEqual(whole.text, text, 'whole output')
    strictEqual(streamed(pieces(text, plan)).text, text, 'streamed output')
  })
})

/** Package READMEs: real prose with code, entities, escapes and non-ASCII text. Missing ones are skipped. */
const kReadmes = [
  'fastify/README.md', 'fastify/docs/Reference/LTS.md', 'undici/README.md', 'pino/README.md', 'fast-check/README.md',
  'refa/README.md', 'html-escaper/README.md', 'picomatch/README.md', 'minimatch/README.md', 'debug/README.md',
  'uuid/README.md', 're2/README.md', 'y18n/README.md', 'ajv/README.md', 'color-convert/README.md',
  '@isaacs/nonrecursive-glob-match/README.md', 'eventsource-parser/README.md', 'ioredis/README.md'
]

/**
 * Whether `r.text` is `input` with only the spans of changing findings
 * rewritten (everything from a cut on dropped): each stretch between two
 * findings must appear, in order, at the leftmost place it can.
 */
function untouchedOutside (input: string, r: ScanResult): boolean {
  const spans = changing(r.findings).sort((a, b) => a.start - b.start)
  const gaps: string[] = []
  let at = 0
  for (const f of spans) {
    gaps.push(input.slice(at, f.start))
    at = f.start + f.length
    if (f.action === 'cut') break
  }
  const tail = r.cut === undefined ? input.slice(at) : ''
  const first = gaps.shift() ?? tail
  if (!r.text.startsWith(first)) return false
  let pos = first.length
  if (spans.length === 0) return r.text.length === pos
  for (const gap of gaps) {
    const found = r.text.indexOf(gap, pos)
    if (found < 0) return false
    pos = found + gap.length
  }
  return r.text.endsWith(tail) && r.text.length - tail.length >= pos
}

t.test('package READMEs: paragraphs that hold no value under any reading come out unchanged', async (t) => {
  const present = kReadmes.filter((p) => existsSync(repoRoot + 'node_modules/' + p))
  t.ok(present.length >= 8, `${present.length} READMEs found`)
  let checked = 0
  let decorated = 0
  for (const path of present) {
    const text = readFileSync(repoRoot + 'node_modules/' + path, 'utf8')
    const whole = scan(text)
    t.ok(untouchedOutside(text, whole), `${path}: text outside the findings is unchanged`)
    const changed: string[] = []
    for (const paragraph of text.split(/\n{2,}/)) {
      if (couldHoldValue(paragraph)) continue
      checked++
      // eslint-disable-next-line no-control-regex -- non-ASCII test
      if (/&#?[A-Za-z0-9]+;|\\[!-/:-@[-`{-~]|[^\x00-\x7f]/.test(paragraph)) decorated++
      if (scan(paragraph).text !== paragraph) changed.push(show(paragraph))
    }
    t.same(changed.slice(0, 3), [], `${path}: ${changed.length} clean paragraphs changed`)
  }
  // The corpus must exercise the normalized view, or the test proves little.
  t.ok(checked >= 300, `${checked} clean paragraphs checked`)
  t.ok(decorated >= 40, `${decorated} of them hold references, escapes or non-ASCII text`)
})
