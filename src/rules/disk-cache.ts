/**
 * @module rules/disk-cache
 * A private on-disk cache of what compiling rules derives (prefix automata,
 * group packings): disposable artefacts, keyed by a hash of their inputs,
 * that spare every start, hot reload and test process the derivation.
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const diskCacheDir = process.env.SLUICE_CACHE_DIR ?? join(tmpdir(), 'sluice-prefix-cache')

export function readDiskCache (key: string): string | undefined {
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

export function writeDiskCache (key: string, value: string): void {
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
