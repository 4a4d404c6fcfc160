// End-to-end streaming benchmark (real sockets, every party its own process).
//
// Method. The demo upstream (bench/lib/upstream.js: dist/demo's server plus
// opt-in timestamps) streams a fixed ~750-character answer as OpenAI chat
// chunks of 1–8 characters. The load generator (bench/lib/load-gen.js, undici)
// runs in its own process. Four targets, each its own process, started once
// and then taken in turn within every round (alternating, so drift and noisy
// neighbours hit all of them alike):
//   direct — the upstream itself (the baseline for "added" figures)
//   raw    — raw byte relay (bench/lib/raw-relay.js)
//   parse  — parse-and-reserialize relay, no rules (bench/lib/parse-relay.js)
//   sluice — `node bin/sluice.js proxy` with the full default rule set
//            (log level warn: the relays write no per-request log lines either)
// For each concurrency C and round, two runs per target:
//   saturation — C clients in a closed loop for a fixed time, upstream as fast
//     as possible (rate 0), text with an e-mail and a card (Sluice redacts
//     them). chunks/s = completed streams × upstream content chunks per stream
//     (counted by the upstream on a calibration run) ÷ wall time. CPU = the
//     target's utime+stime from /proc/PID/stat over the run (cores used, and
//     µs of CPU per chunk).
//   paced — C streams at 50 chunks/s each (x-demo-rate), first requests spread
//     over up to 1 s, text with nothing to redact, so the client's text equals
//     the upstream's and chunks match by character offset. Per-chunk latency =
//     arrival at the client of the chunk's last character − the upstream's
//     res.write of that chunk (same CLOCK_MONOTONIC in both processes), over up
//     to 50 traced streams; TTFT = request sent → first content character.
//     "Added" = target's percentile − direct's percentile. Memory per open
//     stream = (VmRSS while all C streams are open − VmRSS just before) ÷ C.
// Reported: per target, the median over rounds of each figure; ratios
// Sluice / raw and Sluice / parse. The machine runs everything (upstream,
// load generator, target) on the same cores: chunks/s is the whole system's
// throughput with that target in the path, not the target's alone.
//
// Run: npm run build && node bench/e2e-stream.bench.js [--quick]
import { loadavg } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { chatBody, cleanProse, mixedProse } from './lib/fixtures.js'
import { isMain, runAsScript } from './lib/main.js'
import { procStats, startContender, startLoadGen, startUpstream } from './lib/procs.js'
import { fmt, median, summarize, table } from './lib/stats.js'

export const targets = ['direct', 'raw', 'parse', 'sluice']
const PATH = '/v1/chat/completions'
const PACED_RATE = 50

/** Per-chunk latencies (ms) of traced streams whose text arrived intact. */
function chunkLatencies (upTraces, clientTraces, texts, expected) {
  const out = []
  let skipped = 0
  for (const [id, points] of Object.entries(clientTraces)) {
    const sent = upTraces[id]
    if (sent === undefined || texts[id] !== expected) { skipped++; continue }
    let j = 0
    for (const [end, t] of sent) {
      while (j < points.length && points[j][0] < end) j++
      const arrived = points[j]
      if (arrived === undefined) break
      out.push(arrived[1] - t)
    }
  }
  return { latencies: out, skipped }
}

