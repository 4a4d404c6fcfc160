/**
 * @module test/protocols/json-arguments
 * The JSON-arguments scanner with the real rules (shipped rules/ plus the
 * test cut/flag rules): examples of escapes split across fragments, invalid
 * JSON and cuts, then properties on generated argument objects with
 * sensitive values hidden behind `\uXXXX` escapes, split at random points.
 *
 * fast-check picks a new seed each run; a failure prints the seed and the
 * shrunk counterexample.
 */
import t from 'tap'
import type { Test } from 'tap'
import fc from 'fast-check'
import { deepStrictEqual, ok, strictEqual } from 'node:assert'
import { createJsonArgumentsScanner } from '../../src/protocols/json-arguments.js'
import type { Finding, Scanner } from '../../src/scanner/types.js'
import { prose, sensitiveValue } from '../fixtures/sensitive-values.js'
import type { SensitiveValue } from '../fixtures/sensitive-values.js'
import { scannerFactory, testRules, tokenize } from '../stream/replay.js'

const ruleSet = await testRules()
const actionOf = new Map(ruleSet.rules.map((r) => [r.id, r.action]))
const newScanner = scannerFactory(ruleSet)

interface Run {
  text: string
  findings: Finding[]
  cut: Finding | undefined
  /** `held` after each write. */
  held: number[]
  scanner: Scanner
}

/** Writes the pieces one by one, then ends. */
function run (pieces: readonly string[]): Run {
  const scanner = createJsonArgumentsScanner(newScanner)
  let text = ''
  const findings: Finding[] = []
  const held: number[] = []
  for (const piece of pieces) {
    const r = scanner.write(piece)
    text += r.text
    findings.push(...r.findings)
    held.push(scanner.held)
  }
  const r = scanner.end()
  text += r.text
  findings.push(...r.findings)
  return { text, findings, cut: scanner.cut, held, scanner }
}

function whole (input: string): Run {
  return run([input])
}

/** Every way of cutting `input` in two, and one character at a time. */
function splittings (input: string): string[][] {
  const out: string[][] = [[...input.split('')]]
  for (let i = 1; i < input.length; i++) out.push([input.slice(0, i), input.slice(i)])
  return out
}

function ids (findings: readonly Finding[]): string[] {
  return findings.map((f) => `${f.action}:${f.ruleId}`)
}

function sorted (findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => a.start - b.start || (a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0))
}

/** Every string in a parsed JSON value, keys included. */
function stringsOf (value: unknown, into: string[] = []): string[] {
  if (typeof value === 'string') into.push(value)
  else if (Array.isArray(value)) for (const v of value) stringsOf(v, into)
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      into.push(k)
      stringsOf(v, into)
    }
  }
  return into
}

// Examples -------------------------------------------------------------------------

t.test('scans string values as JSON.parse reads them, not as their escapes', async (t) => {
  const cases: Array<[input: string, ruleId: string, secret: string]> = [
    ['{"to": "jane.doe\\u0040acme\\u002dcorp.com"}', 'pii.email', 'jane.doe@acme-corp.com'],
    ['{"card": "4111\\u00201111\\u00201111\\u00201111"}', 'pii.credit_card', '4111 1111 1111 1111'],
    ['{"key": "AKI\\u0041Z7QJ3MVX4KB2RTWP"}', 'secret.aws_access_key_id', 'AKIAZ7QJ3MVX4KB2RTWP'],
    ['{"note": "SSN 536\\u002d22\\u002d1947 on file"}', 'pii.us_ssn', '536-22-1947']
  ]
  for (const [input, ruleId, secret] of cases) {
    t.ok(JSON.stringify(JSON.parse(input)).includes(secret), `${ruleId}: the input holds ${secret} once parsed`)
    const r = whole(input)
    t.same(ids(r.findings), [`redact:${ruleId}`], `${ruleId} is found behind escapes`)
    t.notOk(JSON.stringify(JSON.parse(r.text)).includes(secret), `${ruleId}: the parsed output no longer holds it`)
  }
})

t.test('a finding points at the escaped source text', async (t) => {
  const input = '{"e": "mail jane\\u002edoe@acme.com now"}'
  const r = whole(input)
  t.equal(r.findings.length, 1)
  const f = r.findings[0] as Finding
  t.equal(f.start, input.indexOf('jane'))
  t.equal(f.length, input.indexOf(' now') - input.indexOf('jane'), 'length counts the six characters of \\u002e')
})

