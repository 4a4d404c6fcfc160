/**
 * @module test/source-positions
 * Paths and offsets in a YAML or JSON document map to the line and column
 * an author sees, through YAML's quoting; syntax errors are placed where
 * the mistake is, not where the parser gave up.
 */
import t from 'tap'
import { formatLocation, parseLocated } from '../src/source-positions.js'

const doc = [
  'rules:', //                                   1
  '  - id: a.b', //                              2
  "    pattern: 'it''s(?=x)'", //                 3
  '    plain: ab(?<=c)', //                       4
  '    double: "\\\\d\\u00e9(?=x)"', //            5
  '    block: |', //                              6
  '      a(?=b)', //                              7
  ''
].join('\n')

t.test('finds values and keys by path', async (t) => {
  const located = parseLocated(doc)
  t.same(located.syntaxErrors, [])
  t.same(located.positionOf(['rules', 0, 'id']), { line: 2, column: 9 })
  t.same(located.positionOf(['rules', 0, 'plain'], { key: true }), { line: 4, column: 5 })
  t.same(located.positionOf(['rules', 0]), { line: 2, column: 5 }, 'an entry is at its first field')
  t.same(located.positionOf(['rules', 0, 'missing']), { line: 2, column: 5 }, 'a missing field: the object that misses it')
  t.same(located.positionOf(['rules', 7, 'id']), { line: 2, column: 3 }, 'a missing item: the list')
  t.equal(formatLocation('f.yaml', located.positionOf(['rules', 0, 'id'])), 'f.yaml:2:9')
})

t.test('maps an offset in a string value back through its quoting', async (t) => {
  const located = parseLocated(doc)
  // value "it's(?=x)": "(" is at offset 4; in the file '' takes two columns.
  t.same(located.positionOf(['rules', 0, 'pattern'], { offset: 4 }), { line: 3, column: 20 })
  t.same(located.positionOf(['rules', 0, 'plain'], { offset: 2 }), { line: 4, column: 14 })
  // value "\dé(?=x)": "(" is at offset 3; \\ and \u00e9 are one character each.
  t.same(located.positionOf(['rules', 0, 'double'], { offset: 3 }), { line: 5, column: 23 })
  t.same(located.positionOf(['rules', 0, 'block'], { offset: 1 }), { line: 6, column: 12 }, 'a block scalar: its start')
})

t.test('places syntax errors on the line to fix', async (t) => {
  const under = parseLocated('a:\n  b: 1\n c: 2\n')
  t.match(under.syntaxErrors[0], { position: { line: 3, column: 2 }, message: /indentation/ })
  const over = parseLocated('a:\n  b: 1\n    c: 2\n')
  t.match(over.syntaxErrors[0], { position: { line: 3, column: 5 }, message: /indented deeper than the key above it/ })
  const quote = parseLocated("a: 'open\nb: 2\n")
  t.match(quote.syntaxErrors[0], { position: { line: 1, column: 4 }, message: /never closed/ })
  const bracket = parseLocated('a: [1, 2\nb: 3\n')
  t.match(bracket.syntaxErrors[0], { position: { line: 1, column: 4 }, message: '"[" is not closed' })
  const duplicate = parseLocated('a: 1\nb: 2\na: 3\n')
  t.match(duplicate.syntaxErrors[0], { position: { line: 3, column: 1 }, message: /unique/ })
})

t.test('reads JSON with the same positions', async (t) => {
  const located = parseLocated('{\n  "port": "x",\n  "metrics": { "port": 1 }\n}\n')
  t.same(located.positionOf(['port']), { line: 2, column: 11 })
  t.same(located.positionOf(['metrics', 'port']), { line: 3, column: 24 })
})
