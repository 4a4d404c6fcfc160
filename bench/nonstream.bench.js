// Non-streaming benchmark: small chat completions (`stream: false`) with
// autocannon.
//
// Method. The demo upstream (bench/lib/upstream.js) answers with a ~200-byte
// assistant message that holds one e-mail address (Sluice redacts it in the
// JSON body). autocannon runs in this process; each target runs in its own:
//   direct — the upstream itself (reference)
//   raw    — raw byte relay (bench/lib/raw-relay.js)
//   sluice — `node bin/sluice.js proxy`, full default rule set, log level warn
// After a warm-up per target, rounds alternate the targets (each round starts
// one later); each run is `connections` keep-alive connections for a fixed
// time. Reported: median over rounds of requests/s and of latency p50 / p99
// (autocannon's), CPU per request of the target process (utime + stime from
// /proc/PID/stat over the run ÷ requests; for direct, the upstream's own), the
// ratio Sluice / raw, and non-2xx or errored requests. On a shared 2-core
// machine req/s moves with whatever else runs (autocannon itself takes most
// of a core); CPU per request moves much less, so read both.
//
// Run: npm run build && node bench/nonstream.bench.js [--quick]
import autocannon from 'autocannon'
import { isMain, runAsScript } from './lib/main.js'
import { procStats, startContender, startUpstream } from './lib/procs.js'
import { fmt, median, rotate, table } from './lib/stats.js'

/** @typedef {'direct' | 'raw' | 'sluice'} Target */
/** @type {Target[]} */
const targets = ['direct', 'raw', 'sluice']
const answer = 'Your account manager is Maria; write to maria.keller@northwind-traders.com and she will answer within a day.'

/**
 * @param {string} url
 * @param {number} connections
 * @param {number} seconds
 */
function cannon (url, connections, seconds) {
  return autocannon({
    url: `${url}/v1/chat/completions`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'sluice-demo-1', messages: [{ role: 'user', content: 'Who is my account manager?' }], demo_text: answer }),
    connections,
    duration: seconds
  })
}

/** @typedef {{ rps: number, p50: number, p99: number, cpuUs: number, bad: number }} RunFigures */

/** @param {import('./lib/main.js').BenchOptions} [options] */
export async function run ({ quick = false, log = () => {} } = {}) {
  const rounds = quick ? 2 : 3
  const seconds = quick ? 1.5 : 5
  const connections = quick ? 10 : 50
  const upstream = await startUpstream(['--rate', '0'])
  const raw = await startContender('raw', upstream.url)
  const sluice = await startContender('sluice', upstream.url)
  /** @type {Record<Target, string>} */
  const urls = { direct: upstream.url, raw: raw.url, sluice: sluice.url }
  /** @type {Record<Target, number | undefined>} */
  const pids = { direct: upstream.pid, raw: raw.pid, sluice: sluice.pid }
  for (const name of targets) await cannon(urls[name], connections, quick ? 0.5 : 2)
  /** @type {Record<Target, RunFigures[]>} */
  const runs = { direct: [], raw: [], sluice: [] }
  for (let round = 0; round < rounds; round++) {
    // Each round starts one target later.
    for (const name of rotate(targets, round)) {
      const cpu0 = procStats(pids[name]).cpu
      const r = await cannon(urls[name], connections, seconds)
      const cpuUs = (procStats(pids[name]).cpu - cpu0) * 1e6 / Math.max(1, r.requests.total)
      runs[name].push({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, cpuUs, bad: r.non2xx + r.errors + r.timeouts })
      log(`  nonstream round ${round + 1} ${name.padEnd(6)} ${fmt(r.requests.average, 0)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, ${fmt(cpuUs, 0)} µs CPU/req, non-2xx/errors ${r.non2xx + r.errors + r.timeouts}`)
    }
  }
  const summary = Object.fromEntries(targets.map((t) => [t, {
    rps: median(runs[t].map((r) => r.rps)),
    p50: median(runs[t].map((r) => r.p50)),
    p99: median(runs[t].map((r) => r.p99)),
    cpuUs: median(runs[t].map((r) => r.cpuUs)),
    bad: runs[t].reduce((s, r) => s + r.bad, 0)
  }]))
  return { quick, rounds, seconds, connections, runs, summary }
}

export function report (result) {
  const s = result.summary
  const rows = [['target', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'non-2xx/errors']]
  for (const t of targets) rows.push([t, fmt(s[t].rps, 0), fmt(s[t].p50), fmt(s[t].p99), fmt(s[t].cpuUs, 0), s[t].bad])
  rows.push(['sluice/raw', fmt(s.sluice.rps / s.raw.rps), fmt(s.sluice.p50 / s.raw.p50), fmt(s.sluice.p99 / s.raw.p99), fmt(s.sluice.cpuUs / s.raw.cpuUs), ''])
  return `\nNon-streaming chat completions (autocannon, ${result.connections} connections, ${result.seconds} s per run, ${result.rounds} rounds, medians)\n\n${table(rows)}`
}

if (isMain(import.meta.url)) await runAsScript({ run, report })
