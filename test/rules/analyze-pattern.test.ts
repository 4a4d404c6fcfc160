/**
 * @module test/rules/analyze-pattern
 * What the load-time analysis of a pattern decides: which patterns are
 * refused (and what the author is told to write instead, at which offset),
 * how unbounded repetition is bounded, the longest match (the most a stream
 * can hold back for a rule), and the prefix pattern, whose leftmost match at
 * the end of the text is where the holdback starts.
 */
import t from 'tap'
import RE2 from 're2'
import {
  analyzePattern,
  explainRe2Failure,
  parseForAutomata,
  PatternProblem,
  prefixPattern,
  relaxRepetitions
} from '../../src/rules/analyze-pattern.js'
import type { RefaNode } from '../../src/rules/analyze-pattern.js'

/** The problem `analyzePattern` throws for `source` (flags '', maxLength 64 unless given; null: none). */
function problemOf (source: string, maxLength: number | null = 64, suggestFields = true): PatternProblem {
  try {
    analyzePattern(source, '', maxLength ?? undefined, { suggestFields })
  } catch (err) {
    if (err instanceof PatternProblem) return err
    throw err
  }
  throw new Error(`${source}: accepted`)
}

t.test('a pattern in the common RE2/JavaScript syntax is accepted as it is', async (t) => {
  t.same(analyzePattern('ab[0-9]{3}', '', undefined), { source: 'ab[0-9]{3}', maxLength: 5, groups: 0 })
  t.same(analyzePattern('(a)(?:b)(c)', '', undefined), { source: '(a)(?:b)(c)', maxLength: 3, groups: 2 }, 'groups counts capturing groups only')
  t.same(analyzePattern('\\bkey\\b', 'i', undefined), { source: '\\bkey\\b', maxLength: 3, groups: 0 }, 'word boundaries are allowed and take no width')
})

t.test('a problem is a PatternProblem with the offset where it starts', async (t) => {
  const p = new PatternProblem('message', 3)
  t.ok(p instanceof Error)
  t.equal(p.message, 'message')
  t.equal(p.offset, 3)
  t.equal(new PatternProblem('no offset').offset, undefined)
})

t.test('unbounded repetition is bounded by maxLength, keeping its minimum and laziness', async (t) => {
  t.equal(analyzePattern('a+', '', 10).source, 'a{1,10}')
  t.equal(analyzePattern('a*b', '', 10).source, 'a{0,10}b')
  t.equal(analyzePattern('x+?y', '', 10).source, 'x{1,10}?y', 'a lazy quantifier stays lazy')
  t.equal(analyzePattern('a{5,}', '', 3).source, 'a{5,5}', 'a minimum above maxLength is kept: the bound never drops below it')
  t.equal(analyzePattern('a+b*c{2,}', '', 8).source, 'a{1,8}b{0,8}c{2,8}', 'every repetition, edited right to left so offsets stay valid')
  t.equal(analyzePattern('(?:ab)+', '', 4).maxLength, 8, 'the longest match counts the bounded repetition of the whole group')
})

t.test('unbounded repetition without a maxLength is refused at the quantifier', async (t) => {
  const p = problemOf('key=\\w+', null)
  t.equal(p.message, 'unbounded repetition "\\w+" needs a declared "maxLength"')
  t.equal(p.offset, 4)
})

t.test('a counted repetition over RE2\'s limit of 1000 is refused at its braces', async (t) => {
  const p = problemOf('ab{2,1001}')
  t.equal(p.message, 'repetition "{2,1001}" exceeds RE2\'s limit of 1000')
  t.equal(p.offset, 2)
  t.equal(analyzePattern('a{1000}', '', undefined).maxLength, 1000, '1000 itself is allowed')
})

