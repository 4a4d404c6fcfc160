// Process plumbing for the end-to-end benches: start the upstream, the three
// contenders and the load generator as child processes, read a process's CPU,
// memory, socket I/O and open handles from /proc, read the kernel's socket
// queues (/proc/net/tcp), run a bench in a private network namespace, and stop
// every child by its PID.
import { connect as http2Connect } from 'node:http2'
import { fork, spawn } from 'node:child_process'
import { openSync, readFileSync, readdirSync, closeSync } from 'node:fs'
import net from 'node:net'
import { once } from 'node:events'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'

/** @param {string} file */
const here = (file) => fileURLToPath(new URL(file, import.meta.url))
export const rootDir = fileURLToPath(new URL('../../', import.meta.url))
/** @typedef {import('node:child_process').ChildProcess & { benchName?: string }} Child */
/** @type {Set<Child>} */
const children = new Set()

/** Where child stdout/stderr go (so a crash can be read after the run). */
export const logFile = '/tmp/sluice-bench-children.log'
/** @type {number | undefined} */
let logFd
function logOut () {
  logFd ??= openSync(logFile, 'a')
  return logFd
}

const CLK_TCK = 100 // getconf CLK_TCK on Linux

/**
 * CPU seconds (user + system), resident memory, peak resident memory, open fds
 * and bytes moved by read/write system calls (`rchar`/`wchar` of
 * /proc/PID/io: sockets included, so for a relay they are, within a few
 * request bodies, the bytes it read from the upstream and wrote to clients).
 */
export function procStats (pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const cpu = (Number(fields[11]) + Number(fields[12])) / CLK_TCK
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
  let fds = NaN
  try { fds = readdirSync(`/proc/${pid}/fd`).length } catch {}
  let rchar = NaN
  let wchar = NaN
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8')
    rchar = Number(/^rchar:\s+(\d+)/m.exec(io)?.[1] ?? NaN)
    wchar = Number(/^wchar:\s+(\d+)/m.exec(io)?.[1] ?? NaN)
  } catch {}
  return { cpu, rssKiB: kb('VmRSS'), hwmKiB: kb('VmHWM'), fds, rchar, wchar }
}

/**
 * Bytes the kernel holds in the TCP connections to `port` on this host (both
 * ends, from /proc/net/tcp and tcp6): `queued` = Σ tx_queue + rx_queue, i.e.
 * bytes written by one side and not yet read by the other (unsent or unacked
 * in the sender's socket, or received and unread in the receiver's). On
 * loopback a segment in flight can briefly count at both ends; the error is
 * at most a window per connection. Listening sockets are left out (their
 * rx_queue is the accept backlog). `connections` counts the server-side ends.
 */
export function tcpQueues (port) {
  const hex = ':' + port.toString(16).toUpperCase().padStart(4, '0')
  let queued = 0
  let connections = 0
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = ''
    try { text = readFileSync(file, 'utf8') } catch { continue }
    for (const line of text.split('\n').slice(1)) {
      // sl, local_address, rem_address, st, tx_queue:rx_queue, …
      const [, localAddress, remoteAddress, state, queues] = line.trim().split(/\s+/)
      if (localAddress === undefined || remoteAddress === undefined || queues === undefined || state === '0A') continue
      const local = localAddress.endsWith(hex)
      if (!local && !remoteAddress.endsWith(hex)) continue
      const [tx = NaN, rx = NaN] = queues.split(':').map((h) => parseInt(h, 16))
      queued += tx + rx
      if (local) connections++
    }
  }
  return { queued, connections }
}

/**
 * @template {Child} C
 * @param {C} child
 * @param {string} name
 * @returns {C}
 */
function track (child, name) {
  children.add(child)
  child.once('exit', () => children.delete(child))
  child.benchName = name
  return child
}

