// Per-folder coverage floors, checked after tap: `node scripts/check-coverage.js`.
//
// tap 21's own thresholds (`lines`, `branches`, … in the tap config) apply to
// the whole run only, so a well-tested folder can hide a thin one. This reads
// the istanbul summary tap writes with `"coverage-report": [..., "json-summary"]`
// (.tap/report/coverage-summary.json: one entry per file the tests loaded,
// from c8's V8 coverage) and holds each folder below to its own floor.
// Prints a table; exits 1 when a folder is under its floor or the summary
// has no file of it (coverage was off, or no test loaded the folder).
//
//   node scripts/check-coverage.js [--summary FILE]
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

/**
 * Floors in percent per folder (files in subfolders count too). The scanner
 * and the rule compiler are pure code that every stream goes through.
 * @type {Record<string, { lines: number, branches: number }>}
 */
export const floors = {
  // The whole tree at the figures measured when coverage was turned on
  // (98.8% lines, 92.6% branches), rounded down: it may only go up.
  src: { lines: 98, branches: 92 },
  'src/scanner': { lines: 95, branches: 95 },
  'src/rules': { lines: 95, branches: 95 }
}

/** @typedef {{ total: number, covered: number, pct: number | string }} Metric */
/** @typedef {{ lines: Metric, statements: Metric, functions: Metric, branches: Metric }} FileSummary */
/** @typedef {{ files: number, lines: { total: number, covered: number }, branches: { total: number, covered: number } }} FolderTotals */

const root = fileURLToPath(new URL('..', import.meta.url))

/**
 * Sums the summary's files under `folder` (a path relative to `root`, `/`-separated).
 * @param {Record<string, FileSummary>} summary istanbul json-summary: absolute paths (and `total`)
 * @param {string} folder
 * @param {string} [base] the project root the paths are relative to
 * @returns {FolderTotals}
 */
export function folderTotals (summary, folder, base = root) {
  /** @type {FolderTotals} */
  const totals = { files: 0, lines: { total: 0, covered: 0 }, branches: { total: 0, covered: 0 } }
  for (const [file, s] of Object.entries(summary)) {
    if (file === 'total') continue
    const path = relative(base, file).split(sep).join('/')
    if (!path.startsWith(`${folder}/`)) continue
    totals.files++
    totals.lines.total += s.lines.total
    totals.lines.covered += s.lines.covered
    totals.branches.total += s.branches.total
    totals.branches.covered += s.branches.covered
  }
  return totals
}

/**
 * Percent covered, as istanbul rounds it (two decimals); 100 when there is nothing to cover.
 * @param {{ total: number, covered: number }} m
 */
export function percent (m) {
  return m.total === 0 ? 100 : Math.floor((10000 * m.covered) / m.total) / 100
}

/**
 * Source files under `folder` that no test loaded (c8 reports loaded files
 * only): type-only modules are never loaded, a file of code should be.
 * @param {Record<string, FileSummary>} summary
 * @param {string} folder
 * @param {string} [base]
 */
export function filesNotLoaded (summary, folder, base = root) {
  const loaded = new Set(Object.keys(summary).map((f) => relative(base, f).split(sep).join('/')))
  const dir = join(base, folder)
  if (!existsSync(dir)) return []
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => `${folder}/${f.split(sep).join('/')}`)
    .filter((f) => /\.[cm]?[jt]s$/.test(f) && !f.endsWith('.d.ts') && !loaded.has(f))
    .sort()
}

/**
 * The report and whether every folder meets its floor.
 * @param {Record<string, FileSummary>} summary
 * @param {Record<string, { lines: number, branches: number }>} [folderFloors]
 * @param {string} [base]
 */
export function checkCoverage (summary, folderFloors = floors, base = root) {
  const lines = []
  let ok = true
  for (const [folder, floor] of Object.entries(folderFloors)) {
    const totals = folderTotals(summary, folder, base)
    if (totals.files === 0) {
      ok = false
      lines.push(`${folder}: no file in the coverage summary (was coverage on, and did a test load the folder?) FAIL`)
      continue
    }
    const linesPct = percent(totals.lines)
    const branchesPct = percent(totals.branches)
    const pass = linesPct >= floor.lines && branchesPct >= floor.branches
    if (!pass) ok = false
    lines.push(`${folder}: lines ${linesPct}% (${totals.lines.covered}/${totals.lines.total}, floor ${floor.lines}%), ` +
      `branches ${branchesPct}% (${totals.branches.covered}/${totals.branches.total}, floor ${floor.branches}%), ${totals.files} files ${pass ? 'ok' : 'FAIL'}`)
    const missing = filesNotLoaded(summary, folder, base)
    if (missing.length > 0) lines.push(`  not loaded by any test (not counted; fine for type-only modules): ${missing.join(', ')}`)
  }
  const all = folderTotals(summary, 'src', base)
  if (all.files > 0) lines.push(`src (all, for reference): lines ${percent(all.lines)}%, branches ${percent(all.branches)}%, ${all.files} files loaded`)
  return { ok, report: lines.join('\n') }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { summary: { type: 'string', default: join(root, '.tap', 'report', 'coverage-summary.json') } } })
  const file = /** @type {string} */ (values.summary)
  if (!existsSync(file)) {
    console.error(`check-coverage: ${relative(process.cwd(), file)} is missing: run tap with coverage on and "json-summary" among its coverage reports`)
    process.exit(1)
  }
  const { ok, report } = checkCoverage(JSON.parse(readFileSync(file, 'utf8')))
  console.log(report)
  if (!ok) process.exitCode = 1
}
