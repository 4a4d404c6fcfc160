/**
 * @module test/rules/rule-schema
 * The JSON Schema shipped for editors (rules/rule-file.schema.json) is the
 * one generated from `RuleFileSchema` — so it cannot drift from what the
 * loader enforces — and every shipped rule file validates against it.
 *
 * The shipped file is checked with an independent JSON Schema validator when
 * one can be imported (ajv arrives with fastify, but is not a dependency of
 * ours), and always with TypeBox's `Value.Check`, the loader's own check.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Value } from '@sinclair/typebox/value'
import { parse } from 'yaml'
import { defaultRulesDir, resolveRuleFiles } from '../../src/rules/load-rules.js'
import { RuleFileSchema } from '../../src/rules/rule-schema.js'

const rulesDir = defaultRulesDir()
const schemaFile = join(rulesDir, 'rule-file.schema.json')
const shipped = readFileSync(schemaFile, 'utf8')
const ruleFiles = await resolveRuleFiles(rulesDir)

type Validate = (data: unknown) => string[]

interface AjvLike {
  compile(schema: unknown): ((data: unknown) => boolean) & { errors?: Array<{ instancePath: string, message?: string }> | null }
}

/** ajv, if it can be imported; `undefined` otherwise. A variable specifier keeps tsc from requiring it. */
async function loadAjv (): Promise<Validate | undefined> {
  const specifier = 'ajv'
  const mod = await import(specifier).catch(() => undefined) as { default?: new (opts: object) => AjvLike } | undefined
  if (mod?.default === undefined) return undefined
  // eslint-disable-next-line new-cap -- the default export of an optional import
  const check = new mod.default({ allErrors: true, strict: true }).compile(JSON.parse(shipped))
  return (data) => check(data) ? [] : (check.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`)
}

const typeboxCheck: Validate = (data) =>
  Value.Check(RuleFileSchema, data) ? [] : [...Value.Errors(RuleFileSchema, data)].map((e) => `${e.path || '/'} ${e.message}`)

const ajvCheck = await loadAjv()

t.test('the shipped schema file is exactly what `sluice rules schema` prints', async (t) => {
  t.equal(shipped, JSON.stringify(RuleFileSchema, null, 2) + '\n',
    'regenerate with: node bin/sluice.js rules schema > rules/rule-file.schema.json')
  t.equal(JSON.parse(shipped).title, 'Sluice rule file')
})

t.test('every shipped rule file validates against the schema', async (t) => {
  t.equal(ruleFiles.length, 5, 'pii, secrets (two files: provider tokens and the rest), injection and toxicity')
  if (ajvCheck === undefined) t.comment('ajv cannot be imported: checking with TypeBox only')
  for (const file of ruleFiles) {
    const text = readFileSync(file, 'utf8')
    t.ok(text.startsWith('# yaml-language-server: $schema=./rule-file.schema.json\n'), `${file} points editors at the schema`)
    const data: unknown = parse(text)
    t.same(typeboxCheck(data), [], `${file} (TypeBox)`)
    if (ajvCheck !== undefined) t.same(ajvCheck(data), [], `${file} (ajv, against the shipped file)`)
  }
})

t.test('a rule file with mistakes fails the schema', async (t) => {
  const bad = parse([
    'rules:',
    '  - id: Bad Id',
    '    category: pii',
    '    description: x',
    '    pattern: a',
    '    action: delete',
    '    colour: red'
  ].join('\n')) as unknown
  t.ok(typeboxCheck(bad).length >= 3, 'TypeBox reports the id, the action and the unknown field')
  if (ajvCheck !== undefined) t.ok(ajvCheck(bad).length >= 3, 'ajv reports the id, the action and the unknown field')
  t.ok(typeboxCheck({ rules: [], extra: true }).length > 0, 'unknown top-level fields are rejected')
})
