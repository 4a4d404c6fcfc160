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
//   readCharsPerSec               slow client paced in content characters, on
//                                 a bare socket instead of undici (see
//                                 slowStream below): it reads at most
//                                 `readBufferBytes` (default 1,024) at a time,
//                                 then stops reading while it "consumes" the
//                                 characters that read completed, at that rate
//   abortAfterMs: [min, max]      cancel each stream at a random moment after
//                                 its first byte (seeded), recording the time
//   maxMs                         hard stop for the whole job
// It answers { type: 'result', ... } with counts, TTFTs, traces, abort times.
// While a job runs, { cmd: 'peek' } answers { type: 'peek', ... } with its
// running counts (bytes and content characters read so far, streams
// started, completed, failed), so
// a bench can follow the clients' read rate interval by interval.
import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'
import { rng } from './stats.js'

const nowMs = () => Number(process.hrtime.bigint()) / 1e6

/**
 * A job (the fields are described at the top of this file).
 * @typedef {object} Job
 * @property {string} url
 * @property {string} path
 * @property {Record<string, string>} [headers]
 * @property {string} body
 * @property {number} concurrency
 * @property {number} [durationMs]
 * @property {number} [staggerMs]
 * @property {boolean} [parse]
 * @property {number} [trace]
 * @property {number} [readCharsPerSec]
 * @property {number} [readBufferBytes]
 * @property {[number, number]} [abortAfterMs]
 * @property {number} [maxMs]
 * @property {number} [seed] of the generator that draws the abort moments
 * @property {string} [tag] prefix of the streams' x-bench-id
 */

/**
 * A job's result (times in ms on the process.hrtime clock).
 * @typedef {object} JobResult
 * @property {number} started
 * @property {number} completed
 * @property {number} errors
 * @property {number} aborted
 * @property {number} bytes
 * @property {number} chars content characters (slow clients)
 * @property {number[]} headersMs per slow-client stream: request → response headers
 * @property {number[]} ttfts per parsed stream: request → first content character
 * @property {Record<string, Array<[number, number]>>} traces per traced stream id: [cumulative content characters, arrival time]
 * @property {Record<string, string>} texts per traced stream id: its content
 * @property {Record<string, number>} aborts per aborted stream id: when it was aborted
 * @property {string | null} firstError
 * @property {number} elapsedMs the job's wall time
 * @property {number} start when it started
 * @property {import('./procs.js').EventLoopLag} [lag] the load generator's event-loop lag, when a wrapper reports it (this one does not)
 * @property {import('./procs.js').EventLoopLag} [targetLag] the target's, likewise
 */

/**
 * The answer to `peek`: the running job's counts so far.
 * @typedef {{ type: 'peek', t: number, running: boolean, bytes: number, chars: number, started: number, completed: number, errors: number, aborted: number }} Peek
 */

/** @typedef {{ cmd: 'run', job: Job } | { cmd: 'peek' } | { cmd: 'stop' }} LoadGenCommand */

/** @param {object} msg */
function send (msg) {
  if (process.send === undefined) throw new Error('bench/lib/load-gen.js runs as a forked child (IPC)')
  process.send(msg)
}

/**
 * One streaming POST on a bare TCP socket, read slowly, paced in content
 * characters. Why not undici: a paused undici body still takes ~230 KB off
 * its socket (its parser and stream buffers read ahead, whatever the
 * highWaterMark), and a proxy that re-frames densely (Sluice coalesces
 * deltas) packs minutes of content into that. Here `onread` reads into one
 * small buffer and returning false stops reading at once, so what a slow
 * client holds is that buffer, and the rest of its backlog stays in the
 * kernel's socket queues, where the slow-client bench measures it. HTTP/1.1
 * with `connection: close`, chunked or plain body, SSE events whose
 * `choices[0].delta.content` (or a Responses/Anthropic text delta) is counted.
 * Resolves with { status, socketBytes, chars, headersMs }; rejects on a socket
 * error or a non-200 status; resolves early (aborted) when `signal` fires.
 * @param {object} options
 * @param {string} options.url
 * @param {string} options.path
 * @param {Record<string, string>} options.headers
 * @param {string} options.body
 * @param {number} options.charsPerSec
 * @param {number} [options.readBufferBytes]
 * @param {AbortSignal} [options.signal]
 * @param {(n: number) => void} [options.onBytes]
 * @param {(n: number) => void} [options.onChars]
 * @returns {Promise<{ status: number, socketBytes: number, chars: number, headersMs: number, aborted: boolean }>}
 */
