// The /healthz poller of the health-under-load bench, run as its own process
// so that its timers and sockets do not wait on the load generator's event
// loop. Forked by the bench (IPC):
//   { cmd: 'start', url, intervalMs }  answers { type: 'started' }, then polls
//   { cmd: 'stop' }                    answers { type: 'result', result: { latencies, perTick, errors, firstError, unansweredAtStop } }
// Each poll is `GET url` on a fresh TCP connection (`agent: false`,
// `connection: close`), as a kubelet or load-balancer probe does, so it pays
// the accept as well as the request; latency = request start → last body
// byte, process.hrtime.bigint(), in ms. Polls never overlap: the next starts
// on the next tick of the interval (start + k × intervalMs), or at once when
// a poll took longer than the interval (the slow one is recorded as it was;
// `perTick` adds the latencies the probes due meanwhile would have seen).
// A poll that takes over 10 s is an error (its time is recorded too, as are
// the times of other failed polls). A poll still waiting at `stop` is ended
// there and counted apart (`unansweredAtStop`), its time so far recorded as a
// lower bound.
import http from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'

const nowMs = () => Number(process.hrtime.bigint()) / 1e6
const kPollTimeoutMs = 10_000
const kStopped = new Error('still waiting when polling stopped')

/**
 * What `stop` answers (ms).
 * @typedef {object} PollResult
 * @property {number[]} latencies one per poll
 * @property {number[]} perTick one per tick of the interval, corrected for coordinated omission
 * @property {number} errors failed polls
 * @property {string | null} firstError
 * @property {number} unansweredAtStop polls still waiting at `stop`
 */

/** @typedef {{ cmd: 'start', url: string, intervalMs: number } | { cmd: 'stop' }} PollerCommand */

/** @param {object} msg */
function send (msg) {
  if (process.send === undefined) throw new Error('bench/lib/healthz-poller.js runs as a forked child (IPC)')
  process.send(msg)
}

/**
 * The poll in flight, so that `stop` can end it.
 * @type {import('node:http').ClientRequest | undefined}
 */
let inFlight

/** @param {string} url */
function poll (url) {
  return /** @type {Promise<void>} */ (new Promise((resolve, reject) => {
    const req = inFlight = http.get(url, { agent: false, headers: { connection: 'close' }, timeout: kPollTimeoutMs }, (res) => {
      res.resume()
      res.once('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))))
      res.once('error', reject)
    })
    req.once('timeout', () => req.destroy(new Error(`no answer within ${kPollTimeoutMs} ms`)))
    req.once('error', reject)
  }))
}

let running = false
/** @type {Promise<PollResult> | undefined} */
let loop

/**
 * The latencies the probes due every `intervalMs` would have seen: a poll of
 * `ms` stood in for the ones due while it waited, each of which would have
 * waited `ms` less per interval elapsed (HdrHistogram's correction for
 * coordinated omission, recordValueWithExpectedInterval). Without it a 10 s
 * stall is one sample among hundreds of quick ones.
 * @param {PollResult} result
 * @param {number} ms
 * @param {number} intervalMs
 */
function recordPoll (result, ms, intervalMs) {
  result.latencies.push(ms)
  result.perTick.push(ms)
  for (let missed = ms - intervalMs; missed > 0; missed -= intervalMs) result.perTick.push(missed)
}

/**
 * @param {string} url
 * @param {number} intervalMs
 */
async function pollLoop (url, intervalMs) {
  /** @type {PollResult} */
  const result = { latencies: [], perTick: [], errors: 0, firstError: null, unansweredAtStop: 0 }
  let next = nowMs()
  // eslint-disable-next-line no-unmodified-loop-condition -- set by a callback
  while (running) {
    const t0 = nowMs()
    try {
      await poll(url)
      recordPoll(result, nowMs() - t0, intervalMs)
    } catch (err) {
      // A failed poll still took this long (a timeout: the full 10 s; one still
      // waiting at stop: a lower bound); leaving it out would flatter the tail.
      recordPoll(result, nowMs() - t0, intervalMs)
      if (err === kStopped) result.unansweredAtStop++
      else {
        result.errors++
        result.firstError ??= String(/** @type {Error | undefined} */ (err)?.message ?? err)
      }
    } finally {
      inFlight = undefined
    }
    next += intervalMs
    const wait = next - nowMs()
    if (wait > 0) await sleep(wait)
    else next = nowMs()
  }
  return result
}

process.on('message', (message) => {
  const msg = /** @type {PollerCommand | undefined} */ (message)
  if (msg?.cmd === 'start') {
    running = true
    loop = pollLoop(msg.url, msg.intervalMs)
    send({ type: 'started' })
  } else if (msg?.cmd === 'stop') {
    running = false
    inFlight?.destroy(kStopped)
    if (loop === undefined) throw new Error('healthz-poller: stop before start')
    loop.then((result) => send({ type: 'result', result }))
  }
})
send({ type: 'ready' })
