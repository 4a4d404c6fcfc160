/**
 * @module playground/rule-workspace
 * The rule files the playground may show and change, and what it does with
 * them: read one, check an edited buffer of it as the CLI would load it,
 * run its rules' examples as `sluice rules test` does, and save it.
 *
 * Which files: the composed list the proxy and the CLI load (the shipped
 * rules, then the user's paths, or the user's alone), expanded as the
 * loader expands directories. The user's files are writable; the shipped
 * ones are read-only unless a user path names them too (a clone of Sluice
 * editing its own `rules/`). A request names a file by path, and only a
 * path that resolves to one of these files is served (safe-paths.ts).
 *
 * Checking reuses the loader itself, so a problem reads exactly as `sluice
 * rules test` prints it: `file:line:column: rule id: message`. The loader
 * reads files from disk, so the buffer is written to a private temporary
 * copy, loaded in the file's place in the composed list, and the copy's
 * path in the loader's messages is put back to the file's.
 *
 * Saving refuses a buffer that does not load (a proxy watching the file
 * would keep its last good set, but would not start again with it), and a
 * file changed on disk since it was read (`baseHash`). Otherwise the old
 * file is copied to `FILE.bak` and the new text written to a temporary file
 * beside it and renamed over it: a watcher never reads half a file, and the
 * rule reloader, which watches the file's directory, sees the rename.
 */