t.test('an escape split in the middle decodes the same', async (t) => {
  const input = '{"to": "jane.doe\\u0040acme-corp.com", "n": 1}'
  const reference = whole(input)
  t.same(ids(reference.findings), ['redact:pii.email'])
  const first = run(['{"to": "jane.doe\\u00', '40acme-corp.com", "n": 1}'])
  t.equal(first.text, reference.text)
  t.same(first.findings, reference.findings)
  t.ok((first.held[0] ?? 0) >= '\\u00'.length, 'the escape prefix is held')
  for (const pieces of splittings(input)) {
    const r = run(pieces)
    t.equal(r.text, reference.text, `split ${JSON.stringify(pieces.length > 2 ? 'per character' : pieces[0])}`)
    t.same(r.findings, reference.findings)
  }
})

t.test('a surrogate pair escaped in two halves becomes one character, however it is split', async (t) => {
  const input = '["\\ud83d\\ude00", "\\uD83D\\uDE00!"]'
  for (const pieces of splittings(input)) {
    const r = run(pieces)
    t.equal(r.text, '["😀", "😀!"]')
  }
  t.pass('every split gives the joined pair')
})

t.test('smuggled tag characters written as escaped surrogate pairs are caught', async (t) => {
  const tags = [...'ignore'].map((c) => {
    const cp = 0xe0000 + c.charCodeAt(0)
    const hi = 0xd800 + ((cp - 0x10000) >> 10)
    const lo = 0xdc00 + ((cp - 0x10000) & 0x3ff)
    return `\\u${hi.toString(16)}\\u${lo.toString(16)}`
  }).join('')
  const input = `{"q": "hello ${tags} world"}`
  const reference = whole(input)
  t.same(ids(reference.findings), ['redact:injection.unicode_tags'])
  t.notMatch(JSON.parse(reference.text).q as string, /[\u{e0000}-\u{e007f}]/u)
  for (const pieces of splittings(input)) t.equal(run(pieces).text, reference.text)
})

t.test('a card written as a bare number is caught in the structure', async (t) => {
  const r = whole('{"n": 4111111111111111, "ok": true}')
  t.same(ids(r.findings), ['redact:pii.credit_card'])
  t.notMatch(r.text, /4111111111111111/)
  t.match(r.text, /^\{"n": .+, "ok": true\}$/)
})

t.test('no match spans a string boundary', async (t) => {
  // Each half alone is nothing; together, outside JSON, they would be a card.
  const input = '["4111 1111", "1111 1111"]'
  const r = whole(input)
  t.same(r.findings, [])
  t.equal(r.text, input)
  t.equal(run(['["4111 1111', '", "1111 1111"]']).held[0], '4111 1111'.length, 'only the open string is held')
})

t.test('re-encodes what JSON strings cannot carry as they are', async (t) => {
  const r = whole('["a\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u0001", "\\ud800x", "\\udc00"]')
  t.equal(r.text, '["a\\"b\\\\c/d\\b\\f\\n\\r\\t\\u0001", "\\ud800x", "\\udc00"]', 'the escapes JSON.stringify would write')
  t.same(JSON.parse(r.text), ['a"b\\c/d\b\f\n\r\t\u0001', '\ud800x', '\udc00'])
  const raw = whole('["tab\tand\nnewline", "lone \ud800 and pair 😀"]')
  t.equal(raw.text, '["tab\\tand\\nnewline", "lone \\ud800 and pair 😀"]', 'raw controls and lone surrogates become escapes')
})

t.test('input that is not valid JSON never throws', async (t) => {
  const inputs = [
    '{"a": "x\\qy"}',
    '{"a": "\\u12x", "b": "\\u"}',
    '{"a": "unterminated',
    '{"a": "ends in a backslash\\',
    '{"a": "ends in an escape \\u00',
    'plain text, no JSON at all',
    '}}]]"":::\\\\"\\',
    '"\\',
    ''
  ]
  for (const input of inputs) {
    const reference = whole(input)
    for (const pieces of splittings(input)) {
      const r = run(pieces)
      t.equal(r.text, reference.text, `${JSON.stringify(input)} split ${pieces.length > 2 ? 'per character' : JSON.stringify(pieces[0])}`)
    }
  }
  t.equal(whole('{"a": "x\\qy"}').text, '{"a": "x\\\\qy"}', 'an invalid escape is text: its backslash leaves escaped')
  t.equal(whole('{"a": "\\u12x"}').text, '{"a": "\\\\u12x"}')
  t.equal(whole('{"a": "unterminated').text, '{"a": "unterminated', 'an open string is ended without a closing quote')
  t.equal(whole('{"a": "end\\').text, '{"a": "end\\\\')
  t.equal(whole('plain text, no JSON at all').text, 'plain text, no JSON at all')
})

