/**
 * @module proxy/settings/config-file
 * The config file (`--config FILE`, YAML, or JSON by its `.json`
 * extension): its schema, built from the settings table, and its reading.
 * Unknown fields are errors (a typo must not silently do nothing), and every
 * error names the file, the line and column (`file:line:column`, as
 * rule-file errors do) and the field.
 */
import { readFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { Type } from '@sinclair/typebox'
import type { TObject, TSchema } from '@sinclair/typebox'
import { InvalidOptionsError } from '../../errors.js'
import { schemaProblems } from '../../schema-messages.js'
import { formatLocation, parseLocated } from '../../source-positions.js'
import type { LocatedDocument } from '../../source-positions.js'
import { fileObjectOptions, settingRows } from './table.js'
import type { ProxyConfigFile, ProxySetting } from './table.js'

/** The settings the config file may hold, with their key paths split (`['timeouts', 'idleMs']`). */
export const fileSettings: ReadonlyArray<{ row: ProxySetting, path: string[] }> = settingRows.flatMap((row) => row.file === undefined ? [] : [{ row, path: row.file.split('.') }])

/** Nested objects of optional fields, none other allowed: `timeouts.idleMs` becomes `timeouts: { idleMs }`. */
function objectSchema (entries: ReadonlyArray<{ path: readonly string[], schema: TSchema }>, prefix: string): TObject {
  const properties: Record<string, TSchema> = {}
  const groups = new Map<string, Array<{ path: readonly string[], schema: TSchema }>>()
  for (const { path, schema } of entries) {
    const [head = '', ...rest] = path
    if (rest.length === 0) properties[head] = Type.Optional(schema)
    else groups.set(head, [...(groups.get(head) ?? []), { path: rest, schema }])
  }
  for (const [name, members] of groups) {
    properties[name] = Type.Optional(objectSchema(members, `${prefix}${name}.`))
  }
  return Type.Object(properties, { additionalProperties: false, ...fileObjectOptions[prefix.slice(0, -1)] })
}

/** The config file's schema: every setting's file key with its kind's schema. */
export const ProxyConfigFileSchema: TObject = objectSchema(fileSettings.map(({ row, path }) => ({ path, schema: row.parse.schema })), '')

/** The value at `path` in parsed JSON, or undefined. */
export function valueAt (data: unknown, path: readonly string[]): unknown {
  let value = data
  for (const segment of path) {
    if (typeof value !== 'object' || value === null) return undefined
    value = (value as Record<string, unknown>)[segment]
  }
  return value
}

/** Parses the text as YAML, or as strict JSON for a `.json` file; syntax errors name the line and column. */
function parseConfigText (file: string, text: string): { data: unknown, located: LocatedDocument } {
  // JSON is YAML: one document API gives the positions of both; JSON.parse keeps a .json file strict.
  const located = parseLocated(text)
  if (extname(file) !== '.json') {
    const syntax = located.syntaxErrors[0]
    if (syntax !== undefined) throw new InvalidOptionsError(`config file ${formatLocation(file, syntax.position)}: not valid YAML: ${syntax.message}`)
    return { data: located.doc.toJS(), located }
  }
  try {
    return { data: JSON.parse(text), located }
  } catch (err) {
    const message = (err as Error).message.split('\n')[0] ?? ''
    const offset = /at position (\d+)/.exec(message)?.[1]
    const position = offset === undefined ? located.syntaxErrors[0]?.position : located.positionAt(Number(offset))
    throw new InvalidOptionsError(`config file ${position === undefined ? file : formatLocation(file, position)}: not valid JSON: ${message}`)
  }
}

/** Problems of the schema first (up to 10, in file order), then of the settings' own checks. */
function configProblems (file: string, data: unknown, located: LocatedDocument): string[] {
  const schema = schemaProblems(ProxyConfigFileSchema, data, { max: 10 })
    .map((p) => ({ at: located.positionOf(p.path, { key: p.atKey }), message: p.message }))
    .sort((a, b) => a.at.line - b.at.line || a.at.column - b.at.column)
    .map((p) => `${formatLocation(file, p.at)}: ${p.message}`)
  if (schema.length > 0) return schema
  const checks: string[] = []
  for (const { row, path } of fileSettings) {
    const value = valueAt(data, path)
    const problem = value === undefined ? undefined : row.parse.check?.(value, path.join('.'))
    if (problem !== undefined) checks.push(`${formatLocation(file, located.positionOf([...path, ...(problem.at ?? [])]))}: ${problem.message}`)
  }
  return checks
}

/**
 * Reads and validates a config file; errors name the file, the line and
 * column and the field.
 *
 * @example
 * const file = await readProxyConfigFile('sluice.yaml') // { upstream: 'https://api.openai.com', ... }
 */
export async function readProxyConfigFile (file: string): Promise<ProxyConfigFile> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new InvalidOptionsError(`cannot read config file ${file}: ${(err as Error).message}`)
  }
  const { data, located } = parseConfigText(file, text)
  if (data === null || data === undefined) return {}
  const problems = configProblems(file, data, located)
  if (problems.length === 1) throw new InvalidOptionsError(`config file ${problems[0] ?? ''}`)
  if (problems.length > 1) throw new InvalidOptionsError(`config file ${file}: ${problems.length} problems:\n  ${problems.join('\n  ')}`)
  return data as ProxyConfigFile
}
