// Runs a bench module as a script: `node bench/x.bench.js [--quick] [--baseline DIR]`
// calls its `run({ quick, baseline })`, prints its report, and stops every
// child process (by PID) whatever happens.
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { stopAll } from './procs.js'

/**
 * What every bench's `run` takes (`node bench/x.bench.js` and bench/run.js
 * pass all three).
 * @typedef {object} BenchOptions
 * @property {boolean} [quick] the short variant (`--quick`)
 * @property {string | undefined} [baseline] another checkout's root (`--baseline DIR`)
 * @property {(line: string) => void} [log] progress lines
 */

/**
 * A bench module: `run` measures, `report` prints what it measured.
 * @template R
 * @typedef {object} Bench
 * @property {(options: BenchOptions) => Promise<R>} run
 * @property {(result: R) => string} report
 */

/**
 * `--baseline DIR` (or `--baseline=DIR`): the root of another checkout with its
 * own built `dist/`, measured next to this one by the benches that compare
 * builds. Undefined when not given; throws when DIR has no `dist/index.js`.
 */
export function baselineArg (argv = process.argv) {
  /** @type {string | undefined} */
  let dir
  argv.forEach((arg, i) => {
    if (arg === '--baseline') dir = argv[i + 1]
    else if (arg.startsWith('--baseline=')) dir = arg.slice('--baseline='.length)
  })
  if (dir === undefined) return undefined
  const root = resolve(dir)
  if (!existsSync(`${root}/dist/index.js`)) throw new Error(`--baseline ${dir}: no dist/index.js there (build that checkout first)`)
  return root
}

/**
 * @template R
 * @param {Bench<R>} bench
 */
export async function runAsScript (bench) {
  const quick = process.argv.includes('--quick')
  try {
    const result = await bench.run({ quick, baseline: baselineArg(), log: (line) => console.log(line) })
    console.log(bench.report(result))
  } catch (err) {
    console.error(/** @type {Error | undefined} */ (err)?.stack ?? err)
    process.exitCode = 1
  } finally {
    await stopAll()
  }
}

/**
 * True when `metaUrl` is the module node was started with.
 * @param {string} metaUrl
 */
export function isMain (metaUrl) {
  return process.argv[1] !== undefined && new URL(metaUrl).pathname === process.argv[1]
}