/** A free loopback port (for the Sluice proxy, which logs its address only at info level). */
export async function freePort () {
  const server = net.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = /** @type {net.AddressInfo} */ (server.address())
  server.close()
  await once(server, 'close')
  return port
}

/**
 * The next IPC message of `type` from `child` (rejects on an `error` message, an exit or the timeout).
 * @param {Child} child
 * @param {string} type
 * @returns {Promise<any>}
 */
function waitForMessage (child, type, timeoutMs = 15_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error(`${child.benchName}: no '${type}' message within ${timeoutMs} ms (see ${logFile})`)) }, timeoutMs)
    /** @param {any} msg */
    const onMessage = (msg) => {
      if (msg?.type === type) { cleanup(); resolve(msg) } else if (msg?.type === 'error') { cleanup(); reject(new Error(`${child.benchName}: ${msg.message}`)) }
    }
    /** @param {number | null} code */
    const onExit = (code) => { cleanup(); reject(new Error(`${child.benchName} exited (${code}) (see ${logFile})`)) }
    const cleanup = () => { clearTimeout(timer); child.off('message', onMessage); child.off('exit', onExit) }
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
}

/** @typedef {import('./upstream.js').Taken} UpstreamTaken */

/** The instrumented demo upstream (bench/lib/upstream.js) in its own process. */
export async function startUpstream (args = ['--rate', '0', '--chunk', '1-8']) {
  const child = track(fork(here('./upstream.js'), args, { stdio: ['ignore', logOut(), logOut(), 'ipc'] }), 'upstream')
  const { url } = await waitForMessage(child, 'listening')
  return {
    url,
    pid: child.pid,
    /** @returns {Promise<UpstreamTaken>} */
    async take () {
      const reply = waitForMessage(child, 'taken', 30_000)
      child.send({ cmd: 'take' })
      return reply
    },
    stop: () => stopChild(child)
  }
}

/**
 * The /healthz poller (bench/lib/healthz-poller.js) in its own process:
 * `start(url, intervalMs)` begins polling, `finish()` ends it and resolves with
 * { latencies, perTick, errors, firstError, unansweredAtStop } (ms; `latencies`
 * one per poll, `perTick` one per 20 ms tick, corrected for coordinated
 * omission: see healthz-poller.js).
 */
export async function startHealthzPoller () {
  const child = track(fork(here('./healthz-poller.js'), [], { stdio: ['ignore', logOut(), logOut(), 'ipc'] }), 'healthz-poller')
  await waitForMessage(child, 'ready')
  return {
    pid: child.pid,
    /**
     * @param {string} url
     * @param {number} intervalMs
     */
    async start (url, intervalMs) {
      const reply = waitForMessage(child, 'started')
      child.send({ cmd: 'start', url, intervalMs })
      await reply
    },
    /** @returns {Promise<import('./healthz-poller.js').PollResult>} */
    async finish () {
      const reply = waitForMessage(child, 'result', 30_000)
      child.send({ cmd: 'stop' })
      return (await reply).result
    },
    stop: () => stopChild(child)
  }
}

/**
 * Sluice's event-loop lag in ms since the last scrape of `url`/metrics
 * (prom-client resets its histogram at each): { p50, p99, max }, or undefined
 * when the scrape fails. monitorEventLoopDelay records the whole interval
 * between two samples, so prom-client's 10 ms sampling interval is taken off.
 */
/** @typedef {{ p50: number, p99: number, max: number }} EventLoopLag */

/**
 * @param {string} url
 * @returns {Promise<EventLoopLag | undefined>}
 */
export async function scrapeEventLoopLag (url) {
  const resolutionMs = 10
  try {
    const text = await (await fetch(`${url}/metrics`)).text()
    /** @param {string} name */
    const get = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]) * 1000 - resolutionMs
    return { p50: get('nodejs_eventloop_lag_p50_seconds'), p99: get('nodejs_eventloop_lag_p99_seconds'), max: get('nodejs_eventloop_lag_max_seconds') }
  } catch {
    return undefined
  }
}

