/**
 * @module test/scanner/find-match
 * A rule's lookbehind (`after`, `notAfter`) read backwards with its reversed automaton gives the same lead
 * as the end-anchored regex it stands for, whatever the text and wherever
 * the window splits between released history and held text; and the
 * negative contexts (`notAfter`, `notBefore`) refuse a match in them, in
 * any chunking. Then `findMatch` itself, on small rule sets: which match
 * wins, what refuses one, and where the search may start and end.
 */
import t from 'tap'
import fc from 'fast-check'
import { createRuleSetFromSources, defaultRulesDir, loadRuleSet } from '../../src/rules/load-rules.js'
import type { CompiledRuleInternal, Lookbehind } from '../../src/rules/compile-rule.js'
import type { RuleSource, Validator } from '../../src/rules/types.js'
import { createScanner } from '../../src/scanner/create-scanner.js'
import { findMatch, leadOf } from '../../src/scanner/find-match.js'
import type { Match } from '../../src/scanner/find-match.js'
import { singleGroup } from '../../src/rules/rule-set.js'
import type { RuleLane } from '../../src/rules/rule-set.js'
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

/** The output lane (redact and cut rules) of `rules`. */
function laneOf (rules: Array<Partial<RuleSource> & Pick<RuleSource, 'id'>>): RuleLane {
  const set = createRuleSetFromSources(rules.map((r) => ({ category: 'test', description: r.id, action: 'redact', ...r }) as RuleSource))
  if (set.output === undefined) throw new Error('no output lane')
  return set.output
}

/** A match as [rule id, matched text, redacted value]. */
function shown (m: Match | undefined, s: string): [string, string, string] | undefined {
  return m === undefined ? undefined : [m.rule.id, s.slice(m.start, m.end), s.slice(m.valueStart, m.valueEnd)]
}

t.test('findMatch: the leftmost start wins, and on a tie the rule loaded first', async (t) => {
  const lane = laneOf([{ id: 'r.long', pattern: 'abcd' }, { id: 'r.short', pattern: 'abc' }, { id: 'r.late', pattern: 'cd' }])
  t.same(shown(findMatch(lane, 'xxabcd', 0), 'xxabcd'), ['r.long', 'abcd', 'abcd'])
  t.same(shown(findMatch(lane, 'xxabcx', 0), 'xxabcx'), ['r.short', 'abc', 'abc'], 'the first rule that matches at that start')
  t.same(shown(findMatch(lane, 'cd abcd', 0), 'cd abcd'), ['r.late', 'cd', 'cd'], 'an earlier start beats load order')
  t.equal(findMatch(lane, 'nothing here', 0), undefined)
})

t.test('findMatch: a refused candidate lets a later rule match at the same start, else the search moves on', async (t) => {
  const lane = laneOf([
    { id: 'r.first', pattern: 'key-[a-z]{4}', allow: ['key-test'] },
    { id: 'r.second', pattern: 'key-[a-z]{2}' },
    { id: 'r.other', pattern: 'zz' }
  ])
  t.same(shown(findMatch(lane, 'key-test', 0), 'key-test'), ['r.second', 'key-te', 'key-te'], 'the later rule, exactly there')
  t.same(shown(findMatch(lane, 'key-abcd', 0), 'key-abcd'), ['r.first', 'key-abcd', 'key-abcd'])
  const only = laneOf([{ id: 'r.only', pattern: 'key-[a-z]{4}', allow: ['key-test'] }, { id: 'r.never', pattern: 'qq' }])
  t.same(shown(findMatch(only, 'key-test key-abcd', 0), 'key-test key-abcd'), ['r.only', 'key-abcd', 'key-abcd'], 'on to the next candidate')
  t.same(shown(findMatch(only, 'key-test', 0), 'key-test'), undefined)
})

t.test('findMatch: a refused candidate at an astral character moves on by the whole code point', async (t) => {
  const lane = laneOf([{ id: 'r.emoji', pattern: '[😀-😃][a-z]', allow: ['😀a'] }])
  const s = '😀a😀b'
  t.same(shown(findMatch(lane, s, 0), s), ['r.emoji', '😀b', '😀b'])
})

