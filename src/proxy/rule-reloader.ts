/**
 * @module proxy/rule-reloader
 * Hot reload of the proxy's rules: watches the rule files and directories
 * (debounced `fs.watch`) and SIGHUP, reloads with `loadRuleSet`, and swaps
 * the set atomically. `current()` returns the new set at once; streams in
 * flight keep the set they took when they started (a set is immutable).
 *
 * A broken reload never takes the proxy down and never half-applies:
 * `loadRuleSet` is all-or-nothing and its error names each problem as
 * `file:line:column: rule id: message` (the same text `sluice rules test`
 * prints), so the reloader logs it, with the problems one by one, calls
 * `onError`, and keeps serving the last good set.
 *
 * The paths are the composed list (rules/load-rules.ts `composeRulePaths`:
 * the shipped rules, then the user's): every reload composes the set anew,
 * so a user file's `disable` and `overrides` follow its edits.
 *
 * Why the parent directory is watched for single files: editors and
 * deploy tools save by writing a temp file and renaming it over the old one
 * (vim, `kubectl` ConfigMap symlink swaps). A watch on the old file's inode
 * then goes silent; a watch on its directory sees every replacement.
 */
import { statSync, watch } from 'node:fs'
import type { FSWatcher } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'
import { loadRuleSet } from '../rules/load-rules.js'
import type { RuleSet } from '../rules/rule-set.js'

/** The pino-like part of a logger the reloader needs (a Fastify or pino logger fits). */
export interface ReloaderLogger {
  info: (obj: object, msg?: string) => void
  warn: (obj: object, msg?: string) => void
  error: (obj: object, msg?: string) => void
}

export interface RuleReloaderOptions {
  /** Rule files and/or directories, as given to `loadRuleSet`. */
  paths: string[]
  /** The set already loaded from `paths` at start. */
  initial: RuleSet
  logger: ReloaderLogger
  /** Quiet time after the last file event before reloading, ms (default 200). */
  debounceMs?: number
  /** Called with each new set after it is swapped in. */
  onReload?: (ruleSet: RuleSet) => void
  /** Called when a reload fails; the last good set stays current. */
  onError?: (err: Error) => void
  /** Extra check of a freshly loaded set before the swap (e.g. its examples); throw to reject it. */
  validate?: (ruleSet: RuleSet) => void
  /** Reload on SIGHUP (default true). */
  sighup?: boolean
}

export interface RuleReloader {
  /** The rule set new streams should use. */
  current: () => RuleSet
  /** Reloads now; resolves true if a new set was swapped in, false if the reload failed. */
  reload: () => Promise<boolean>
  /** Stops watching and removes the SIGHUP listener. */
  close: () => void
}

interface WatchTarget { dir: string, names: Set<string> | undefined }

/**
 * Groups paths into watch targets: a directory is watched whole; files are
 * watched through their directory, filtered by name.
 */
function watchTargets (paths: readonly string[]): WatchTarget[] {
  const byDir = new Map<string, WatchTarget>()
  for (const p of paths.map((p) => resolve(p))) {
    if (statSync(p, { throwIfNoEntry: false })?.isDirectory() === true) {
      byDir.set(p, { dir: p, names: undefined })
      continue
    }
    const dir = dirname(p)
    const target = byDir.get(dir) ?? { dir, names: new Set<string>() }
    target.names?.add(basename(p))
    byDir.set(dir, target)
  }
  return [...byDir.values()]
}

/**
 * Starts watching `paths` and SIGHUP; changes made after it returns are seen.
 * @example
 * const paths = [defaultRulesDir()]
 * const reloader = createRuleReloader({ paths, initial: await loadRuleSet(paths), logger: app.log })
 * app.addHook('onClose', async () => { reloader.close() })
 * // each new stream: reloader.current()
 */
export function createRuleReloader (opts: RuleReloaderOptions): RuleReloader {
  const { paths, logger, onReload, onError, validate } = opts
  const debounceMs = opts.debounceMs ?? 200
  let ruleSet = opts.initial
  let closed = false
  let timer: NodeJS.Timeout | undefined
  const watchers: FSWatcher[] = []

  // One reload at a time, and at most one waiting: a change that arrives
  // while a reload runs must be read after it (the running one may have read
  // the files before the change), but ten changes need only one more reload.
  let tail: Promise<unknown> = Promise.resolve()
  let queued: Promise<boolean> | undefined

  async function reloadOnce (): Promise<boolean> {
    const started = Date.now()
    let next: RuleSet
    try {
      next = await loadRuleSet(paths, { cache: ruleSet.cache })
      validate?.(next)
    } catch (cause) {
      const err = cause instanceof Error ? cause : new Error(String(cause))
      const problems = (err as { problems?: unknown }).problems
      logger.error({ err, files: paths, ...(Array.isArray(problems) ? { problems } : {}) }, `rule reload failed, keeping the last good rule set: ${err.message}`)
      notify(onError, err)
      return false
    }
    if (closed) return false
    // The swap: one assignment, so a reader sees the old set or the new one.
    ruleSet = next
    logger.info({ files: next.files, rules: next.rules.length, ms: Date.now() - started }, 'rules reloaded')
    notify(onReload, next)
    return true
  }

  // A throwing callback must not break the reload chain or become an
  // unhandled rejection of a watcher- or signal-triggered reload.
  function notify<T> (callback: ((value: T) => void) | undefined, value: T): void {
    try {
      callback?.(value)
    } catch (err) {
      logger.error({ err }, 'rule reloader callback threw')
    }
  }

  function reload (): Promise<boolean> {
    if (queued !== undefined) return queued
    const next = tail.then(() => {
      queued = undefined
      return reloadOnce()
    })
    queued = next
    tail = next
    return next
  }

  function schedule (): void {
    if (closed) return
    if (timer !== undefined) clearTimeout(timer)
    timer = setTimeout(() => {
      timer = undefined
      void reload()
    }, debounceMs)
    // A pending reload must not keep a process alive that is shutting down.
    timer.unref()
  }

  function onSighup (): void {
    logger.info({ signal: 'SIGHUP' }, 'reloading rules')
    void reload()
  }

  // Installed synchronously: without a listener SIGHUP terminates Node, so
  // it must be in place as soon as the reloader exists.
  const sighup = opts.sighup ?? true
  if (sighup) process.on('SIGHUP', onSighup)

  for (const { dir, names } of watchTargets(paths)) {
    try {
      // Persistent (keeps the process alive) until close(): the owner closes
      // the reloader with its server (onClose hook).
      const watcher = watch(dir, (_event, filename) => {
        // Linux sends no filename in rare cases (overflow): reload to be safe.
        if (names === undefined || filename === null || names.has(filename.toString())) schedule()
      })
      watcher.on('error', (err) => {
        logger.warn({ err, dir }, 'rule watcher failed; SIGHUP still reloads')
      })
      watchers.push(watcher)
    } catch (err) {
      logger.warn({ err, dir }, 'cannot watch rule directory; SIGHUP still reloads')
    }
  }

  return {
    current: function current () { return ruleSet },
    reload,
    close: function close () {
      closed = true
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      for (const w of watchers.splice(0)) w.close()
      if (sighup) process.removeListener('SIGHUP', onSighup)
    }
  }
}
