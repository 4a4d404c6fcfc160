/**
 * @module test/schema-messages
 * TypeBox's errors as sentences: allowed values for an enum, the value
 * written, one problem per field, "did you mean" for a misspelt field.
 */
import t from 'tap'
import { Type } from '@sinclair/typebox'
import { closestName, schemaProblems } from '../src/schema-messages.js'

const Schema = Type.Object({
  action: Type.Union([Type.Literal('redact'), Type.Literal('flag')]),
  count: Type.Optional(Type.Integer({ minimum: 1 })),
  name: Type.Optional(Type.String({ pattern: '^[a-z]+$' })),
  either: Type.Optional(Type.Union([Type.String(), Type.Object({ text: Type.String() })])),
  list: Type.Optional(Type.Array(Type.String()))
}, { additionalProperties: false })

t.test('an enum lists its values and the value written', async (t) => {
  t.same(schemaProblems(Schema, { action: 'delete' }), [{ path: ['action'], atKey: false, message: 'action must be one of redact, flag (got "delete")' }])
})

t.test('one problem per field, each at its path', async (t) => {
  const problems = schemaProblems(Schema, { count: 'two', name: 'A1', either: 3, list: ['a', 4] })
  t.same(problems.map((p) => p.message), [
    'missing required field "action"',
    'count must be an integer (got "two")',
    'name must match ^[a-z]+$ (got "A1")',
    'either must be a string or an object (got 3)',
    'list[1] must be a string (got 4)'
  ])
  t.same(problems.map((p) => p.path), [['action'], ['count'], ['name'], ['either'], ['list', 1]])
})

t.test('an unknown field points at its key and suggests the close one', async (t) => {
  t.same(schemaProblems(Schema, { action: 'flag', cuont: 1 }), [{ path: ['cuont'], atKey: true, message: 'unknown field "cuont" (did you mean "count"?)' }])
  t.same(schemaProblems(Schema, { action: 'flag', colour: 1 })[0]?.message, 'unknown field "colour"', 'no suggestion when nothing is close')
})

t.test('stops at max problems and names a whole value by its label', async (t) => {
  t.equal(schemaProblems(Type.Array(Type.String()), [1, 2, 3], { max: 2 }).length, 2)
  t.equal(schemaProblems(Type.Array(Type.String()), [1], { label: 'disable' })[0]?.message, 'disable[0] must be a string (got 1)')
})

t.test('closestName accepts small slips only', async (t) => {
  t.equal(closestName('actoin', ['action', 'after']), 'action')
  t.equal(closestName('overides', ['rules', 'overrides']), 'overrides')
  t.equal(closestName('colour', ['category', 'action']), undefined)
})
