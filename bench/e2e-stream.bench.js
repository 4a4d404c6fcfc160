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
//     the upstream's and characters match one to one. The upstream stamps each
//     content res.write, the client each content arrival (same CLOCK_MONOTONIC
//     in both processes: process.hrtime.bigint), over up to 50 traced streams.
//     Per-chunk latency incl. hold = arrival at the client of the chunk's last
//     character − the upstream's write of that chunk. For Sluice this is
//     mostly holdback, not work: a chunk ending mid-word (any word may yet
//     become an e-mail's local part or a listed word) is held until the next
//     chunk arrives, one chunk interval (20 ms) later. That wait is the price
//     of never leaking a partial match. So, second: processing latency = for
//     each client arrival of released characters, arrival − the write of the
//     upstream chunk whose arrival released them, taken as the latest chunk
//     written at or before the arrival. At 50 chunks/s chunks are 20 ms apart,
//     so that chunk is unambiguous while processing ≪ 20 ms; the report warns
//     when more than 1% of a target's processing latencies reach 10 ms (half
//     an interval), where its figures become lower bounds. For direct and the
//     relays nothing is held, so both latencies agree. Chunks held = the share
//     of upstream chunks (each stream's last excluded) whose last character
//     had not arrived when the next chunk was written. TTFT = request sent →
//     first content character; TTFT processing = first content arrival − the
//     write of the upstream chunk that released it. "Added" = target's
//     percentile − direct's (direct goes through the same measure), each the
//     median over rounds. A check: an arrival carrying characters the upstream
//     had not yet written would mean the clocks disagree; it is counted and
//     reported (expected 0). Memory per open stream = (VmRSS while all C
//     streams are open − VmRSS just before) ÷ C.
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
import { fmt, median, rotate, summarize, table } from './lib/stats.js'

/** @typedef {'direct' | 'raw' | 'parse' | 'sluice'} Target */
/** @type {Target[]} */
export const targets = ['direct', 'raw', 'parse', 'sluice']
const PATH = '/v1/chat/completions'
const PACED_RATE = 50

/**
 * The latency figures of one paced run, over the traced streams whose text
 * arrived intact. `upTraces[id]` = the upstream's content writes, in order, as
 * [cumulative characters after the write, write time]; `clientTraces[id]` =
 * the client's content arrivals as [cumulative characters, arrival time].
 *   hold       per upstream chunk: arrival of its last character − its write
 *              (for Sluice this includes waiting for the next chunk when the
 *              chunk's tail is held back)
 *   proc       per client arrival: arrival − the write of the latest upstream
 *              chunk written at or before it (the chunk whose arrival released
 *              those characters, as long as processing ≪ the chunk interval)
 *   ttftProc   per stream: the first arrival's `proc`
 *   held       upstream chunks (all but each stream's last) whose last
 *              character had not arrived when the next chunk was written
 *   anomalies  arrivals with more characters than the upstream had written by
 *              then (would mean the clocks disagree; expected 0)
 * @param {Record<string, Array<[number, number]>>} upTraces
 * @param {Record<string, Array<[number, number]>>} clientTraces
 * @param {Record<string, string>} texts
 * @param {string} expected
 */
export function latencyFigures (upTraces, clientTraces, texts, expected) {
  /** @type {number[]} */
  const hold = []
  /** @type {number[]} */
  const proc = []
  /** @type {number[]} */
  const ttftProc = []
  let chunks = 0
  let held = 0
  let skipped = 0
  let anomalies = 0
  for (const [id, points] of Object.entries(clientTraces)) {
    const sent = upTraces[id]
    if (sent === undefined || sent.length === 0 || texts[id] !== expected) { skipped++; continue }
    let j = 0
    for (const [k, [end, t]] of sent.entries()) {
      let arrived = points[j]
      while (arrived !== undefined && arrived[0] < end) arrived = points[++j]
      if (arrived === undefined) break
      hold.push(arrived[1] - t)
      const next = sent[k + 1]
      if (next !== undefined) {
        chunks++
        if (arrived[1] >= next[1]) held++
      }
    }
    let w = -1
    for (const [i, [cum, arrival]] of points.entries()) {
      for (let next = sent[w + 1]; next !== undefined && next[1] <= arrival; next = sent[w + 1]) w++
      const latest = sent[w]
      if (latest === undefined || latest[0] < cum) { anomalies++; continue }
      proc.push(arrival - latest[1])
      if (i === 0) ttftProc.push(arrival - latest[1])
    }
  }
  return { hold, proc, ttftProc, chunks, held, skipped, anomalies }
}

