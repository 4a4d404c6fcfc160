// /healthz under load (end to end, real sockets, every party its own process):
// does the proxy still answer its health check promptly while it relays 50
// streams of long digit runs, the text that makes a scanner hold and re-read
// the most?
//
// Method. The demo upstream (bench/lib/upstream.js, as fast as possible,
// chunks of 1–8 characters) streams, as OpenAI chat chunks, the text the
// request's `demo_text` names: here 20,000 characters of seeded random digits
// with a space every 200–2,000 (fixtures.randomRuns, one text for all
// streams; the upstream's chunking differs per request). `demo_text` is not
// a field the proxy's input stage scans, so the request side costs the same
// for any text. Contenders, each its own process, started once and taken in
// turn, the order alternating from round to round:
//   current  — `node bin/sluice.js proxy --upstream URL --port N --log-level warn`
//   baseline — the same command from another checkout (`--baseline DIR`:
//              DIR/bin/sluice.js, its own dist/ and rules/)
// Per contender and round: the load generator (bench/lib/load-gen.js, undici,
// its own process) runs 50 clients in a closed loop (each starts a new stream
// when its last one ends) for D seconds (10 with --quick, 30 otherwise),
// while the poller (bench/lib/healthz-poller.js, its own process) sends
// `GET /healthz` every 20 ms on a fresh connection each time (as a kubelet
// probe does; polls never overlap, a slow poll delays the next). Reported over
// the D seconds: /healthz latency p50, p99 and max (ms; request start → last
// body byte; a poll unanswered after 10 s counts as failed, with its 10 s
// among the latencies; one still unanswered at the end of the D seconds is
// ended there and counted as open at end, its time so far among the
// latencies as a lower bound). Two views: per poll, and per 20 ms tick: a
// slow poll also stands for the polls due while it waited, each with what it
// would have waited (the correction for coordinated omission; without it a
// 10 s stall is one sample). The target is marked on both. Also: polls,
// polls over 1 s (a kubelet probe's default timeout), failed polls, and the
// streams' throughput: upstream content chunks written in the window ÷ D
// (the upstream counts them; it writes only as fast as the proxy reads, so
// this is the proxy's rate), the contender's CPU (cores, /proc/PID/stat) and
// its event-loop lag p99 and max (prom-client's nodejs_eventloop_lag_*_seconds
// at GET /metrics, scraped just before the run and after its last stream, so
// the tail is included; 10 ms sampling interval taken off). After D the
// clients start no new stream; streams still open D + 3 s (--quick) /
// D + 5 s later are aborted so that a slow contender cannot stretch the run. Figures: medians
// over rounds (2 with --quick, else 3) of each round's figure; ratio current
// ÷ baseline. Before the rounds: one stream through each contender, parsed,
// checks that the digits arrive unchanged (no rule takes random digit runs
// for a number it redacts); a warm-up of 2 s (1 s with --quick) of load per
// contender; and /healthz alone for 2 s per contender (idle reference).
// Three processes (upstream, load generator, contender) and the poller share
// the machine's cores; the figures are the whole system's with that
// contender in the path.
// Target: /healthz p99 ≤ 50 ms under this load. `--text prose` streams
// fixtures.cleanProse repeated to the same length instead, to tell a cost of
// digit runs from the cost of the load itself.
//
// Run: npm run build && node bench/healthz-under-load.bench.js [--quick] [--baseline DIR] [--text prose]
import { loadavg } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { chatBody, cleanProse, digitAlphabet, randomRuns } from './lib/fixtures.js'
import { isMain, runAsScript } from './lib/main.js'
import { procStats, rootDir, scrapeEventLoopLag, startContender, startHealthzPoller, startLoadGen, startUpstream } from './lib/procs.js'
import { fmt, median, summarize, table } from './lib/stats.js'

const PATH = '/v1/chat/completions'
const CONCURRENCY = 50
const POLL_MS = 20
const TEXT_CHARS = 20_000
export const targetP99Ms = 50

