// Slow-client benchmark: does backpressure reach the upstream, and does the
// proxy's memory stay bounded, when every client reads slowly?
//
// Method. The demo upstream (bench/lib/upstream.js) streams an endless answer
// (`x-fault: never-ends`, the mixed text with an e-mail and a card, chunks of
// 1–8 characters, as fast as it may write) and counts the body bytes it hands
// to res.write (`x-bench-count`). N clients (load generator process, undici)
// each read at `rate` bytes/s: after every read they wait, the body paused,
// so TCP windows fill and the only way not to buffer is to slow the upstream.
// Each target (sluice, then raw relay for reference, fresh processes) gets
// the same N streams for T seconds; its VmRSS is sampled every 200 ms (peak
// reported) and the upstream's written bytes are taken every second (shown
// per second, and summed over each half of the run). Bounded means: the upstream wrote in the second half about what the
// clients read (not more and more), and the peak RSS is a fixed sum, not one
// that grows with the bytes the upstream could have sent. Kernel socket
// buffers (loopback, up to a few MB per socket) hold the rest; they are not
// the proxy's memory.
//
// Run: npm run build && node bench/slow-clients.bench.js [--quick]
import { setTimeout as sleep } from 'node:timers/promises'
import { chatBody, mixedProse } from './lib/fixtures.js'
import { isMain, runAsScript } from './lib/main.js'
import { procStats, startContender, startLoadGen, startUpstream } from './lib/procs.js'
import { fmt, table } from './lib/stats.js'

const MiB = 1024 * 1024

export async function run ({ quick = false, log = () => {} } = {}) {
  const streams = quick ? 200 : 1000
  const seconds = quick ? 6 : 12
  const rate = 4096
  const upstream = await startUpstream(['--rate', '0'])
  const loadGen = await startLoadGen()
  const results = {}
  for (const name of ['sluice', 'raw']) {
    const target = await startContender(name, upstream.url)
    const idle = procStats(target.pid)
    let peak = idle.rssKiB
    const sampler = setInterval(() => { peak = Math.max(peak, procStats(target.pid).rssKiB) }, 200)
    await upstream.take()
    const job = loadGen.run({
      url: target.url,
      path: '/v1/chat/completions',
      body: chatBody(mixedProse),
      headers: { 'x-fault': 'never-ends', 'x-bench-count': '1' },
      concurrency: streams,
      staggerMs: 500,
      parse: false,
      readBytesPerSec: rate,
      maxMs: seconds * 1000,
      tag: `slow-${name}`
    })
    // The upstream's written bytes, second by second: with backpressure they fall to the clients' read rate once buffers are full.
    const perSecond = []
    for (let s = 1; s < seconds; s++) {
      await sleep(1000)
      perSecond.push((await upstream.take()).bytes)
    }
    const res = await job
    perSecond.push((await upstream.take()).bytes)
    const half = { bytes: perSecond.slice(0, Math.floor(seconds / 2)).reduce((a, b) => a + b, 0) }
    const full = { bytes: perSecond.slice(Math.floor(seconds / 2)).reduce((a, b) => a + b, 0) }
    clearInterval(sampler)
    const end = procStats(target.pid)
    peak = Math.max(peak, end.rssKiB)
    results[name] = {
      streams,
      seconds,
      rate,
      idleRssKiB: idle.rssKiB,
      peakRssKiB: peak,
      hwmKiB: end.hwmKiB,
      upstreamBytesFirstHalf: half.bytes,
      upstreamBytesSecondHalf: full.bytes,
      clientBytes: res.bytes,
      upstreamBytesPerSecond: perSecond,
      errors: res.errors,
      firstError: res.firstError
    }
    const r = results[name]
    log(`  slow clients ${name}: ${streams} streams × ${rate} B/s for ${seconds} s; rss idle ${fmt(r.idleRssKiB / 1024, 1)} MiB, peak ${fmt(r.peakRssKiB / 1024, 1)} MiB; upstream wrote ${fmt(half.bytes / MiB)} + ${fmt(full.bytes / MiB)} MiB, clients read ${fmt(res.bytes / MiB)} MiB; upstream MiB per second: ${perSecond.map((b) => fmt(b / MiB, 1)).join(' ')}${res.errors ? `; ${res.errors} errors (${res.firstError})` : ''}`)
    await target.stop()
  }
  return { quick, results }
}

export function report ({ results }) {
  const rows = [['target', 'streams', 'rss idle MiB', 'rss peak MiB', 'peak−idle KiB/stream', 'upstream wrote 1st half MiB', '2nd half MiB', 'clients read MiB', 'errors']]
  for (const [name, r] of Object.entries(results)) {
    rows.push([name, r.streams, fmt(r.idleRssKiB / 1024, 1), fmt(r.peakRssKiB / 1024, 1), fmt((r.peakRssKiB - r.idleRssKiB) / r.streams, 1),
      fmt(r.upstreamBytesFirstHalf / MiB), fmt(r.upstreamBytesSecondHalf / MiB), fmt(r.clientBytes / MiB), r.errors])
  }
  const any = Object.values(results)[0]
  return `\nSlow clients (${any.streams} endless streams, each client reading ${any.rate} B/s, ${any.seconds} s)\n\n${table(rows)}`
}

if (isMain(import.meta.url)) await runAsScript({ run, report })