/**
 * The figures of one target in one round at one concurrency (ms, per second, KiB).
 * @typedef {object} RoundFigures
 * @property {number} chunksPerSec
 * @property {number} cpuCores
 * @property {number} cpuUsPerChunk
 * @property {number} upstreamCores
 * @property {number} loadGenCores
 * @property {number} loadAvg
 * @property {number} errors
 * @property {string | null} firstError
 * @property {number} latHoldP50
 * @property {number} latHoldP99
 * @property {number} latProcP50
 * @property {number} latProcP99
 * @property {number} latN
 * @property {number} procN
 * @property {number} procOverHalfInterval
 * @property {number} heldShare
 * @property {number} anomalies
 * @property {number} skipped
 * @property {number} ttftP50
 * @property {number} ttftP99
 * @property {number} ttftProcP50
 * @property {number} ttftProcP99
 * @property {number} memPerStreamKiB
 * @property {number} rssKiB
 */

/** @typedef {Record<number, Record<Target, RoundFigures[]>>} Runs runs[C][target]: one entry per round */

/** @param {import('./lib/main.js').BenchOptions} [options] */
export async function run ({ quick = false, log = () => {} } = {}) {
  const concurrencies = quick ? [1, 100] : [1, 100, 1000]
  const rounds = quick ? 2 : 3
  const saturationMs = quick ? 1000 : 4000
  const pacedText = quick ? cleanProse.slice(0, 220) : cleanProse
  const upstream = await startUpstream(['--rate', '0', '--chunk', '1-8'])
  const loadGen = await startLoadGen()
  const raw = await startContender('raw', upstream.url)
  const parse = await startContender('parse', upstream.url)
  const sluice = await startContender('sluice', upstream.url)
  /** @type {Record<Target, string>} */
  const urls = { direct: upstream.url, raw: raw.url, parse: parse.url, sluice: sluice.url }
  /** @type {Record<Target, number | undefined>} */
  const pids = { direct: upstream.pid, raw: raw.pid, parse: parse.pid, sluice: sluice.pid }

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

  /** @type {Runs} */
  const runs = {}
  for (const C of concurrencies) {
    /** @type {Record<Target, RoundFigures[]>} */
    const byTarget = { direct: [], raw: [], parse: [], sluice: [] }
    runs[C] = byTarget
    for (let round = 0; round < rounds; round++) {
      // Alternate the order too: each round starts one target later.
      const order = rotate(targets, round)
      for (const name of order) {
        const pid = pids[name]
        // Saturation.
        const before = procStats(pid)
        const upstreamCpu0 = procStats(upstream.pid).cpu
        const loadGenCpu0 = procStats(loadGen.pid).cpu
        const sat = await loadGen.run({ url: urls[name], path: PATH, body: chatBody(mixedProse), concurrency: C, durationMs: saturationMs, parse: false, tag: `s${C}-${round}-${name}`, maxMs: saturationMs + 30_000 })
        const after = procStats(pid)
        const upstreamCpu = procStats(upstream.pid).cpu - upstreamCpu0
        const loadGenCpu = procStats(loadGen.pid).cpu - loadGenCpu0
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
        const figures = latencyFigures(up.traces, paced.traces, paced.texts, pacedText)
        const hold = summarize(figures.hold)
        const proc = summarize(figures.proc)
        const ttft = summarize(paced.ttfts)
        const ttftProc = summarize(figures.ttftProc)
        /** @type {RoundFigures} */
        const r = {
          chunksPerSec: chunks / (sat.elapsedMs / 1000),
          cpuCores: cpu / (sat.elapsedMs / 1000),
          cpuUsPerChunk: (cpu * 1e6) / chunks,
          upstreamCores: upstreamCpu / (sat.elapsedMs / 1000),
          loadGenCores: loadGenCpu / (sat.elapsedMs / 1000),
          loadAvg: loadavg()[0] ?? NaN,
          errors: sat.errors + paced.errors,
          firstError: sat.firstError ?? paced.firstError,
          latHoldP50: hold.p50,
          latHoldP99: hold.p99,
          latProcP50: proc.p50,
          latProcP99: proc.p99,
          latN: hold.n,
          procN: proc.n,
          // Processing latencies of half a chunk interval or more: there the latest write may no longer be the releasing one.
          procOverHalfInterval: figures.proc.filter((x) => x >= 500 / PACED_RATE).length / Math.max(1, proc.n),
          heldShare: figures.held / Math.max(1, figures.chunks),
          anomalies: figures.anomalies,
          skipped: figures.skipped,
          ttftP50: ttft.p50,
          ttftP99: ttft.p99,
          ttftProcP50: ttftProc.p50,
          ttftProcP99: ttftProc.p99,
          memPerStreamKiB: (open.rssKiB - idle.rssKiB) / C,
          rssKiB: open.rssKiB
        }
        byTarget[name].push(r)
        log(`  C=${C} round ${round + 1} ${name.padEnd(6)} ${fmt(r.chunksPerSec, 0)} chunks/s, cpu ${fmt(r.cpuCores)} cores (upstream ${fmt(r.upstreamCores)}, load gen ${fmt(r.loadGenCores)}, loadavg ${fmt(r.loadAvg, 1)}), chunk latency incl. hold p50 ${fmt(r.latHoldP50)} p99 ${fmt(r.latHoldP99)} ms (n=${r.latN}), processing p50 ${fmt(r.latProcP50)} p99 ${fmt(r.latProcP99)} ms (n=${r.procN}), held ${fmt(r.heldShare * 100, 1)}%, ttft p50 ${fmt(r.ttftP50)} p99 ${fmt(r.ttftP99)} ms, ttft processing p50 ${fmt(r.ttftProcP50)} p99 ${fmt(r.ttftProcP99)} ms, ${fmt(r.memPerStreamKiB, 1)} KiB/stream${r.errors ? `, ${r.errors} errors (${r.firstError})` : ''}${r.anomalies ? `, ${r.anomalies} arrivals ahead of their writes (clock?)` : ''}${r.skipped ? `, ${r.skipped} traced streams skipped (text differs)` : ''}`)
      }
    }
  }
  return { quick, rounds, saturationMs, chunksPerStream, pacedChunks, pacedRate: PACED_RATE, concurrencies, runs, summary: summarizeRuns(runs) }
}