function textArg () {
  const at = process.argv.indexOf('--text')
  const kind = at === -1 ? 'digits' : process.argv[at + 1]
  if (kind !== 'digits' && kind !== 'prose') throw new Error(`--text must be digits or prose, got ${kind}`)
  return kind
}

/**
 * The streamed text: digit runs (the bench), or `--text prose` to tell a digit-specific cost from load alone.
 * @param {'digits' | 'prose'} kind
 */
function streamText (kind) {
  if (kind === 'prose') return cleanProse.repeat(Math.ceil(TEXT_CHARS / (cleanProse.length + 1))).slice(0, TEXT_CHARS)
  return randomRuns(digitAlphabet, TEXT_CHARS, 20)
}

/**
 * The figures of one contender in one round (ms, per second).
 * @typedef {object} RoundFigures
 * @property {number} p50
 * @property {number} p99
 * @property {number} max
 * @property {number} tickP50
 * @property {number} tickP99
 * @property {number} polls
 * @property {number} pollErrors
 * @property {number} unansweredAtEnd
 * @property {number} over1s
 * @property {string | null} pollFirstError
 * @property {number} chunksPerSec
 * @property {number} charsPerSec
 * @property {number} cpuCores
 * @property {number} lagP99
 * @property {number} lagMax
 * @property {number} streamsCompleted
 * @property {number} streamsAborted
 * @property {number} streamErrors
 * @property {string | null} streamFirstError
 */

