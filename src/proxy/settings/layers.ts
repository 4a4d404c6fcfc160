/**
 * @module proxy/settings/layers
 * The proxy's settings come in layers, highest first: command-line flags,
 * environment variables (`SLUICE_*`), the config file, the defaults. Each
 * layer is read here by the settings table, into values by setting key,
 * each with where it came from; `resolveSettings` keeps the highest layer's
 * value of every setting. Pure apart from reading the config file.
 */
import { parseArgs } from 'node:util'
import { usageError } from '../../cli-args.js'
import { InvalidOptionsError } from '../../errors.js'
import { fileSettings, readProxyConfigFile, valueAt } from './config-file.js'
import { settingRows } from './table.js'
import type { ProxySetting, SettingKey, SettingValues } from './table.js'

/** A value one layer sets, with where it came from (`--port`, `SLUICE_PORT`, `config file proxy.yaml`). */
export interface LayerValue {
  value: unknown
  source: string
}

/** One layer: the settings it sets, by key. */
export type SettingsLayer = ReadonlyMap<string, LayerValue>

type FlagOption = { type: 'string' | 'boolean', multiple?: boolean }

/** The settings that have a flag, by flag name. */
const byFlag = new Map(settingRows.flatMap((row) => row.flag === undefined ? [] : [[row.flag, row] as const]))

/** `parseArgs` options of every flag: a switch is boolean, a list repeatable, the rest take a value. */
const flagOptions: Readonly<Record<string, FlagOption>> = Object.fromEntries([...byFlag].map(([flag, row]) => {
  const { form } = row.parse
  return [flag, form === 'switch' ? { type: 'boolean' } : { type: 'string', ...(form === 'list' ? { multiple: true } : {}) }]
}))

/** A setting's value from text, checked as a file's value is; errors name `source`. */
function fromText (row: ProxySetting, texts: readonly string[], source: string): unknown {
  const value = row.parse.read(texts, source)
  const problem = row.parse.check?.(value, source)
  if (problem !== undefined) throw usageError(problem.message)
  return value
}

/** The flags of `sluice proxy` (the arguments after it). */
export function flagLayer (argv: readonly string[]): SettingsLayer {
  let values: Record<string, string | boolean | Array<string | boolean> | undefined>
  try {
    ({ values } = parseArgs({ args: [...argv], options: flagOptions, strict: true, allowPositionals: false }))
  } catch (err) {
    throw new InvalidOptionsError((err as Error).message)
  }
  const layer = new Map<string, LayerValue>()
  for (const [flag, given] of Object.entries(values)) {
    const row = byFlag.get(flag)
    if (row === undefined || given === undefined) continue
    const source = `--${flag}`
    // A switch sets true, or false when it is a `--no-…` flag.
    const value = typeof given === 'boolean' ? !flag.startsWith('no-') : fromText(row, (Array.isArray(given) ? given : [given]).map(String), source)
    layer.set(row.key, { value, source })
  }
  return layer
}

/** The `SLUICE_*` variables; an empty one counts as unset. A list is a comma list. */
export function envLayer (env: Record<string, string | undefined>): SettingsLayer {
  const layer = new Map<string, LayerValue>()
  for (const row of settingRows) {
    if (row.env === undefined) continue
    const text = env[row.env]?.trim()
    if (text === undefined || text === '') continue
    const texts = row.parse.form === 'list' ? text.split(',').map((s) => s.trim()).filter((s) => s.length > 0) : [text]
    layer.set(row.key, { value: fromText(row, texts, row.env), source: row.env })
  }
  return layer
}

/** The config file's settings (already validated: see config-file.ts). */
export async function fileLayer (file: string): Promise<SettingsLayer> {
  const data = await readProxyConfigFile(file)
  const layer = new Map<string, LayerValue>()
  for (const { row, path } of fileSettings) {
    const value = valueAt(data, path)
    if (value !== undefined) layer.set(row.key, { value, source: `config file ${file}` })
  }
  return layer
}

export interface ResolvedSettings {
  values: SettingValues
  /** Where a setting's value came from (`--port`, `SLUICE_PORT`, `config file …`), or undefined for its default. */
  sourceOf: (key: SettingKey) => string | undefined
}

/**
 * Every setting's value: that of the highest layer that sets it, else its
 * default. A merging setting (`input.rules`) takes the entries of every
 * layer over those of its default instead.
 */
export function resolveSettings (highestFirst: readonly SettingsLayer[]): ResolvedSettings {
  const values: Record<string, unknown> = {}
  const sources = new Map<string, string>()
  const lowestFirst = [...highestFirst].reverse()
  for (const row of settingRows) {
    // A copy: a caller may change its config without changing the table.
    let value: unknown = structuredClone(row.default)
    for (const layer of lowestFirst) {
      const set = layer.get(row.key)
      if (set === undefined) continue
      value = row.mergeLayers === true ? { ...(value as object), ...(set.value as object) } : set.value
      sources.set(row.key, set.source)
    }
    values[row.key] = value
  }
  return { values: values as SettingValues, sourceOf: (key) => sources.get(key) }
}
