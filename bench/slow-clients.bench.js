// Slow-client benchmark: when every client reads slowly, does backpressure
// reach the upstream, does the proxy's memory stay flat and bounded, and is
// nothing buffered without bound?
//
// Method. The demo upstream (bench/lib/upstream.js) streams an endless answer
// (`x-fault: never-ends`: the mixed text with an e-mail and a card, repeated,
// in chunks of 1–8 characters, as fast as it may write; the demo stops when
// res.write returns false and goes on at 'drain') and counts what it hands to
// res.write (`x-bench-count`), in bytes and in content characters.
//
// N clients (load generator process) each consume `charsPerSec` content
// characters per second: 25, about 6 tokens/s, a slow reader. 1,000 of them
// take 25k chars/s, ~1.1 MB/s of the upstream's framing, a fraction of what
// upstream and relay move on this box, so once the buffers are full the
// clients, not the CPU, set the pace. They are bare TCP sockets (slowStream in
// lib/load-gen.js): each reads at most 1 KiB, counts the content characters
// of the SSE events that read completed, and reads nothing more until it has
// "consumed" them at that pace. Pacing in characters, not bytes, asks the same
// of every target whatever its framing (Sluice coalesces the deltas of one
// read: as little as ~1 byte per character out, against ~44 in). A bare
// socket holds no more than its 1 KiB; a paused undici body read ~230 KB
// ahead in a test here, which is minutes of Sluice's dense output.
//
// First requests are spread evenly over `stagger` seconds, so that N connects
// do not all land while the proxy is busy (all at once, 205 of 1,000 once hit
// undici's 10 s connect timeout against Sluice); the time to response headers
// is reported (p50 / p99 / max, and how many streams never got them). Each
// target (sluice, then the raw relay for reference; fresh processes, same
// upstream) gets the same N streams for T seconds. Quick: N = 200, T = 10 s,
// stagger 1 s, 1 s intervals. Full: N = 1,000, T = 120 s, stagger 2.5 s, 6 s
// intervals: filling 1,000 streams' buffers (~200 KB of upstream bytes each
// through the raw relay, mostly its own undici and response buffers) took the
// shared 2 cores ~40 s here, and streams opened late meanwhile (the upstream
// fills every open stream as fast as the path takes it).
//
// Every interval the bench takes an account of the path, hop by hop:
//   upstream wrote     bytes and content characters handed to res.write
//                      (what still waits in Node's writable buffers there is
//                      recorded too: ~16 KiB per stream at most)
//   kernel up→proxy    bytes the kernel holds between upstream and proxy: Σ
//                      tx_queue + rx_queue of the TCP connections to the
//                      upstream's port (/proc/net/tcp; both ends)
//   proxy read/wrote   the proxy's rchar / wchar (/proc/PID/io: bytes its read
//                      and write system calls moved, sockets included): its
//                      reads from the upstream, its writes to the clients
//   kernel proxy→clients  the same as above, for the proxy's port
//   clients read       bytes off the client sockets, and content characters
//                      consumed
//   proxy RSS          VmRSS at the interval's end; also sampled every 200 ms
//                      for the peak
// Backpressure shows as: once the buffers on the path are full, the proxy
// reads from the upstream only as fast as it writes to the clients, and the
// upstream's write rate falls from its fill rate to the clients' rate or
// below, in characters: upstream ÷ clients about 1 in the steady window (the
// last ~30% of the intervals), or less while the buffers downstream still
// hold more than the clients consumed there (0 when the upstream is not asked
// for anything). Unbounded buffering shows as the proxy reading on while it
// writes nothing (its output queue full), the upstream's rate staying at its
// fill rate, and RSS climbing with it. Reported per target: RSS idle / peak /
// end and (peak − idle) ÷ N; totals of the account; the kernel's queues per
// stream at the end; time to headers; per stream, the upstream's rate in its
// fastest interval and in the steady window, the clients' rate there, their
// ratio, the proxy's byte rates there and its RSS change; then every
// interval. RSS also moves with V8's heap (garbage not yet collected) and with
// socket-read slabs held by small queued chunks: read it with the account.
//
// Socket buffers. On loopback with this host's defaults (tcp_wmem up to 4 MiB,
// tcp_rmem up to 32 MiB, MTU 64 KiB) the kernel takes ~10 MB per stream before
// the upstream feels anything: measured, one slow stream let the upstream
// write 9.8 MiB in its first second and nothing after. For 1,000 streams that
// is more than the host's whole TCP memory (tcp_mem, ~2.2 GiB here), so no
// run of sensible length fills it (the former 12 s run showed the upstream
// still writing 39 KB/s per stream, and said nothing about the proxy). So the
// run takes place in a private network namespace (`unshare -rn`: runInNetns
// in lib/procs.js) whose loopback has an Ethernet MTU (1500) and 8 KiB send
// and receive buffers per socket: the kernel then holds ~20 KiB per stream
// over both hops, the buffers fill within seconds, and what the upstream sees
// is decided by the proxy. (Smaller buffers cost more system calls per byte
// and slow the fill; larger ones hold more of Sluice's dense output.) Same
// settings for both targets; the report prints them as read back inside the
// namespace. Where no namespace can be made (no unshare or ip, user
// namespaces disabled), or with SLUICE_BENCH_NETNS=0, it runs with the host's
// buffers and says so: expect the upstream not to slow down within the run.
//
// Run: npm run build && node bench/slow-clients.bench.js [--quick] [--streams N] [--seconds S]
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { chatBody, mixedProse } from './lib/fixtures.js'
import { isMain, runAsScript } from './lib/main.js'
import { procStats, runInNetns, startContender, startLoadGen, startUpstream, stopAll, tcpQueues } from './lib/procs.js'
import { fmt, summarize, table } from './lib/stats.js'

