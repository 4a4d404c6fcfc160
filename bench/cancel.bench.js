// Cancellation at scale: N streams cancelled by their clients at random
// moments; is every upstream stream closed, how fast, and does the proxy go
// back to idle?
//
// Method. The demo upstream (bench/lib/upstream.js) streams an endless answer
// (`x-fault: never-ends`) at 50 chunks/s per stream and records, per request
// (`x-bench-id`), the CLOCK_MONOTONIC time its response closed. The load
// generator (own process) starts N streams spread over 1 s and aborts each at
// a seeded random moment 100–1500 ms after its headers, recording the abort
// time on the same clock. Abort→upstream close = close time − abort time, per
// stream (p50/p99/max); a stream whose upstream never closed within 3 s is
// counted as leaked. The upstream's own counters (GET /_demo/stats fields:
// activeStreams, abortedStreams) must read 0 and N. The target's VmRSS and
// open file descriptors (/proc/PID/fd: sockets are handles) are read idle
// before, at the peak, and polled after the last abort until they are back
// to the idle count (+2), at most 8 s; idle keep-alive sockets to the
// upstream count until the upstream's 5 s keep-alive timeout closes them. Targets: sluice, then raw
// relay for reference, each a fresh process.
//
// What lies between the two timestamps, and what bounds the figure. The load
// generator takes its time, then aborts: undici destroys its socket in the
// same call (FIN, or RST if unread bytes remain). The contender learns of it
// only when its event loop next polls that socket; Sluice acts in that very
// callback (the socket's 'end'/'error', see src/client-gone.ts): the abort
// reaches undici, which destroys the upstream socket synchronously. (Before,
// it waited for the response's 'close', which comes only after Node's own
// shutdown of the client socket completes, a loop turn or more later.) The
// upstream in turn learns of it at its next poll, and its `res` 'close' (our
// second timestamp) fires after its socket has closed: on an RST in the same
// turn, on a FIN a turn later. So the figure is, at best, the contender's
// event-loop lag plus one or two turns of the upstream's, and on this 2-core
// machine all three processes (plus the contender's GC threads) compete for
// the cores: a process that is runnable but waits for a CPU adds that wait to
// both lags. To show how much of the figure that is, the bench reports, over
// the run: Sluice's own event-loop lag (prom-client's
// nodejs_eventloop_lag_*_seconds at GET /metrics: monitorEventLoopDelay, 10 ms
// resolution, reset at each scrape), the event-loop lag of the upstream and
// the load generator when their wrappers report one (`lag` in their answers,
// ms, the sampling interval taken off),
// and for each process the share of the run its main thread spent runnable
// but waiting for a CPU (/proc/PID/task/PID/schedstat, second field: run-queue
// wait in ns; read by this process, nothing added to the others).
//
// Run: npm run build && node bench/cancel.bench.js [--quick]
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { chatBody, mixedProse } from './lib/fixtures.js'
import { isMain, runAsScript } from './lib/main.js'
import { procStats, scrapeEventLoopLag, startContender, startLoadGen, startUpstream } from './lib/procs.js'
import { fmt, summarize, table } from './lib/stats.js'

/**
 * ns the main thread of `pid` has waited on a run queue (runnable, no CPU free), or NaN.
 * @param {number | undefined} pid
 */
function runQueueWaitNs (pid) {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[1])
  } catch {
    return NaN
  }
}

/** @typedef {{ target: number, upstream: number, loadGen: number }} PerProcess */

/** @param {PerProcess} pids */
const runQueueWaits = (pids) => ({ target: runQueueWaitNs(pids.target), upstream: runQueueWaitNs(pids.upstream), loadGen: runQueueWaitNs(pids.loadGen) })

/** @param {import('./lib/procs.js').EventLoopLag | undefined} lag */
const lagText = (lag) => lag === undefined || Number.isNaN(lag.p99) ? 'n/a' : `${fmt(lag.p50, 1)}/${fmt(lag.p99, 1)}/${fmt(lag.max, 0)}`

