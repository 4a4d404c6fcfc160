/**
 * @module test/rules/compile-rule
 * One rule as written, compiled for the scanner: the defaults it gets, the
 * regex variants and contexts it carries, and every refusal, each a
 * RuleProblem naming the field at fault (and, in a pattern, the offset) so
 * that the loader can point at a file, line and column.
 */
import t from 'tap'
import { compileAllowPattern, compileRule, RuleProblem } from '../../src/rules/compile-rule.js'
import type { RuleOrigin, RuleSource } from '../../src/rules/types.js'

const origin: RuleOrigin = { file: 'rules/test.yaml', line: 3, column: 5 }
const base: RuleSource = { id: 't.rule', category: 'secret', description: 'a test rule', action: 'redact', pattern: 'key-[a-z]{4}' }

/** The RuleProblem compiling `rule` throws. */
function problemOf (rule: RuleSource): RuleProblem {
  try {
    compileRule(rule, origin)
  } catch (err) {
    if (err instanceof RuleProblem) return err
    throw err
  }
  throw new Error(`${JSON.stringify(rule)}: compiled`)
}

t.test('a rule gets the documented defaults', async (t) => {
  const rule = compileRule(base, origin)
  t.match(rule, {
    id: 't.rule',
    category: 'secret',
    description: 'a test rule',
    action: 'redact',
    severity: 'medium',
    enabled: true,
    boundary: 'none',
    view: 'normalized',
    source: 'key-[a-z]{4}',
    flags: '',
    maxLength: 8,
    group: undefined,
    groups: 0,
    prefixSource: undefined,
    until: undefined,
    after: undefined,
    notAfter: undefined,
    notBeforeGroup: undefined,
    validator: undefined,
    validatorName: undefined,
    minEntropy: undefined,
    replacement: '[REDACTED:{category}]',
    origin,
    examples: { match: [], nomatch: [] }
  })
  t.same([...rule.allow], [])
  t.same(rule.allowPatterns, [])
  t.equal(rule.render({ value: 'key-abcd', id: 't.rule', category: 'secret', digest: () => 'ff' }), '[REDACTED:secret]')
})

t.test('what the author set is kept', async (t) => {
  const rule = compileRule({
    ...base,
    severity: 'critical',
    enabled: false,
    boundary: 'word',
    view: 'raw',
    validator: 'luhn',
    minEntropy: 3,
    allow: ['key-test'],
    allowPatterns: ['^key-x'],
    replacement: '[KEY {last:2}]',
    examples: { match: ['key-abcd'], nomatch: ['key-ab'] }
  }, origin)
  t.match(rule, { severity: 'critical', enabled: false, boundary: 'word', view: 'raw', validatorName: 'luhn', minEntropy: 3, replacement: '[KEY {last:2}]' })
  t.equal(typeof rule.validator, 'function')
  t.same([...rule.allow], ['key-test'])
  t.equal(rule.allowPatterns.length, 1)
  t.ok(rule.allowPatterns[0]?.test('key-xyzw'))
  t.same(rule.examples, { match: ['key-abcd'], nomatch: ['key-ab'] })
  t.equal(rule.render({ value: 'key-abcd', id: 't.rule', category: 'secret', digest: () => 'ff' }), '[KEY cd]')
})

t.test('flags are deduplicated and sorted', async (t) => {
  t.equal(compileRule({ ...base, flags: 'sis' }, origin).flags, 'is')
})

t.test('the sticky regex matches exactly where it is told, and reports group spans only when needed', async (t) => {
  const plain = compileRule(base, origin)
  plain.sticky.lastIndex = 1
  t.equal(plain.sticky.exec('xkey-abcd')?.[0], 'key-abcd')
  plain.sticky.lastIndex = 0
  t.equal(plain.sticky.exec('xkey-abcd'), null, 'not one character later')
  t.equal(compileRule(base, origin).sticky.exec('key-abcd')?.indices, undefined, 'no spans without a group')
  const grouped = compileRule({ ...base, pattern: 'key-([a-z]{4})', group: 1 }, origin)
  grouped.sticky.lastIndex = 0
  t.same(grouped.sticky.exec('key-abcd')?.indices?.[1], [4, 8], 'the group\'s span')
  t.equal(grouped.groups, 1)
})

t.test('unbounded repetition is bounded by maxLength', async (t) => {
  const rule = compileRule({ ...base, pattern: 'key-[a-z]+', maxLength: 12 }, origin)
  t.equal(rule.source, 'key-[a-z]{1,12}')
  t.equal(rule.maxLength, 16)
})