const MiB = 1024 * 1024
const RESULT_MARK = 'SLUICE_BENCH_RESULT '
/** The private namespace's loopback: an Ethernet MTU, and 8 KiB send and receive buffers per socket. */
export const netnsSettings = { mtu: 1500, sysctls: { 'ipv4/tcp_wmem': '4096 8192 8192', 'ipv4/tcp_rmem': '4096 8192 8192' } }

/** Streams, run length, spread of the first requests, sampling interval, what each client consumes (content chars/s). */
export const quickPlan = { streams: 200, seconds: 10, staggerMs: 1000, intervalMs: 1000, charsPerSec: 25, targets: ['sluice', 'raw'] }
export const fullPlan = { streams: 1000, seconds: 120, staggerMs: 2500, intervalMs: 6000, charsPerSec: 25, targets: ['sluice', 'raw'] }
/** @typedef {typeof quickPlan} Plan */

const nowMs = () => Number(process.hrtime.bigint()) / 1e6

/** @param {string} file */
function readText (file) {
  try { return readFileSync(file, 'utf8').trim().replace(/\s+/g, ' ') } catch { return 'n/a' }
}

/** The loopback's MTU in this network namespace (/sys/class/net shows the namespace /sys was mounted in, so ask ip). */
function loopbackMtu () {
  try {
    return /\bmtu (\d+)/.exec(execFileSync('ip', ['-o', 'link', 'show', 'lo'], { encoding: 'utf8' }))?.[1] ?? 'n/a'
  } catch {
    return readText('/sys/class/net/lo/mtu')
  }
}

/**
 * The socket settings the run actually had (read back, inside the namespace when there is one).
 * @param {boolean} privateNetns
 */
function socketSettings (privateNetns) {
  return {
    privateNetns,
    loMtu: loopbackMtu(),
    tcpWmem: readText('/proc/sys/net/ipv4/tcp_wmem'),
    tcpRmem: readText('/proc/sys/net/ipv4/tcp_rmem')
  }
}

/**
 * Runs the bench here, in whatever network namespace this process is in.
 * @param {{ quick?: boolean, log?: (line: string) => void, privateNetns?: boolean } & Partial<Plan>} [options]
 */