t.test('findMatch: from and limit bound where a match may start; text before from is context', async (t) => {
  const lane = laneOf([{ id: 'r.word', pattern: 'cat', boundary: 'word' }])
  t.equal(findMatch(lane, 'cat cat', 1)?.start, 4, 'a start before from is not taken')
  t.equal(findMatch(lane, 'cat cat', 0, 0), undefined, 'nor one at or after limit')
  t.equal(findMatch(lane, 'cat cat', 0, 1)?.start, 0, 'a match may run past the limit')
  t.equal(findMatch(lane, 'bobcat', 3), undefined, 'the boundary reads the context before from')
})

t.test('findMatch: boundaries read whole code points on both sides', async (t) => {
  const alnum = laneOf([{ id: 'r.alnum', pattern: 'ok', boundary: 'alnum' }])
  t.equal(findMatch(alnum, 'éok', 0), undefined, 'a letter before')
  t.equal(findMatch(alnum, 'okü', 0), undefined, 'a letter after')
  t.equal(findMatch(alnum, '𝐀ok', 0), undefined, 'an astral letter before (a surrogate pair read as one)')
  t.equal(findMatch(alnum, 'ok𝐀', 0), undefined, 'an astral letter after')
  t.equal(findMatch(alnum, '😀ok😀', 0)?.start, 2, 'an astral non-letter touches nothing')
  t.equal(findMatch(alnum, '\udc00ok', 0)?.start, 1, 'a lone low surrogate is one unit')
  const digit = laneOf([{ id: 'r.digits', pattern: '[0-9]{3}', boundary: 'digit' }])
  t.equal(findMatch(digit, '1234 567', 0)?.start, 5, 'no start inside a run of digits')
  t.equal(findMatch(digit, 'a123b', 0)?.start, 1, 'letters do not touch a digit boundary')
})

t.test('findMatch: a rule with a group redacts the group, and refuses a match whose group is empty or absent', async (t) => {
  const lane = laneOf([{ id: 'r.group', pattern: 'pin:(?:([0-9]*)|x)y', group: 1, maxLength: 8 }])
  t.same(shown(findMatch(lane, 'pin:1234y', 0), 'pin:1234y'), ['r.group', 'pin:1234y', '1234'])
  t.equal(findMatch(lane, 'pin:y', 0), undefined, 'an empty group')
  t.equal(findMatch(lane, 'pin:xy', 0), undefined, 'a group that took no part')
})

t.test('findMatch: notBefore refuses a match the text goes on into', async (t) => {
  const lane = laneOf([{ id: 'r.host', pattern: 'host[0-9]', notBefore: '\\.example' }])
  t.equal(findMatch(lane, 'host1.example', 0), undefined)
  t.same(shown(findMatch(lane, 'host1.test', 0), 'host1.test'), ['r.host', 'host1', 'host1'])
})

t.test('findMatch: allow-lists, entropy and validators refuse a value', async (t) => {
  const lane = laneOf([
    { id: 'r.allowed', pattern: 'tok_[a-z]{6}', allow: ['tok_public'], allowPatterns: ['^tok_x'], minEntropy: 2 },
    { id: 'r.card', pattern: '[0-9]{16}', boundary: 'digit', validator: 'luhn' }
  ])
  t.equal(findMatch(lane, 'tok_public', 0), undefined, 'a value on the allow list')
  t.equal(findMatch(lane, 'tok_xyzabc', 0), undefined, 'a value an allow pattern matches')
  t.equal(findMatch(lane, 'tok_aaaaaa', 0), undefined, 'a value under the entropy floor')
  t.same(shown(findMatch(lane, 'tok_qwerty', 0), 'tok_qwerty')?.[0], 'r.allowed')
  t.equal(findMatch(lane, '4111111111111112', 0), undefined, 'a value the validator refuses')
  t.same(shown(findMatch(lane, '4111111111111111', 0), '4111111111111111')?.[0], 'r.card')
})