/** @param {import('./lib/main.js').BenchOptions & { textKind?: 'digits' | 'prose' }} [options] */
export async function run ({ quick = false, baseline, textKind = textArg(), log = () => {} } = {}) {
  const durationMs = quick ? 10_000 : 30_000
  const tailMs = quick ? 3_000 : 5_000
  const rounds = quick ? 2 : 3
  const text = streamText(textKind)
  const loadAvgAtStart = loadavg()[0] ?? NaN
  const body = chatBody(text)

  const upstream = await startUpstream(['--rate', '0', '--chunk', '1-8'])
  const loadGen = await startLoadGen()
  const poller = await startHealthzPoller()
  /** @type {Array<{ name: string, root: string, url: string, pid: number | undefined, rounds: RoundFigures[] }>} */
  const contenders = []
  const builds = [{ name: 'current', root: rootDir }]
  if (baseline !== undefined) builds.unshift({ name: 'baseline', root: baseline })
  for (const { name, root } of builds) {
    const started = await startContender('sluice', upstream.url, { root, label: `sluice-${name}` })
    contenders.push({ name, root, url: started.url, pid: started.pid, rounds: [] })
  }
  log(`healthz-under-load: ${contenders.map((c) => `${c.name} ${c.root} (pid ${c.pid})`).join(', ')}; ${CONCURRENCY} streams of ${TEXT_CHARS.toLocaleString('en-US')} chars (${textKind}), ${durationMs / 1000} s per run, ${rounds} rounds`)

  // Text check: one parsed stream per contender.
  /** @type {Record<string, boolean>} */
  const intact = {}
  for (const c of contenders) {
    const r = await loadGen.run({ url: c.url, path: PATH, body, concurrency: 1, trace: 1, parse: true, tag: `check-${c.name}`, maxMs: 60_000 })
    const got = Object.values(r.texts)[0]
    intact[c.name] = got === text
    if (!intact[c.name]) log(`healthz-under-load: ${c.name} changed the text (${r.errors} errors${r.firstError ? `: ${r.firstError}` : ''}; ${got?.length ?? 0} of ${text.length} chars came back)`)
  }

  // Idle reference and warm-up.
  /** @type {Record<string, ReturnType<typeof summarize>>} */
  const idle = {}
  for (const c of contenders) {
    await poller.start(`${c.url}/healthz`, POLL_MS)
    await sleep(2000)
    idle[c.name] = summarize((await poller.finish()).latencies)
    await loadGen.run({ url: c.url, path: PATH, body, concurrency: CONCURRENCY, durationMs: quick ? 1000 : 2000, maxMs: (quick ? 1000 : 2000) + tailMs, parse: false, tag: `warm-${c.name}` })
    await sleep(500)
  }
  await upstream.take()

  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? contenders : [...contenders].reverse()
    for (const c of order) {
      await upstream.take() // clears the upstream's counters
      await scrapeEventLoopLag(c.url) // resets the contender's lag histogram
      const cpu0 = procStats(c.pid).cpu
      const t0 = performance.now()
      const load = loadGen.run({ url: c.url, path: PATH, body, headers: { 'x-bench-count': '1' }, concurrency: CONCURRENCY, durationMs, maxMs: durationMs + tailMs, parse: false, tag: `r${round}-${c.name}` })
      await poller.start(`${c.url}/healthz`, POLL_MS)
      await sleep(durationMs)
      const [polls, up] = await Promise.all([poller.finish(), upstream.take()])
      const windowMs = performance.now() - t0
      const cpu = procStats(c.pid).cpu - cpu0
      const result = await load
      const lag = await scrapeEventLoopLag(c.url)
      const lat = summarize(polls.latencies)
      const tick = summarize(polls.perTick)
      /** @type {RoundFigures} */
      const figures = {
        p50: lat.p50,
        p99: lat.p99,
        max: lat.max,
        tickP50: tick.p50,
        tickP99: tick.p99,
        polls: lat.n,
        pollErrors: polls.errors,
        unansweredAtEnd: polls.unansweredAtStop,
        over1s: polls.latencies.filter((ms) => ms > 1000).length,
        pollFirstError: polls.firstError,
        chunksPerSec: up.frames / (windowMs / 1000),
        charsPerSec: up.chars / (windowMs / 1000),
        cpuCores: cpu / (windowMs / 1000),
        lagP99: lag?.p99 ?? NaN,
        lagMax: lag?.max ?? NaN,
        streamsCompleted: result.completed,
        streamsAborted: result.aborted,
        streamErrors: result.errors,
        streamFirstError: result.firstError
      }
      c.rounds.push(figures)
      log(`  round ${round + 1} ${c.name}: /healthz per tick p50 ${fmt(figures.tickP50)} p99 ${fmt(figures.tickP99)}, per poll p50 ${fmt(figures.p50)} p99 ${fmt(figures.p99)} max ${fmt(figures.max)} ms over ${figures.polls} polls; loop lag max ${fmt(figures.lagMax, 0)} ms; ${fmt(figures.chunksPerSec, 0)} chunks/s; ${result.completed} streams done, ${result.aborted} cut at the tail, ${result.errors} errors`)
      await sleep(500)
    }
  }

  /** @type {Record<string, object>} */
  const summary = {}
  for (const c of contenders) {
    const rs = c.rounds
    /** @param {'p50' | 'p99' | 'tickP50' | 'tickP99' | 'max' | 'chunksPerSec' | 'charsPerSec' | 'cpuCores' | 'lagP99'} key */
    const med = (key) => median(rs.map((r) => r[key]))
    summary[c.name] = {
      p50: med('p50'),
      p99: med('p99'),
      tickP50: med('tickP50'),
      tickP99: med('tickP99'),
      max: Math.max(...rs.map((r) => r.max)),
      maxMedian: med('max'),
      polls: rs.reduce((n, r) => n + r.polls, 0),
      pollErrors: rs.reduce((n, r) => n + r.pollErrors, 0),
      unansweredAtEnd: rs.reduce((n, r) => n + r.unansweredAtEnd, 0),
      over1s: rs.reduce((n, r) => n + r.over1s, 0),
      chunksPerSec: med('chunksPerSec'),
      charsPerSec: med('charsPerSec'),
      cpuCores: med('cpuCores'),
      lagP99: med('lagP99'),
      lagMax: Math.max(...rs.map((r) => r.lagMax)),
      streamsCompleted: rs.reduce((n, r) => n + r.streamsCompleted, 0),
      streamsAborted: rs.reduce((n, r) => n + r.streamsAborted, 0),
      streamErrors: rs.reduce((n, r) => n + r.streamErrors, 0),
      firstError: rs.find((r) => r.streamFirstError ?? r.pollFirstError)?.streamFirstError ?? rs.find((r) => r.pollFirstError)?.pollFirstError ?? null,
      idle: idle[c.name],
      textIntact: intact[c.name]
    }
  }
  return { quick, rounds, loadAvg: [loadAvgAtStart, loadavg()[0] ?? NaN].map((x) => +x.toFixed(2)), durationMs, concurrency: CONCURRENCY, pollMs: POLL_MS, textChars: TEXT_CHARS, textKind, targetP99Ms, contenders: contenders.map((c) => ({ name: c.name, root: c.root })), perRound: Object.fromEntries(contenders.map((c) => [c.name, c.rounds])), summary }
}