export async function measure ({ quick = false, log = () => {}, privateNetns = false, ...overrides } = {}) {
  const { streams, seconds, staggerMs, intervalMs, charsPerSec, targets } = { ...(quick ? quickPlan : fullPlan), ...overrides }
  const sockets = socketSettings(privateNetns)
  const upstream = await startUpstream(['--rate', '0'])
  const upstreamPort = Number(new URL(upstream.url).port)
  const loadGen = await startLoadGen()
  const results = {}
  for (const name of targets) {
    const target = await startContender(name, upstream.url)
    const port = Number(new URL(target.url).port)
    await sleep(500)
    const idle = procStats(target.pid)
    let peak = idle.rssKiB
    const sampler = setInterval(() => { peak = Math.max(peak, procStats(target.pid).rssKiB) }, 200)
    await upstream.take()
    const start = nowMs()
    const job = loadGen.run({
      url: target.url,
      path: '/v1/chat/completions',
      body: chatBody(mixedProse),
      headers: { 'x-fault': 'never-ends', 'x-bench-count': '1' },
      concurrency: streams,
      staggerMs,
      parse: false,
      readCharsPerSec: charsPerSec,
      readBufferBytes: 1024,
      maxMs: seconds * 1000,
      tag: `slow-${name}`
    })
    const intervals = []
    let prev = { io: idle, clientBytes: 0, clientChars: 0, t: start }
    for (let k = 1; k * intervalMs <= seconds * 1000 - intervalMs / 2; k++) {
      await sleep(Math.max(0, start + k * intervalMs - nowMs()))
      const [up, peek] = await Promise.all([upstream.take(), loadGen.peek()])
      const t = nowMs()
      const st = procStats(target.pid)
      const hop1 = tcpQueues(upstreamPort)
      const hop2 = tcpQueues(port)
      const dt = (t - prev.t) / 1000
      intervals.push({
        t: (t - start) / 1000,
        seconds: dt,
        upstreamBytes: up.bytes,
        upstreamChars: up.chars,
        upstreamPendingBytes: up.pending,
        proxyReadBytes: st.rchar - prev.io.rchar,
        proxyWroteBytes: st.wchar - prev.io.wchar,
        clientBytes: peek.bytes - prev.clientBytes,
        clientChars: peek.chars - prev.clientChars,
        kernelUpstreamToProxyBytes: hop1.queued,
        kernelProxyToClientsBytes: hop2.queued,
        rssKiB: st.rssKiB,
        openStreams: up.stats.activeStreams,
        clientConnections: hop2.connections,
        clientErrors: peek.errors
      })
      prev = { io: st, clientBytes: peek.bytes, clientChars: peek.chars, t }
    }
    const res = await job
    clearInterval(sampler)
    const end = procStats(target.pid)
    peak = Math.max(peak, end.rssKiB)
    const sum = (list, key) => list.reduce((s, x) => s + x[key], 0)
    const secondsOf = (list) => list.reduce((s, x) => s + x.seconds, 0)
    // The steady window: the last ~30% of the intervals (at least two).
    const w = Math.min(intervals.length, Math.max(2, Math.round(intervals.length * 0.3)))
    const steady = intervals.slice(-w)
    const beforeSteady = intervals[intervals.length - w - 1] ?? { rssKiB: idle.rssKiB }
    const steadyS = secondsOf(steady)
    const perStream = (list, key) => sum(list, key) / secondsOf(list) / streams
    const last = intervals.at(-1)
    const headers = summarize(res.headersMs.filter(Number.isFinite))
    results[name] = {
      streams,
      seconds,
      staggerMs,
      intervalMs,
      charsPerSec,
      idleRssKiB: idle.rssKiB,
      peakRssKiB: peak,
      endRssKiB: last?.rssKiB ?? end.rssKiB,
      upstreamBytes: sum(intervals, 'upstreamBytes'),
      upstreamChars: sum(intervals, 'upstreamChars'),
      proxyReadBytes: sum(intervals, 'proxyReadBytes'),
      proxyWroteBytes: sum(intervals, 'proxyWroteBytes'),
      clientBytes: sum(intervals, 'clientBytes'),
      clientChars: sum(intervals, 'clientChars'),
      kernelUpstreamToProxyBytesEnd: last?.kernelUpstreamToProxyBytes ?? NaN,
      kernelProxyToClientsBytesEnd: last?.kernelProxyToClientsBytes ?? NaN,
      upstreamPendingBytesEnd: last?.upstreamPendingBytes ?? NaN,
      fillUpstreamCharsPerSecPerStream: Math.max(...intervals.map((x) => x.upstreamChars / x.seconds / streams)),
      steadySeconds: steadyS,
      steadyOpenStreamsMin: Math.min(...steady.map((x) => x.openStreams)),
      steadyUpstreamCharsPerSecPerStream: perStream(steady, 'upstreamChars'),
      steadyClientCharsPerSecPerStream: perStream(steady, 'clientChars'),
      steadyUpstreamOverClients: sum(steady, 'upstreamChars') / sum(steady, 'clientChars'),
      steadyUpstreamBpsPerStream: perStream(steady, 'upstreamBytes'),
      steadyProxyReadBpsPerStream: perStream(steady, 'proxyReadBytes'),
      steadyProxyWroteBpsPerStream: perStream(steady, 'proxyWroteBytes'),
      steadyClientBpsPerStream: perStream(steady, 'clientBytes'),
      steadyRssChangeKiB: (last?.rssKiB ?? NaN) - beforeSteady.rssKiB,
      headersMsP50: headers.p50,
      headersMsP99: headers.p99,
      headersMsMax: headers.max,
      // Streams that never got their response headers within the run (still connecting or queued).
      noHeaders: res.started - headers.n,
      intervals,
      started: res.started,
      errors: res.errors,
      firstError: res.firstError
    }
    const r = results[name]
    log(`  slow clients ${name}: ${streams} streams × ${charsPerSec} chars/s, starts over ${staggerMs / 1000} s, ${seconds} s; rss idle ${fmt(r.idleRssKiB / 1024, 1)} MiB, peak ${fmt(r.peakRssKiB / 1024, 1)} MiB; upstream wrote ${fmt(r.upstreamBytes / MiB, 1)} MiB, ${fmt(r.upstreamChars, 0)} chars (fastest interval ${fmt(r.fillUpstreamCharsPerSecPerStream, 0)} chars/s per stream, last ${fmt(steadyS, 0)} s ${fmt(r.steadyUpstreamCharsPerSecPerStream, 0)}), clients consumed ${fmt(r.clientChars, 0)} chars${res.errors ? `; ${res.errors} errors (${res.firstError})` : ''}`)
    await target.stop()
  }
  return { quick, sockets, results }
}