t.test('the longest match is counted in UTF-16 units, astral characters as two', async (t) => {
  const longest = (source: string, flags = ''): number => analyzePattern(source, flags, undefined).maxLength
  t.equal(longest('a😀'), 3, 'an astral literal')
  t.equal(longest('\\d\\s\\w'), 3, 'digit, space and word classes are BMP')
  t.equal(longest('\\D'), 2, 'a negated class may match an astral code point')
  t.equal(longest('.'), 2, 'so may a dot')
  t.equal(longest('.', 's'), 2, 'with or without dotAll')
  t.equal(longest('\\p{L}'), 2, 'and a property')
  t.equal(longest('[a-z_]'), 1)
  t.equal(longest('[^a]'), 2, 'a negated bracket class')
  t.equal(longest('[a😀]'), 2, 'a bracket class with an astral member')
  t.equal(longest('[a-\\u{1F600}]'), 2, 'a range reaching the astral planes')
  t.equal(longest('[\\p{L}]'), 2, 'a property inside brackets')
  t.equal(longest('[\\D]'), 2, 'a negated set inside brackets')
  t.equal(longest('[\\d]'), 1, 'a plain set inside brackets')
  t.equal(longest('ab|cdef|g'), 4, 'the longest alternative')
  t.equal(longest('a{0}b'), 1, 'a repetition of at most zero takes nothing')
  t.equal(longest('(?:x(y|zz)){3}'), 9, 'nested groups multiply out')
})

t.test('a pattern that can match the empty string is refused, unless the caller allows it', async (t) => {
  t.equal(problemOf('a?').message, 'pattern can match the empty string')
  t.equal(problemOf('(?:a|)').message, 'pattern can match the empty string', 'an empty alternative')
  t.equal(problemOf('\\b').message, 'pattern can match the empty string', 'an assertion alone')
  t.equal(problemOf('a{0,3}', null).message, 'pattern can match the empty string')
  t.same(analyzePattern('(?:https?://)?', '', undefined, { allowEmpty: true }), { source: '(?:https?://)?', maxLength: 8, groups: 0 }, 'an `after` context may be empty')
  t.equal(analyzePattern('a?b', '', undefined).maxLength, 2, 'optional parts are fine while something must match')
  t.equal(analyzePattern('(?:ab){2}|c', '', undefined).maxLength, 4)
})

t.test('anchors are refused: a stream has no fixed start or end', async (t) => {
  t.same([problemOf('^abc').message, problemOf('^abc').offset], ['anchor "^" is not allowed: use "boundary" instead', 0])
  t.same([problemOf('abc$').message, problemOf('abc$').offset], ['anchor "$" is not allowed: use "boundary" instead', 3])
})

t.test('a back-reference is refused with what to write instead', async (t) => {
  const p = problemOf('(a)b\\1')
  t.equal(p.message, 'back-reference "\\1" is not supported by RE2: write the repeated part out, or check the match with a "validator"')
  t.equal(p.offset, 4)
})

t.test('a named group is refused: rules name a group by its number', async (t) => {
  const p = problemOf('x(?<user>[a-z]+)', 16)
  t.equal(p.message, 'named group "user" is not allowed: use a plain group and "group" with its number')
  t.equal(p.offset, 1)
})

t.test('only the first problem is reported', async (t) => {
  t.equal(problemOf('^(a)\\1$').message, 'anchor "^" is not allowed: use "boundary" instead')
})

t.test('a lookbehind at the start of a pattern suggests `after` or `notAfter`', async (t) => {
  t.equal(problemOf('(?<=key=)[a-z]{8}').message,
    'lookbehind "(?<=key=)" is not supported by RE2: remove it and set "after: \'key=\'" (the text before a match must end with it), or match it too and redact only the rest with "group"')
  t.equal(problemOf('(?<!x)[a-z]{8}').message,
    'negative lookbehind "(?<!x)" is not supported by RE2: remove it and set "notAfter: \'x\'" (the text before a match must not end with it)')
  t.equal(problemOf("(?<!it's )[a-z]{8}").message,
    'negative lookbehind "(?<!it\'s )" is not supported by RE2: remove it and set "notAfter: \'it\'\'s \'" (the text before a match must not end with it)',
    'the suggestion is a YAML single-quoted scalar, quotes doubled')
})

