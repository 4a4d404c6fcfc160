/**
 * @module test/rules/load-rules-file-shape
 * A rule file whose top level is not what the loader reads is refused at
 * the line at fault, with what it expected; an override that adds to a
 * rule's lists adds to nothing when the rule has none; and the paths a
 * caller gives are composed with the shipped rules (or refused when that
 * leaves none).
 */
import t from 'tap'
import type { Test } from 'tap'
import { composeRulePaths, createRuleSetFromSources, defaultRulesDir, loadRuleSet } from '../../src/rules/load-rules.js'
import type { RuleSource } from '../../src/rules/types.js'

async function problemsOf (t: Test, text: string, withDefaults = false): Promise<string> {
  const dir = t.testdir({ 'acme.yaml': text })
  try {
    await loadRuleSet(withDefaults ? composeRulePaths(dir) : dir)
  } catch (err) {
    t.equal((err as { code?: string }).code, 'SLUICE_RULE_FILE')
    return (err as Error).message.replaceAll(`${dir}/`, '')
  }
  t.fail('expected a RuleFileError')
  return ''
}

t.test('an unknown top-level field is refused, with a guess only when one is close', async (t) => {
  t.match(await problemsOf(t, 'rules: []\nrule: []\n'), 'acme.yaml:2:1: unknown top-level field "rule" (did you mean "rules"?)')
  const far = await problemsOf(t, 'rules: []\nzzzzzz: 1\n')
  t.match(far, 'acme.yaml:2:1: unknown top-level field "zzzzzz"')
  t.notMatch(far, 'did you mean')
  t.match(await problemsOf(t, '? [a, b]\n: 1\nrules: []\n'), 'unknown top-level field "["a","b"]"', 'a key that is not a scalar')
})

t.test('a file with nothing but $schema has nothing to load', async (t) => {
  t.match(await problemsOf(t, '$schema: ./rule-file.schema.json\n'), 'acme.yaml:1:1: a rule file needs "rules", "disable" or "overrides"')
})

t.test('rules and overrides must be lists', async (t) => {
  t.match(await problemsOf(t, 'rules:\n  a: 1\n'), 'acme.yaml:2:3: "rules" must be a list')
  t.match(await problemsOf(t, 'overrides:\n  a: 1\n'), 'acme.yaml:2:3: "overrides" must be a list')
  t.match(await problemsOf(t, 'disable: x\n'), 'acme.yaml:1:10: disable must be a list (got "x")')
})

t.test('an empty override entry is missing its id', async (t) => {
  t.match(await problemsOf(t, 'overrides:\n  -\n'), 'acme.yaml:2:4: override #1: missing required field "id"')
})

t.test('an id that starts many known ids lists five of them', async (t) => {
  const problems = await problemsOf(t, 'disable:\n  - pii\n', true)
  t.match(problems, /acme\.yaml:2:5: disable: unknown rule id "pii" \(did you mean ("pii\.[a-z_]+", ){5}…\?\)/)
})

t.test('an override\'s allow list adds to a rule that has none', async (t) => {
  const dir = t.testdir({ 'acme.yaml': 'overrides:\n  - id: pii.email\n    allow: ["team@corp.example"]\n    allowPatterns: ["@corp\\\\.example$"]\n' })
  const set = await loadRuleSet([defaultRulesDir(), dir])
  const email = set.rules.find((r) => r.id === 'pii.email')
  t.ok(email?.allow.has('team@corp.example'))
  t.ok(email?.allowPatterns.some((p) => p.test('a@corp.example')))
})

t.test('inline rules are checked against the schema like a file', async (t) => {
  const bad = { id: 'x.y', category: 'c', description: 'd', action: 'nope', pattern: 'x' } as unknown as RuleSource
  t.throws(() => createRuleSetFromSources([bad]), { code: 'SLUICE_RULE_FILE', message: /<inline>:1: rule x\.y: action must be one of redact, cut, flag \(got "nope"\)/ })
  t.throws(() => createRuleSetFromSources([bad], 'ours'), { message: /ours:1: rule x\.y/ }, 'under the name given')
})

t.test('the shipped rules come first unless turned off, and turning them off needs paths', async (t) => {
  t.same(composeRulePaths(undefined), [defaultRulesDir()])
  t.same(composeRulePaths('ours'), [defaultRulesDir(), 'ours'])
  t.same(composeRulePaths(['a', 'b'], false), ['a', 'b'])
  t.throws(() => composeRulePaths(undefined, false), { code: 'SLUICE_INVALID_OPTIONS', message: /no rule paths are given: there would be no rules/ })
  t.throws(() => composeRulePaths([], false), { code: 'SLUICE_INVALID_OPTIONS' })
})