/** @param {import('./lib/main.js').BenchOptions} [options] */
export async function run ({ quick = false, log = () => {} } = {}) {
  const streams = quick ? 200 : 1000
  const upstream = await startUpstream(['--rate', '50'])
  const loadGen = await startLoadGen()
  /** @type {Record<string, object>} */
  const results = {}
  for (const name of ['sluice', 'raw']) {
    const target = await startContender(name, upstream.url)
    // A short warm-up so the idle baseline is a warmed process, not a fresh one.
    await loadGen.run({ url: target.url, path: '/v1/chat/completions', body: chatBody(mixedProse), headers: { 'x-demo-rate': '0' }, concurrency: 10, durationMs: 300, parse: false, tag: `cw-${name}` })
    const statsBefore = (await upstream.take()).stats
    await sleep(500)
    const idle = procStats(target.pid)
    // The scrape resets Sluice's lag histogram: the next one covers the run.
    if (name === 'sluice') await scrapeEventLoopLag(target.url)
    /** @type {PerProcess} */
    const pids = { target: target.pid ?? NaN, upstream: upstream.pid ?? NaN, loadGen: loadGen.pid ?? NaN }
    const wait0 = runQueueWaits(pids)
    const t0 = process.hrtime.bigint()
    let peak = idle
    const sampler = setInterval(() => {
      const s = procStats(target.pid)
      if (s.fds > peak.fds) peak = s
    }, 100)
    const res = await loadGen.run({
      url: target.url,
      path: '/v1/chat/completions',
      body: chatBody(mixedProse),
      headers: { 'x-fault': 'never-ends' },
      concurrency: streams,
      staggerMs: 1000,
      parse: false,
      abortAfterMs: [100, 1500],
      maxMs: 20_000,
      seed: 7,
      tag: `cancel-${name}`
    })
    const runNs = Number(process.hrtime.bigint() - t0)
    const wait1 = runQueueWaits(pids)
    /** @type {PerProcess} */
    const runQueueWait = { target: (wait1.target - wait0.target) / runNs, upstream: (wait1.upstream - wait0.upstream) / runNs, loadGen: (wait1.loadGen - wait0.loadGen) / runNs }
    const targetLag = name === 'sluice' ? await scrapeEventLoopLag(target.url) : res.targetLag
    // Back to idle: poll until the open handles are back to the idle count (+2), at most 8 s.
    // Idle keep-alive sockets to the upstream count as handles until the upstream's 5 s keep-alive timeout closes them.
    const lastAbort = Math.max(...Object.values(res.aborts))
    let after = procStats(target.pid)
    let idleAgainMs = NaN
    for (let waited = 0; waited < 8000; waited += 250) {
      after = procStats(target.pid)
      if (after.fds <= idle.fds + 2) { idleAgainMs = Number(process.hrtime.bigint()) / 1e6 - lastAbort; break }
      await sleep(250)
    }
    clearInterval(sampler)
    const up = await upstream.take()
    const delays = []
    let leaked = 0
    for (const [id, abortedAt] of Object.entries(res.aborts)) {
      const close = up.closes[id]
      if (close === undefined || close.t - abortedAt > 3000) leaked++
      else delays.push(close.t - abortedAt)
    }
    const r = {
      streams,
      aborted: Object.keys(res.aborts).length,
      errors: res.errors,
      firstError: res.firstError,
      delay: summarize(delays),
      leaked,
      upstreamActive: up.stats.activeStreams,
      upstreamAborted: up.stats.abortedStreams - statsBefore.abortedStreams,
      idleAgainMs,
      lag: { target: targetLag, upstream: up.lag, loadGen: res.lag },
      runQueueWait,
      idle: { rssKiB: idle.rssKiB, fds: idle.fds },
      peak: { rssKiB: Math.max(peak.rssKiB, idle.rssKiB), fds: peak.fds },
      after: { rssKiB: after.rssKiB, fds: after.fds }
    }
    results[name] = r
    log(`  cancel ${name}: ${r.aborted}/${streams} aborted, abort→upstream close p50 ${fmt(r.delay.p50)} p99 ${fmt(r.delay.p99)} max ${fmt(r.delay.max)} ms, leaked ${leaked}; upstream active ${r.upstreamActive}, aborted ${r.upstreamAborted}; fds ${idle.fds} → ${peak.fds} → ${after.fds} (back to idle ${fmt(idleAgainMs / 1000, 1)} s after the last abort); rss ${fmt(idle.rssKiB / 1024, 1)} → ${fmt(after.rssKiB / 1024, 1)} MiB${res.errors ? `; ${res.errors} errors (${res.firstError})` : ''}`)
    log(`    event-loop lag p50/p99/max ms: ${name} ${lagText(r.lag.target)}, upstream ${lagText(r.lag.upstream)}, load generator ${lagText(r.lag.loadGen)}; waiting for a CPU: ${name} ${fmt(100 * runQueueWait.target, 0)}%, upstream ${fmt(100 * runQueueWait.upstream, 0)}%, load generator ${fmt(100 * runQueueWait.loadGen, 0)}% of the run`)
    await target.stop()
  }
  return { quick, results }
}

export function report ({ results }) {
  const rows = [['target', 'aborted', 'close p50 ms', 'p99 ms', 'max ms', 'leaked', 'upstream active/aborted', 'fds idle→peak→after', 'fds idle again after s', 'rss idle→after MiB', 'errors']]
  const bounds = [['target', 'own lag p50/p99/max ms', 'upstream lag', 'load-gen lag', 'own CPU wait %', 'upstream CPU wait %', 'load-gen CPU wait %']]
  for (const [name, r] of Object.entries(results)) {
    rows.push([name, `${r.aborted}/${r.streams}`, fmt(r.delay.p50), fmt(r.delay.p99), fmt(r.delay.max), r.leaked, `${r.upstreamActive}/${r.upstreamAborted}`,
      `${r.idle.fds}→${r.peak.fds}→${r.after.fds}`, fmt(r.idleAgainMs / 1000, 1), `${fmt(r.idle.rssKiB / 1024, 1)}→${fmt(r.after.rssKiB / 1024, 1)}`, r.errors])
    const w = r.runQueueWait ?? {}
    bounds.push([name, lagText(r.lag?.target), lagText(r.lag?.upstream), lagText(r.lag?.loadGen), fmt(100 * w.target, 0), fmt(100 * w.upstream, 0), fmt(100 * w.loadGen, 0)])
  }
  return `\nCancellation at scale (abort→upstream close on one CLOCK_MONOTONIC: client abort time vs the upstream's res 'close' time)\n\n${table(rows)}` +
    `\n\nWhat bounds it, during the run: event-loop lag of each process (n/a: not reported) and the share of the run each main thread waited for a CPU\n\n${table(bounds)}`
}

if (isMain(import.meta.url)) await runAsScript({ run, report })