/**
 * Runs the bench in a private network namespace with small socket buffers
 * (see the method above); falls back to this host's namespace when none can
 * be made, or with SLUICE_BENCH_NETNS=0.
 * @param {import('./lib/main.js').BenchOptions & { plan?: Partial<Plan> }} [options]
 */
export async function run ({ quick = false, log = () => {}, plan = {} } = {}) {
  if (process.env.SLUICE_BENCH_NETNS !== '0') {
    let result
    const { code, ready } = await runInNetns({
      script: fileURLToPath(import.meta.url),
      args: ['--netns-inner', JSON.stringify(plan), ...(quick ? ['--quick'] : [])],
      ...netnsSettings,
      onLine (line) {
        if (line.startsWith(RESULT_MARK)) result = JSON.parse(line.slice(RESULT_MARK.length))
        else log(line)
      }
    })
    if (ready) {
      if (code !== 0 || result === undefined) throw new Error(`slow-clients: the run in its network namespace failed (exit ${code})`)
      return result
    }
    log('slow-clients: could not make a private network namespace (unshare -rn / ip); running with this host\'s socket buffers, which will not fill within the run')
  }
  return measure({ quick, log, privateNetns: false, ...plan })
}

/**
 * Plan overrides from the command line: --streams N, --seconds S (for a longer or smaller run by hand).
 * @param {string[]} argv
 */
function planFromArgs (argv) {
  /** @type {Partial<Plan>} */
  const plan = {}
  for (const key of ['streams', 'seconds']) {
    const at = argv.indexOf(`--${key}`)
    if (at !== -1) plan[key] = Number(argv[at + 1])
  }
  return plan
}

const mib = (b) => fmt(b / MiB, 1)