t.test('findMatch: `after` must end the text before a match, reading released history too', async (t) => {
  const lane = laneOf([{ id: 'r.after', pattern: '[0-9]{4}', after: 'pin: ?', boundary: 'digit' }])
  t.same(shown(findMatch(lane, 'pin: 1234', 0), 'pin: 1234')?.[1], '1234')
  t.equal(findMatch(lane, 'pan: 1234', 0), undefined)
  t.equal(findMatch(lane, 'n: 1234', 3, undefined, { history: 'pi', from: 0 })?.start, 3, 'the lead starts in history')
  t.equal(findMatch(lane, 'n: 1234', 3, undefined, { history: 'pa', from: 0 }), undefined)
  t.equal(findMatch(lane, 'n: 1234', 3), undefined, 'without a lead there is no history')
})

t.test('findMatch: an `after` with a word boundary is read by its end-anchored regex', async (t) => {
  const lane = laneOf([{ id: 'r.key', pattern: '[a-z0-9]{8}', after: 'key\\b[ =]{1,2}', boundary: 'word' }])
  const after = lane.rules[0]?.after
  t.equal(after?.reverse, undefined, 'no reversed automaton for an assertion')
  t.equal(findMatch(lane, 'key=abcd1234', 0)?.start, 4)
  t.equal(findMatch(lane, 'key =abcd1234', 0)?.start, 5)
  t.equal(findMatch(lane, 'kez=abcd1234', 0), undefined)
  t.equal(findMatch(lane, 'y=abcd1234', 2, undefined, { history: ' ke', from: 0 })?.start, 2, 'with history')
  t.equal(findMatch(lane, 'y=abcd1234', 2, undefined, { history: 'some text before it, then ke', from: 0 })?.start, 2, 'only the end of a long history counts')
  if (after === undefined) throw new Error('no after')
  t.equal(leadOf(after, 'key=', 4, undefined), 'key=', 'no lead: the text alone')
  t.equal(leadOf(after, 'kez=', 4, undefined), undefined)
  t.equal(leadOf(after, 'the key =', 9, undefined), 'key =', 'a window of maxLength from a longer text')
  t.equal(leadOf(undefined, 'x', 1, undefined), '', 'no `after`: the empty lead')
})

t.test('findMatch: `notAfter` refuses a match its context ends before', async (t) => {
  const lane = laneOf([{ id: 'r.not', pattern: 'secret', notAfter: 'no ' }])
  t.equal(findMatch(lane, 'no secret', 0), undefined)
  t.equal(findMatch(lane, 'a secret', 0)?.start, 2)
})

t.test('findMatch: the validator sees the code point before the match and the lead', async (t) => {
  const seen: Array<{ value: string, before: string, lead: string | undefined }> = []
  const set = createRuleSetFromSources([{ id: 'r.v', category: 'test', description: 'v', action: 'redact', pattern: '[0-9]{3}', after: '(?:id )?', validator: 'luhn' }])
  const lane = set.output
  if (lane === undefined) throw new Error('no lane')
  // A validator that records what it is given (this set is the test's own).
  const validator: Validator = (value, ctx) => { seen.push({ value, before: ctx.before, lead: ctx.lead }); return true }
  Object.defineProperty(lane.rules[0], 'validator', { value: validator })
  findMatch(lane, '😀id 123', 0)
  t.same(seen, [{ value: '123', before: ' ', lead: 'id ' }])
})

t.test('findMatch: the search can be narrowed to some rules\' own groups', async (t) => {
  const lane = laneOf([{ id: 'r.a', pattern: 'aaa' }, { id: 'r.b', pattern: 'bbb' }])
  const s = 'aaa bbb'
  t.equal(findMatch(lane, s, 0)?.rule.id, 'r.a')
  t.equal(findMatch(lane, s, 0, s.length, undefined, [singleGroup(lane, 1)])?.rule.id, 'r.b', 'only r.b searched')
  t.equal(findMatch(lane, s, 0, s.length, undefined, lane.groups, Buffer.from(s))?.rule.id, 'r.a', 'with the UTF-8 the caller has')
})
