/**
 * @module test/rules/load-rules-compose
 * Rule files compose in load order: user paths add to the shipped rules,
 * and a later file can disable an earlier file's rules or override their
 * action, severity and allow-lists by id. Most cases use a small "base"
 * directory in the shipped rules' place (the same mechanism, loaded in
 * milliseconds); the cases about the shipped set load it.
 */
import t from 'tap'
import type { Test } from 'tap'
import { join } from 'node:path'
import { composeRulePaths, defaultRulesDir, loadRuleSet } from '../../src/rules/load-rules.js'
import { testRuleExamples } from '../../src/rules-test.js'
import { scanText } from '../../src/scanner/scan-text.js'

const hmacKey = 'compose-tests'

/** A rule entry: `id` on the entry's first line, then the given fields, each on its own line. */
function rule (id: string, fields: string[]): string {
  return [`  - id: ${id}`, '    category: pii', `    description: test rule ${id}`, ...fields.map((f) => `    ${f}`), ''].join('\n')
}

const empRule = rule('acme.emp', ["pattern: 'EMP-[0-9]{6}'", 'action: redact'])
const ticketRule = rule('base.ticket', [
  "pattern: 'TICKET-[0-9]{4}'",
  'action: redact',
  "replacement: '[TICKET]'",
  "allow: ['TICKET-0000']",
  'examples:',
  "  match: ['see TICKET-1234', 'see TICKET-5678']",
  "  nomatch: ['see TICKET-0000']"
])
const hostRule = rule('base.host', ["pattern: 'host-[a-z]{3}'", 'action: redact', 'examples:', "  match: ['on host-abc']"])
const base = `rules:\n${ticketRule}${hostRule}`

/** Loads base (standing for the shipped rules) then the user files, in that order. */
async function composed (t: Test, user: Record<string, string>): Promise<{ dir: string, load: () => ReturnType<typeof loadRuleSet> }> {
  const dir = t.testdir({ base: { 'base.yaml': base }, user })
  return { dir, load: () => loadRuleSet([join(dir, 'base'), join(dir, 'user')]) }
}

async function problemsOf (t: Test, user: Record<string, string>): Promise<string> {
  const { dir, load } = await composed(t, user)
  try {
    await load()
  } catch (err) {
    t.equal((err as { code?: string }).code, 'SLUICE_RULE_FILE')
    return (err as Error).message.replaceAll(dir, '<dir>')
  }
  t.fail('expected a RuleFileError')
  return ''
}

const text = (rs: Awaited<ReturnType<typeof loadRuleSet>>, input: string): string => scanText(rs, input, { hmacKey }).text

t.test('user rule paths add to the shipped rules', async (t) => {
  const dir = t.testdir({ 'acme.yaml': `rules:\n${empRule}` })
  const rs = await loadRuleSet([dir], { defaultRules: true })
  t.ok(rs.rules.some((r) => r.id === 'pii.email'), 'the shipped rules are loaded')
  t.equal(rs.rules.at(-1)?.id, 'acme.emp', 'the user rule is added after them')
  t.equal(rs.files[0], join(defaultRulesDir(), 'injection.yaml'), 'shipped files come first')
  const out = text(rs, 'EMP-123456, jane@acme.com')
  t.notMatch(out, 'EMP-123456')
  t.notMatch(out, 'jane@acme.com', 'the shipped e-mail rule still runs')
})

t.test('without the default rules, the user paths are the whole set', async (t) => {
  const dir = t.testdir({ 'acme.yaml': `rules:\n${empRule}` })
  const rs = await loadRuleSet(composeRulePaths([dir], false))
  t.same(rs.rules.map((r) => r.id), ['acme.emp'])
  t.equal(text(rs, 'EMP-123456, jane@acme.com'), '[REDACTED:pii], jane@acme.com')
})

t.test('composeRulePaths: shipped rules first, nothing to compose is an error', async (t) => {
  t.same(composeRulePaths(['a', 'b']), [defaultRulesDir(), 'a', 'b'])
  t.same(composeRulePaths('a', false), ['a'])
  t.same(composeRulePaths(undefined), [defaultRulesDir()])
  t.throws(() => composeRulePaths([], false), { code: 'SLUICE_INVALID_OPTIONS', message: /no rule paths/ })
})

t.test('a shipped file named again among the user paths is loaded once, not a duplicate', async (t) => {
  const rs = await loadRuleSet([join(defaultRulesDir(), 'pii.yaml')], { defaultRules: true })
  t.equal(rs.files.length, 5)
  t.equal(rs.rules.filter((r) => r.id === 'pii.email').length, 1)
})

