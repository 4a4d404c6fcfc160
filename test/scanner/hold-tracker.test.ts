/**
 * @module test/scanner/hold-tracker
 * The incremental hold: merging candidates that share a DFA state must give
 * the same leftmost start as running every rule's DFA from every position;
 * a whole match always leaves a trace (`mayMatchAfter`), so skipping the
 * search when there is none loses nothing; and counted repetitions bound the
 * hold on runs a relaxed automaton would keep forever.
 */
import t from 'tap'
import fc from 'fast-check'
import { defaultRulesDir, loadRuleSet } from '../../src/rules/load-rules.js'
import { classOf } from '../../src/rules/hold-automaton.js'
import type { PrefixDfa } from '../../src/rules/hold-automaton.js'
import { createHoldTracker } from '../../src/scanner/hold-tracker.js'
import { createScanner } from '../../src/scanner/create-scanner.js'
import { scanText } from '../../src/scanner/scan-text.js'

const ruleSet = await loadRuleSet([defaultRulesDir()])
const lane = ruleSet.output
if (lane === undefined) throw new Error('no output lane')
const dfas = lane.dfas

/** Runs `dfa` anchored at `from` to the end of `text`: whether it is still alive, and whether it passed a final state. */
function run (dfa: PrefixDfa, text: string, from: number): { alive: boolean, accepted: boolean } {
  let state = dfa.initial
  let accepted = false
  for (let i = from; i < text.length;) {
    const cp = text.codePointAt(i) as number
    const cls = classOf(dfa, cp)
    state = cls === 0 ? -1 : dfa.next[state * dfa.classes + cls] as number
    if (state < 0) return { alive: false, accepted }
    if (dfa.accept[state] === 1) accepted = true
    i += cp > 0xffff ? 2 : 1
  }
  return { alive: true, accepted }
}

function bruteLeftmost (text: string): number {
  for (let p = 0; p < text.length; p++) {
    if (p > 0 && text.charCodeAt(p) >= 0xdc00 && text.charCodeAt(p) <= 0xdfff) continue
    if (dfas.some((d) => run(d, text, p).alive && p < text.length)) return p
  }
  return Infinity
}

const pieces = fc.constantFrom('4111 ', '1111', ' ', 'jane', '.doe', '@acme', '.com', 'AKIA', 'QWERTYUIOPASDFGH', 'sk-proj-', 'abc', '123-45-', '6789', '[x](https://e.example/p?q=', 'eyJ', 'hello ', '\n', '-----BEGIN ', 'PRIVATE KEY-----', 'password', ' = "', 'x7Gq2!', 'é', '😀')

t.test('merged candidates give the leftmost start of a per-position run', async (t) => {
  fc.assert(fc.property(fc.array(pieces, { maxLength: 14 }), fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 6 }), (parts, cuts) => {
    const text = parts.join('')
    const tracker = createHoldTracker(dfas)
    // Fed in arbitrary pieces: the result must not depend on them.
    let at = 0
    for (let k = 0; at < text.length; k++) {
      let end = Math.min(text.length, at + (cuts[k % cuts.length] as number))
      if (end < text.length && text.charCodeAt(end) >= 0xdc00 && text.charCodeAt(end) <= 0xdfff) end++
      tracker.push(text.slice(at, end))
      at = end
    }
    t.equal(tracker.leftmost(), bruteLeftmost(text), JSON.stringify(text))
  }), { numRuns: 300 })
})

t.test('a text with a match leaves a trace; a text no rule can match leaves none', async (t) => {
  const clean = createHoldTracker(dfas)
  clean.push('The export button ignored the time zone, so reports showed up under the next day. ')
  t.notOk(clean.mayMatchAfter(0), 'plain prose reaches no final state')
  fc.assert(fc.property(fc.array(pieces, { maxLength: 12 }), (parts) => {
    const text = parts.join('')
    const tracker = createHoldTracker(dfas)
    tracker.push(text)
    const found = scanText(ruleSet, text).findings.filter((f) => f.action !== 'flag')
    // Every match the scanner finds ends after offset 0, so it must have left a trace.
    if (found.length > 0) t.ok(tracker.mayMatchAfter(0), `${JSON.stringify(text)}: ${found.map((f) => f.ruleId).join(', ')}`)
  }), { numRuns: 300 })
})

t.test('counted repetitions bound the hold on long runs of digits and base64', async (t) => {
  for (const [name, alphabet] of [['digits', '0123456789'], ['base64', 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/']] as const) {
    const scanner = createScanner(ruleSet)
    let maxHeld = 0
    let seed = 1
    for (let i = 0; i < 5000; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      scanner.write(alphabet[seed % alphabet.length] as string)
      maxHeld = Math.max(maxHeld, scanner.held)
    }
    scanner.end()
    // The longest counted run a rule reads from its first character (IBAN, AWS secret, …), not the lane's longest match.
    t.ok(maxHeld <= 128, `${name}: held at most ${maxHeld} characters (the lane's longest match is ${lane.maxLength})`)
  }
})