/** @typedef {{ [K in keyof RoundFigures]: RoundFigures[K] extends number ? K : never }[keyof RoundFigures]} NumericFigure */

/**
 * Medians over rounds, and "added" figures against direct (target's median percentile − direct's).
 * @param {Runs} runs
 */
export function summarizeRuns (runs) {
  /** @type {Record<string, Record<string, Record<string, number>>>} */
  const out = {}
  for (const [C, byTarget] of Object.entries(runs)) {
    /** @type {Record<string, Record<string, number>>} */
    const perTarget = {}
    out[C] = perTarget
    /**
     * @param {Target} name
     * @param {NumericFigure} key
     */
    const med = (name, key) => median(byTarget[name].map((r) => r[key]))
    /**
     * @param {Target} name
     * @param {NumericFigure} key
     */
    const added = (name, key) => med(name, key) - med('direct', key)
    for (const name of targets) {
      perTarget[name] = {
        chunksPerSec: med(name, 'chunksPerSec'),
        cpuCores: med(name, 'cpuCores'),
        cpuUsPerChunk: med(name, 'cpuUsPerChunk'),
        latHoldP50: med(name, 'latHoldP50'),
        latHoldP99: med(name, 'latHoldP99'),
        latProcP50: med(name, 'latProcP50'),
        latProcP99: med(name, 'latProcP99'),
        ttftP50: med(name, 'ttftP50'),
        ttftP99: med(name, 'ttftP99'),
        ttftProcP50: med(name, 'ttftProcP50'),
        ttftProcP99: med(name, 'ttftProcP99'),
        addedHoldLatP50: added(name, 'latHoldP50'),
        addedHoldLatP99: added(name, 'latHoldP99'),
        addedProcLatP50: added(name, 'latProcP50'),
        addedProcLatP99: added(name, 'latProcP99'),
        addedTtftP50: added(name, 'ttftP50'),
        addedTtftP99: added(name, 'ttftP99'),
        addedTtftProcP50: added(name, 'ttftProcP50'),
        addedTtftProcP99: added(name, 'ttftProcP99'),
        heldShare: med(name, 'heldShare'),
        procOverHalfInterval: Math.max(...byTarget[name].map((r) => r.procOverHalfInterval)),
        anomalies: byTarget[name].reduce((s, r) => s + r.anomalies, 0),
        memPerStreamKiB: med(name, 'memPerStreamKiB'),
        errors: byTarget[name].reduce((s, r) => s + r.errors, 0)
      }
    }
  }
  return out
}