t.test('text that cannot be decoded is scanned as it is', async (t) => {
  const r = whole('{"a": "mail jane.doe@acme.io \\q"}')
  t.same(ids(r.findings), ['redact:pii.email'])
  const prose = whole('not JSON: mail jane.doe@acme.io please')
  t.same(ids(prose.findings), ['redact:pii.email'])
  t.notMatch(prose.text, /jane/)
  const open = run(['{"a": "mail jane.doe@acme.io'])
  t.same(ids(open.findings), ['redact:pii.email'], 'an unterminated string is scanned to its end')
  t.notMatch(open.text, /jane/)
})

t.test('a cut inside the arguments stops all output', async (t) => {
  const input = '{"cmd": "now launch the missiles at dawn", "b": "mail jane.doe@acme.io"}'
  const reference = whole(input)
  t.equal(reference.text, '{"cmd": "now ')
  t.equal(reference.cut?.ruleId, 'test.cut_missiles')
  t.equal(reference.cut?.start, input.indexOf('launch'), 'the cut points at the source text')
  t.same(ids(reference.findings), ['cut:test.cut_missiles'])
  for (const pieces of splittings(input)) {
    const r = run(pieces)
    t.equal(r.text, reference.text)
    t.same(r.findings, reference.findings)
  }
  const scanner = createJsonArgumentsScanner(newScanner)
  const first = scanner.write('{"cmd": "launch the \\u006d')
  t.equal(first.text, '{"cmd": "')
  const second = scanner.write('issiles", "x": "more"}')
  t.equal(second.cut?.ruleId, 'test.cut_missiles', 'a cut behind an escape')
  t.equal(second.text, '')
  t.same(scanner.write('"jane.doe@acme.io"'), { text: '', findings: [], cut: second.cut }, 'nothing after the cut')
  t.same(scanner.end(), { text: '', findings: [], cut: second.cut })
  t.equal(scanner.held, 0)
})

t.test('counts input and output characters', async (t) => {
  const input = '{"e": "jane\\u002edoe@acme.com", "n": 1}'
  const r = run(['{"e": "jane\\u00', '2edoe@acme.com", "n": 1}'])
  t.equal(r.scanner.charsIn, input.length)
  t.equal(r.scanner.charsOut, r.text.length)
  t.equal(r.scanner.held, 0, 'nothing is held after end')
  const scanner = createJsonArgumentsScanner(newScanner)
  scanner.write('{"e": "jane\\u002edoe@ac')
  t.equal(scanner.held, 'jane\\u002edoe@ac'.length, 'held is counted in input characters')
  scanner.write('me.com"')
  t.equal(scanner.held, 0)
  scanner.write(', "card": 4111 1111')
  t.equal(scanner.held, '4111 1111'.length, 'a structure scanner holds its own tail')
  t.same(scanner.write(''), { text: '', findings: [] })
  t.same(scanner.end().findings.map((f) => f.ruleId), [])
  t.same(scanner.write('more'), { text: '', findings: [] }, 'nothing after end')
})

// Properties -----------------------------------------------------------------------

type Json = string | number | boolean | null | Json[] | { [key: string]: Json }

/** A JSON value whose strings are still to be made from leaves of type L. */
type Tree<L> = { leaf: L } | number | boolean | null | { array: Array<Tree<L>> } | { entries: Array<[string, Tree<L>]> }

const keys = ['to', 'subject', 'body', 'query', 'path', 'content', 'notes', 'args', 'items', 'user']

