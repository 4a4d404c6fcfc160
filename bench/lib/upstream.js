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

const kContentKey = '"delta":{"content":'
/**
 * The content characters of one chat frame, without parsing the whole frame
 * (the slow-client bench counts every frame of a firehose): the demo writes
 * `…"delta":{"content":"TEXT"},"logprobs"…`, and an unescaped `},"` cannot
 * occur inside the JSON string. Other frames: a full parse.
 */
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
let traces = {}
let closes = {}
let bytes = 0
let chars = 0
let frames = 0
/** Open responses counted with x-bench-count, for their unflushed bytes. */
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
    const points = trace ? (traces[id] = []) : undefined
    let cum = 0
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
      return write.call(this, data, ...rest)
    }
  }
  if (typeof id === 'string') {
    res.once('close', () => { closes[id] = { t: nowMs(), finished: res.writableFinished } })
  }
})

process.on('message', (msg) => {
  if (msg?.cmd === 'take') {
    const { responses, lastRequest, ...stats } = upstream.stats
    let pending = 0
    for (const res of counted) pending += res.writableLength
    process.send({ type: 'taken', traces, closes, bytes, chars, frames, pending, stats })
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
process.send({ type: 'listening', url })