t.test('a user file disables and overrides shipped rules by id', async (t) => {
  const dir = t.testdir({
    'user.yaml': [
      'disable: [pii.ipv4]',
      'overrides:',
      '  - id: pii.email',
      '    action: flag',
      '    severity: low',
      ''
    ].join('\n')
  })
  const rs = await loadRuleSet([dir], { defaultRules: true })
  const email = rs.rules.find((r) => r.id === 'pii.email')
  t.equal(email?.action, 'flag')
  t.equal(email?.severity, 'low')
  t.same(email?.origin.overrides?.map((o) => [o.line, o.column]), [[3, 5]])
  const ipv4 = rs.rules.find((r) => r.id === 'pii.ipv4')
  t.equal(ipv4?.enabled, false)
  t.same(ipv4?.origin.disabledAt, { file: join(dir, 'user.yaml'), line: 1, column: 11 })
  const r = scanText(rs, 'mail jane@acme.com from 81.2.69.142', { hmacKey })
  t.equal(r.text, 'mail jane@acme.com from 81.2.69.142', 'a flag leaves the text, a disabled rule finds nothing')
  t.same(r.findings.map((f) => [f.ruleId, f.action, f.severity]), [['pii.email', 'flag', 'low']])
})

t.test('disable turns an earlier file\'s rule off and leaves the others', async (t) => {
  const { load } = await composed(t, { 'user.yaml': 'disable:\n  - base.ticket\n' })
  const rs = await load()
  t.same(rs.rules.map((r) => [r.id, r.enabled]), [['base.ticket', false], ['base.host', true]])
  t.equal(text(rs, 'TICKET-1234 on host-abc'), 'TICKET-1234 on [REDACTED:pii]')
})

t.test('an override replaces action and severity; a replacement only goes with redact', async (t) => {
  const { load } = await composed(t, {
    'a.yaml': 'overrides:\n  - id: base.ticket\n    action: flag\n    severity: critical\n',
    'b.yaml': 'overrides:\n  - id: base.ticket\n    action: redact\n'
  })
  const rs = await load()
  const ticket = rs.rules.find((r) => r.id === 'base.ticket')
  t.equal(ticket?.action, 'redact', 'the later override wins')
  t.equal(ticket?.severity, 'critical', 'what the later override leaves alone stays overridden')
  t.equal(ticket?.replacement, '[TICKET]', 'back to redact, the rule\'s own replacement returns')
  t.equal(ticket?.origin.overrides?.length, 2)

  const { load: loadFlag } = await composed(t, { 'a.yaml': 'overrides:\n  - id: base.ticket\n    action: cut\n' })
  const cut = await loadFlag()
  const r = scanText(cut, 'before TICKET-1234 after', { hmacKey })
  t.equal(r.cut?.ruleId, 'base.ticket', 'the override\'s action is the one that runs')
  t.equal(r.text, 'before ')
})

t.test('an override adds to the rule\'s allow and allowPatterns', async (t) => {
  const { load } = await composed(t, {
    'user.yaml': "overrides:\n  - id: base.ticket\n    allow: ['TICKET-1111']\n    allowPatterns: ['^TICKET-9']\n"
  })
  const rs = await load()
  const ticket = rs.rules.find((r) => r.id === 'base.ticket')
  t.same([...(ticket?.allow ?? [])], ['TICKET-0000', 'TICKET-1111'], 'the rule\'s own entries stay')
  t.equal(text(rs, 'TICKET-0000 TICKET-1111 TICKET-9999 TICKET-1234'), 'TICKET-0000 TICKET-1111 TICKET-9999 [TICKET]')
})

t.test('unknown ids in disable and overrides name file, line, column and id', async (t) => {
  const msg = await problemsOf(t, {
    'user.yaml': [
      'disable: [base.tickt]', //          1
      'overrides:', //                     2
      '  - id: base.hots', //              3
      '    action: flag', //               4
      '  - id: nothing.like.it', //        5
      '    severity: low', //              6
      ''
    ].join('\n')
  })
  t.match(msg, '<dir>/user/user.yaml:1:11: disable: unknown rule id "base.tickt" (did you mean "base.ticket"?)')
  t.match(msg, '<dir>/user/user.yaml:3:9: override: unknown rule id "base.hots" (did you mean "base.host"?)')
  t.ok(msg.endsWith('<dir>/user/user.yaml:5:9: override: unknown rule id "nothing.like.it"'), 'no suggestion when no id is near')
  t.match(msg, /^3 problem\(s\)/)
})

