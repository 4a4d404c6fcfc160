/**
 * @module bench/lib/real-corpus
 * A corpus of real text nobody in this project wrote, selected at run time
 * from the installed `node_modules` tree: prose (README*, CHANGELOG*,
 * HISTORY*, CHANGES*, any *.md/*.markdown, and .txt files under doc/ or
 * docs/) and code (*.js, *.mjs, *.cjs, *.ts, *.mts, *.cts; minified
 * and generated files left out).
 *
 * Selection, deterministic and stable:
 * - every candidate file gets a rank, sha256(salt, package name@version,
 *   path inside the package), and files are taken in rank order until the
 *   kind's byte budget is reached: a hash-ranked sample. A package that is
 *   installed, removed or upgraded later changes only its own files' ranks,
 *   so it displaces about its share of the sample at the budget's edge
 *   instead of shifting every later pick (as "every k-th file of the sorted
 *   list" would);
 * - the same package installed at several places (nested node_modules)
 *   has the same ranks, and documents are deduplicated by content hash;
 * - each document is capped (64 KiB by default, cut at the last line
 *   break before the cap) so no single file dominates;
 * - code with a line over 500 characters is skipped (minified bundles,
 *   inlined source maps, generated tables), as are *.min.* files.
 * The figures still depend on the installed tree, which package-lock.json
 * pins: the report prints a fingerprint of the selected documents and
 * whether node_modules/.package-lock.json (what npm installed) matches
 * package-lock.json, so two runs can be compared.
 */
import { createHash } from 'node:crypto'
import { lstatSync, readdirSync, readFileSync } from 'node:fs'
import type { Dirent } from 'node:fs'
import { join, relative, sep } from 'node:path'

export type CorpusKind = 'prose' | 'code'

export interface Candidate {
  kind: CorpusKind
  /** Absolute path. */
  file: string
  /** Path under node_modules, with forward slashes (for the report). */
  path: string
  /** `name@version` of the package the file belongs to. */
  pkg: string
  /** Path inside that package, forward slashes. */
  inPackage: string
}

export interface CorpusDocument {
  kind: CorpusKind
  path: string
  pkg: string
  inPackage: string
  text: string
  /** UTF-8 bytes of `text` (after the cap). */
  bytes: number
  truncated: boolean
  /** sha256 of the whole file, hex. */
  hash: string
}

export interface CorpusOptions {
  /** The node_modules directory. */
  modulesDir: string
  /** Bytes per kind: documents are taken until their sum reaches it. */
  budgetBytes: number
  /** Cap per document, in UTF-8 bytes. */
  maxDocBytes?: number
  /** A code file with a longer line is skipped. */
  maxLineChars?: number
  /** Mixed into every rank: another salt is another sample. */
  salt?: string
  /** Files larger than this are not read at all. */
  maxFileBytes?: number
}

export interface CorpusKindStats {
  candidates: number
  read: number
  duplicates: number
  minified: number
  empty: number
  tooLarge: number
}

export interface Corpus {
  prose: CorpusDocument[]
  code: CorpusDocument[]
  stats: Record<CorpusKind, CorpusKindStats>
  /** sha256 over the selected documents' hashes and paths: equal fingerprints, equal corpora. */
  fingerprint: string
}

export const defaultMaxDocBytes = 64 * 1024
export const defaultMaxLineChars = 500
export const defaultSalt = 'sluice-eval-corpus-1'
const defaultMaxFileBytes = 8 * 1024 * 1024

const proseBase = /^(?:readme|changelog|history|changes)(?:\.[a-z0-9]+)?$/i
const proseExt = /\.(?:md|markdown)$/i
const docText = /(?:^|\/)docs?\/(?:.*\/)?[^/]+\.txt$/i
const codeExt = /\.(?:js|mjs|cjs|ts|mts|cts)$/
const minified = /\.min\.[a-z]+$/i

/** The kind of a file from its path inside its package, or undefined when it is neither. */
export function classify (inPackage: string): CorpusKind | undefined {
  const base = inPackage.slice(inPackage.lastIndexOf('/') + 1)
  if (proseBase.test(base) || proseExt.test(base) || docText.test(inPackage)) return 'prose'
  if (codeExt.test(base) && !base.endsWith('.map')) return 'code'
  return undefined
}

