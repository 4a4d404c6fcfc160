/**
 * @module test/rules/load-rules-positions
 * Rule-file errors point where the author has to look, as
 * `file:line:column: rule id: message`: a YAML syntax error at the line it
 * is on (not line 1, not the line the parser gave up on), a schema error at
 * the field at fault, an enum error with the allowed values, a pattern
 * error at the offending part of the pattern (through YAML quoting), and
 * what RE2 cannot do with the rule field that does it instead.
 */
import t from 'tap'
import type { Test } from 'tap'
import { loadRuleSet } from '../../src/rules/load-rules.js'

/** A one-rule file: `id` on line 2, then category (3), description (4), pattern (5), action (6), then `extra` lines. */
function ruleFile (pattern: string, extra: string[] = [], action = 'redact'): string {
  return ['rules:', '  - id: acme.x', '    category: pii', '    description: d', `    pattern: ${pattern}`, `    action: ${action}`, ...extra, ''].join('\n')
}

async function problemsOf (t: Test, text: string): Promise<string> {
  const dir = t.testdir({ 'acme.yaml': text })
  try {
    await loadRuleSet(dir)
  } catch (err) {
    t.equal((err as { code?: string }).code, 'SLUICE_RULE_FILE')
    return (err as Error).message.replaceAll(`${dir}/`, '')
  }
  t.fail('expected a RuleFileError')
  return ''
}

t.test('YAML syntax errors are reported on their own line and column', async (t) => {
  const lines = ['rules:', '  - id: acme.emp', '    category: pii', 'DESCRIPTION', "    pattern: 'EMP-[0-9]{6}'", '    action: redact', '']
  const under = await problemsOf(t, lines.join('\n').replace('DESCRIPTION', '   description: employee'))
  t.match(under, "acme.yaml:4:4: YAML syntax: Sequence item without - indicator (check this line's indentation against the lines above)")
  const over = await problemsOf(t, lines.join('\n').replace('DESCRIPTION', '      description: employee'))
  t.match(over, 'acme.yaml:4:7: YAML syntax: this line is indented deeper than the key above it')
  const unclosed = await problemsOf(t, ruleFile("'EMP-[0-9]{6}"))
  t.match(unclosed, "acme.yaml:5:14: YAML syntax: Missing closing 'quote: this string is never closed")
  const colon = await problemsOf(t, ruleFile("'x'").replace('description: d', 'description: note: this'))
  t.match(colon, 'acme.yaml:4:18: YAML syntax: Nested mappings are not allowed in compact mappings (a value that contains ": " needs quotes)')
  t.equal(under.split('\n').length, 2, 'one problem: the parser\'s follow-on errors are left out')
})

t.test('schema errors point at the field at fault', async (t) => {
  const wrongType = await problemsOf(t, ruleFile("'x'", ['    maxLength: many']))
  t.match(wrongType, 'acme.yaml:7:16: rule acme.x: maxLength must be an integer (got "many")')
  const missing = await problemsOf(t, ruleFile("'x'").replace('    category: pii\n', ''))
  t.match(missing, 'acme.yaml:2:5: rule acme.x: missing required field "category"')
  const typo = await problemsOf(t, ruleFile("'x'").replace('    action: redact', '    actoin: redact'))
  t.match(typo, 'acme.yaml:6:5: rule acme.x: unknown field "actoin" (did you mean "action"?)')
  const nested = await problemsOf(t, ruleFile("'x'", ['    examples:', "      match: ['x']", "      nomach: ['y']"]))
  t.match(nested, 'acme.yaml:9:7: rule acme.x: unknown field "examples.nomach" (did you mean "nomatch"?)')
  const id = await problemsOf(t, ruleFile("'x'").replace('id: acme.x', 'id: Acme X'))
  t.match(id, 'acme.yaml:2:9: rule Acme X: id must match ^[a-z0-9][a-z0-9_.-]*$ (got "Acme X")')
})

t.test('enum errors list the allowed values', async (t) => {
  const msg = await problemsOf(t, ruleFile("'x'", ['    severity: huge', '    boundary: words'], 'delete'))
  t.match(msg, 'acme.yaml:6:13: rule acme.x: action must be one of redact, cut, flag (got "delete")')
  t.match(msg, 'acme.yaml:7:15: rule acme.x: severity must be one of low, medium, high, critical (got "huge")')
  t.match(msg, 'acme.yaml:8:15: rule acme.x: boundary must be one of none, word, digit, alnum (got "words")')
  t.match(msg, /^3 problem\(s\)/)
})

