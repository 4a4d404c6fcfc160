/**
 * @module rules/load-rules
 * Reads rule files, validates every rule up front against the schema, and
 * compiles them into a `RuleSet`. All-or-nothing: any problem in any file
 * throws one `RuleFileError` listing every problem as
 * `file:line:column: rule id: message`, and nothing is half-loaded (the
 * proxy keeps serving its last good set).
 *
 * Files compose in load order: each file's rules are added, then its
 * `disable` and `overrides` change rules loaded so far (gitleaks' `[extend]`
 * with `useDefault` and `disabledRules`). The CLI, the proxy and the plugin
 * load the shipped rules first and the user's paths after them
 * (`composeRulePaths`), so a user file adds to the shipped set, turns
 * shipped rules off, or changes their action, severity and allow-lists;
 * `loadRuleSet` itself loads exactly the paths it is given.
 *
 * Positions come from the YAML document's node ranges (source-positions.ts):
 * a syntax error at its line and column, a schema error at the field at
 * fault, a pattern error at the offending part of the pattern.
 */
import { readFile, readdir, stat } from 'node:fs/promises'
import { dirname, extname, join, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isMap, isScalar, isSeq } from 'yaml'
import { InvalidOptionsError, NoRulesError, RuleFileError } from '../errors.js'
import { isJsonObject } from '../json/json-object.js'
import { closestName, schemaProblems } from '../schema-messages.js'
import { formatLocation, parseLocated } from '../source-positions.js'
import type { LocatedDocument, SourcePath } from '../source-positions.js'
import { compileAllowPattern, compileRule, RuleProblem } from './compile-rule.js'
import type { CompiledRuleInternal } from './compile-rule.js'
import type { RuleCache } from './rule-cache.js'
import { createRuleSet } from './rule-set.js'
import type { RuleSet } from './rule-set.js'
import { RuleFileSchema, RuleOverrideSchema, RuleSchema } from './rule-schema.js'
import type { ChangeOrigin, RuleOrigin, RuleOverride, RuleSource } from './types.js'

export interface LoadRulesOptions {
  /** Rule ids to leave out (as gitleaks' `disabledRules`). */
  disable?: readonly string[]
  /**
   * Load the shipped rules before `paths` (default false here: the CLI,
   * proxy and plugin ask for them unless told not to).
   */
  defaultRules?: boolean
  /**
   * Keeps what compiling the rules derives (automata, group packings)
   * across processes (rules/rule-cache.ts). Without one, only this
   * process's memory does: the CLI, the proxy and the plugin pass the
   * on-disk cache (disk-rule-cache.ts).
   */
  cache?: RuleCache | undefined
}

/** The shipped default rules (`rules/` at the package root). */
export function defaultRulesDir (): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'rules')
}

/**
 * The paths a user's rule paths stand for: the shipped rules, then theirs
 * (a shipped file named again is loaded once), or theirs alone when
 * `defaultRules` is false. Throws when that leaves nothing to load.
 * @example
 * await loadRuleSet(composeRulePaths(['./our-rules'])) // shipped + ours
 */
export function composeRulePaths (paths: string | readonly string[] | undefined, defaultRules = true): string[] {
  const given = paths === undefined ? [] : typeof paths === 'string' ? [paths] : [...paths]
  if (!defaultRules && given.length === 0) {
    throw new InvalidOptionsError('the shipped rules are turned off (no default rules) and no rule paths are given: there would be no rules')
  }
  return defaultRules ? [defaultRulesDir(), ...given] : given
}

/**
 * Expands directories to their `*.yaml`/`*.yml` files, alphabetically. A
 * file reached twice (named, and inside a directory also named) is read once,
 * where it first appears.
 */
export async function resolveRuleFiles (paths: string | readonly string[]): Promise<string[]> {
  const files: string[] = []
  const seen = new Set<string>()
  const add = (file: string): void => {
    const key = resolve(file)
    if (seen.has(key)) return
    seen.add(key)
    files.push(file)
  }
  for (const p of typeof paths === 'string' ? [paths] : paths) {
    const info = await stat(p).catch(() => undefined)
    if (info === undefined) throw new RuleFileError(`${p}: no such file or directory`)
    if (info.isDirectory()) {
      const names = (await readdir(p)).filter((n) => ['.yaml', '.yml'].includes(extname(n))).sort()
      for (const n of names) add(join(p, n))
    } else {
      add(p)
    }
  }
  return files
}

/** `file:line:column` of a field (and an offset in its value) of one entry. */
type Locate = (field?: SourcePath, offset?: number) => string

interface Located {
  rule: RuleSource
  origin: RuleOrigin
  locate: Locate
}