function slowStream ({ url, path, headers, body, charsPerSec, readBufferBytes = 1024, signal, onBytes, onChars }) {
  return new Promise((resolve, reject) => {
    const target = new URL(url)
    const t0 = nowMs()
    const out = { status: 0, socketBytes: 0, chars: 0, headersMs: NaN, aborted: false }
    let head = ''
    let inBody = false
    let chunked = false
    // Chunked decoding state: bytes left in the current chunk, or -1 while reading a size line.
    let chunkLeft = -1
    let sizeLine = ''
    let skipCrlf = 0
    const decoder = new TextDecoder()
    let sse = ''
    /** @type {NodeJS.Timeout | undefined} */
    let resumeTimer
    /** @param {unknown} [err] */
    const finish = (err) => {
      clearTimeout(resumeTimer)
      signal?.removeEventListener('abort', onAbort)
      socket.destroy()
      if (err) reject(err)
      else resolve(out)
    }
    const onAbort = () => { out.aborted = true; finish() }
    const countEvents = () => {
      let chars = 0
      let at
      while ((at = sse.indexOf('\n\n')) !== -1) {
        const event = sse.slice(0, at)
        sse = sse.slice(at + 2)
        for (const line of event.split('\n')) {
          if (!line.startsWith('data: ') || line === 'data: [DONE]') continue
          let json
          try { json = JSON.parse(line.slice(6)) } catch { continue }
          const text = json.choices?.[0]?.delta?.content ?? json.choices?.[0]?.text ?? json.delta?.text ?? (json.type === 'response.output_text.delta' ? json.delta : undefined)
          if (typeof text === 'string') chars += text.length
        }
      }
      return chars
    }
    /** @param {Buffer} buf */
    const bodyBytes = (buf) => {
      if (!chunked) { sse += decoder.decode(buf, { stream: true }); return }
      let i = 0
      while (i < buf.length) {
        if (skipCrlf > 0) { i++; skipCrlf--; continue }
        if (chunkLeft === -1) {
          const nl = buf.indexOf(10, i)
          if (nl === -1) { sizeLine += buf.toString('latin1', i); return }
          sizeLine += buf.toString('latin1', i, nl)
          i = nl + 1
          chunkLeft = parseInt(sizeLine.trim(), 16)
          sizeLine = ''
          if (chunkLeft === 0) { chunkLeft = -2; return } // last chunk: the server closes (connection: close)
          if (Number.isNaN(chunkLeft)) throw new Error('bad chunk size')
          continue
        }
        if (chunkLeft === -2) return
        const take = Math.min(chunkLeft, buf.length - i)
        sse += decoder.decode(buf.subarray(i, i + take), { stream: true })
        i += take
        chunkLeft -= take
        if (chunkLeft === 0) { chunkLeft = -1; skipCrlf = 2 }
      }
    }
    const socket = net.connect({
      host: target.hostname,
      port: Number(target.port),
      onread: {
        buffer: Buffer.alloc(readBufferBytes),
        callback (n, buf) {
          out.socketBytes += n
          onBytes?.(n)
          // `buf` is the Buffer given as `buffer` above.
          let data = /** @type {Buffer} */ (buf).subarray(0, n)
          try {
            if (!inBody) {
              head += data.toString('latin1')
              const end = head.indexOf('\r\n\r\n')
              if (end === -1) return true
              out.headersMs = nowMs() - t0
              out.status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0)
              chunked = /^transfer-encoding:\s*chunked/im.test(head.slice(0, end))
              if (out.status !== 200) { finish(new Error(`status ${out.status}: ${head.slice(0, 200)}`)); return false }
              const rest = Buffer.from(head.slice(end + 4), 'latin1')
              inBody = true
              head = ''
              data = rest
            }
            bodyBytes(data)
          } catch (err) {
            finish(err)
            return false
          }
          const chars = countEvents()
          if (chars === 0) return true
          out.chars += chars
          onChars?.(chars)
          // Consume what arrived at the set pace, reading nothing meanwhile.
          resumeTimer = setTimeout(() => socket.resume(), (chars / charsPerSec) * 1000)
          return false
        }
      }
    })
    signal?.addEventListener('abort', onAbort, { once: true })
    socket.once('error', (err) => finish(err))
    socket.once('end', () => finish(chunked && chunkLeft !== -2 ? new Error('stream ended mid-body') : undefined))
    socket.once('connect', () => {
      const payload = Buffer.from(body)
      const lines = [`POST ${path} HTTP/1.1`, `host: ${target.host}`, `content-length: ${payload.length}`, 'connection: close']
      for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`)
      socket.write(lines.join('\r\n') + '\r\n\r\n')
      socket.write(payload)
    })
  })
}

/**
 * The running job's result object (null between jobs), for `peek`.
 * @type {JobResult | null}
 */
let current = null

/**
 * @param {Job} job
 * @returns {Promise<JobResult>}
 */
async function runJob (job) {
  const pool = new Pool(job.url, { connections: job.concurrency, keepAliveTimeout: 30_000, bodyTimeout: 0, headersTimeout: 0 })
  const random = rng(job.seed ?? 1)
  /** @type {JobResult} */
  const result = { started: 0, completed: 0, errors: 0, aborted: 0, bytes: 0, chars: 0, headersMs: [], ttfts: [], traces: {}, texts: {}, aborts: {}, firstError: null, elapsedMs: NaN, start: NaN }
  current = result
  const start = nowMs()
  const deadline = job.durationMs === undefined ? Infinity : start + job.durationMs
  const hardStop = start + (job.maxMs ?? 60_000)
  const hardController = new AbortController()
  const hardTimer = setTimeout(() => hardController.abort(), job.maxMs ?? 60_000)
  let seq = 0

  /** @param {number} client */
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
    /** @type {NodeJS.Timeout | undefined} */
    let abortTimer
    if (job.readCharsPerSec !== undefined) {
      try {
        const out = await slowStream({
          url: job.url,
          path: job.path,
          headers,
          body: job.body,
          charsPerSec: job.readCharsPerSec,
          readBufferBytes: job.readBufferBytes,
          signal: controller.signal,
          onBytes: (n) => { result.bytes += n },
          onChars: (n) => { result.chars += n }
        })
        result.headersMs.push(out.headersMs)
        if (out.aborted) result.aborted++
        else result.completed++
      } catch (err) {
        result.errors++
        result.firstError ??= String(/** @type {Error | undefined} */ (err)?.message ?? err)
      } finally {
        hardController.signal.removeEventListener('abort', onHard)
      }
      return
    }
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
      /** @type {Array<[number, number]> | undefined} */
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
        result.firstError ??= String(/** @type {Error | undefined} */ (err)?.message ?? err)
      }
    } finally {
      clearTimeout(abortTimer)
      hardController.signal.removeEventListener('abort', onHard)
    }
  }

  /** @param {number} i */
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
  current = null
  await pool.destroy()
  return result
}

process.on('message', (message) => {
  const msg = /** @type {LoadGenCommand | undefined} */ (message)
  if (msg?.cmd === 'run') {
    runJob(msg.job).then(
      (result) => send({ type: 'result', result }),
      (err) => send({ type: 'error', message: String(err?.stack ?? err) })
    )
  } else if (msg?.cmd === 'peek') {
    const r = current
    /** @type {Peek} */
    const peek = { type: 'peek', t: nowMs(), running: r !== null, bytes: r?.bytes ?? 0, chars: r?.chars ?? 0, started: r?.started ?? 0, completed: r?.completed ?? 0, errors: r?.errors ?? 0, aborted: r?.aborted ?? 0 }
    send(peek)
  } else if (msg?.cmd === 'stop') {
    process.disconnect()
  }
})
send({ type: 'ready' })