t.test('a negative one-class lookaround also suggests the boundary it stands for', async (t) => {
  const digit = ', or "boundary: digit"'
  const word = ', or "boundary: word"'
  for (const inner of ['\\d', '[0-9]', '[\\d]']) {
    t.ok(problemOf(`(?<!${inner})[0-9]{9}`).message.endsWith(digit), `(?<!${inner})`)
    t.ok(problemOf(`[0-9]{9}(?!${inner})`).message.endsWith(digit), `(?!${inner})`)
  }
  for (const inner of ['\\w', '[\\w]', '[A-Za-z0-9_]', '[a-zA-Z0-9_]']) {
    t.ok(problemOf(`(?<!${inner})key`).message.endsWith(word), `(?<!${inner})`)
  }
  t.notOk(problemOf('(?<![a-z])key').message.includes('boundary:'), 'another class is no boundary')
  t.notOk(problemOf('(?<=\\d)key').message.includes('boundary:'), 'a positive lookbehind is no boundary')
})

t.test('a lookahead at the end of a pattern suggests `notBefore` or `group`', async (t) => {
  t.equal(problemOf('[0-9]{4}(?![0-9])').message,
    'negative lookahead "(?![0-9])" is not supported by RE2: remove it and set "notBefore: \'[0-9]\'" (the text after a match must not start with it), or "boundary: digit"')
  t.equal(problemOf('[0-9]{4}(?!-x)').message,
    'negative lookahead "(?!-x)" is not supported by RE2: remove it and set "notBefore: \'-x\'" (the text after a match must not start with it)')
  t.equal(problemOf('secret(?=:)').message,
    'lookahead "(?=:)" is not supported by RE2: match it as part of the pattern and redact only the part before it with "group"')
})

t.test('a lookaround inside a pattern suggests matching the context and `group`', async (t) => {
  t.equal(problemOf('a(?=b)c').message,
    'lookahead "(?=b)" is not supported by RE2: match the context as part of the pattern and redact only the sensitive part with "group"')
  t.equal(problemOf('a(?<=a)c').message,
    'lookbehind "(?<=a)" is not supported by RE2: match the context as part of the pattern and redact only the sensitive part with "group" (a context that starts the pattern can go to "after")')
  t.equal(problemOf('(?=a)a').message,
    'lookahead "(?=a)" is not supported by RE2: match the context as part of the pattern and redact only the sensitive part with "group"', 'a lookahead at the start is inside')
  t.equal(problemOf('a(?<!b)').offset, 1)
})

t.test('in a context pattern a lookaround is refused without suggesting fields', async (t) => {
  t.equal(problemOf('(?<!\\d)x', 64, false).message, 'negative lookbehind "(?<!\\d)" is not supported by RE2')
  t.equal(problemOf('x(?=y)', 64, false).message, 'lookahead "(?=y)" is not supported by RE2')
})