interface Disable { id: string, where: string, at: ChangeOrigin }
interface Override { override: RuleOverride, locate: Locate, at: ChangeOrigin }

/** One rule file, parsed: its rules, then the changes it makes to rules loaded before it. */
interface ParsedFile {
  file: string
  rules: Located[]
  disable: Disable[]
  overrides: Override[]
}

const topLevelFields = ['$schema', 'rules', 'disable', 'overrides']

function changeOrigin (file: string, located: LocatedDocument, path: SourcePath): ChangeOrigin {
  const p = located.positionOf(path)
  return { file, line: p.line, column: p.column }
}

/** Parses one file; pushes its problems to `problems`. */
function parseRuleFile (file: string, text: string, problems: string[]): ParsedFile {
  const parsed: ParsedFile = { file, rules: [], disable: [], overrides: [] }
  const located = parseLocated(text)
  const at = (path: SourcePath, options?: { key?: boolean, offset?: number }): string => formatLocation(file, located.positionOf(path, options))
  // The first syntax error only: the parser's later ones mostly follow from it.
  const syntax = located.syntaxErrors[0]
  if (syntax !== undefined) {
    problems.push(`${formatLocation(file, syntax.position)}: YAML syntax: ${syntax.message}`)
    return parsed
  }
  const root = located.doc.contents
  if (!isMap(root)) {
    problems.push(`${at([])}: expected a mapping with "rules" (and/or "disable", "overrides")`)
    return parsed
  }
  let any = false
  for (const pair of root.items) {
    const key = String(isScalar(pair.key) ? pair.key.value : pair.key)
    if (topLevelFields.includes(key)) {
      any ||= key !== '$schema'
      continue
    }
    const guess = closestName(key, topLevelFields)
    problems.push(`${at([key], { key: true })}: unknown top-level field "${key}"${guess === undefined ? '' : ` (did you mean "${guess}"?)`}`)
  }
  if (!any) {
    problems.push(`${at([])}: a rule file needs "rules", "disable" or "overrides"`)
    return parsed
  }

  const rules = root.get('rules', true)
  if (rules !== undefined && !isSeq(rules)) problems.push(`${at(['rules'])}: "rules" must be a list`)
  if (isSeq(rules)) {
    rules.items.forEach((item, i) => {
      const entry = located.positionOf(['rules', i])
      const raw = (item as { toJSON?: () => unknown } | null)?.toJSON?.() ?? item
      const id = typeof (raw as { id?: unknown } | null)?.id === 'string' ? (raw as { id: string }).id : `#${i + 1}`
      const locate: Locate = (field = [], offset) => at(['rules', i, ...field], offset === undefined ? undefined : { offset })
      const errors = schemaProblems(RuleSchema, raw)
      for (const e of errors) problems.push(`${at(['rules', i, ...e.path], { key: e.atKey })}: rule ${id}: ${e.message}`)
      if (errors.length > 0) return
      const rule = raw as RuleSource
      const lineOf = (path: SourcePath): number => located.positionOf(path).line
      const exampleLines = {
        match: (rule.examples?.match ?? []).map((_, j) => lineOf(['rules', i, 'examples', 'match', j])),
        nomatch: (rule.examples?.nomatch ?? []).map((_, j) => lineOf(['rules', i, 'examples', 'nomatch', j]))
      }
      parsed.rules.push({ rule, origin: { file, line: entry.line, column: entry.column, exampleLines }, locate })
    })
  }

  const disable = root.get('disable', true)
  if (disable !== undefined) {
    const value = (disable as { toJSON?: () => unknown } | null)?.toJSON?.() ?? disable
    const errors = schemaProblems(RuleFileSchema.properties.disable, value, { label: 'disable' })
    for (const e of errors) problems.push(`${at(['disable', ...e.path])}: ${e.message}`)
    if (errors.length === 0) {
      (value as string[]).forEach((id, j) => {
        parsed.disable.push({ id, where: at(['disable', j]), at: changeOrigin(file, located, ['disable', j]) })
      })
    }
  }

  const overrides = root.get('overrides', true)
  if (overrides !== undefined && !isSeq(overrides)) problems.push(`${at(['overrides'])}: "overrides" must be a list`)
  if (isSeq(overrides)) {
    overrides.items.forEach((item, j) => {
      const raw = (item as { toJSON?: () => unknown } | null)?.toJSON?.() ?? item
      const id = typeof (raw as { id?: unknown } | null)?.id === 'string' ? (raw as { id: string }).id : `#${j + 1}`
      const base = ['overrides', j]
      if (isJsonObject(raw) && Object.keys(raw).length === 1 && 'id' in raw) {
        problems.push(`${at(base)}: override ${id}: changes nothing: give "action", "severity", "allow" or "allowPatterns"`)
        return
      }
      const errors = schemaProblems(RuleOverrideSchema, raw)
      for (const e of errors) problems.push(`${at([...base, ...e.path], { key: e.atKey })}: override ${id}: ${e.message}`)
      if (errors.length > 0) return
      const override = raw as RuleOverride
      const locate: Locate = (field = [], offset) => at([...base, ...field], offset === undefined ? undefined : { offset })
      // Checked where they are written: once merged, an error would point at the rule.
      let valid = true
      ;(override.allowPatterns ?? []).forEach((p, k) => {
        try {
          compileAllowPattern(p, ['allowPatterns', k])
        } catch (err) {
          if (!(err instanceof RuleProblem)) throw err
          valid = false
          problems.push(`${locate(err.field, err.offset)}: override ${id}: ${err.message}`)
        }
      })
      if (valid) parsed.overrides.push({ override, locate, at: changeOrigin(file, located, base) })
    })
  }
  return parsed
}

