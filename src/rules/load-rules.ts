/**
 * @module rules/load-rules
 * Reads rule files, validates every rule up front against the schema, and
 * compiles them into a `RuleSet`. All-or-nothing: any problem in any file
 * throws one `RuleFileError` listing every problem as `file:line: rule id:
 * message`, and nothing is half-loaded (the proxy keeps serving its last
 * good set).
 */
import { readFile, readdir, stat } from 'node:fs/promises'
import { dirname, extname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Value } from '@sinclair/typebox/value'
import { LineCounter, parseDocument, isMap, isSeq } from 'yaml'
import type { Document, Node } from 'yaml'
import { NoRulesError, RuleFileError } from '../errors.js'
import { compileRule, RuleProblem } from './compile-rule.js'
import type { CompiledRuleInternal } from './compile-rule.js'
import { createRuleSet } from './rule-set.js'
import type { RuleSet } from './rule-set.js'
import { RuleSchema } from './rule-schema.js'
import type { RuleOrigin, RuleSource } from './types.js'

export interface LoadRulesOptions {
  /** Rule ids to leave out (as gitleaks' `disabledRules`). */
  disable?: readonly string[]
}

/** The shipped default rules (`rules/` at the package root). */
export function defaultRulesDir (): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'rules')
}

/** Expands directories to their `*.yaml`/`*.yml` files, alphabetically. */
export async function resolveRuleFiles (paths: string | readonly string[]): Promise<string[]> {
  const files: string[] = []
  for (const p of typeof paths === 'string' ? [paths] : paths) {
    const info = await stat(p).catch(() => undefined)
    if (info === undefined) throw new RuleFileError(`${p}: no such file or directory`)
    if (info.isDirectory()) {
      const names = (await readdir(p)).filter((n) => ['.yaml', '.yml'].includes(extname(n))).sort()
      files.push(...names.map((n) => join(p, n)))
    } else {
      files.push(p)
    }
  }
  return files
}

interface Located { rule: RuleSource, origin: RuleOrigin }

function lineOf (lines: LineCounter, node: Node | undefined | null, fallback = 1): number {
  const offset = node?.range?.[0]
  return offset === undefined ? fallback : lines.linePos(offset).line
}

function nodeAt (doc: Document, path: Array<string | number>): Node | undefined {
  const node = doc.getIn(path, true)
  return node !== null && typeof node === 'object' && 'range' in (node as object) ? node as Node : undefined
}

/** Parses one file into located rule sources; pushes problems to `problems`. */
function parseRuleFile (file: string, text: string, problems: string[]): Located[] {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
  if (doc.errors.length > 0) {
    for (const err of doc.errors) {
      const line = err.linePos?.[0]?.line ?? 1
      problems.push(`${file}:${line}: YAML syntax: ${err.message.split('\n')[0]}`)
    }
    return []
  }
  const root = doc.contents
  if (!isMap(root)) {
    problems.push(`${file}:1: expected a mapping with a "rules" list`)
    return []
  }
  for (const pair of root.items) {
    const key = String((pair.key as { value?: unknown } | null)?.value ?? pair.key)
    if (key !== 'rules' && key !== '$schema') problems.push(`${file}:${lineOf(lines, pair.key as Node)}: unknown top-level field "${key}"`)
  }
  const seq = root.get('rules', true)
  if (!isSeq(seq)) {
    problems.push(`${file}:1: "rules" must be a list`)
    return []
  }
  const located: Located[] = []
  seq.items.forEach((item, i) => {
    const line = lineOf(lines, item as Node)
    const raw = (item as { toJSON?: () => unknown }).toJSON?.() ?? item
    const id = typeof (raw as { id?: unknown })?.id === 'string' ? (raw as { id: string }).id : `#${i + 1}`
    const errors = [...Value.Errors(RuleSchema, raw)]
    if (errors.length > 0) {
      for (const e of errors.slice(0, 5)) {
        const field = e.path.split('/').filter(Boolean)
        const at = lineOf(lines, nodeAt(doc, ['rules', i, ...field.map((f) => (/^\d+$/.test(f) ? Number(f) : f))]), line)
        const what = e.message === 'Unexpected property' ? `unknown field "${field.at(-1) ?? ''}"` : `${e.path || 'rule'}: ${e.message}`
        problems.push(`${file}:${at}: rule ${id}: ${what}`)
      }
      return
    }
    const rule = raw as RuleSource
    const exampleLines = {
      match: (rule.examples?.match ?? []).map((_, j) => lineOf(lines, nodeAt(doc, ['rules', i, 'examples', 'match', j]), line)),
      nomatch: (rule.examples?.nomatch ?? []).map((_, j) => lineOf(lines, nodeAt(doc, ['rules', i, 'examples', 'nomatch', j]), line))
    }
    located.push({ rule, origin: { file, line, exampleLines } })
  })
  return located
}

/** Compiles located rules into a rule set, or throws one RuleFileError listing every problem. */
export function compileRuleSources (located: readonly Located[], files: readonly string[], options: LoadRulesOptions = {}, problems: string[] = []): RuleSet {
  const seen = new Map<string, RuleOrigin>()
  const compiled: CompiledRuleInternal[] = []
  const disabled = new Set(options.disable ?? [])
  for (const { rule, origin } of located) {
    const where = `${origin.file}:${origin.line}: rule ${rule.id}`
    const first = seen.get(rule.id)
    if (first !== undefined) {
      problems.push(`${where}: duplicate id (first defined at ${first.file}:${first.line})`)
      continue
    }
    seen.set(rule.id, origin)
    try {
      const c = compileRule(disabled.has(rule.id) ? { ...rule, enabled: false } : rule, origin)
      compiled.push(c)
    } catch (err) {
      if (!(err instanceof RuleProblem)) throw err
      problems.push(`${where}: ${err.message}`)
    }
  }
  if (problems.length > 0) {
    throw new RuleFileError(`${problems.length} problem(s) in rule files:\n  ${problems.join('\n  ')}`)
  }
  return createRuleSet(compiled, files)
}

/**
 * Loads rule files or directories into one rule set.
 * @example
 * const ruleSet = await loadRuleSet(defaultRulesDir())
 */
export async function loadRuleSet (paths: string | readonly string[] = defaultRulesDir(), options: LoadRulesOptions = {}): Promise<RuleSet> {
  const files = await resolveRuleFiles(paths)
  if (files.length === 0) throw new NoRulesError(typeof paths === 'string' ? paths : paths.join(', '))
  const problems: string[] = []
  const located: Located[] = []
  for (const file of files) {
    const text = await readFile(file, 'utf8')
    located.push(...parseRuleFile(file, text, problems))
  }
  return compileRuleSources(located, files, options, problems)
}

/** Builds a rule set from in-memory rule sources (tests, programmatic use). */
export function createRuleSetFromSources (rules: readonly RuleSource[], name = '<inline>'): RuleSet {
  const problems: string[] = []
  const located: Located[] = []
  rules.forEach((rule, i) => {
    const errors = [...Value.Errors(RuleSchema, rule)]
    if (errors.length > 0) problems.push(`${name}:${i + 1}: rule ${rule.id}: ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}`)
    else located.push({ rule, origin: { file: name, line: i + 1 } })
  })
  return compileRuleSources(located, [name], {}, problems)
}