function sortedEntries (dir: string): Dirent[] {
  let entries: Dirent[]
  try {
    entries = readdirSync(dir, { withFileTypes: true })
  } catch {
    return []
  }
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

function packageId (dir: string, fallback: string): string {
  try {
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown, version?: unknown }
    if (typeof manifest.name === 'string' && manifest.name !== '') {
      return `${manifest.name}@${typeof manifest.version === 'string' ? manifest.version : '0.0.0'}`
    }
  } catch {}
  return fallback
}

const posix = (p: string): string => (sep === '/' ? p : p.split(sep).join('/'))

/**
 * Every candidate file under `modulesDir`, in sorted path order: packages
 * (`name`, `@scope/name`) and the nested node_modules inside them. Dot
 * entries (.bin, .cache, .package-lock.json) and symbolic links (a linked
 * workspace package may be this project) are left out.
 */
export function listCandidates (modulesDir: string): Candidate[] {
  const out: Candidate[] = []
  const walkFiles = (dir: string, root: string, pkg: string): void => {
    for (const e of sortedEntries(dir)) {
      if (e.name.startsWith('.') || e.isSymbolicLink()) continue
      const file = join(dir, e.name)
      if (e.isDirectory()) {
        if (e.name === 'node_modules') walkModules(file)
        else walkFiles(file, root, pkg)
      } else if (e.isFile()) {
        const inPackage = posix(relative(root, file))
        const kind = classify(inPackage)
        if (kind !== undefined) out.push({ kind, file, path: posix(relative(modulesDir, file)), pkg, inPackage })
      }
    }
  }
  const walkPackage = (dir: string): void => {
    walkFiles(dir, dir, packageId(dir, posix(relative(modulesDir, dir))))
  }
  const walkModules = (dir: string): void => {
    for (const e of sortedEntries(dir)) {
      if (e.name.startsWith('.') || e.isSymbolicLink() || !e.isDirectory()) continue
      const path = join(dir, e.name)
      if (e.name.startsWith('@')) {
        for (const s of sortedEntries(path)) {
          if (!s.name.startsWith('.') && !s.isSymbolicLink() && s.isDirectory()) walkPackage(join(path, s.name))
        }
      } else {
        walkPackage(path)
      }
    }
  }
  walkModules(modulesDir)
  return out
}

/** A candidate's place in the sample: depends on nothing but the package, its version and the path in it. */
export function rankOf (candidate: Pick<Candidate, 'pkg' | 'inPackage'>, salt: string = defaultSalt): string {
  return createHash('sha256').update(`${salt}\n${candidate.pkg}\n${candidate.inPackage}`).digest('hex')
}

function cap (buf: Buffer, maxBytes: number): { text: string, truncated: boolean } {
  if (buf.length <= maxBytes) return { text: buf.toString('utf8'), truncated: false }
  const nl = buf.lastIndexOf(0x0a, maxBytes - 1)
  // No line break at all in the first maxBytes: cut there (a decoder error at the edge becomes U+FFFD).
  return { text: buf.subarray(0, nl > 0 ? nl + 1 : maxBytes).toString('utf8'), truncated: true }
}

function hasLongLine (text: string, max: number): boolean {
  let start = 0
  for (;;) {
    const nl = text.indexOf('\n', start)
    const end = nl < 0 ? text.length : nl
    if (end - start > max) return true
    if (nl < 0) return false
    start = nl + 1
  }
}

/**
 * The hash-ranked sample of `candidates` (see the module comment). `read`
 * is injectable for the tests.
 */