/** A rule as its overrides leave it: action and severity replaced, allow-lists extended. */
function applyOverrides (rule: RuleSource, overrides: readonly RuleOverride[]): RuleSource {
  const out: RuleSource = { ...rule }
  for (const o of overrides) {
    if (o.action !== undefined) {
      out.action = o.action
      // A replacement only means something to a redaction; back to redact brings the rule's own.
      if (o.action === 'redact' && rule.replacement !== undefined) out.replacement = rule.replacement
      else delete out.replacement
    }
    if (o.severity !== undefined) out.severity = o.severity
    if (o.allow !== undefined) out.allow = [...(out.allow ?? []), ...o.allow]
    if (o.allowPatterns !== undefined) out.allowPatterns = [...(out.allowPatterns ?? []), ...o.allowPatterns]
  }
  return out
}

/** A close misspelling, else the ids it is the start of ("pii.phone" → the phone rules). */
function didYouMean (id: string, known: readonly string[]): string {
  const guess = closestName(id, known)
  if (guess !== undefined) return ` (did you mean "${guess}"?)`
  const longer = known.filter((k) => k.startsWith(id))
  if (longer.length === 0) return ''
  return ` (did you mean ${longer.slice(0, 5).map((k) => `"${k}"`).join(', ')}${longer.length > 5 ? ', …' : ''}?)`
}

/** Problems in file order, then line and column: the order an author fixes them in. */
function sortProblems (problems: string[], files: readonly string[]): void {
  const keyOf = (p: string): [number, number, number] => {
    const file = files.findIndex((f) => p.startsWith(`${f}:`))
    const m = /^:(\d+)(?::(\d+))?/.exec(p.slice((files[file] ?? '').length))
    return [file, Number(m?.[1] ?? 0), Number(m?.[2] ?? 0)]
  }
  const keyed = problems.map((p) => ({ p, k: keyOf(p) }))
  keyed.sort((a, b) => a.k[0] - b.k[0] || a.k[1] - b.k[1] || a.k[2] - b.k[2])
  problems.splice(0, problems.length, ...keyed.map((x) => x.p))
}

interface Entry {
  located: Located
  disabledAt: ChangeOrigin | undefined
  overrides: Override[]
}

