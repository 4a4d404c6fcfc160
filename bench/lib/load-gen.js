// The load generator, run as its own process so that its CPU is not the
// contender's (forked by the benches; one job at a time over IPC). It opens
// `concurrency` streaming requests with undici (one Pool, one connection per
// client) and measures on the arrival side, with the machine-wide monotonic
// clock (process.hrtime.bigint, CLOCK_MONOTONIC: comparable with the
// upstream's timestamps).
//
// A job ({ cmd: 'run', job }) says:
//   url, path, headers, body      the request (a JSON body, a streaming one)
//   concurrency                   clients in parallel
//   durationMs                    closed loop: each client starts a new stream
//                                 when one ends, until the deadline (saturation);
//                                 without it, each client runs one stream
//   staggerMs                     spread the clients' first request over this time
//   parse                         parse every SSE event (JSON) and keep the
//                                 content; else only count bytes and look for
//                                 `[DONE]` (cheap, for saturation)
//   trace                         how many clients record, per content event,
//                                 the cumulative content length and arrival time
//   readBytesPerSec               slow client: after each read, wait as long as
//                                 that rate needs (the body is paused meanwhile,
//                                 so TCP backpressure builds up)
//   abortAfterMs: [min, max]      cancel each stream at a random moment after
//                                 its first byte (seeded), recording the time
//   maxMs                         hard stop for the whole job
// It answers { type: 'result', ... } with counts, TTFTs, traces, abort times.
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'
import { rng } from './stats.js'

const nowMs = () => Number(process.hrtime.bigint()) / 1e6


async function runJob (job) {
  const pool = new Pool(job.url, { connections: job.concurrency, keepAliveTimeout: 30_000, bodyTimeout: 0, headersTimeout: 0 })
  const random = rng(job.seed ?? 1)
  const result = { started: 0, completed: 0, errors: 0, aborted: 0, bytes: 0, ttfts: [], traces: {}, texts: {}, aborts: {}, firstError: null }
  const start = nowMs()
  const deadline = job.durationMs === undefined ? Infinity : start + job.durationMs
  const hardStop = start + (job.maxMs ?? 60_000)
  const hardController = new AbortController()
  const hardTimer = setTimeout(() => hardController.abort(), job.maxMs ?? 60_000)
  let seq = 0

  async function oneStream (client) {
    const id = `${job.tag ?? 'j'}-${seq++}`
    const traced = client < (job.trace ?? 0)
    const controller = new AbortController()
    const onHard = () => controller.abort()
    hardController.signal.addEventListener('abort', onHard)
    const headers = { 'content-type': 'application/json', 'x-bench-id': id, ...(traced ? { 'x-bench-trace': '1' } : {}), ...job.headers }
    const abortAt = job.abortAfterMs === undefined ? undefined : job.abortAfterMs[0] + random() * (job.abortAfterMs[1] - job.abortAfterMs[0])
    result.started++
    const t0 = nowMs()
    let abortTimer
    try {
      const { statusCode, body } = await pool.request({ method: 'POST', path: job.path, headers, body: job.body, signal: controller.signal })
      if (statusCode !== 200) {
        const text = await body.text()
        throw new Error(`status ${statusCode}: ${text.slice(0, 200)}`)
      }
      if (abortAt !== undefined) {
        abortTimer = setTimeout(() => {
          result.aborts[id] = nowMs()
          controller.abort()
        }, abortAt)
      }
      let pending = ''
      let tail = ''
      let content = ''
      let cum = 0
      let first = true
      let done = false
      const points = traced ? [] : undefined
      for await (const chunk of body) {
        result.bytes += chunk.length
        if (job.parse) {
          pending += chunk.toString('utf8')
          let at
          while ((at = pending.indexOf('\n\n')) !== -1) {
            const event = pending.slice(0, at)
            pending = pending.slice(at + 2)
            for (const line of event.split('\n')) {
              if (!line.startsWith('data: ')) continue
              const data = line.slice(6)
              if (data === '[DONE]') { done = true; continue }
              const delta = JSON.parse(data).choices?.[0]?.delta?.content
              if (typeof delta === 'string' && delta.length > 0) {
                const t = nowMs()
                if (first) { result.ttfts.push(t - t0); first = false }
                cum += delta.length
                content += delta
                if (points !== undefined) points.push([cum, t])
              }
            }
          }
        } else {
          tail = (tail + chunk.toString('latin1')).slice(-32)
        }
        // Abortable, so a hard stop or a cancel is not held up by a long pause.
        if (job.readBytesPerSec !== undefined) await sleep((chunk.length / job.readBytesPerSec) * 1000, undefined, { signal: controller.signal })
      }
      if (!job.parse) done = tail.includes('data: [DONE]')
      if (!done) throw new Error('stream ended without [DONE]')
      result.completed++
      if (points !== undefined) {
        result.traces[id] = points
        result.texts[id] = content
      }
    } catch (err) {
      if (controller.signal.aborted) result.aborted++
      else {
        result.errors++
        result.firstError ??= String(err?.message ?? err)
      }
    } finally {
      clearTimeout(abortTimer)
      hardController.signal.removeEventListener('abort', onHard)
    }
  }

  async function client (i) {
    if (job.staggerMs) await sleep((i * job.staggerMs) / job.concurrency)
    do {
      await oneStream(i)
    } while (job.durationMs !== undefined && nowMs() < deadline && nowMs() < hardStop)
  }

  await Promise.all(Array.from({ length: job.concurrency }, (_, i) => client(i)))
  result.elapsedMs = nowMs() - start
  result.start = start
  clearTimeout(hardTimer)
  await pool.destroy()
  return result
}

process.on('message', (msg) => {
  if (msg?.cmd === 'run') {
    runJob(msg.job).then(
      (result) => process.send({ type: 'result', result }),
      (err) => process.send({ type: 'error', message: String(err?.stack ?? err) })
    )
  } else if (msg?.cmd === 'stop') {
    process.disconnect()
  }
})
process.send({ type: 'ready' })