export function selectCorpus (candidates: readonly Candidate[], options: CorpusOptions, read: (file: string) => Buffer = readFileSync): Corpus {
  const maxDocBytes = options.maxDocBytes ?? defaultMaxDocBytes
  const maxLineChars = options.maxLineChars ?? defaultMaxLineChars
  const maxFileBytes = options.maxFileBytes ?? defaultMaxFileBytes
  const salt = options.salt ?? defaultSalt
  const emptyStats = (): CorpusKindStats => ({ candidates: 0, read: 0, duplicates: 0, minified: 0, empty: 0, tooLarge: 0 })
  const stats: Record<CorpusKind, CorpusKindStats> = { prose: emptyStats(), code: emptyStats() }
  const picked: Record<CorpusKind, CorpusDocument[]> = { prose: [], code: [] }
  const seen = new Set<string>()
  for (const kind of ['prose', 'code'] as const) {
    const s = stats[kind]
    const ranked = candidates.filter((c) => c.kind === kind)
      .map((c) => ({ c, rank: rankOf(c, salt) }))
      // Ties (the same package installed twice) in path order, so the first copy is the one kept.
      .sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : a.c.path < b.c.path ? -1 : a.c.path > b.c.path ? 1 : 0))
    s.candidates = ranked.length
    let bytes = 0
    for (const { c } of ranked) {
      if (bytes >= options.budgetBytes) break
      let buf: Buffer
      try {
        if (lstatSafe(c.file) > maxFileBytes) { s.tooLarge++; continue }
        buf = read(c.file)
      } catch {
        continue
      }
      s.read++
      const hash = createHash('sha256').update(buf).digest('hex')
      if (seen.has(hash)) { s.duplicates++; continue }
      seen.add(hash)
      if (buf.length === 0 || buf.includes(0)) { s.empty++; continue }
      if (kind === 'code' && (minified.test(c.inPackage) || hasLongLine(buf.toString('utf8'), maxLineChars))) { s.minified++; continue }
      const { text, truncated } = cap(buf, maxDocBytes)
      if (text.trim() === '') { s.empty++; continue }
      const docBytes = Buffer.byteLength(text)
      picked[kind].push({ kind, path: c.path, pkg: c.pkg, inPackage: c.inPackage, text, bytes: docBytes, truncated, hash })
      bytes += docBytes
    }
    picked[kind].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  }
  const fp = createHash('sha256')
  for (const d of [...picked.prose, ...picked.code]) fp.update(`${d.kind} ${d.path} ${d.hash}\n`)
  return { prose: picked.prose, code: picked.code, stats, fingerprint: fp.digest('hex').slice(0, 16) }
}

function lstatSafe (file: string): number {
  try {
    return lstatSync(file).size
  } catch {
    return 0
  }
}

export function buildCorpus (options: CorpusOptions): Corpus {
  return selectCorpus(listCandidates(options.modulesDir), options)
}

/**
 * Whether the installed tree is the one package-lock.json describes:
 * npm records what it installed in node_modules/.package-lock.json; the
 * entries (path, version) of both files are compared, optional packages
 * the lock lists but this platform did not install left aside.
 */
export function installedTreeCheck (rootDir: string): { lockHash: string, matches: boolean | undefined, differing: number } {
  const read = (p: string): string | undefined => {
    try { return readFileSync(p, 'utf8') } catch { return undefined }
  }
  const lock = read(join(rootDir, 'package-lock.json'))
  const hidden = read(join(rootDir, 'node_modules', '.package-lock.json'))
  const lockHash = lock === undefined ? 'none' : createHash('sha256').update(lock).digest('hex').slice(0, 12)
  if (lock === undefined || hidden === undefined) return { lockHash, matches: undefined, differing: 0 }
  const entries = (json: string): Map<string, boolean> => {
    const packages = (JSON.parse(json) as { packages?: Record<string, { version?: string, optional?: boolean }> }).packages ?? {}
    return new Map(Object.entries(packages).filter(([path]) => path !== '').map(([path, p]) => [`${path}@${p.version ?? ''}`, p.optional === true]))
  }
  const locked = entries(lock)
  const installed = entries(hidden)
  let differing = 0
  // Optional packages for other platforms are in the lock and rightly not installed.
  for (const [x, optional] of locked) if (!installed.has(x) && !optional) differing++
  for (const x of installed.keys()) if (!locked.has(x)) differing++
  return { lockHash, matches: differing === 0, differing }
}