t.test('a words rule compiles its list and keeps the words\' own prefix language', async (t) => {
  const { pattern: _, ...noPattern } = base
  const rule = compileRule({ ...noPattern, words: ['darn', 'heck'], flags: 'i' }, origin)
  t.ok(rule.sticky.test('HECK'))
  t.equal(rule.prefixSource, undefined, 'plain words derive their prefix like a pattern')
  const obfuscated = compileRule({ ...noPattern, words: ['darn'], obfuscation: true }, origin)
  t.type(obfuscated.prefixSource, 'string', 'obfuscated words bring their own')
  const withNotBefore = compileRule({ ...noPattern, words: ['darn'], obfuscation: true, notBefore: ' it' }, origin)
  t.equal(withNotBefore.prefixSource, undefined, 'not with a notBefore suffix compiled in')
})

t.test('notBefore is compiled in as an optional last group the scanner refuses', async (t) => {
  const rule = compileRule({ ...base, pattern: '(k)ey-[a-z]{4}', notBefore: '\\.example' }, origin)
  t.equal(rule.notBeforeGroup, 2, 'after the pattern\'s own groups')
  t.equal(rule.source, '(?:(k)ey-[a-z]{4})(\\.example)?')
  t.equal(rule.maxLength, 16)
  rule.sticky.lastIndex = 0
  t.same(rule.sticky.exec('key-abcd.example')?.indices?.[2], [8, 16])
})

t.test('after and notAfter become lookbehinds read back from the match', async (t) => {
  const rule = compileRule({ ...base, after: 'token[=:] ?', notAfter: 'no-', flags: 'i' }, origin)
  t.match(rule.after, { source: 'token[=:] ?', maxLength: 7 })
  t.ok(rule.after?.regex.test('TOKEN= '), 'end-anchored, with the rule\'s flags')
  t.notOk(rule.after?.regex.test('token= x'))
  t.match(rule.notAfter, { source: 'no-', maxLength: 3 })
  const empty = compileRule({ ...base, after: '(?:id: )?' }, origin)
  t.equal(empty.after?.maxLength, 4, 'an `after` may match nothing')
  const bounded = compileRule({ ...base, after: 'key[ =]+', maxLength: 5 }, origin)
  t.equal(bounded.after?.source, 'key[ =]{1,5}', 'bounded by maxLength like the pattern')
})

t.test('until closes a region: the closing, what may still become one, and its length', async (t) => {
  const rule = compileRule({ ...base, pattern: 'BEGIN', until: 'END' }, origin)
  t.equal(rule.until?.maxLength, 3)
  const end = rule.until?.regex
  if (end === undefined) throw new Error('no until')
  end.lastIndex = 2
  t.equal(end.exec('ENDxEND')?.index, 4, 'global: the next closing at or after lastIndex')
  t.equal(rule.until?.prefix.exec('text EN')?.index, 5, 'the tail that may still grow into a closing')
  const insensitive = compileRule({ ...base, pattern: 'BEGIN', until: 'end', flags: 'i' }, origin)
  t.equal(insensitive.until?.prefix.exec('text EN')?.index, 5, 'the prefix keeps the rule\'s flags')
})

t.test('a rule needs exactly one of pattern and words', async (t) => {
  t.equal(problemOf({ ...base, words: ['x'] }).message, 'a rule needs exactly one of "pattern" or "words"')
  const { pattern: _, ...neither } = base
  try {
    compileRule(neither, origin)
    t.fail('compiled')
  } catch (err) {
    t.equal((err as RuleProblem).message, 'a rule needs exactly one of "pattern" or "words"')
    t.equal((err as RuleProblem).field, undefined, 'the rule as a whole')
  }
})