/** The load generator (bench/lib/load-gen.js) in its own process. */
export async function startLoadGen () {
  const child = track(fork(here('./load-gen.js'), [], { stdio: ['ignore', logOut(), logOut(), 'ipc'] }), 'load-gen')
  await waitForMessage(child, 'ready')
  return {
    pid: child.pid,
    /**
     * @param {import('./load-gen.js').Job} job
     * @returns {Promise<import('./load-gen.js').JobResult>}
     */
    async run (job) {
      const reply = waitForMessage(child, 'result', (job.maxMs ?? 60_000) + 30_000)
      child.send({ cmd: 'run', job })
      return (await reply).result
    },
    /**
     * The running job's counts so far (bytes and content characters the clients read, streams started/completed/failed).
     * @returns {Promise<import('./load-gen.js').Peek>}
     */
    async peek () {
      const reply = waitForMessage(child, 'peek', 10_000)
      child.send({ cmd: 'peek' })
      return reply
    },
    stop: () => stopChild(child)
  }
}

/**
 * @param {string} url
 * @param {Child} child
 */
async function waitHealthy (url, child, timeoutMs = 20_000, h2c = false) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${child.benchName} exited (${child.exitCode}) (see ${logFile})`)
    try {
      const status = h2c ? await h2cStatus(url) : await fetchStatus(url)
      if (status < 500) return
    } catch {}
    if (Date.now() > deadline) throw new Error(`${child.benchName}: not answering ${url} (see ${logFile})`)
    await sleep(50)
  }
}

/** @param {string} url */
async function fetchStatus (url) {
  const res = await fetch(url)
  await res.arrayBuffer()
  return res.status
}

/**
 * A GET over HTTP/2 with prior knowledge (an h2c server speaks no HTTP/1.1).
 * @param {string} url
 * @returns {Promise<number>}
 */
function h2cStatus (url) {
  const { origin, pathname } = new URL(url)
  return new Promise((resolve, reject) => {
    const session = http2Connect(origin)
    session.on('error', reject)
    const req = session.request({ ':path': pathname })
    req.on('response', (headers) => { resolve(Number(headers[':status'])); session.close() })
    req.on('error', reject)
    req.end()
  })
}

/**
 * A contender in its own process: 'raw' (raw byte relay), 'parse'
 * (parse-and-reserialize relay) or 'sluice' (`node bin/sluice.js proxy`, full
 * default rule set; log level warn so that per-request info lines, which the
 * relays do not write, are not part of the comparison). `root` runs another
 * checkout's `bin/sluice.js` (its own dist/ and rules/), e.g. a baseline
 * build; `label` names the child in messages.
 * @param {string} name 'raw', 'parse' or 'sluice'
 * @param {string} upstreamUrl
 * @param {{ root?: string, label?: string, extraArgs?: string[] }} [options] `extraArgs`: more `sluice proxy` flags
 */
export async function startContender (name, upstreamUrl, { root = rootDir, label = name, extraArgs = [] } = {}) {
  const port = await freePort()
  /** @type {Child} */
  let child
  if (name === 'sluice') {
    // The demo upstream's control headers (pace, faults) go through; by env,
    // which a baseline build without the setting ignores.
    const env = { ...process.env, SLUICE_FORWARD_HEADERS: 'x-demo-text,x-demo-answer,x-demo-rate,x-demo-chunk,x-fault,x-fault-count,x-fault-delay,x-fault-retry-after,x-bench-count' }
    child = spawn(process.execPath, [join(root, 'bin', 'sluice.js'), 'proxy', '--upstream', upstreamUrl, '--port', String(port), '--log-level', 'warn', '--grace', '1000', ...extraArgs],
      { cwd: root, env, stdio: ['ignore', logOut(), logOut()] })
  } else {
    const file = name === 'raw' ? './raw-relay.js' : './parse-relay.js'
    child = spawn(process.execPath, [here(file), '--upstream', upstreamUrl, '--port', String(port)], { stdio: ['ignore', logOut(), logOut()] })
  }
  track(child, label)
  const url = `http://127.0.0.1:${port}`
  await waitHealthy(name === 'sluice' ? `${url}/healthz` : `${url}/v1/models`, child, 60_000, extraArgs.includes('--http2'))
  return { name, url, pid: child.pid, stop: () => stopChild(child) }
}

