import t from 'tap'
import type { Test } from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadRuleSet } from '../../src/rules/load-rules.js'

const good = `rules:
  - id: t.email
    category: pii
    description: e-mail
    pattern: 'PATTERN'
    action: redact
    replacement: '[EMAIL]'
    examples:
      match: ['mail a@b.cd']
      nomatch: ['nothing here']
`.replace('PATTERN', '[a-z]{1,20}@[a-z]{1,20}\\.[a-z]{2,6}')
const withPattern = (pattern: string): string => good.replace('[a-z]{1,20}@[a-z]{1,20}\\.[a-z]{2,6}', pattern)

async function problemsOf (t: Test, files: Record<string, string>): Promise<string> {
  const dir = t.testdir(files)
  try {
    await loadRuleSet(dir)
  } catch (err) {
    t.equal((err as { code?: string }).code, 'SLUICE_RULE_FILE')
    return (err as Error).message.replaceAll(dir, '<dir>')
  }
  t.fail('expected a RuleFileError')
  return ''
}

t.test('loads a valid file with line numbers for rules and examples', async (t) => {
  const dir = t.testdir({ 'a.yaml': good })
  const set = await loadRuleSet(dir)
  t.equal(set.rules.length, 1)
  t.equal(set.rules[0]?.origin.line, 2)
  t.same(set.rules[0]?.origin.exampleLines, { match: [9], nomatch: [10] })
})

t.test('a YAML syntax error names file, line and column', async (t) => {
  const msg = await problemsOf(t, { 'bad.yaml': 'rules:\n  - id: x\n    pattern: [unclosed\n' })
  t.match(msg, '<dir>/bad.yaml:3:14: YAML syntax: "[" is not closed')
})

t.test('an unknown field names file, line, column and rule', async (t) => {
  const msg = await problemsOf(t, { 'a.yaml': good.replace('    action: redact\n', '    action: redact\n    colour: blue\n') })
  t.match(msg, '<dir>/a.yaml:7:5: rule t.email: unknown field "colour"')
})

t.test('lookahead, back-references and anchors are refused at their column in the pattern', async (t) => {
  // Line 5 is `    pattern: '...'`: the pattern's first character is column 15.
  for (const [pattern, column, why] of [['a(?=b)', 16, /lookahead/], ['(a)\\1', 18, /back-reference/], ['^abc', 15, /anchor/]] as const) {
    const msg = await problemsOf(t, { 'a.yaml': withPattern(pattern) })
    t.match(msg, `<dir>/a.yaml:5:${column}: rule t.email: pattern: `)
    t.match(msg, why)
  }
})

t.test('an invalid RE2 pattern is refused at the pattern', async (t) => {
  const msg = await problemsOf(t, { 'a.yaml': withPattern('[a-z') })
  t.match(msg, /a\.yaml:5:\d+: rule t\.email: pattern/)
})

t.test('an unbounded pattern needs maxLength, and gets bounded by it', async (t) => {
  const unbounded = withPattern('[a-z]+@[a-z]+\\.[a-z]{2,6}')
  const msg = await problemsOf(t, { 'a.yaml': unbounded })
  t.match(msg, /unbounded repetition "\[a-z\]\+" needs a declared "maxLength"/)
  const dir = t.testdir({ 'a.yaml': unbounded.replace('    action: redact\n', '    action: redact\n    maxLength: 50\n') })
  const set = await loadRuleSet(dir)
  t.equal(set.rules[0]?.source, '[a-z]{1,50}@[a-z]{1,50}\\.[a-z]{2,6}')
  t.equal(set.rules[0]?.maxLength, 108, '50 + 1 + 50 + 1 + 6')
})

t.test('duplicate ids across files name both places; nothing is half-loaded', async (t) => {
  const msg = await problemsOf(t, { 'a.yaml': good, 'b.yaml': good })
  t.match(msg, '<dir>/b.yaml:2:9: rule t.email: duplicate id (first defined at <dir>/a.yaml:2:9)')
})

t.test('an unknown validator is refused at its line', async (t) => {
  const msg = await problemsOf(t, { 'a.yaml': good.replace('    action: redact\n', '    action: redact\n    validator: nope\n') })
  t.match(msg, '<dir>/a.yaml:7:16: rule t.email: unknown validator "nope"')
})

t.test('a pattern that can match the empty string is refused', async (t) => {
  const msg = await problemsOf(t, { 'a.yaml': withPattern('a{0,3}') })
  t.match(msg, /empty string/)
})

t.test('a missing path is a clear error', async (t) => {
  await t.rejects(loadRuleSet(join(t.testdir({}), 'nope')), { code: 'SLUICE_RULE_FILE' })
  void writeFileSync
})
