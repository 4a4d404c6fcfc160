/**
 * @module test/scanner/split-surrogates
 * A stream may be cut between the two halves of a surrogate pair (a client
 * that splits UTF-16, or a tokenizer's byte fallback re-joined badly). The
 * scanner never releases half a pair: the normalized view waits for the
 * second half, and a hold capped at the longest match moves back before a
 * high surrogate rather than start between the halves. What comes out is
 * what a whole-text scan makes of the same text.
 */
import t from 'tap'
import fc from 'fast-check'
import { createRuleSetFromSources } from '../../src/rules/load-rules.js'
import type { RuleSource } from '../../src/rules/types.js'
import { createScanner } from '../../src/scanner/create-scanner.js'
import { scanText } from '../../src/scanner/scan-text.js'

const rules: RuleSource[] = [
  // Short matches: the hold is capped a few units back, often right after a high surrogate.
  { id: 't.code', category: 'test', description: 'a short code', action: 'redact', pattern: 'x[a-z]{2}', replacement: '[X]' },
  { id: 't.word', category: 'test', description: 'an obfuscated word', action: 'redact', words: ['darn'], obfuscation: true, flags: 'i', boundary: 'alnum', replacement: '[W]' },
  { id: 't.flag', category: 'test', description: 'a flag', action: 'flag', pattern: '😀x' }
]
const set = createRuleSetFromSources(rules)

const isHigh = (code: number): boolean => code >= 0xd800 && code <= 0xdbff
const isLow = (code: number): boolean => code >= 0xdc00 && code <= 0xdfff

/** Writes `text` in pieces of `sizes` code units; what came out after each write, and in all. */
function stream (text: string, sizes: readonly number[]): { outputs: string[], whole: string } {
  const scanner = createScanner(set)
  const outputs: string[] = []
  let at = 0
  let k = 0
  while (at < text.length) {
    const n = sizes.length === 0 ? 1 : sizes[k++ % sizes.length] as number
    outputs.push(scanner.write(text.slice(at, at + n)).text)
    at += n
  }
  outputs.push(scanner.end().text)
  return { outputs, whole: outputs.join('') }
}

const sample = 'a😀xab 𝐃arn 😀😀😀 xyz d😀arn 🙂🙂xqq😀'

t.test('written one code unit at a time, no write releases half a pair', async (t) => {
  const { outputs, whole } = stream(sample, [1])
  for (const [i, out] of outputs.entries()) {
    t.notOk(out.length > 0 && isHigh(out.charCodeAt(out.length - 1)), `write ${i} does not end with a high surrogate`)
    t.notOk(out.length > 0 && isLow(out.charCodeAt(0)), `write ${i} does not start with a low surrogate`)
  }
  t.equal(whole, scanText(set, sample).text, 'the same text as a whole-text scan')
})

t.test('in any cutting, the output is the whole-text scan\'s and never splits a pair', async () => {
  const piece = fc.constantFrom('😀', '𝐃', 'x', 'ab', ' ', 'darn', 'd4rn', '🙂x', 'q', '\u200b')
  fc.assert(fc.property(fc.array(piece, { maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 8 }), (parts, sizes) => {
    const text = parts.join('')
    const { outputs, whole } = stream(text, sizes)
    if (whole !== scanText(set, text).text) return false
    return outputs.every((out) => out.length === 0 || (!isHigh(out.charCodeAt(out.length - 1)) && !isLow(out.charCodeAt(0))))
  }), { numRuns: 300 })
})

t.test('a pair split across writes still matches as one character', async (t) => {
  const scanner = createScanner(set)
  scanner.write('say \ud83d')
  const r = scanner.write('\ude00x ok')
  const end = scanner.end()
  t.same([...r.findings, ...end.findings].map((f) => f.ruleId), ['t.flag'])
})

t.test('a lone surrogate at the very end is released as it is', async (t) => {
  const { whole } = stream('ab\ud83d', [1])
  t.equal(whole, 'ab\ud83d')
  t.equal(scanText(set, 'ab\ud83d').text, 'ab\ud83d')
})