/**
 * Runs `node script args…` in a private network namespace (`unshare -rn`: a
 * user namespace mapping us to root in it, and a network namespace of our
 * own), after bringing its loopback up with `mtu` and writing `sysctls`
 * (per-namespace knobs under /proc/sys/net, e.g. `ipv4/tcp_wmem`). Every
 * process the script starts lives in that namespace, so its sockets see those
 * settings and no one else's traffic. Lines the script prints go to `onLine`.
 * Resolves with { code, ready }: `ready` is false when the namespace could not
 * be set up (no unshare or ip, user namespaces disabled, a sysctl refused), in
 * which case the script never ran. The child is tracked: stopAll() stops it.
 * @param {object} options
 * @param {string} options.script
 * @param {string[]} [options.args]
 * @param {number} [options.mtu]
 * @param {Record<string, string | number>} [options.sysctls]
 * @param {(line: string) => void} [options.onLine]
 * @returns {Promise<{ code: number | null, ready: boolean }>}
 */
export async function runInNetns ({ script, args = [], mtu, sysctls = {}, onLine = () => {} }) {
  const marker = 'SLUICE_BENCH_NETNS_READY'
  const setup = [
    'set -e',
    'ip link set lo up',
    ...(mtu === undefined ? [] : [`ip link set lo mtu ${Number(mtu)}`]),
    ...Object.entries(sysctls).map(([key, value]) => `echo '${String(value).replace(/[^0-9 ]/g, '')}' > /proc/sys/net/${key.replace(/[^a-z0-9_/]/g, '')}`),
    `echo ${marker}`,
    'exec "$@"'
  ].join('\n')
  let child
  try {
    child = spawn('unshare', ['-rn', 'sh', '-c', setup, 'sh', process.execPath, script, ...args], { cwd: rootDir, stdio: ['ignore', 'pipe', 'pipe'] })
  } catch {
    return { code: null, ready: false }
  }
  track(child, 'netns')
  // No unshare at all: 'error' and no 'exit'; stopAll() must not wait for it.
  child.once('error', () => children.delete(child))
  child.stderr.pipe(process.stderr, { end: false })
  let ready = false
  let buffered = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (text) => {
    buffered += text
    let at
    while ((at = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, at)
      buffered = buffered.slice(at + 1)
      if (line === marker) ready = true
      else onLine(line)
    }
  })
  /** @type {number | null} */
  const code = await new Promise((resolve) => {
    // 'close', not 'exit': the last line (a bench's result) may still be in the pipe at 'exit'.
    child.once('close', (exitCode) => resolve(exitCode))
    child.once('error', () => resolve(null))
  })
  if (buffered.length > 0) onLine(buffered)
  return { code, ready }
}

/**
 * SIGTERM, then SIGKILL after `graceMs`; resolves when the child is gone.
 * @param {Child} child
 */
export async function stopChild (child, graceMs = 3000) {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  if (child.connected) child.disconnect()
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

/** Stops every child still running (each by its PID); safe to call twice. */
export async function stopAll () {
  await Promise.all([...children].map((c) => stopChild(c)))
  if (logFd !== undefined) { closeSync(logFd); logFd = undefined }
}

// A bench interrupted (Ctrl-C) or failing must not leave children behind.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => { stopAll().finally(() => process.exit(130)) })
}
process.once('exit', () => { for (const c of children) c.kill('SIGKILL') })