export function report (r) {
  const names = r.contenders.map((c) => c.name)
  const rows = [['contender', 'healthz per tick p50 ms', `p99 (≤${r.targetP99Ms})`, 'per poll p50 ms', `p99 (≤${r.targetP99Ms})`, 'max ms', 'polls', '> 1 s', 'failed', 'open at end', 'idle p50 / p99 ms', 'chunks/s', 'content chars/s', 'cpu cores', 'loop lag p99 / max ms', 'streams done', 'cut at tail', 'errors', 'text intact']]
  for (const name of names) {
    const s = r.summary[name]
    const mark = (ms) => `${fmt(ms)} ${ms <= r.targetP99Ms ? 'ok' : 'MISS'}`
    rows.push([name, fmt(s.tickP50), mark(s.tickP99), fmt(s.p50), mark(s.p99), fmt(s.max), s.polls, s.over1s, s.pollErrors, s.unansweredAtEnd, `${fmt(s.idle.p50)} / ${fmt(s.idle.p99)}`, fmt(s.chunksPerSec, 0), fmt(s.charsPerSec, 0), fmt(s.cpuCores), `${fmt(s.lagP99, 0)} / ${fmt(s.lagMax, 0)}`, s.streamsCompleted, s.streamsAborted, s.streamErrors, s.textIntact ? 'yes' : 'NO'])
  }
  if (names.length === 2) {
    const [a, b] = names.map((n) => r.summary[n])
    const ratio = (x, y) => (y > 0 ? `${fmt(x / y)}x` : 'n/a')
    rows.push(['current/baseline', ratio(b.tickP50, a.tickP50), ratio(b.tickP99, a.tickP99), ratio(b.p50, a.p50), ratio(b.p99, a.p99), ratio(b.max, a.max), '', '', '', '', '', ratio(b.chunksPerSec, a.chunksPerSec), ratio(b.charsPerSec, a.charsPerSec), ratio(b.cpuCores, a.cpuCores), '', '', '', '', ''])
  }
  const rounds = [['round', ...names.flatMap((n) => [`${n} per tick p50`, 'p99', 'per poll p50', 'p99', 'max', 'polls', 'loop lag max', 'chunks/s'])]]
  for (let i = 0; i < r.rounds; i++) rounds.push([i + 1, ...names.flatMap((n) => { const x = r.perRound[n][i]; return [fmt(x.tickP50), fmt(x.tickP99), fmt(x.p50), fmt(x.p99), fmt(x.max), x.polls, fmt(x.lagMax, 0), fmt(x.chunksPerSec, 0)] })])
  const errors = names.map((n) => r.summary[n].firstError && `${n}: ${r.summary[n].firstError}`).filter(Boolean)
  return `\n/healthz under load (${r.concurrency} streams in a closed loop, each ${r.textChars.toLocaleString('en-US')} ${r.textKind === 'prose' ? 'chars of clean prose (--text prose)' : 'random digits'} in upstream chunks of 1–8 chars as fast as possible; GET /healthz every ${r.pollMs} ms on a fresh connection; ${r.durationMs / 1000} s per run, ${r.rounds} rounds, medians; max = largest of any round; load average ${r.loadAvg.join(' → ')})\n\n${table(rows)}\n\nper round\n${table(rounds)}` +
    (errors.length > 0 ? `\n\nfirst errors: ${errors.join('; ')}` : '')
}

if (isMain(import.meta.url)) await runAsScript({ run, report })