t.test('a pattern error points at its column in the pattern, through the quoting', async (t) => {
  // Plain: the pattern starts at column 14.
  const plain = await problemsOf(t, ruleFile('ab(?<=c)d'))
  t.match(plain, 'acme.yaml:5:16: rule acme.x: pattern: lookbehind "(?<=c)" is not supported by RE2')
  // Single-quoted: '' is one character of the pattern, two in the file.
  const single = await problemsOf(t, ruleFile("'it''s(?=x)y'"))
  t.match(single, 'acme.yaml:5:20: rule acme.x: pattern: lookahead "(?=x)"')
  // Double-quoted: \\ is one backslash of the pattern, two in the file.
  const double = await problemsOf(t, ruleFile('"\\\\d{3}\\\\K[a-z]{2}"'))
  t.match(double, 'acme.yaml:5:21: rule acme.x: pattern: "\\K" is not supported by RE2: capture the part after it and set "group"')
  // A block scalar: the field is named at its start.
  const block = await problemsOf(t, ruleFile('|\n      a(?=b)c'))
  t.match(block, 'acme.yaml:5:14: rule acme.x: pattern: lookahead')
})

t.test('a lookbehind or lookahead names the rule field that does its work', async (t) => {
  const lead = await problemsOf(t, ruleFile("'(?<=key=)[A-Z]{6}'"))
  t.match(lead, 'acme.yaml:5:15: rule acme.x: pattern: lookbehind "(?<=key=)" is not supported by RE2: remove it and set "after: \'key=\'"')
  t.match(lead, 'or match it too and redact only the rest with "group"')
  const notLead = await problemsOf(t, ruleFile("'(?<!\\d)[0-9]{4}'"))
  t.match(notLead, 'negative lookbehind "(?<!\\d)" is not supported by RE2: remove it and set "notAfter: \'\\d\'"')
  t.match(notLead, 'or "boundary: digit"')
  const notTrail = await problemsOf(t, ruleFile("'[a-z]{3}(?!-x)'"))
  t.match(notTrail, 'acme.yaml:5:23: rule acme.x: pattern: negative lookahead "(?!-x)" is not supported by RE2: remove it and set "notBefore: \'-x\'"')
  const middle = await problemsOf(t, ruleFile("'id=(?<=d=)[0-9]{4}'"))
  t.match(middle, 'acme.yaml:5:18: rule acme.x: pattern: lookbehind "(?<=d=)" is not supported by RE2: match the context as part of the pattern and redact only the sensitive part with "group"')
})

t.test('other syntax RE2 lacks is refused with the fix', async (t) => {
  const cases: Array<[string, number, string]> = [
    ["'[a-z]++@x'", 21, 'possessive quantifier "++" is not supported by RE2: drop the last "+"'],
    ["'(?>ab)c'", 15, 'atomic group "(?>" is not supported by RE2: use "(?:"'],
    ["'(?i)abc'", 15, 'inline flags "(?i)" are not allowed: set the rule\'s "flags" (i, s) instead'],
    ["'(a)b\\1'", 19, 'back-reference "\\1" is not supported by RE2: write the repeated part out, or check the match with a "validator"'],
    ["'(?P<n>a)b'", 15, 'named groups are not allowed: use a plain group "(" and "group" with its number'],
    ["'\\Aabc'", 15, 'anchor "\\A" is not allowed: use "boundary" instead']
  ]
  for (const [pattern, column, message] of cases) {
    const msg = await problemsOf(t, ruleFile(pattern))
    t.match(msg, `acme.yaml:5:${column}: rule acme.x: pattern: ${message}`, pattern)
  }
})

t.test('errors in the other pattern fields point at their own column', async (t) => {
  const after = await problemsOf(t, ruleFile("'[A-Z]{6}'", ["    after: 'key(?<!x)='"]))
  t.ok(after.endsWith('acme.yaml:7:16: rule acme.x: after: negative lookbehind "(?<!x)" is not supported by RE2'), 'no rule field is suggested inside a context pattern')
  const allow = await problemsOf(t, ruleFile("'[A-Z]{6}'", ["    allowPatterns: ['^OK', 'A(?=B)']"]))
  t.match(allow, 'acme.yaml:7:30: rule acme.x: allowPatterns[1]: lookahead "(?=B)" is not supported by RE2')
  const group = await problemsOf(t, ruleFile("'k([A-Z]{6})'", ['    group: 2']))
  t.match(group, 'acme.yaml:7:12: rule acme.x: group 2 does not exist (the pattern has 1)')
})

t.test('problems come in file order with the list on the error', async (t) => {
  const text = [
    'rules:',
    '  - id: a.one', '    category: pii', '    description: d', "    pattern: 'a(?=b)'", '    action: redact',
    '  - id: a.two', '    category: pii', '    description: d', "    pattern: 'x'", '    action: nope',
    ''
  ].join('\n')
  const dir = t.testdir({ 'a.yaml': text })
  const err = await loadRuleSet(dir).then(() => undefined, (e: unknown) => e as Error & { problems?: string[] })
  const problems = err?.problems?.map((p) => p.replace(`${dir}/`, ''))
  t.same(problems?.map((p) => p.split(': ')[0]), ['a.yaml:5:16', 'a.yaml:11:13'], 'the schema error of the later rule comes after the earlier rule\'s pattern error')
  t.match(err?.message, /^2 problem\(s\) in rule files:\n {2}\//)
})