/** Composes parsed files in order and compiles the result, or throws one RuleFileError listing every problem. */
function composeRuleFiles (files: readonly ParsedFile[], names: readonly string[], options: LoadRulesOptions, problems: string[]): RuleSet {
  const byId = new Map<string, Entry>()
  const entries: Entry[] = []
  const firstDefinition = new Map<string, { index: number, where: string }>()
  files.forEach((f, index) => {
    for (const r of f.rules) if (!firstDefinition.has(r.rule.id)) firstDefinition.set(r.rule.id, { index, where: r.locate(['id']) })
  })
  const unknown = (where: string, what: string, id: string, fileIndex: number): string => {
    const later = firstDefinition.get(id)
    if (later !== undefined && later.index > fileIndex) {
      return `${where}: ${what}: rule "${id}" is only defined later, at ${later.where}: "disable" and "overrides" change rules loaded before their file (the shipped rules, then the rule paths in the order given)`
    }
    // A shipped id with the shipped rules left out: say so, rather than only "unknown".
    const shipped = names.some((f) => resolve(f).startsWith(defaultRulesDir() + sep))
    if (!shipped && /^(?:pii|secret|injection|toxicity)\./.test(id)) {
      return `${where}: ${what}: unknown rule id "${id}" (the shipped rules are not loaded: to change them, leave out --no-default-rules or defaultRules: false)`
    }
    return `${where}: ${what}: unknown rule id "${id}"${didYouMean(id, [...byId.keys()])}`
  }

  files.forEach((f, fileIndex) => {
    for (const located of f.rules) {
      const id = located.rule.id
      const first = byId.get(id)
      if (first !== undefined) {
        problems.push(`${located.locate(['id'])}: rule ${id}: duplicate id (first defined at ${first.located.locate(['id'])}); to change a rule, use "overrides", to replace it, "disable" it and give yours another id`)
        continue
      }
      const entry: Entry = { located, disabledAt: undefined, overrides: [] }
      byId.set(id, entry)
      entries.push(entry)
    }
    for (const d of f.disable) {
      const entry = byId.get(d.id)
      if (entry === undefined) problems.push(unknown(d.where, 'disable', d.id, fileIndex))
      else entry.disabledAt = d.at
    }
    for (const o of f.overrides) {
      const entry = byId.get(o.override.id)
      if (entry === undefined) problems.push(unknown(o.locate(['id']), 'override', o.override.id, fileIndex))
      else entry.overrides.push(o)
    }
  })

  const disabled = new Set(options.disable ?? [])
  const compiled: CompiledRuleInternal[] = []
  for (const { located, disabledAt, overrides } of entries) {
    const { rule } = located
    const origin: RuleOrigin = {
      ...located.origin,
      ...(disabledAt === undefined ? {} : { disabledAt }),
      ...(overrides.length === 0 ? {} : { overrides: overrides.map((o) => ({ ...o.at, override: o.override })) })
    }
    const effective = applyOverrides(rule, overrides.map((o) => o.override))
    const off = disabledAt !== undefined || disabled.has(rule.id)
    try {
      compiled.push(compileRule(off ? { ...effective, enabled: false } : effective, origin, options.cache))
    } catch (err) {
      if (!(err instanceof RuleProblem)) throw err
      // A problem in a field an override set is the override's: point there.
      const field = err.field?.[0]
      const by = overrides.findLast((o) => typeof field === 'string' && field in o.override && field !== 'id')
      if (by !== undefined && typeof field === 'string') problems.push(`${by.locate([field])}: override ${rule.id}: ${err.message}`)
      else problems.push(`${located.locate(err.field, err.offset)}: rule ${rule.id}: ${err.message}`)
    }
  }
  if (problems.length > 0) {
    sortProblems(problems, names)
    const error = new RuleFileError(`${problems.length} problem(s) in rule files:\n  ${problems.join('\n  ')}`)
    // Each problem on its own, for structured logs (the hot reloader's).
    throw Object.assign(error, { problems: [...problems] })
  }
  return createRuleSet(compiled, names, { cache: options.cache })
}

/**
 * Loads rule files or directories into one rule set, in order: a later
 * file's `disable` and `overrides` change the rules of earlier ones. With
 * `defaultRules: true`, the shipped rules come first.
 * @example
 * const ruleSet = await loadRuleSet(defaultRulesDir())
 * const composed = await loadRuleSet(['./our-rules'], { defaultRules: true })
 */
export async function loadRuleSet (paths: string | readonly string[] = defaultRulesDir(), options: LoadRulesOptions = {}): Promise<RuleSet> {
  const files = await resolveRuleFiles(options.defaultRules === true ? composeRulePaths(paths) : paths)
  if (files.length === 0) throw new NoRulesError(typeof paths === 'string' ? paths : paths.join(', '))
  const problems: string[] = []
  const parsed: ParsedFile[] = []
  for (const file of files) {
    const text = await readFile(file, 'utf8')
    parsed.push(parseRuleFile(file, text, problems))
  }
  return composeRuleFiles(parsed, files, options, problems)
}

/**
 * Builds a rule set from in-memory rule sources (tests, programmatic use);
 * problems are located as `name:index`. `cache` as for `loadRuleSet`.
 */
export function createRuleSetFromSources (rules: readonly RuleSource[], name = '<inline>', options: Pick<LoadRulesOptions, 'cache'> = {}): RuleSet {
  const problems: string[] = []
  const located: Located[] = []
  rules.forEach((rule, i) => {
    const errors = schemaProblems(RuleSchema, rule)
    if (errors.length > 0) problems.push(`${name}:${i + 1}: rule ${rule.id}: ${errors.map((e) => e.message).join('; ')}`)
    else located.push({ rule, origin: { file: name, line: i + 1 }, locate: () => `${name}:${i + 1}` })
  })
  return composeRuleFiles([{ file: name, rules: located, disable: [], overrides: [] }], [name], { cache: options.cache }, problems)
}
