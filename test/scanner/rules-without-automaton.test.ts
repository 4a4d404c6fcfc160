/**
 * @module test/scanner/rules-without-automaton
 * A rule whose prefix DFA would be too large (an `a` fixed places before the
 * end of a run: the DFA must remember the last letters) gets no automaton.
 * The stream then holds back from the leftmost match of its relaxed prefix
 * language and searches its lane at every write, capped at the lane's
 * longest match, never between the halves of a surrogate pair. The output
 * is the whole-text scan's in any chunking, next to a rule that does have
 * an automaton.
 */
import t from 'tap'
import fc from 'fast-check'
import { createRuleSetFromSources } from '../../src/rules/load-rules.js'
import { createScanner } from '../../src/scanner/create-scanner.js'
import { scanText } from '../../src/scanner/scan-text.js'

const set = createRuleSetFromSources([
  { id: 't.big', category: 'test', description: 'no automaton', action: 'redact', pattern: '[ab😀]{0,30}a[ab]{14}z', replacement: '[B]' },
  { id: 't.small', category: 'test', description: 'an automaton', action: 'redact', pattern: 'key-[0-9]{3}', replacement: '[K]' }
])
const lane = set.output

const isHigh = (code: number): boolean => code >= 0xd800 && code <= 0xdbff
const isLow = (code: number): boolean => code >= 0xdc00 && code <= 0xdfff

function stream (text: string, sizes: readonly number[]): { outputs: string[], held: number[] } {
  const scanner = createScanner(set)
  const outputs: string[] = []
  const held: number[] = []
  let at = 0
  let k = 0
  while (at < text.length) {
    const n = sizes.length === 0 ? 1 : sizes[k++ % sizes.length] as number
    outputs.push(scanner.write(text.slice(at, at + n)).text)
    held.push(scanner.held)
    at += n
  }
  outputs.push(scanner.end().text)
  return { outputs, held }
}

t.test('the big rule has no automaton and is searched by its relaxed prefix', async (t) => {
  t.equal(lane?.fallbackPrefixes.length, 1)
  t.equal(lane?.dfas.length, 1, 'the small rule keeps its automaton')
})

t.test('a match of the big rule is redacted, whole or streamed a character at a time', async (t) => {
  const text = `x ${'a'.repeat(15)}z key-123 done`
  t.equal(scanText(set, text).text, 'x [B] [K] done')
  t.equal(stream(text, [1]).outputs.join(''), 'x [B] [K] done')
})

t.test('text its prefix cannot start is released at once', async (t) => {
  const { outputs, held } = stream('xyz xyz xyz ', [4])
  t.same(outputs.slice(0, 3), ['xyz ', 'xyz ', 'xyz '])
  t.same(held, [0, 0, 0])
})

t.test('a long run the relaxed prefix keeps alive is held no longer than the lane\'s longest match', async (t) => {
  const run = 'ab😀'.repeat(40)
  const { outputs, held } = stream(run, [1])
  t.ok(Math.max(...held) <= (lane?.maxLength ?? 0) + 1, `held at most ${Math.max(...held)}`)
  for (const [i, out] of outputs.entries()) {
    t.notOk(out.length > 0 && (isHigh(out.charCodeAt(out.length - 1)) || isLow(out.charCodeAt(0))), `write ${i} keeps pairs whole`)
  }
  t.equal(outputs.join(''), run)
})

t.test('in any chunking, the stream says what the whole-text scan says', async () => {
  const piece = fc.constantFrom('a', 'b', 'ab', '😀', 'z', 'x', ' ', 'key-', '123', 'aaaaaaaaaaaaaaa')
  fc.assert(fc.property(fc.array(piece, { maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 6 }), { maxLength: 8 }), (parts, sizes) => {
    const text = parts.join('')
    const { outputs } = stream(text, sizes)
    return outputs.join('') === scanText(set, text).text
  }), { numRuns: 200 })
})