export async function run ({ quick = false, log = () => {} } = {}) {
  const concurrencies = quick ? [1, 100] : [1, 100, 1000]
  const rounds = quick ? 2 : 3
  const saturationMs = quick ? 1000 : 4000
  const pacedText = quick ? cleanProse.slice(0, 220) : cleanProse
  const upstream = await startUpstream(['--rate', '0', '--chunk', '1-8'])
  const loadGen = await startLoadGen()
  const urls = { direct: upstream.url }
  const pids = { direct: upstream.pid }
  for (const name of targets.slice(1)) {
    const c = await startContender(name, upstream.url)
    urls[name] = c.url
    pids[name] = c.pid
  }

  // Calibration: upstream content chunks per stream of the saturation text.
  await loadGen.run({ url: upstream.url, path: PATH, body: chatBody(mixedProse), concurrency: 20, trace: 20, parse: true, tag: 'cal' })
  const cal = await upstream.take()
  const chunksPerStream = median(Object.values(cal.traces).map((t) => t.length))
  const pacedCal = await loadGen.run({ url: upstream.url, path: PATH, body: chatBody(pacedText), concurrency: 20, trace: 20, parse: true, tag: 'calp' })
  void pacedCal
  const calP = await upstream.take()
  const pacedChunks = median(Object.values(calP.traces).map((t) => t.length))
  log(`e2e-stream: ${chunksPerStream} upstream chunks per saturation stream (${mixedProse.length} chars), ${pacedChunks} per paced stream (${pacedText.length} chars at ${PACED_RATE}/s)`)

  // Warm-up: JIT (targets and load generator), pools and sockets, so round 1 is not a cold start.
  for (const name of targets) {
    await loadGen.run({ url: urls[name], path: PATH, body: chatBody(mixedProse), concurrency: 20, durationMs: quick ? 500 : 1500, parse: true, tag: `warm-${name}` })
    await loadGen.run({ url: urls[name], path: PATH, body: chatBody(mixedProse), concurrency: 20, durationMs: quick ? 300 : 1000, parse: false, tag: `warm-${name}` })
  }
  await upstream.take()

  const runs = {} // runs[C][target] = [{...per round}]
  for (const C of concurrencies) {
    runs[C] = Object.fromEntries(targets.map((t) => [t, []]))
    for (let round = 0; round < rounds; round++) {
      // Alternate the order too: each round starts one target later.
      const order = targets.map((_, i) => targets[(i + round) % targets.length])
      for (const name of order) {
        const pid = pids[name]
        // Saturation.
        const before = procStats(pid)
        const others = [procStats(upstream.pid).cpu, procStats(loadGen.pid).cpu]
        const sat = await loadGen.run({ url: urls[name], path: PATH, body: chatBody(mixedProse), concurrency: C, durationMs: saturationMs, parse: false, tag: `s${C}-${round}-${name}`, maxMs: saturationMs + 30_000 })
        const after = procStats(pid)
        const othersCpu = [procStats(upstream.pid).cpu - others[0], procStats(loadGen.pid).cpu - others[1]]
        await upstream.take()
        const chunks = sat.completed * chunksPerStream
        const cpu = after.cpu - before.cpu
        // Paced.
        const stagger = Math.min(1000, C * 3)
        const idle = procStats(pid)
        const pacedJob = loadGen.run({ url: urls[name], path: PATH, body: chatBody(pacedText), headers: { 'x-demo-rate': String(PACED_RATE) }, concurrency: C, staggerMs: stagger, parse: true, trace: Math.min(C, 50), tag: `p${C}-${round}-${name}`, maxMs: 60_000 })
        // All streams are open from `stagger` until the first ones end (~pacedChunks / rate seconds after they began).
        await sleep(stagger + Math.min(500, (pacedChunks / PACED_RATE) * 1000 / 3))
        const open = procStats(pid)
        const paced = await pacedJob
        const up = await upstream.take()
        const { latencies, skipped } = chunkLatencies(up.traces, paced.traces, paced.texts, pacedText)
        const lat = summarize(latencies)
        const ttft = summarize(paced.ttfts)
        runs[C][name].push({
          chunksPerSec: chunks / (sat.elapsedMs / 1000),
          cpuCores: cpu / (sat.elapsedMs / 1000),
          cpuUsPerChunk: (cpu * 1e6) / chunks,
          upstreamCores: othersCpu[0] / (sat.elapsedMs / 1000),
          loadGenCores: othersCpu[1] / (sat.elapsedMs / 1000),
          loadAvg: loadavg()[0],
          errors: sat.errors + paced.errors,
          firstError: sat.firstError ?? paced.firstError,
          latP50: lat.p50,
          latP99: lat.p99,
          latN: lat.n,
          skipped,
          ttftP50: ttft.p50,
          ttftP99: ttft.p99,
          memPerStreamKiB: (open.rssKiB - idle.rssKiB) / C,
          rssKiB: open.rssKiB
        })
        const r = runs[C][name].at(-1)
        log(`  C=${C} round ${round + 1} ${name.padEnd(6)} ${fmt(r.chunksPerSec, 0)} chunks/s, cpu ${fmt(r.cpuCores)} cores (upstream ${fmt(r.upstreamCores)}, load gen ${fmt(r.loadGenCores)}, loadavg ${fmt(r.loadAvg, 1)}), chunk latency p50 ${fmt(r.latP50)} p99 ${fmt(r.latP99)} ms (n=${r.latN}), ttft p50 ${fmt(r.ttftP50)} p99 ${fmt(r.ttftP99)} ms, ${fmt(r.memPerStreamKiB, 1)} KiB/stream${r.errors ? `, ${r.errors} errors (${r.firstError})` : ''}`)
      }
    }
  }
  return { quick, rounds, saturationMs, chunksPerStream, pacedChunks, pacedRate: PACED_RATE, concurrencies, runs, summary: summarizeRuns(runs) }
}