export function report (result) {
  const lines = [`\nEnd-to-end streaming (${result.quick ? 'quick' : 'full'}: ${result.rounds} rounds, medians; saturation ${result.saturationMs} ms per run; paced ${result.pacedRate} chunks/s)`]
  const warnings = []
  for (const C of result.concurrencies) {
    const s = result.summary[C]
    const tput = [['C=' + C, 'chunks/s', 'cpu cores', 'cpu µs/chunk', 'KiB/open stream', 'errors']]
    for (const name of targets) {
      const x = s[name]
      tput.push([name, fmt(x.chunksPerSec, 0), fmt(x.cpuCores), fmt(x.cpuUsPerChunk, 1), C >= 100 ? fmt(x.memPerStreamKiB, 1) : 'n/a', x.errors])
    }
    const sl = s.sluice
    for (const relay of ['raw', 'parse']) {
      tput.push([`sluice/${relay}`, fmt(sl.chunksPerSec / s[relay].chunksPerSec), '', fmt(sl.cpuUsPerChunk / s[relay].cpuUsPerChunk), C >= 100 ? `+${fmt(sl.memPerStreamKiB - s[relay].memPerStreamKiB, 1)}` : '', ''])
    }
    lines.push(table(tput))
    const lat = [[`C=${C}, ms`, 'added lat. incl. hold p50', 'p99', 'added processing lat. p50', 'p99', 'chunks held', 'added TTFT p50', 'p99', 'added TTFT processing p50', 'p99']]
    for (const name of targets) {
      const x = s[name]
      const d = name === 'direct'
      const v = (key, abs) => (d ? `(${fmt(x[abs])})` : fmt(x[key]))
      lat.push([name, v('addedHoldLatP50', 'latHoldP50'), v('addedHoldLatP99', 'latHoldP99'), v('addedProcLatP50', 'latProcP50'), v('addedProcLatP99', 'latProcP99'),
        `${fmt(x.heldShare * 100, 1)}%`, v('addedTtftP50', 'ttftP50'), v('addedTtftP99', 'ttftP99'), v('addedTtftProcP50', 'ttftProcP50'), v('addedTtftProcP99', 'ttftProcP99')])
      if (x.anomalies > 0) warnings.push(`C=${C} ${name}: ${x.anomalies} arrivals carried characters the upstream had not yet written (clock disagreement?)`)
    }
    const late = targets.filter((name) => s[name].procOverHalfInterval > 0.01)
    if (late.length > 0) {
      warnings.push(`C=${C}: processing latencies ≥ half the chunk interval (${fmt(500 / result.pacedRate, 0)} ms), share in the worst round: ${late.map((name) => `${name} ${fmt(s[name].procOverHalfInterval * 100, 1)}%`).join(', ')}; for those the latest write may not be the releasing one, so their processing p99 is a lower bound`)
    }
    lines.push(table(lat))
  }
  lines.push([
    'Throughput: ratios are Sluice ÷ relay (chunks/s: higher is better; CPU/chunk: lower is better); KiB rows under the ratios are Sluice minus relay.',
    'Latency: direct shows its own absolute figures in parentheses; the others are target − direct. "incl. hold" = a chunk\'s last character reaching',
    'the client − the upstream\'s write of that chunk (for Sluice, a tail held back waits for the next chunk, one interval); "processing" = each',
    'client arrival − the write of the upstream chunk that released it (the latest written before it). "chunks held" = chunks whose last character',
    'had not arrived when the next chunk was written (for Sluice mostly holdback; for direct and the relays it only means a chunk took longer than',
    'an interval). TTFT = request → first content character; "TTFT processing" = first content arrival − the write of the upstream chunk that',
    'released it.',
    ...warnings.map((w) => `warning: ${w}`)
  ].join('\n'))
  return lines.join('\n\n')
}

if (isMain(import.meta.url)) await runAsScript({ run, report })
