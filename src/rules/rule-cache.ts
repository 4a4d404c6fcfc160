/**
 * @module rules/rule-cache
 * What building a rule set derives from its patterns — prefix automata,
 * reversed lookbehinds, group packings — costs milliseconds to a second per
 * rule, and rule sets are built at every start, every hot reload and in
 * many tests. Each derivation is remembered in this process's memory, and
 * in a `RuleCache` when the caller gives one (`loadRuleSet`'s `cache`):
 * the CLI, the proxy and the plugin give the on-disk one
 * (disk-rule-cache.ts). The core itself reads and writes no file.
 */
import { createHash } from 'node:crypto'

/**
 * A store for derived artefacts as text, keyed by a hash of their inputs
 * (`kind-<sha256 hex>`, safe as a file name). It may lose anything.
 *
 * What it returns is decoded and checked (a damaged entry is derived
 * again), but a prefix pattern is used as read: keep the entries where only
 * this user can write them, as a planted one could change what is held
 * back.
 */
export interface RuleCache {
  /** The text stored under `key`, or undefined. */
  read(key: string): string | undefined
  /** Stores `text` under `key`; a failure is the cache's own to swallow (the next build derives it again). */
  write(key: string, text: string): void
}

const memory = new Map<string, { value: unknown }>()

/**
 * A derived artefact, from this process's memory, else `cache`, else
 * `derive` (then written to `cache`). `parts` (kind, version, inputs) make
 * the key. `decode` turns the stored text into the value and throws on
 * anything it does not accept: a damaged or planted entry is derived again.
 */
export function remember<T> (cache: RuleCache | undefined, parts: readonly string[], derive: () => string, decode: (text: string) => T): T {
  const key = `${parts[0] ?? ''}-${createHash('sha256').update(parts.join('\0')).digest('hex')}`
  const known = memory.get(key)
  if (known !== undefined) return known.value as T
  let value: T | undefined
  let found = false
  const cached = cache?.read(key)
  if (cached !== undefined) {
    try {
      value = decode(cached)
      found = true
    } catch {
      // Derived again below.
    }
  }
  if (!found) {
    const text = derive()
    cache?.write(key, text)
    value = decode(text)
  }
  memory.set(key, { value })
  return value as T
}

/**
 * `remember` for a derivation that may find nothing (an automaton too large
 * to build): `build` returns a JSON-able form or undefined, remembered as
 * such; `load` turns the form into the value (and throws on a damaged one).
 */
export function rememberBuilt<S, T> (cache: RuleCache | undefined, parts: readonly string[], build: () => S | undefined, load: (form: S) => T): T | undefined {
  return remember(cache, parts, () => {
    const built = build()
    return built === undefined ? 'none' : JSON.stringify(built)
  }, (text) => text === 'none' ? undefined : load(JSON.parse(text) as S))
}
