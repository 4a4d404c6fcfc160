import t from 'tap'
import { createPlaceholderFormat, parsePlaceholder } from '../../src/pseudonym/placeholder-format.js'

t.test('formats and parses typed, numbered placeholders', async (t) => {
  const f = createPlaceholderFormat()
  t.equal(f.format('EMAIL', 1), '<EMAIL_1>')
  t.same(parsePlaceholder(f, '<PERSON_ID_12>'), { type: 'PERSON_ID', n: 12 })
  t.equal(parsePlaceholder(f, '<EMAIL_0>'), undefined, 'numbers start at 1')
  const g = createPlaceholderFormat('[[{N}:{TYPE}]]')
  t.equal(g.format('IBAN', 3), '[[3:IBAN]]')
  t.same(parsePlaceholder(g, '[[3:IBAN]]'), { type: 'IBAN', n: 3 })
})

t.test('finds where an unfinished placeholder starts', async (t) => {
  const f = createPlaceholderFormat()
  t.equal(f.partialStart('hello <'), 6)
  t.equal(f.partialStart('hello <EMAIL_'), 6)
  t.equal(f.partialStart('hello <EMAIL_12'), 6)
  t.equal(f.partialStart('hello <EMAIL_1>'), -1, 'a complete one is no partial one')
  t.equal(f.partialStart('a <b> <c'), -1, 'lowercase cannot start a type')
  t.equal(f.partialStart('<E <EMAIL'), 3)
  t.equal(f.partialStart(`<${'A'.repeat(40)}`), -1, 'longer than any type')
})

t.test('refuses templates the restorer could not find back', async (t) => {
  for (const bad of ['{TYPE}_{N}>', '<{TYPE}_{N}', '<{TYPE}{N}>', '<{TYPE}>', '<{N}_{N}>', 'A{TYPE}_{N}>', ' {TYPE}_{N} ']) {
    t.throws(() => createPlaceholderFormat(bad), { code: 'SLUICE_PSEUDONYM_CONFIG' }, bad)
  }
})
