/**
 * @module test/scanner/find-match
 * A rule's lookbehind (`after`, `notAfter`) read backwards with its reversed automaton gives the same lead
 * as the end-anchored regex it stands for, whatever the text and wherever
 * the window splits between released history and held text; and the
 * negative contexts (`notAfter`, `notBefore`) refuse a match in them, in
 * any chunking.
 */
import t from 'tap'
import fc from 'fast-check'
import { createRuleSetFromSources, defaultRulesDir, loadRuleSet } from '../../src/rules/load-rules.js'
import type { CompiledRuleInternal, Lookbehind } from '../../src/rules/compile-rule.js'
import type { RuleSource } from '../../src/rules/types.js'
import { createScanner } from '../../src/scanner/create-scanner.js'
import { leadOf } from '../../src/scanner/find-match.js'
import { scanText } from '../../src/scanner/scan-text.js'

const ruleSet = await loadRuleSet([defaultRulesDir()])
/** Every lookbehind of the shipped rules (`after`, `notAfter`), named. */
const lookbehinds: Array<[string, Lookbehind]> = []
for (const rule of ruleSet.rules as CompiledRuleInternal[]) {
  if (rule.after !== undefined) lookbehinds.push([`${rule.id} after`, rule.after])
  if (rule.notAfter !== undefined) lookbehinds.push([`${rule.id} notAfter`, rule.notAfter])
}

/** The lead as the end-anchored regex finds it over the same window. */
function regexLead (after: Lookbehind, history: string, recent: string): string | undefined {
  const window = recent.length >= after.maxLength ? recent.slice(-after.maxLength) : history.slice(-(after.maxLength - recent.length)) + recent
  after.regex.lastIndex = 0
  const m = after.regex.exec(window)
  return m === null ? undefined : m[0]
}

const pieces = fc.constantFrom('![', '](', ']: ', 'x', 'alt text', ' ', '\t', '\n', '<', 'https://', 'http://', 'e.example', '/p', 'src=', '"', "'", '=', 'ssn', 'SSN:', ' #', '01 02 ', '0x', 'Section ', 'RFC 791 ', 'v', '1.2.', '@', 'é', '😀', 'tel', 'phone: ', 'a'.repeat(210))

// Word boundaries (`\b`) need the characters on both sides: such a pattern keeps the regex.
const assertion = /\\[bB]/

t.test('every shipped `after` without assertions reads back with its reversed automaton', async (t) => {
  t.ok(lookbehinds.length > 0, `${lookbehinds.length} lookbehinds`)
  for (const [name, lookbehind] of lookbehinds) {
    if (assertion.test(lookbehind.regex.source)) t.equal(lookbehind.reverse, undefined, `${name} has assertions: the regex reads it`)
    else t.ok(lookbehind.reverse !== undefined, name)
  }
})

t.test('reading back gives the regex\'s lead', async (t) => {
  fc.assert(fc.property(fc.array(pieces, { maxLength: 10 }), fc.array(pieces, { maxLength: 10 }), fc.nat(), (h, r, k) => {
    const history = h.join('')
    const recent = r.join('')
    const [name, lookbehind] = lookbehinds[k % lookbehinds.length] as [string, Lookbehind]
    // The window as the scanner passes it: text before `from` is context only.
    const prefix = 'ctx'
    const s = prefix + recent + 'tail'
    const got = leadOf(lookbehind, s, prefix.length + recent.length, { history, from: prefix.length })
    t.equal(got, regexLead(lookbehind, history, recent), `${name}: ${JSON.stringify(history)} | ${JSON.stringify(recent)}`)
  }), { numRuns: 2000 })
})

t.test('notBefore and notAfter refuse a match in its context, whatever the chunking', async (t) => {
  const rules: RuleSource[] = [{
    id: 't.word',
    category: 'toxicity',
    description: 'a word with a literal sense',
    words: ['faggot', 'faggots'],
    obfuscation: true,
    flags: 'i',
    boundary: 'alnum',
    notBefore: '[ \\t]{1,3}of[ \\t]{1,3}(?:fire)?wood',
    notAfter: 'bundle[ \\t]{1,3}of[ \\t]{1,3}',
    action: 'redact',
    replacement: '[X]'
  }]
  const set = createRuleSetFromSources(rules)
  const cases: Array<[string, string]> = [
    ['faggots of firewood', 'faggots of firewood'],
    ['a bundle of faggots', 'a bundle of faggots'],
    ['you faggot', 'you [X]'],
    ['f4ggots of wood here', 'f4ggots of wood here'],
    ['faggots of wool', '[X] of wool'],
    ['faggots of', '[X] of']
  ]
  for (const [text, expected] of cases) {
    t.equal(scanText(set, text).text, expected, JSON.stringify(text))
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: text.length }), { maxLength: 6 }), (cuts) => {
      const scanner = createScanner(set)
      let out = ''
      let at = 0
      for (const n of cuts) {
        out += scanner.write(text.slice(at, at + n)).text
        at = Math.min(text.length, at + n)
      }
      out += scanner.end(text.slice(at)).text
      return out === expected
    }), { numRuns: 50 })
  }
})