/** Medians over rounds, and "added" figures against direct. */
export function summarizeRuns (runs) {
  const out = {}
  for (const [C, byTarget] of Object.entries(runs)) {
    out[C] = {}
    const med = (name, key) => median(byTarget[name].map((r) => r[key]))
    for (const name of targets) {
      out[C][name] = {
        chunksPerSec: med(name, 'chunksPerSec'),
        cpuCores: med(name, 'cpuCores'),
        cpuUsPerChunk: med(name, 'cpuUsPerChunk'),
        latP50: med(name, 'latP50'),
        latP99: med(name, 'latP99'),
        addedLatP50: med(name, 'latP50') - med('direct', 'latP50'),
        addedLatP99: med(name, 'latP99') - med('direct', 'latP99'),
        addedTtftP50: med(name, 'ttftP50') - med('direct', 'ttftP50'),
        addedTtftP99: med(name, 'ttftP99') - med('direct', 'ttftP99'),
        memPerStreamKiB: med(name, 'memPerStreamKiB'),
        errors: byTarget[name].reduce((s, r) => s + r.errors, 0)
      }
    }
  }
  return out
}

export function report (result) {
  const lines = [`\nEnd-to-end streaming (${result.quick ? 'quick' : 'full'}: ${result.rounds} rounds, medians; saturation ${result.saturationMs} ms per run; paced ${result.pacedRate} chunks/s)`]
  for (const C of result.concurrencies) {
    const s = result.summary[C]
    const rows = [['C=' + C, 'chunks/s', 'cpu cores', 'cpu µs/chunk', 'added lat p50', 'added lat p99', 'added TTFT p50', 'added TTFT p99', 'KiB/open stream', 'errors']]
    for (const name of targets) {
      const x = s[name]
      const d = name === 'direct'
      rows.push([name, fmt(x.chunksPerSec, 0), fmt(x.cpuCores), fmt(x.cpuUsPerChunk, 1),
        d ? `(${fmt(x.latP50)})` : fmt(x.addedLatP50), d ? `(${fmt(x.latP99)})` : fmt(x.addedLatP99),
        d ? '—' : fmt(x.addedTtftP50), d ? '—' : fmt(x.addedTtftP99),
        C >= 100 ? fmt(x.memPerStreamKiB, 1) : 'n/a', x.errors])
    }
    const sl = s.sluice
    rows.push(['sluice/raw', fmt(sl.chunksPerSec / s.raw.chunksPerSec), '', fmt(sl.cpuUsPerChunk / s.raw.cpuUsPerChunk), '', '', '', '', C >= 100 ? `+${fmt(sl.memPerStreamKiB - s.raw.memPerStreamKiB, 1)}` : '', ''])
    rows.push(['sluice/parse', fmt(sl.chunksPerSec / s.parse.chunksPerSec), '', fmt(sl.cpuUsPerChunk / s.parse.cpuUsPerChunk), '', '', '', '', C >= 100 ? `+${fmt(sl.memPerStreamKiB - s.parse.memPerStreamKiB, 1)}` : '', ''])
    lines.push(table(rows))
  }
  lines.push('latencies in ms; direct shows its own absolute per-chunk latency in parentheses; ratios are Sluice ÷ relay (chunks/s: higher is better; CPU/chunk: lower is better); KiB rows under the ratios are Sluice minus relay.')
  return lines.join('\n\n')
}

if (isMain(import.meta.url)) await runAsScript({ run, report })
