/**
 * @module rules/disk-cache
 * A private on-disk cache of what compiling rules derives (prefix automata,
 * group packings): disposable artefacts, keyed by a hash of their inputs,
 * that spare every start, hot reload and test process the derivation.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const diskCacheDir = process.env.SLUICE_CACHE_DIR ?? join(tmpdir(), 'sluice-prefix-cache')

function readDiskCache (key: string): string | undefined {
  try {
    // A prefix pattern decides what is held back: trust only a private
    // cache directory of our own (a planted entry could make text leak).
    const dir = statSync(diskCacheDir)
    if ((dir.mode & 0o077) !== 0 || (process.getuid !== undefined && dir.uid !== process.getuid())) return undefined
    return readFileSync(join(diskCacheDir, key), 'utf8')
  } catch {
    return undefined
  }
}

function writeDiskCache (key: string, value: string): void {
  try {
    mkdirSync(diskCacheDir, { recursive: true, mode: 0o700 })
    // Write then rename: concurrent processes never read half an entry.
    const tmp = join(diskCacheDir, `${key}.${process.pid}.tmp`)
    writeFileSync(tmp, value)
    renameSync(tmp, join(diskCacheDir, key))
  } catch {
    // A read-only or full disk only costs the next start the derivation.
  }
}

const memory = new Map<string, { value: unknown }>()

/**
 * A derived artefact, from this process's memory, else the disk, else
 * `derive` (then written to disk). `parts` (kind, version, inputs) make the
 * key. `decode` turns the stored text into the value and throws on anything
 * it does not accept: a damaged or planted entry is derived again.
 */
export function remember<T> (parts: readonly string[], derive: () => string, decode: (text: string) => T): T {
  const key = `${parts[0] ?? ''}-${createHash('sha256').update(parts.join('\0')).digest('hex')}`
  const known = memory.get(key)
  if (known !== undefined) return known.value as T
  let value: T | undefined
  let found = false
  const cached = readDiskCache(key)
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
    writeDiskCache(key, text)
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
export function rememberBuilt<S, T> (parts: readonly string[], build: () => S | undefined, load: (form: S) => T): T | undefined {
  return remember(parts, () => {
    const built = build()
    return built === undefined ? 'none' : JSON.stringify(built)
  }, (text) => text === 'none' ? undefined : load(JSON.parse(text) as S))
}