t.test('each refusal names its field', async (t) => {
  const { pattern: _, ...noPattern } = base
  const cases: Array<[string, RuleSource, string, ReadonlyArray<string | number>]> = [
    ['obfuscation on a pattern', { ...base, obfuscation: true }, '"obfuscation" applies to "words" rules only', ['obfuscation']],
    ['a group the pattern lacks', { ...base, pattern: 'key-([a-z]{4})', group: 2 }, 'group 2 does not exist (the pattern has 1)', ['group']],
    ['until on a flag rule', { ...base, action: 'flag', until: 'END' }, '"until" (a region) applies to action "redact" only, not "flag"', ['action']],
    ['until on a words rule', { ...noPattern, words: ['begin'], until: 'END' }, '"until" needs a "pattern" to open the region', ['until']],
    ['a replacement on a cut rule', { ...base, action: 'cut', replacement: 'x' }, '"replacement" only applies to action "redact", not "cut"', ['replacement']],
    ['an unknown placeholder', { ...base, replacement: '[{secret}]' }, 'Invalid replacement template: unknown placeholder "{secret}" in "[{secret}]"', ['replacement']],
    ['an empty word', { ...noPattern, words: [''] }, 'words: pattern can match the empty string', ['words']],
    ['a notBefore that may be empty', { ...base, notBefore: 'x|' }, 'notBefore: pattern can match the empty string', ['notBefore']]
  ]
  for (const [name, rule, message, field] of cases) {
    const p = problemOf(rule)
    t.equal(p.message, message, name)
    t.same(p.field, field, `${name}: field`)
  }
  const unknown = problemOf({ ...base, validator: 'nope' })
  t.match(unknown.message, /^unknown validator "nope" \(known: luhn, payment_card, /)
  t.same(unknown.field, ['validator'])
})

t.test('a pattern problem carries the offset inside the field', async (t) => {
  const p = problemOf({ ...base, pattern: 'key-(?<=x)[a-z]{4}' })
  t.match(p.message, /^pattern: lookbehind "\(\?<=x\)" is not supported by RE2: match the context/)
  t.same(p.field, ['pattern'])
  t.equal(p.offset, 4)
  const unbounded = problemOf({ ...base, pattern: 'key-[a-z]+' })
  t.equal(unbounded.message, 'pattern: unbounded repetition "[a-z]+" needs a declared "maxLength"')
  t.equal(unbounded.offset, 4)
})

t.test('a words rule\'s problem names the field, not an offset in its compiled pattern', async (t) => {
  const { pattern: _, ...noPattern } = base
  const p = problemOf({ ...noPattern, words: [''] })
  t.equal(p.offset, undefined)
})

t.test('what JavaScript parses but RE2 refuses is refused with RE2\'s own words', async (t) => {
  const p = problemOf({ ...base, pattern: 'key-\\p{Lowercase}' })
  t.match(p.message, /^pattern is not valid RE2: /)
  t.same(p.field, ['pattern'])
  t.equal(p.offset, undefined)
})

t.test('context patterns are checked in their own field, without field suggestions', async (t) => {
  const cases: Array<[Partial<RuleSource>, string, string]> = [
    [{ after: '(?<!x)y' }, 'after', 'after: negative lookbehind "(?<!x)" is not supported by RE2'],
    [{ notAfter: 'a{2,1001}' }, 'notAfter', 'notAfter: repetition "{2,1001}" exceeds RE2\'s limit of 1000'],
    [{ notBefore: 'x(?=y)' }, 'notBefore', 'notBefore: lookahead "(?=y)" is not supported by RE2'],
    [{ until: 'END$' }, 'until', 'until: anchor "$" is not allowed: use "boundary" instead'],
    [{ until: 'END+' }, 'until', 'until: unbounded repetition "D+" needs a declared "maxLength"']
  ]
  for (const [rule, field, message] of cases) {
    const p = problemOf({ ...base, ...rule })
    t.equal(p.message, message, field)
    t.same(p.field, [field])
  }
  t.equal(problemOf({ ...base, after: 'ab(?!c)' }).offset, 2, 'with the offset inside the context pattern')
})

t.test('allowPatterns are compiled one by one, each named by its index', async (t) => {
  const p = problemOf({ ...base, allowPatterns: ['^ok$', '(unclosed'] })
  t.match(p.message, /^allowPatterns\[1\] is not valid RE2: missing \)/)
  t.same(p.field, ['allowPatterns', 1])
  t.equal(p.offset, undefined)
})

t.test('an allow pattern RE2 refuses is explained when the reason is known', async (t) => {
  t.ok(compileAllowPattern('^[a-z]+$', ['allowPatterns', 0]).test('abc'))
  t.ok(compileAllowPattern('^x$', ['allowPatterns', 0]).unicode, 'in Unicode mode')
  const cases: Array<[string, ReadonlyArray<string | number>, string, number | undefined]> = [
    ['(?<=a)b', ['allowPatterns', 0], 'allowPatterns[0]: lookbehind "(?<=a)" is not supported by RE2', 0],
    ['a\\1', ['allowPatterns', 2], 'allowPatterns[2] is not valid RE2: invalid escape sequence: \\1', undefined],
    ['[z-a]', ['overrides', 0, 'allowPatterns', 1], 'overrides[0].allowPatterns[1] is not valid RE2: invalid character class range: z-a', undefined]
  ]
  for (const [source, field, message, offset] of cases) {
    try {
      compileAllowPattern(source, field)
      t.fail(`${source}: compiled`)
    } catch (err) {
      t.ok(err instanceof RuleProblem, source)
      t.equal((err as RuleProblem).message, message, source)
      t.same((err as RuleProblem).field, field)
      t.equal((err as RuleProblem).offset, offset)
    }
  }
})
