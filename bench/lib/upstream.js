// The demo upstream as its own process, with the instruments the end-to-end
// benches need. Forked by the benches (IPC channel):
//
//   fork('bench/lib/upstream.js', ['--rate', '0', '--chunk', '1-8'])
//
// Same flags as dist/demo/upstream-main.js (it reuses its parser) and the very
// same server (createDemoUpstream); what this wrapper adds, only for requests
// that ask for it with a header, so untagged load pays nothing:
//   x-bench-trace: 1  — records, per content frame written, the cumulative
//                       content length and the write time (for per-chunk latency)
//   x-bench-count: 1  — counts the body bytes handed to res.write (all such
//                       responses together, for the slow-client bench) and the
//                       content characters in them (chat deltas) and the
//                       writes that carried content (frames), and
//                       on `take` reports how many of them still wait in
//                       Node's own writable buffers (Σ res.writableLength: the
//                       demo stops writing when res.write returns false and
//                       goes on at 'drain', so this stays near one
//                       high-water mark per response)
//   x-bench-id: ID    — records when the response closed, and whether it had
//                       finished (for the cancellation bench)
// Times are process.hrtime.bigint() in ms: CLOCK_MONOTONIC on Linux, one clock
// for every process on the machine, so they compare with the load generator's.
//
// IPC: the child sends { type: 'listening', url } once ready; the parent sends
// { cmd: 'take' } (answer: traces, closes, bytes, chars, frames, pending, stats; cleared after) or
// { cmd: 'stop' } (close the server and exit).
import { createDemoUpstream } from '../../dist/demo/create-demo-upstream.js'
import { parseUpstreamArgs } from '../../dist/demo/upstream-main.js'

const nowMs = () => Number(process.hrtime.bigint()) / 1e6

/**
 * The answer to `take`: what the instruments recorded since the last one.
 * @typedef {object} Taken
 * @property {Record<string, Array<[number, number]>>} traces per x-bench-id: [cumulative content characters, write time ms]
 * @property {Record<string, { t: number, finished: boolean }>} closes per x-bench-id: when the response closed
 * @property {number} bytes body bytes written to x-bench-count responses
 * @property {number} chars content characters in them
 * @property {number} frames writes that carried content
 * @property {number} pending bytes still in Node's writable buffers of open x-bench-count responses
 * @property {Omit<import('../../dist/demo/create-demo-upstream.js').DemoUpstreamStats, 'responses' | 'lastRequest'>} stats the demo's counters
 * @property {import('./procs.js').EventLoopLag} [lag] event-loop lag, when a wrapper reports it (this one does not)
 */

/**
 * @param {object} msg
 */
function send (msg) {
  if (process.send === undefined) throw new Error('bench/lib/upstream.js runs as a forked child (IPC)')
  process.send(msg)
}

const kContentKey = '"delta":{"content":'
/**
 * The content characters of one chat frame, without parsing the whole frame
 * (the slow-client bench counts every frame of a firehose): the demo writes
 * `…"delta":{"content":"TEXT"},"logprobs"…`, and an unescaped `},"` cannot
 * occur inside the JSON string. Other frames: a full parse.
 */
/** @param {string} text */
function contentChars (text) {
  const at = text.indexOf(kContentKey)
  if (at === -1) return 0
  const from = at + kContentKey.length
  const end = text.indexOf('},"logprobs"', from)
  if (end !== -1) return JSON.parse(text.slice(from, end)).length
  const content = JSON.parse(text.slice(text.indexOf('{'))).choices?.[0]?.delta?.content
  return typeof content === 'string' ? content.length : 0
}

const args = parseUpstreamArgs(process.argv.slice(2))
const upstream = createDemoUpstream(args.options)
/** @type {Taken['traces']} */
let traces = {}
/** @type {Taken['closes']} */
let closes = {}
let bytes = 0
let chars = 0
let frames = 0
/** Open responses counted with x-bench-count, for their unflushed bytes. */
/** @type {Set<import('node:http').ServerResponse>} */
const counted = new Set()

upstream.server.on('request', function benchInstruments (req, res) {
  const id = req.headers['x-bench-id']
  const trace = req.headers['x-bench-trace'] === '1' && typeof id === 'string'
  const count = req.headers['x-bench-count'] === '1'
  if (count) {
    counted.add(res)
    res.once('close', () => counted.delete(res))
  }
  if (trace || count) {
    const write = res.write
    /** @type {Array<[number, number]> | undefined} */
    const points = trace ? (traces[id] = []) : undefined
    let cum = 0
    /**
     * @this {import('node:http').ServerResponse}
     * @param {string | Buffer} data
     * @param {any[]} rest
     */
    res.write = function instrumentedWrite (data, ...rest) {
      if (count) {
        bytes += typeof data === 'string' ? Buffer.byteLength(data) : data.length
        const n = contentChars(typeof data === 'string' ? data : data.toString('utf8'))
        chars += n
        if (n > 0) frames++
      }
      if (points !== undefined) {
        const text = typeof data === 'string' ? data : data.toString('utf8')
        if (text.startsWith('data: {')) {
          const content = JSON.parse(text.slice(6)).choices?.[0]?.delta?.content
          if (typeof content === 'string' && content.length > 0) {
            cum += content.length
            points.push([cum, nowMs()])
          }
        }
      }
      return Reflect.apply(write, this, [data, ...rest])
    }
  }
  if (typeof id === 'string') {
    res.once('close', () => { closes[id] = { t: nowMs(), finished: res.writableFinished } })
  }
})

process.on('message', (message) => {
  const msg = /** @type {{ cmd?: 'take' | 'stop' } | undefined} */ (message)
  if (msg?.cmd === 'take') {
    const { responses, lastRequest, ...stats } = upstream.stats
    let pending = 0
    for (const res of counted) pending += res.writableLength
    /** @type {Taken & { type: 'taken' }} */
    const taken = { type: 'taken', traces, closes, bytes, chars, frames, pending, stats }
    send(taken)
    traces = {}
    closes = {}
    bytes = 0
    chars = 0
    frames = 0
  } else if (msg?.cmd === 'stop') {
    upstream.close().finally(() => process.disconnect())
  }
})
process.once('SIGTERM', () => { upstream.close().finally(() => { if (process.connected) process.disconnect() }) })

const url = await upstream.listen(args.port, args.host)
send({ type: 'listening', url })