t.test('syntax JavaScript refuses is explained with its RE2 or PCRE fix', async (t) => {
  const cases: Array<[string, string, number]> = [
    ['ab\\Kcd', '"\\K" is not supported by RE2: capture the part after it and set "group", or move the part before it to "after"', 2],
    ['\\Aabc', 'anchor "\\A" is not allowed: use "boundary" instead', 0],
    ['abc\\z', 'anchor "\\z" is not allowed: use "boundary" instead', 3],
    ['abc\\Z', 'anchor "\\Z" is not allowed: use "boundary" instead', 3],
    ['\\Gabc', 'anchor "\\G" is not allowed: use "boundary" instead', 0],
    ['(?<n>a)\\k<m>', 'named groups are not allowed: use a plain group "(" and "group" with its number', 0],
    ['a\\k<name>', 'back-reference "\\k<name>" is not supported by RE2: write the repeated part out, or check the match with a "validator"', 1],
    ['a\\k', 'back-reference "\\k" is not supported by RE2: write the repeated part out, or check the match with a "validator"', 1],
    ['\\Qa.b\\E', '"\\Q…\\E" quoting is not supported: escape each special character with "\\"', 0],
    ['[x\\Q]', '"\\Q…\\E" quoting is not supported: escape each special character with "\\"', 2],
    ['(?>ab)c', 'atomic group "(?>" is not supported by RE2: use "(?:" (RE2 never backtracks, so it is not needed)', 0],
    ['x(?P<id>a)', 'named groups are not allowed: use a plain group "(" and "group" with its number', 1],
    ["(?'id'a)", 'named groups are not allowed: use a plain group "(" and "group" with its number', 0],
    ['(a)(?P=a)', '"(?P=a)" (a back-reference or recursion) is not supported by RE2', 3],
    ['(?P>a)', '"(?P>a)" (a back-reference or recursion) is not supported by RE2', 0],
    ['a(?#note)b', 'comments "(?#…)" are not supported: remove it', 1],
    ['(?i)abc', 'inline flags "(?i)" are not allowed: set the rule\'s "flags" (i, s) instead', 0],
    ['a(?i-s:b)', 'inline flags "(?i-s:" are not allowed: set the rule\'s "flags" (i, s) instead', 1],
    ['(?(1)a|b)', '"(?(" (a conditional, branch reset or recursion) is not supported by RE2', 0],
    ['(?|a|b)', '"(?|" (a conditional, branch reset or recursion) is not supported by RE2', 0],
    ['a(?R)', '"(?R" (a conditional, branch reset or recursion) is not supported by RE2', 1],
    ['(a)(?1)', '"(?1" (a conditional, branch reset or recursion) is not supported by RE2', 3],
    ['(a)(?-1)', '"(?-" (a conditional, branch reset or recursion) is not supported by RE2', 3],
    ['a++b', 'possessive quantifier "++" is not supported by RE2: drop the last "+" (RE2 never backtracks, so the plain quantifier is already linear)', 2],
    ['a*+b', 'possessive quantifier "*+" is not supported by RE2: drop the last "+" (RE2 never backtracks, so the plain quantifier is already linear)', 2],
    ['a?+b', 'possessive quantifier "?+" is not supported by RE2: drop the last "+" (RE2 never backtracks, so the plain quantifier is already linear)', 2],
    ['a{2,5}+b', 'possessive quantifier "{2,5}+" is not supported by RE2: drop the last "+" (RE2 never backtracks, so the plain quantifier is already linear)', 6]
  ]
  for (const [source, message, offset] of cases) {
    const p = problemOf(source)
    t.equal(p.message, message, source)
    t.equal(p.offset, offset, `${source}: offset`)
  }
})

t.test('escapes and brackets do not hide or fake unsupported syntax', async (t) => {
  // Inside brackets `\K`, `\A` and `\k` are no anchors or references: the scan goes on and JavaScript's own error is reported.
  for (const source of ['[\\K]', '[\\A]', '[\\k]']) {
    t.match(problemOf(source).message, /^not valid in the RE2\/JavaScript common syntax: /, source)
  }
  t.match(problemOf('[(?>]\\Kx').message, /^"\\K"/, 'a bracket closes and the scan goes on after it')
  t.match(problemOf('\\(?>a\\)(').message, /^not valid/, 'an escaped parenthesis opens no group')
  t.match(problemOf('(?+x)').message, /^not valid/, '"(?+" that is no recursion is left to the parser')
  t.match(problemOf('(?:a').message, /^not valid/, 'an unclosed group')
})

t.test('syntax neither side knows is refused with the parser\'s message and offset', async (t) => {
  const p = problemOf('ab(c')
  t.match(p.message, /^not valid in the RE2\/JavaScript common syntax: Invalid regular expression: /)
  t.type(p.offset, 'number')
  t.match(problemOf('a{2,1}').message, /^not valid/, 'numbers out of order')
})

t.test('explainRe2Failure names what RE2 lacks, or nothing', async (t) => {
  t.equal(explainRe2Failure('(?<!\\d)x')?.message, 'negative lookbehind "(?<!\\d)" is not supported by RE2', 'lookbehind, without field suggestions')
  t.equal(explainRe2Failure('x(?=y)')?.offset, 1)
  t.equal(explainRe2Failure('(a)\\1')?.message, 'back-reference "\\1" is not supported by RE2')
  t.equal(explainRe2Failure('(a)\\1(?=b)')?.message, 'back-reference "\\1" is not supported by RE2', 'the first in the pattern')
  t.equal(explainRe2Failure('(?=b)(a)\\1')?.message, 'lookahead "(?=b)" is not supported by RE2')
  t.equal(explainRe2Failure('a++')?.message.startsWith('possessive quantifier "++"'), true, 'syntax JavaScript refuses')
  t.equal(explainRe2Failure('^abc$'), undefined, 'anchors are fine where this is used (allow-lists)')
  t.equal(explainRe2Failure('ab(c'), undefined, 'nothing known to explain')
})