/** A small argument object (two levels deep at most) with leaves drawn from `leaf`. */
function treeOf<L> (leaf: fc.Arbitrary<L>): fc.Arbitrary<Tree<L>> {
  const scalar: fc.Arbitrary<Tree<L>> = fc.oneof(
    { arbitrary: leaf.map((l) => ({ leaf: l })), weight: 4 },
    { arbitrary: fc.integer({ min: -99999, max: 99999 }), weight: 1 },
    { arbitrary: fc.constantFrom(true, false, null), weight: 1 }
  )
  const object = (value: fc.Arbitrary<Tree<L>>): fc.Arbitrary<Tree<L>> =>
    fc.uniqueArray(fc.tuple(fc.constantFrom(...keys), value), { minLength: 1, maxLength: 4, selector: ([k]) => k }).map((entries) => ({ entries }))
  const inner: fc.Arbitrary<Tree<L>> = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }).map((array) => ({ array })), object(scalar))
  return object(inner)
}

function toJson<L> (tree: Tree<L>, leaf: (l: L) => string): Json {
  if (typeof tree !== 'object' || tree === null) return tree
  if ('leaf' in tree) return leaf(tree.leaf)
  if ('array' in tree) return tree.array.map((x) => toJson(x, leaf))
  return Object.fromEntries(tree.entries.map(([k, x]) => [k, toJson(x, leaf)]))
}

function jsonOf (leaf: fc.Arbitrary<string>): fc.Arbitrary<Json> {
  return treeOf(leaf).map((tree) => toJson(tree, (s) => s))
}

/** How a serialized string escapes: the rate of `\uXXXX` per character, and the seed of the choices. */
interface EscapePlan { rate: number, seed: number, indent: number }

const escapePlan: fc.Arbitrary<EscapePlan> = fc.record({
  rate: fc.constantFrom(0, 0.05, 0.2, 0.6, 1),
  seed: fc.nat(),
  indent: fc.constantFrom(0, 0, 2)
})

/** A tiny LCG: the choices of one serialization, reproducible from its seed. */
function choices (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 4294967296
  }
}

function hex4 (code: number, r: () => number): string {
  const h = code.toString(16).padStart(4, '0')
  return r() < 0.5 ? h : h.toUpperCase()
}

/** Serializes like JSON.stringify, but escapes characters at random (RFC 8259 §7 allows any as `\uXXXX`, and `/` as `\/`). */
function serialize (value: Json, plan: EscapePlan): string {
  const r = choices(plan.seed)
  const quote = (s: string): string => {
    let out = '"'
    for (let i = 0; i < s.length; i++) {
      const code = s.charCodeAt(i)
      const ch = s[i] as string
      if (plan.rate > 0 && r() < plan.rate) out += '\\u' + hex4(code, r)
      else if (plan.rate > 0 && ch === '/' && r() < 0.5) out += '\\/'
      else if (code >= 0xd800 && code <= 0xdfff) out += ch // half of a pair: raw, like JSON.stringify
      else out += JSON.stringify(ch).slice(1, -1)
    }
    return out + '"'
  }
  const nl = (depth: number): string => plan.indent === 0 ? '' : '\n' + ' '.repeat(plan.indent * depth)
  const write = (v: Json, depth: number): string => {
    if (typeof v === 'string') return quote(v)
    if (typeof v !== 'object' || v === null) return JSON.stringify(v)
    if (Array.isArray(v)) return v.length === 0 ? '[]' : '[' + v.map((x) => nl(depth + 1) + write(x, depth + 1)).join(',') + nl(depth) + ']'
    const entries = Object.entries(v)
    if (entries.length === 0) return '{}'
    return '{' + entries.map(([k, x]) => nl(depth + 1) + quote(k) + ':' + (plan.indent === 0 ? '' : ' ') + write(x, depth + 1)).join(',') + nl(depth) + '}'
  }
  return write(value, 0)
}

/** Where to split: random points, or fixed sizes (1 puts every escape across fragments). */
const splitPlan: fc.Arbitrary<{ seeds: number[] } | { size: number }> = fc.oneof(
  fc.array(fc.nat(), { minLength: 1, maxLength: 40 }).map((seeds) => ({ seeds })),
  fc.integer({ min: 1, max: 7 }).map((size) => ({ size }))
)

function split (text: string, plan: { seeds: number[] } | { size: number }): string[] {
  if ('seeds' in plan) return tokenize(text, plan.seeds.map((s) => s % (text.length + 1)))
  const cuts: number[] = []
  for (let i = plan.size; i < text.length; i += plan.size) cuts.push(i)
  return tokenize(text, cuts)
}