import { createHash, randomBytes } from 'node:crypto'
import { copyFile, mkdtemp, open, readFile, rename, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { BadRequestError } from '../errors.js'
import { composeRulePaths, defaultRulesDir, loadRuleSet, resolveRuleFiles, testRuleExamples } from '../scanner/index.js'
import type { RuleSet } from '../scanner/index.js'
import { cleanPath, isInside, realPathOf } from './safe-paths.js'

/** Loads the composed list of rule files (the loader, perhaps with a cache). */
export type LoadRules = (files: readonly string[]) => Promise<RuleSet>

export interface RuleWorkspaceOptions {
  /** The user's rule files and directories (`--rules`): writable. */
  rules?: readonly string[] | undefined
  /** Load the shipped rules first (default true), as the proxy does. */
  defaultRules?: boolean | undefined
  /** Default: `loadRuleSet`. */
  load?: LoadRules | undefined
}

interface RuleFileInfo {
  /** As the loader names it: the path to send back in requests. */
  path: string
  name: string
  writable: boolean
  shipped: boolean
}

/** One problem of a rule file, as the loader reports it, split into its parts. */
interface Problem {
  file?: string
  line?: number
  column?: number
  message: string
  /** The whole line as the CLI prints it. */
  text: string
}

type ExampleStatus = 'pass' | 'fail' | 'skip' | 'off'

interface ExampleResult {
  kind: 'match' | 'nomatch'
  line: number
  text: string
  status: ExampleStatus
  reason?: string
}

/** A rule of the checked file, with its examples' results. */
interface FileRuleReport {
  id: string
  category: string
  action: string
  severity: string
  enabled: boolean
  line: number
  examples: ExampleResult[]
}

export type CheckResult =
  | { ok: true, ruleSet: RuleSet, rules: FileRuleReport[], totals: { rules: number, fileRules: number, examples: number, failed: number, skipped: number } }
  | { ok: false, problems: Problem[], message: string }

type SaveResult =
  | { saved: true, path: string, backup: string, hash: string, check: CheckResult & { ok: true } }
  | { saved: false, conflict: true, message: string }
  | { saved: false, conflict: false, problems: Problem[], message: string }

export interface RuleWorkspace {
  /** The composed list of rule files, in load order. */
  files: () => Promise<RuleFileInfo[]>
  /** The file a request names, if it is one of `files()`; throws a 400 otherwise. */
  resolveFile: (path: unknown) => Promise<RuleFileInfo>
  read: (path: unknown) => Promise<{ file: RuleFileInfo, text: string, hash: string }>
  /** The rule set from the files on disk. */
  loadDisk: () => Promise<CheckResult>
  /** The rule set with `text` in place of the file at `path`. */
  check: (path: unknown, text: string) => Promise<CheckResult>
  save: (path: unknown, text: string, baseHash?: string) => Promise<SaveResult>
}

export function hashText (text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
}

/** A loader problem line split into file, line, column and message (the file is one of `files`). */
function parseProblem (text: string, files: readonly string[]): Problem {
  for (const file of [...files].sort((a, b) => b.length - a.length)) {
    if (!text.startsWith(file + ':')) continue
    const m = /^:(\d+)(?::(\d+))?: ([\s\S]*)$/.exec(text.slice(file.length))
    if (m === null) return { file, message: text.slice(file.length + 1).trim(), text }
    return { file, line: Number(m[1]), ...(m[2] === undefined ? {} : { column: Number(m[2]) }), message: m[3] ?? '', text }
  }
  return { message: text, text }
}

function problemsOf (err: Error, files: readonly string[], ownPaths: (s: string) => string): { problems: Problem[], message: string } {
  const list = (err as { problems?: unknown }).problems
  const lines = Array.isArray(list) ? list.map(String) : [err.message]
  return { problems: lines.map((p) => parseProblem(ownPaths(p), files)), message: ownPaths(err.message) }
}

/** The examples of the rules from `file` (as the rule set names it), run against the whole set as `rules test` does. */
function fileReport (ruleSet: RuleSet, file: string, ownPaths: (s: string) => string): { rules: FileRuleReport[], examples: number, failed: number, skipped: number } {
  const mine = ruleSet.rules.filter((r) => r.origin.file === file)
  // The same set with only this file's rules to test: their examples run
  // with every other rule present, as in production.
  const report = testRuleExamples({ ...ruleSet, rules: mine })
  const key = (ruleId: string, kind: string, line: number, text: string): string => JSON.stringify([ruleId, kind, line, text])
  const failures = new Map(report.failures.map((f) => [key(f.ruleId, f.kind, f.line, f.text), f.reason]))
  const skipped = new Map(report.skipped.map((s) => [key(s.ruleId, 'match', s.line, s.text), s.reason]))
  const rules = mine.map((rule): FileRuleReport => {
    const lines = rule.origin.exampleLines
    const result = (kind: 'match' | 'nomatch', text: string, line: number): ExampleResult => {
      if (!rule.enabled) return { kind, line, text, status: 'off', reason: 'the rule is disabled' }
      const failed = failures.get(key(rule.id, kind, line, text))
      if (failed !== undefined) return { kind, line, text, status: 'fail', reason: ownPaths(failed) }
      const skip = skipped.get(key(rule.id, kind, line, text))
      if (skip !== undefined) return { kind, line, text, status: 'skip', reason: ownPaths(skip) }
      return { kind, line, text, status: 'pass' }
    }
    return {
      id: rule.id,
      category: rule.category,
      action: rule.action,
      severity: rule.severity,
      enabled: rule.enabled,
      line: rule.origin.line,
      examples: [
        ...rule.examples.match.map((ex, i) => result('match', typeof ex === 'string' ? ex : ex.text, lines?.match[i] ?? rule.origin.line)),
        ...rule.examples.nomatch.map((text, i) => result('nomatch', text, lines?.nomatch[i] ?? rule.origin.line))
      ]
    }
  })
  return { rules, examples: report.examples, failed: report.failures.length, skipped: report.skipped.length }
}

/** Writes `text` to a temporary file beside `path` and renames it over `path` (mode kept). */
async function replaceFile (path: string, text: string): Promise<void> {
  const mode = (await stat(path)).mode & 0o777
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`)
  const handle = await open(temp, 'wx', mode)
  try {
    await handle.writeFile(text, 'utf8')
    await handle.sync()
  } finally {
    await handle.close()
  }
  try {
    await rename(temp, path)
  } catch (err) {
    await rm(temp, { force: true })
    throw err
  }
}

/**
 * The workspace of a playground.
 * @example
 * const workspace = createRuleWorkspace({ rules: ['./our-rules.yaml'] })
 * const checked = await workspace.check('./our-rules.yaml', editedText)
 * if (!checked.ok) console.log(checked.problems.map((p) => p.text).join('\n'))
 */
export function createRuleWorkspace (options: RuleWorkspaceOptions = {}): RuleWorkspace {
  const userPaths = [...(options.rules ?? [])]
  const defaultRules = options.defaultRules ?? true
  const load: LoadRules = options.load ?? ((files) => loadRuleSet(files))
  const shippedDir = defaultRulesDir()

  async function composedFiles (): Promise<string[]> {
    return resolveRuleFiles(composeRulePaths(userPaths, defaultRules))
  }

  async function files (): Promise<RuleFileInfo[]> {
    const writable = new Set((userPaths.length === 0 ? [] : await resolveRuleFiles(userPaths)).map((f) => resolve(f)))
    const shippedReal = await realPathOf(shippedDir) ?? shippedDir
    return Promise.all((await composedFiles()).map(async (path) => {
      const real = await realPathOf(path) ?? resolve(path)
      return { path, name: basename(path), writable: writable.has(resolve(path)), shipped: isInside(shippedReal, real) }
    }))
  }

  async function resolveFile (path: unknown): Promise<RuleFileInfo> {
    const wanted = cleanPath(path, 'rule file')
    const real = await realPathOf(wanted)
    if (real !== undefined) {
      for (const file of await files()) {
        if (await realPathOf(file.path) === real) return file
      }
    }
    throw new BadRequestError(`rule file: not one of the playground's rule files: ${String(path)}`)
  }

  async function loadWith (file: RuleFileInfo | undefined, text: string | undefined): Promise<CheckResult> {
    const list = await composedFiles()
    let dir: string | undefined
    let loaded = list
    /** The loader's text with the temporary copy's path put back to the file's. */
    let ownPaths = (s: string): string => s
    let origin = file?.path
    try {
      if (file !== undefined && text !== undefined) {
        dir = await mkdtemp(join(tmpdir(), 'sluice-playground-'))
        const temp = join(dir, file.name)
        const handle = await open(temp, 'wx', 0o600)
        try { await handle.writeFile(text, 'utf8') } finally { await handle.close() }
        loaded = list.map((f) => (f === file.path ? temp : f))
        ownPaths = (s) => s.split(temp).join(file.path)
        origin = temp
      }
      let ruleSet: RuleSet
      try {
        ruleSet = await load(loaded)
      } catch (err) {
        return { ok: false, ...problemsOf(err as Error, list, ownPaths) }
      }
      const report = origin === undefined ? { rules: [], examples: 0, failed: 0, skipped: 0 } : fileReport(ruleSet, origin, ownPaths)
      return {
        ok: true,
        ruleSet,
        rules: report.rules,
        totals: { rules: ruleSet.rules.length, fileRules: report.rules.length, examples: report.examples, failed: report.failed, skipped: report.skipped }
      }
    } finally {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true })
    }
  }

  async function read (path: unknown): Promise<{ file: RuleFileInfo, text: string, hash: string }> {
    const file = await resolveFile(path)
    const text = await readFile(file.path, 'utf8')
    return { file, text, hash: hashText(text) }
  }

  return {
    files,
    resolveFile,
    read,
    loadDisk: () => loadWith(undefined, undefined),
    check: async (path, text) => loadWith(await resolveFile(path), text),
    async save (path, text, baseHash) {
      const file = await resolveFile(path)
      if (!file.writable) throw new BadRequestError(`rule file: ${file.path} is read-only here (only the --rules paths are written)`)
      const current = await readFile(file.path, 'utf8')
      if (baseHash !== undefined && hashText(current) !== baseHash) {
        return { saved: false, conflict: true, message: `${file.path} changed on disk since it was opened: reload it, or save again to overwrite` }
      }
      const check = await loadWith(file, text)
      if (!check.ok) return { saved: false, conflict: false, problems: check.problems, message: `not saved: ${check.message}` }
      const backup = `${file.path}.bak`
      await copyFile(file.path, backup)
      await replaceFile(file.path, text)
      return { saved: true, path: file.path, backup, hash: hashText(text), check }
    }
  }
}