t.test('the prefix pattern accepts every prefix of every match, and nothing that cannot become one', async (t) => {
  const p = prefixPattern('ab[0-9]{3}', '')
  const whole = new RE2(`^(?:${p.source})$`, p.flags)
  for (const prefix of ['', 'a', 'ab', 'ab1', 'ab12', 'ab123']) t.ok(whole.test(prefix), JSON.stringify(prefix))
  for (const other of ['b', 'ax', 'abc', 'ab1x', 'xab1']) t.notOk(whole.test(other), JSON.stringify(other))
})

t.test('the holdback starts at the leftmost suffix that can still grow into a match', async (t) => {
  const p = prefixPattern('key-[a-z]{4}', '')
  const tail = new RE2(`(?:${p.source})$`, p.flags)
  const holdFrom = (text: string): number => tail.exec(text)?.index ?? text.length
  t.equal(holdFrom('the key-ab'), 4, 'a partial match is held from its start')
  t.equal(holdFrom('the ke'), 4)
  t.equal(holdFrom('the key-abcd'), 4, 'a whole match is a prefix too')
  t.equal(holdFrom('keys'), 4, 'nothing to hold: the match is empty at the end')
})

t.test('the prefix pattern keeps the rule\'s flags', async (t) => {
  const insensitive = prefixPattern('token', 'i')
  t.ok(new RE2(`^(?:${insensitive.source})$`, insensitive.flags).test('TOK'), 'i')
  // Read as JavaScript: refa writes a dotAll dot as `[^]`, which RE2 does not parse.
  const dotAll = prefixPattern('a.b', 's')
  t.ok(new RegExp(`^(?:${dotAll.source})$`, dotAll.flags).test('a\n'), 's: a dot takes a line break')
  const plain = prefixPattern('a.b', '')
  t.notOk(new RegExp(`^(?:${plain.source})$`, plain.flags).test('a\n'), 'without s it does not')
})

t.test('the prefix pattern drops assertions and relaxes counts, accepting more, never less', async (t) => {
  const p = prefixPattern('\\bid[0-9]{2,3}\\b', '')
  const whole = new RE2(`^(?:${p.source})$`, p.flags)
  t.ok(whole.test('id12'))
  t.ok(whole.test('id12345'), 'a count relaxed to unbounded')
  t.ok(new RE2(`(?:${p.source})$`, p.flags).test('xid1'), 'and a word boundary dropped: a prefix may follow a word character')
})

t.test('parseForAutomata reads the pattern in Unicode mode with the rule\'s i and s', async (t) => {
  t.ok(parseForAutomata('a', 'i', 'throw').expression, 'parsed')
  t.equal(parseForAutomata('😀', '', 'throw').maxCharacter, 0x10ffff, 'Unicode: code points up to U+10FFFF')
  t.throws(() => parseForAutomata('\\ba', '', 'throw'), 'assertions refused where the automaton must decide exactly')
  t.ok(parseForAutomata('\\ba', '', 'ignore').expression, 'and dropped where a superset will do')
})

t.test('relaxRepetitions makes counted repetitions unbounded, optional parts stay optional', async (t) => {
  const q = (max: number, element: RefaNode): RefaNode => ({ type: 'Quantifier', max, alternatives: [{ type: 'Concatenation', elements: [element] }] })
  const inner = q(64, { type: 'CharacterClass' })
  const optional = q(1, inner)
  const tree: RefaNode = { type: 'Expression', alternatives: [{ type: 'Concatenation', elements: [q(3, { type: 'CharacterClass' }), optional] }] }
  relaxRepetitions(tree)
  const [seq] = tree.alternatives ?? []
  t.equal(seq?.elements?.[0]?.max, Infinity, '{3} → {3,}')
  t.equal(optional.max, 1, '? stays')
  t.equal(inner.max, Infinity, 'nested inside it too')
})