/** Runs a property; one tap assertion, with fast-check's report (seed, counterexample) on failure. */
function check<T> (t: Test, arb: fc.Arbitrary<T>, numRuns: number, predicate: (value: T) => void): void {
  const details = fc.check(fc.property(arb, predicate), { numRuns })
  const report = details.failed ? `${String(details.errorInstance)}\n${fc.defaultReportMessage(details) ?? ''}` : `${numRuns} runs`
  t.notOk(details.failed, report)
}

const redactValue = sensitiveValue.filter((v) => actionOf.get(v.ruleId) === 'redact')

interface Planted {
  value: Json
  /** The same value with every planted secret left out. */
  plain: Json
  secrets: SensitiveValue[]
}

/** Argument objects whose strings carry sensitive values between spaces. */
const planted: fc.Arbitrary<Planted> = treeOf(fc.tuple(prose, fc.option(redactValue, { nil: undefined }), prose)).map((tree): Planted => {
  const secrets: SensitiveValue[] = []
  const value = toJson(tree, ([before, v, after]) => {
    if (v === undefined) return `${before} ${after}`
    secrets.push(v)
    return `${before} ${v.value} ${after}`
  })
  const plain = toJson(tree, ([before, , after]) => `${before} ${after}`)
  return { value, plain, secrets }
})

t.test('no planted value survives in the parsed output, however it is escaped and split', async (t) => {
  check(t, fc.tuple(planted.filter((p) => p.secrets.length > 0), escapePlan, splitPlan), 150, ([p, esc, plan]) => {
    const input = serialize(p.value, esc)
    deepStrictEqual(JSON.parse(input), p.value, 'the generated input is valid JSON')
    const r = run(split(input, plan))
    strictEqual(r.cut, undefined)
    const parsed = JSON.parse(r.text) as unknown
    const plainText = stringsOf(p.plain).join('\n')
    const outText = stringsOf(parsed).join('\n')
    for (const v of p.secrets) {
      const secret = v.finding ?? v.value
      if (plainText.includes(secret)) continue
      ok(!outText.includes(secret), `the value of ${v.ruleId} (${JSON.stringify(secret)}) survived`)
    }
    ok(r.findings.length > 0, 'planted values yield findings')
  })
})

/** Valid and broken inputs: escaped JSON, cut short, with stray quotes and backslashes. */
const anyInput: fc.Arbitrary<string> = fc.tuple(
  fc.oneof(planted.map((p) => p.value), jsonOf(prose)),
  escapePlan,
  fc.array(fc.tuple(fc.nat(), fc.constantFrom('"', '\\', '\\u', '\\ud83d', 'x', '4111 1111 1111 1111 ')), { maxLength: 3 }),
  fc.option(fc.nat(), { nil: undefined })
).map(([value, esc, inserts, truncate]) => {
  let s = serialize(value, esc)
  for (const [at, text] of inserts) {
    const p = at % (s.length + 1)
    s = s.slice(0, p) + text + s.slice(p)
  }
  return truncate === undefined ? s : s.slice(0, truncate % (s.length + 1))
})

t.test('any split gives the output and findings of the whole text', async (t) => {
  check(t, fc.tuple(anyInput, splitPlan), 200, ([input, plan]) => {
    const reference = whole(input)
    const r = run(split(input, plan))
    strictEqual(r.text, reference.text, 'output text')
    deepStrictEqual(sorted(r.findings), sorted(reference.findings), 'findings')
    deepStrictEqual(r.cut, reference.cut, 'cut')
    strictEqual(r.scanner.charsIn, input.length)
    strictEqual(r.scanner.charsOut, r.text.length)
  })
})

t.test('JSON with nothing sensitive comes out unchanged', async (t) => {
  check(t, fc.tuple(jsonOf(prose), escapePlan, splitPlan), 150, ([value, esc, plan]) => {
    const plain = serialize(value, { ...esc, rate: 0, seed: 0 })
    strictEqual(plain, JSON.stringify(value, null, esc.indent === 0 ? undefined : esc.indent), 'the unescaped form is JSON.stringify\'s')
    const same = run(split(plain, plan))
    deepStrictEqual(same.findings.filter((f) => f.action !== 'flag'), [], 'no findings')
    strictEqual(same.text, plain, 'byte-identical without escapes')
    const escaped = serialize(value, esc)
    const parsed = run(split(escaped, plan))
    deepStrictEqual(JSON.parse(parsed.text), value, 'JSON.parse-equal with escapes')
  })
})
