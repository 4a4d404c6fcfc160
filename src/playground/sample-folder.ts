/**
 * @module playground/sample-folder
 * The folder of sample texts the playground was given (`--samples`): its
 * files listed, one read, and the current rules run over all of them with
 * the findings counted per rule. Only files inside the folder (links
 * followed) are read; bounded in count, depth and size, binary files left
 * out, so a folder pointed at by mistake cannot make the server read
 * gigabytes.
 */
import { readdir, readFile, stat } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { BadRequestError } from '../errors.js'
import { scanText } from '../scanner/index.js'
import type { RuleSet } from '../scanner/index.js'
import { cleanPath, isInside, realPathOf } from './safe-paths.js'

/** Files listed and scanned at most (the rest are left out, and the listing says so). */
const kMaxSampleFiles = 2000
/** Largest sample file read, bytes. */
const kMaxSampleBytes = 1024 * 1024
const kMaxDepth = 6

interface SampleFile {
  path: string
  /** Relative to the folder. */
  name: string
  size: number
}

interface SampleListing {
  folder: string
  files: SampleFile[]
  /** True when more files were there than are listed. */
  truncated: boolean
}

interface RuleCount {
  ruleId: string
  category: string
  action: string
  severity: string
  /** Findings of the rule over all files. */
  count: number
  /** Files with at least one. */
  files: number
}

interface FolderRun {
  folder: string
  files: Array<{ name: string, findings: number, cut?: string }>
  rules: RuleCount[]
  truncated: boolean
  ms: number
}

export interface SampleFolder {
  list: () => Promise<SampleListing>
  read: (path: unknown) => Promise<{ path: string, name: string, text: string }>
  run: (ruleSet: RuleSet) => Promise<FolderRun>
}

function isBinary (bytes: Buffer): boolean {
  return bytes.subarray(0, 8192).includes(0)
}

/**
 * The sample folder at `folder`.
 * @example
 * const samples = createSampleFolder('./answers')
 * const { rules } = await samples.run(ruleSet) // [{ ruleId: 'pii.email', count: 12, files: 9, … }]
 */
export function createSampleFolder (folder: string): SampleFolder {
  const root = cleanPath(folder, 'sample folder')

  async function list (): Promise<SampleListing> {
    const real = await realPathOf(root)
    if (real === undefined) throw new BadRequestError(`sample folder: no such directory: ${root}`)
    const files: SampleFile[] = []
    let truncated = false
    const walk = async (dir: string, depth: number): Promise<void> => {
      const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))
      for (const entry of entries) {
        if (entry.name.startsWith('.')) continue
        if (files.length >= kMaxSampleFiles) { truncated = true; return }
        const path = join(dir, entry.name)
        if (entry.isDirectory()) {
          if (depth < kMaxDepth) await walk(path, depth + 1)
        } else if (entry.isFile()) {
          const { size } = await stat(path)
          if (size <= kMaxSampleBytes) files.push({ path, name: relative(root, path), size })
        }
      }
    }
    await walk(root, 0)
    return { folder: root, files, truncated }
  }

  async function readText (path: string): Promise<string | undefined> {
    const bytes = await readFile(path)
    return bytes.length > kMaxSampleBytes || isBinary(bytes) ? undefined : bytes.toString('utf8')
  }

  return {
    list,
    async read (path) {
      const wanted = cleanPath(path, 'sample')
      const [real, realRoot] = await Promise.all([realPathOf(wanted), realPathOf(root)])
      if (real === undefined || realRoot === undefined || !isInside(realRoot, real) || !(await stat(real)).isFile()) {
        throw new BadRequestError(`sample: not a file in the sample folder: ${String(path)}`)
      }
      const text = await readText(real)
      if (text === undefined) throw new BadRequestError(`sample: ${String(path)} is binary or larger than ${kMaxSampleBytes} bytes`)
      return { path: wanted, name: relative(root, wanted), text }
    },
    async run (ruleSet) {
      const started = performance.now()
      const listing = await list()
      const counts = new Map<string, RuleCount>()
      const files: FolderRun['files'] = []
      for (const file of listing.files) {
        const text = await readText(file.path)
        if (text === undefined) continue
        const result = scanText(ruleSet, text)
        const seen = new Set<string>()
        for (const f of result.findings) {
          let c = counts.get(f.ruleId)
          if (c === undefined) {
            c = { ruleId: f.ruleId, category: f.category, action: f.action, severity: f.severity, count: 0, files: 0 }
            counts.set(f.ruleId, c)
          }
          c.count++
          if (!seen.has(f.ruleId)) c.files++
          seen.add(f.ruleId)
        }
        files.push({ name: file.name, findings: result.findings.length, ...(result.cut === undefined ? {} : { cut: result.cut.ruleId }) })
      }
      const rules = [...counts.values()].sort((a, b) => b.count - a.count || a.ruleId.localeCompare(b.ruleId))
      return { folder: listing.folder, files, rules, truncated: listing.truncated, ms: Math.round(performance.now() - started) }
    }
  }
}