export function report ({ sockets, results }) {
  const any = Object.values(results)[0]
  const where = sockets.privateNetns
    ? `private network namespace: lo MTU ${sockets.loMtu}, tcp_wmem ${sockets.tcpWmem}, tcp_rmem ${sockets.tcpRmem}`
    : `host network namespace, socket buffers not reduced: lo MTU ${sockets.loMtu}, tcp_wmem ${sockets.tcpWmem}, tcp_rmem ${sockets.tcpRmem}`
  const lines = [`\nSlow clients (${any.streams} endless streams, each client consuming ${any.charsPerSec} content chars/s, starts spread over ${any.staggerMs / 1000} s, ${any.seconds} s per target; ${where})`]

  const mem = [['target', 'rss idle MiB', 'peak MiB', 'end MiB', '(peak−idle)/stream KiB', 'upstream wrote MiB', 'proxy read MiB', 'proxy wrote MiB', 'clients read MiB', 'kernel at end, up→proxy / proxy→clients KiB/stream', 'headers ms p50 / p99 / max', 'errors']]
  for (const [name, r] of Object.entries(results)) {
    mem.push([name, mib(r.idleRssKiB * 1024), mib(r.peakRssKiB * 1024), mib(r.endRssKiB * 1024), fmt((r.peakRssKiB - r.idleRssKiB) / r.streams, 1),
      mib(r.upstreamBytes), mib(r.proxyReadBytes), mib(r.proxyWroteBytes), mib(r.clientBytes),
      `${fmt(r.kernelUpstreamToProxyBytesEnd / 1024 / r.streams, 1)} / ${fmt(r.kernelProxyToClientsBytesEnd / 1024 / r.streams, 1)}`,
      `${fmt(r.headersMsP50, 0)} / ${fmt(r.headersMsP99, 0)} / ${fmt(r.headersMsMax, 0)}${r.noHeaders > 0 ? ` (${r.noHeaders} none)` : ''}`, r.errors ? `${r.errors} (${r.firstError})` : 0])
  }
  lines.push(table(mem))

  const bp = [['per stream', 'upstream chars/s, fastest interval', `steady (last ${fmt(any.steadySeconds, 0)} s): upstream chars/s`, 'clients chars/s', 'upstream ÷ clients', 'upstream B/s', 'proxy read B/s', 'proxy wrote B/s', 'rss change MiB', 'streams open']]
  for (const [name, r] of Object.entries(results)) {
    bp.push([name, fmt(r.fillUpstreamCharsPerSecPerStream, 0), fmt(r.steadyUpstreamCharsPerSecPerStream, 1), fmt(r.steadyClientCharsPerSecPerStream, 1), fmt(r.steadyUpstreamOverClients),
      fmt(r.steadyUpstreamBpsPerStream, 0), fmt(r.steadyProxyReadBpsPerStream, 0), fmt(r.steadyProxyWroteBpsPerStream, 0), fmt(r.steadyRssChangeKiB / 1024, 1), `${r.steadyOpenStreamsMin}/${r.streams}`])
  }
  lines.push(table(bp))

  for (const [name, r] of Object.entries(results)) {
    const rows = [[`${name}: t s`, 'upstream kchars/s', 'MiB/s', 'kernel up→proxy MiB', 'proxy read MiB/s', 'proxy wrote MiB/s', 'kernel proxy→clients MiB', 'clients read MiB/s', 'clients kchars/s', 'proxy rss MiB', 'streams open']]
    for (const x of r.intervals) {
      rows.push([fmt(x.t, 1), fmt(x.upstreamChars / x.seconds / 1000, 1), mib(x.upstreamBytes / x.seconds), mib(x.kernelUpstreamToProxyBytes), mib(x.proxyReadBytes / x.seconds), mib(x.proxyWroteBytes / x.seconds),
        mib(x.kernelProxyToClientsBytes), mib(x.clientBytes / x.seconds), fmt(x.clientChars / x.seconds / 1000, 1), mib(x.rssKiB * 1024), x.openStreams])
    }
    lines.push(table(rows))
  }
  lines.push([
    'Per interval: rates over the interval; kernel queues, RSS and open streams (the upstream\'s count) at its end. Per-stream rates divide by all N streams.',
    '"upstream ÷ clients" is in content characters, so re-framing does not enter: about 1 in the steady window = the upstream is held to the clients\' pace;',
    'below 1 (down to 0) = the buffers downstream still hold more than the clients consumed there, so the upstream is not asked for more yet.',
    'Bytes differ by target: Sluice coalesces deltas into fewer, larger frames, so it writes fewer bytes per character than it reads.',
    '"streams open" under steady is the fewest open in the window: below N, the window still holds streams that were starting or filling.'
  ].join('\n'))
  return lines.join('\n\n')
}

if (isMain(import.meta.url)) {
  if (process.argv.includes('--netns-inner')) {
    // The child side of run(): measure inside the namespace, hand the result back as one line.
    try {
      // run() passes the plan as the argument after the flag.
      const plan = JSON.parse(/** @type {string} */ (process.argv[process.argv.indexOf('--netns-inner') + 1]))
      const result = await measure({ quick: process.argv.includes('--quick'), log: (line) => console.log(line), privateNetns: true, ...plan })
      console.log(RESULT_MARK + JSON.stringify(result))
    } catch (err) {
      console.error(/** @type {Error | undefined} */ (err)?.stack ?? err)
      process.exitCode = 1
    } finally {
      await stopAll()
    }
  } else {
    const plan = planFromArgs(process.argv)
    await runAsScript({ run: (options) => run({ ...options, plan }), report })
  }
}
