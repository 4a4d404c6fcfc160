// `npm run bench`: every benchmark in turn, then the chart.
//
//   npm run build && npm run bench            full: 1, 100 and 1,000 streams, 3 rounds
//   npm run build && npm run bench -- --quick  about 3 minutes: 1 and 100 streams, 2 rounds,
//                                              200 slow clients for 10 s per target, no
//                                              micro-benchmarks (add --micro for them); its
//                                              chart goes to /tmp, not over the full run's
//   … -- --baseline DIR                        also measure DIR's build (another checkout's
//                                              root with its own dist/) in holdback and
//                                              healthz-under-load, side by side
//
// Micro-benchmarks (in-process, seeded): bench/scanner.bench.js,
// bench/transform.bench.js and bench/eval-rules.bench.ts (rule recall and
// false positives), run as child processes. End-to-end (real sockets,
// the upstream, the load generator and each contender in their own
// processes): e2e-stream, nonstream, slow-clients (in a private network
// namespace with small socket buffers where `unshare -rn` works; see its
// method), cancel, healthz-under-load (/healthz latency while 50 streams of
// digit runs go through); holdback runs in-process on prose and code from
// node_modules and on synthetic base64 and digit runs. Each file states
// its method at its top. Every child process is stopped by PID at the end,
// also on failure or Ctrl-C.
// Writes bench/chart.svg (full runs; from the end-to-end streaming figures) and the raw
// figures as JSON to /tmp/sluice-bench-results.json.
import { execFileSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { cpus, freemem, loadavg, totalmem } from 'node:os'
import { fileURLToPath } from 'node:url'
import * as cancel from './cancel.bench.js'
import * as e2e from './e2e-stream.bench.js'
import * as gateway from './gateway.bench.js'
import * as healthz from './healthz-under-load.bench.js'
import * as holdback from './holdback.bench.js'
import * as nonstream from './nonstream.bench.js'
import * as slowClients from './slow-clients.bench.js'
import { renderChart } from './lib/chart.js'
import { baselineArg } from './lib/main.js'
import { rootDir, stopAll } from './lib/procs.js'

const quick = process.argv.includes('--quick')
// Another checkout's root with its own dist/: holdback and healthz-under-load measure it next to this one.
const baseline = baselineArg()
/** @param {string} line */
const log = (line) => console.log(line)

if (!existsSync(`${rootDir}dist/index.js`)) {
  console.error('bench: dist/ is missing; run `npm run build` first')
  process.exit(1)
}

const started = Date.now()
const machine = {
  nproc: cpus().length,
  cpu: cpus()[0]?.model,
  memGiB: +(totalmem() / 2 ** 30).toFixed(1),
  freeGiB: +(freemem() / 2 ** 30).toFixed(1),
  node: process.version,
  loadAvgAtStart: loadavg().map((x) => +x.toFixed(2))
}
console.log(`sluice bench (${quick ? 'quick' : 'full'}) on ${machine.nproc} × ${machine.cpu}, ${machine.memGiB} GiB, node ${machine.node}, load average ${machine.loadAvgAtStart.join(' ')}`)

/** @type {{ quick: boolean, baseline: string | null, machine: typeof machine & { loadAvgAtEnd?: number[] }, seconds?: number, [section: string]: unknown }} */
const results = { quick, baseline: baseline ?? null, machine }
try {
  // The micro-benchmarks take minutes (the fixed-window contender of scanner.bench re-scans a
  // window of the rule set's longest match per chunk): in the full run, or with --micro, only.
  // eval-rules.bench.ts runs from source through tap's TypeScript loader.
  for (const micro of (!quick || process.argv.includes('--micro')) ? ['scanner.bench.js', 'transform.bench.js', 'eval-rules.bench.ts'] : []) {
    console.log(`\n== ${micro}`)
    try {
      const loader = micro.endsWith('.ts') ? [`--import=${rootDir}node_modules/@tapjs/typescript/dist/esm/import.mjs`] : []
      const out = execFileSync(process.execPath, [...loader, fileURLToPath(new URL(micro, import.meta.url)), ...(quick ? ['--quick'] : [])], { encoding: 'utf8', timeout: 600_000, stdio: ['ignore', 'pipe', 'pipe'] })
      process.stdout.write(out)
      results[micro] = out
    } catch (err) {
      // Not ours to fix here; report it and go on with the end-to-end benches.
      const failure = /** @type {Error & { stderr?: string }} */ (err)
      console.log(`${micro} failed or timed out: ${String(failure.stderr ?? failure.message).split('\n').slice(0, 3).join(' ')}`)
    }
  }
  /** @type {Array<[string, import('./lib/main.js').Bench<any>]>} */
  const sections = [['e2e-stream', e2e], ['nonstream', nonstream], ['slow-clients', slowClients], ['cancel', cancel], ['healthz-under-load', healthz], ['gateway', gateway], ['holdback', holdback]]
  for (const [name, bench] of sections) {
    console.log(`\n== ${name}`)
    const sectionStart = Date.now()
    const result = await bench.run({ quick, log, baseline })
    await stopAll()
    console.log(bench.report(result))
    console.log(`(${name}: ${((Date.now() - sectionStart) / 1000).toFixed(0)} s)`)
    results[name] = result
  }
  const r = /** @type {Awaited<ReturnType<typeof e2e.run>>} */ (results['e2e-stream'])
  const caption = `${quick ? 'quick' : 'full'} run, medians of ${r.rounds} rounds; ${machine.nproc} cores shared by upstream, load generator and contender; load average at start ${machine.loadAvgAtStart[0]}`
  // A quick run never replaces the chart of the recorded full run.
  const chartPath = quick ? '/tmp/sluice-bench-chart-quick.svg' : fileURLToPath(new URL('chart.svg', import.meta.url))
  writeFileSync(chartPath, renderChart({ summary: r.summary, concurrencies: r.concurrencies, caption }))
  machine.loadAvgAtEnd = loadavg().map((x) => +x.toFixed(2))
  results.seconds = (Date.now() - started) / 1000
  writeFileSync('/tmp/sluice-bench-results.json', JSON.stringify(results, null, 2))
  console.log(`\nwrote ${quick ? chartPath : 'bench/chart.svg'} and /tmp/sluice-bench-results.json; ${results.seconds.toFixed(0)} s; load average at end ${machine.loadAvgAtEnd.join(' ')}`)
} catch (err) {
  console.error(/** @type {Error | undefined} */ (err)?.stack ?? err)
  process.exitCode = 1
} finally {
  await stopAll()
}