t.test('a change to a rule defined only in a later file says where that rule is', async (t) => {
  const msg = await problemsOf(t, {
    'a.yaml': 'disable: [acme.emp]\n',
    'b.yaml': `rules:\n${empRule}`
  })
  t.match(msg, '<dir>/user/a.yaml:1:11: disable: rule "acme.emp" is only defined later, at <dir>/user/b.yaml:2:9')
})

t.test('a new rule with an earlier rule\'s id is a duplicate, with both places', async (t) => {
  const msg = await problemsOf(t, { 'user.yaml': `rules:\n${hostRule}` })
  t.match(msg, '<dir>/user/user.yaml:2:9: rule base.host: duplicate id (first defined at <dir>/base/base.yaml:12:9)')
  t.match(msg, 'use "overrides"')
})

t.test('an override that changes nothing, or a field it may not change, is refused where written', async (t) => {
  const msg = await problemsOf(t, {
    'user.yaml': [
      'overrides:', //                       1
      '  - id: base.ticket', //              2
      '  - id: base.host', //                3
      '    pattern: x', //                   4
      '  - id: base.host', //                5
      "    allowPatterns: ['ok', 'a(?<=b)']", // 6
      ''
    ].join('\n')
  })
  t.match(msg, '<dir>/user/user.yaml:2:5: override base.ticket: changes nothing')
  t.match(msg, '<dir>/user/user.yaml:4:5: override base.host: unknown field "pattern"')
  t.match(msg, '<dir>/user/user.yaml:6:29: override base.host: allowPatterns[1]: lookbehind "(?<=b)" is not supported by RE2')
})

t.test('an action the rule cannot take is refused at the override that sets it', async (t) => {
  const dir = t.testdir({
    base: { 'base.yaml': `rules:\n${rule('base.key', ["pattern: 'BEGIN KEY'", "until: 'END KEY'", 'action: redact'])}` },
    user: { 'user.yaml': 'overrides:\n  - id: base.key\n    action: flag\n' }
  })
  await t.rejects(loadRuleSet([join(dir, 'base'), join(dir, 'user')]), {
    message: `${join(dir, 'user', 'user.yaml')}:3:13: override base.key: "until" (a region) applies to action "redact" only, not "flag"`
  })
})

t.test('rules test runs every example against the composed set', async (t) => {
  const { load } = await composed(t, {
    'user.yaml': [
      'disable: [base.host]',
      'overrides:',
      '  - id: base.ticket', //                          3
      '    action: flag',
      "    allow: ['TICKET-5678']",
      ''
    ].join('\n')
  })
  const rs = await load()
  const report = testRuleExamples(rs)
  t.equal(report.rules, 1, 'the disabled rule is not tested')
  t.equal(report.examples, 3, 'its examples are not run')
  t.same(report.failures, [], 'the match example written for a redaction holds for the flag')
  t.match(report.skipped, [{ ruleId: 'base.ticket', text: 'see TICKET-5678', reason: /allowed by the override at .*user\.yaml:3:5$/ }])
  t.equal(report.skipped.length, 1)
})

t.test('a rule file may hold only disable or overrides, but not nothing', async (t) => {
  const { load } = await composed(t, { 'user.yaml': 'disable: [base.host]\n' })
  t.equal((await load()).rules.length, 2)
  const msg = await problemsOf(t, { 'user.yaml': '$schema: ./rule-file.schema.json\n' })
  t.match(msg, '<dir>/user/user.yaml:1:1: a rule file needs "rules", "disable" or "overrides"')
  const typo = await problemsOf(t, { 'user.yaml': 'overides: []\n' })
  t.match(typo, 'unknown top-level field "overides" (did you mean "overrides"?)')
})

t.test('changing a shipped rule with the shipped rules left out says why the id is unknown', async (t) => {
  const dir = t.testdir({ 'user.yaml': `rules:\n${empRule}overrides:\n  - id: pii.email\n    action: flag\n` })
  await t.rejects(loadRuleSet(composeRulePaths([dir], false)), {
    message: `${join(dir, 'user.yaml')}:8:9: override: unknown rule id "pii.email" (the shipped rules are not loaded: to change them, leave out --no-default-rules or defaultRules: false)`
  })
})
