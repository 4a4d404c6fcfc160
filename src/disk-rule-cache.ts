/**
 * @module disk-rule-cache
 * The on-disk `RuleCache` (rules/rule-cache.ts) the CLI, the proxy and the
 * plugin build their rule sets with: a private directory of what compiling
 * rules derives (prefix automata, group packings), disposable artefacts
 * that spare every start, hot reload and test process the derivation.
 * `$TMPDIR/sluice-prefix-cache` unless `SLUICE_CACHE_DIR` names another.
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RuleCache } from './rules/rule-cache.js'

/** Where the cache lives: `SLUICE_CACHE_DIR`, else `sluice-prefix-cache` in the OS temp directory. */
export function defaultRuleCacheDir (env: NodeJS.ProcessEnv = process.env): string {
  return env.SLUICE_CACHE_DIR ?? join(tmpdir(), 'sluice-prefix-cache')
}

/**
 * A cache in `dir` (created with mode 0700 on first write). Entries are
 * read only while the directory is private and this user's own; a read or
 * write that fails costs the next build the derivation, nothing else.
 * @example
 * const ruleSet = await loadRuleSet(paths, { cache: createDiskRuleCache() })
 */
export function createDiskRuleCache (dir: string = defaultRuleCacheDir()): RuleCache {
  return {
    read (key) {
      try {
        // A prefix pattern decides what is held back: trust only a private
        // cache directory of our own (a planted entry could make text leak).
        const stat = statSync(dir)
        if ((stat.mode & 0o077) !== 0 || (process.getuid !== undefined && stat.uid !== process.getuid())) return undefined
        return readFileSync(join(dir, key), 'utf8')
      } catch {
        return undefined
      }
    },
    write (key, text) {
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 })
        // Write then rename: concurrent processes never read half an entry.
        const tmp = join(dir, `${key}.${process.pid}.tmp`)
        writeFileSync(tmp, text)
        renameSync(tmp, join(dir, key))
      } catch {
        // A read-only or full disk only costs the next start the derivation.
      }
    }
  }
}
