/**
 * @module test/rules/compile-words
 * A `words` list as one pattern: literal without obfuscation; with it, the
 * spellings people use to slip a word past a filter (look-alikes, repeated
 * and starred letters, invisible characters, letters spelled out with
 * separators, phrases joined by `_` or `-`), and a prefix language that
 * accepts every beginning of those spellings (what a stream holds back).
 */
import t from 'tap'
import RE2 from 're2'
import { compileWords } from '../../src/rules/compile-words.js'

/** Whether the whole of `text` is one of the words' spellings. */
function matcher (words: string[], obfuscation = true): (text: string) => boolean {
  const { source } = compileWords(words, obfuscation)
  const re = new RE2(`^(?:${source})$`, 'iu')
  return (text) => re.test(text)
}

/** Whether `text` is a beginning of some spelling (the compiled prefix language). */
function prefixMatcher (words: string[]): (text: string) => boolean {
  const { prefix } = compileWords(words, true)
  if (prefix === undefined) throw new Error('no prefix language')
  const re = new RE2(`^(?:${prefix})$`, 'iu')
  return (text) => re.test(text)
}

t.test('without obfuscation the words are literal, special characters escaped', async (t) => {
  t.same(compileWords(['a.b', 'c+'], false), { source: 'a\\.b|c\\+' })
  const m = matcher(['a.b', '(x)', 'f/g'], false)
  t.ok(m('a.b'))
  t.notOk(m('axb'), 'a dot is a dot')
  t.ok(m('(x)'))
  t.ok(m('f/g'))
})

t.test('the longest word comes first, ties in code-unit order, duplicates and blanks dropped', async (t) => {
  t.equal(compileWords(['ab', 'abc', 'b', 'a', ' abc ', ''], false).source, 'abc|ab|a|b')
  t.equal(compileWords(['bb', 'aa'], false).source, 'aa|bb')
})

t.test('obfuscated words match look-alike letters, fullwidth forms and repeats', async (t) => {
  const m = matcher(['darn'])
  for (const text of ['darn', 'DARN', 'd4rn', 'd@rn', 'dаrn' /* Cyrillic а */, 'ｄａｒｎ', 'daaaarn', 'd\u200barn']) t.ok(m(text), JSON.stringify(text))
  t.notOk(m('daaaaaaarn'), 'a letter repeated more than six times')
  t.notOk(m('dxrn'))
})

t.test('a letter inside a word, or a vowel at its end, may be starred', async (t) => {
  const m = matcher(['shite'])
  t.ok(m('sh*te'))
  t.ok(m('s**te'))
  t.ok(m('shit*'), 'a final vowel')
  t.notOk(m('*hite'), 'never the first letter')
  const consonant = matcher(['heck'])
  t.notOk(consonant('hec*'), 'not a final consonant')
})

t.test('letters spelled out with separators may run into the next word', async (t) => {
  const m = matcher(['darn'])
  for (const text of ['d a r n', 'd.a.r.n', 'd-a-r-n', 'd a r nit', 'd|a|r|n']) t.ok(m(text), JSON.stringify(text))
  t.notOk(m('d  a r n'), 'one separator between letters')
  const short = matcher(['ok'])
  t.notOk(short('o k'), 'a two-letter word has no spaced form (it would match too much)')
})

t.test('a phrase joins its words with spaces, underscores or hyphens', async (t) => {
  const m = matcher(['go away'])
  for (const text of ['go away', 'go_away', 'go-away', 'go   away', 'g o a w a y']) t.ok(m(text), JSON.stringify(text))
  t.notOk(m('goaway'), 'the compact form needs the separator')
})

t.test('characters that are not letters are matched as themselves', async (t) => {
  const m = matcher(['c-word', 'a.b.c'])
  t.ok(m('c-word'))
  t.ok(m('c-w0rd'))
  t.notOk(m('cxword'), 'a hyphen is no wildcard')
  t.ok(m('a.b.c'))
  t.notOk(m('axbxc'), 'nor is a dot')
  const digits = matcher(['b2b'])
  t.ok(digits('b2b'))
  t.ok(digits('8 2 8'), 'spelled out, each letter still reads as itself or a look-alike')
})

t.test('the prefix language accepts every beginning of every spelling', async (t) => {
  const p = prefixMatcher(['darn it', 'c-word'])
  const spellings = ['darn it', 'd4rn_it', 'd a r n i t', 'daaarn\u200b it', 'd*rn it', 'c-word', 'c-w*rd']
  for (const s of spellings) {
    for (let i = 1; i <= s.length; i++) t.ok(p(s.slice(0, i)), JSON.stringify(s.slice(0, i)))
  }
  t.notOk(p('x'), 'a letter no word starts with')
  t.notOk(p('dx'))
  t.notOk(p('c-x'))
})
