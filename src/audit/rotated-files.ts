/**
 * @module audit/rotated-files
 * How rotated audit files are named, found and ordered.
 *
 * The active file keeps its name (`audit.jsonl`). At rotation it is renamed
 * `audit.jsonl.N`, N being one more than the highest N already beside it
 * (1 for the first rotation): 1 is the OLDEST file, and the active file,
 * without a number, is the newest. A rotated file keeps its name for good,
 * so the `continues` field that the next file's first record carries keeps
 * naming it. (logrotate numbers the other way round, renaming every file
 * at every rotation, which would leave those references stale.) Numbers
 * are decimal without padding and compared as numbers, so `.10` follows
 * `.9` even where a shell glob sorts it after `.1`.
 *
 * One series per active file name; several writers need several names.
 */
import { readdirSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { escapeRegExp } from '../text/escape-regexp.js'

const SUFFIX_RE = /^(.+)\.([1-9][0-9]*)$/

/** The rotated files of `active` that exist, oldest first (`active.1`, `active.2`, …). */
export function listRotatedFiles (active: string): string[] {
  const dir = dirname(active)
  const re = new RegExp(`^${escapeRegExp(basename(active))}\\.([1-9][0-9]*)$`)
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const found: Array<[number, string]> = []
  for (const name of names) {
    const m = re.exec(name)
    if (m !== null) found.push([Number(m[1]), join(dir, name)])
  }
  return found.sort((a, b) => a[0] - b[0]).map(([, file]) => file)
}

/** The name the active file takes at its next rotation. */
export function nextRotatedPath (active: string): string {
  const last = listRotatedFiles(active).at(-1)
  const n = last === undefined ? 0 : Number(SUFFIX_RE.exec(basename(last))?.[2] ?? 0)
  return `${active}.${n + 1}`
}

/**
 * Puts files in chain order when they form one series — the rotated files
 * of one active name, oldest first, then the active file — as a shell glob
 * like `audit.jsonl*` gives them in the wrong order. Files that are not one
 * series stay in the order given.
 */
export function sortAuditSeries (files: readonly string[]): string[] {
  if (files.length < 2) return [...files]
  const parsed = files.map((file) => {
    const m = SUFFIX_RE.exec(file)
    return m === null ? { file, base: file, n: Infinity } : { file, base: m[1]!, n: Number(m[2]) }
  })
  // An active file whose own name ends in digits (`audit.2024`) parses as a
  // numbered one; it is the active file when the others are numbered after it.
  for (const p of parsed) {
    if (parsed.some((q) => q !== p && q.base === p.file)) {
      p.base = p.file
      p.n = Infinity
    }
  }
  const base = parsed[0]!.base
  if (!parsed.every((p) => p.base === base)) return [...files]
  return parsed.sort((a, b) => a.n - b.n).map((p) => p.file)
}
