// Process plumbing for the end-to-end benches: start the upstream, the three
// contenders and the load generator as child processes, read a process's CPU,
// memory and open handles from /proc, and stop every child by its PID.
import { fork, spawn } from 'node:child_process'
import { openSync, readFileSync, readdirSync, closeSync } from 'node:fs'
import net from 'node:net'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'

const here = (file) => fileURLToPath(new URL(file, import.meta.url))
export const rootDir = fileURLToPath(new URL('../../', import.meta.url))
const children = new Set()

/** Where child stdout/stderr go (so a crash can be read after the run). */
export const logFile = '/tmp/sluice-bench-children.log'
let logFd
function logOut () {
  logFd ??= openSync(logFile, 'a')
  return logFd
}

const CLK_TCK = 100 // getconf CLK_TCK on Linux

/** CPU seconds (user + system), resident memory, peak resident memory and open fds of a process. */
export function procStats (pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const cpu = (Number(fields[11]) + Number(fields[12])) / CLK_TCK
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
  let fds = NaN
  try { fds = readdirSync(`/proc/${pid}/fd`).length } catch {}
  return { cpu, rssKiB: kb('VmRSS'), hwmKiB: kb('VmHWM'), fds }
}

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
  const { port } = server.address()
  server.close()
  await once(server, 'close')
  return port
}

function waitForMessage (child, type, timeoutMs = 15_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error(`${child.benchName}: no '${type}' message within ${timeoutMs} ms (see ${logFile})`)) }, timeoutMs)
    const onMessage = (msg) => {
      if (msg?.type === type) { cleanup(); resolve(msg) } else if (msg?.type === 'error') { cleanup(); reject(new Error(`${child.benchName}: ${msg.message}`)) }
    }
    const onExit = (code) => { cleanup(); reject(new Error(`${child.benchName} exited (${code}) (see ${logFile})`)) }
    const cleanup = () => { clearTimeout(timer); child.off('message', onMessage); child.off('exit', onExit) }
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
}

/** The instrumented demo upstream (bench/lib/upstream.js) in its own process. */
export async function startUpstream (args = ['--rate', '0', '--chunk', '1-8']) {
  const child = track(fork(here('./upstream.js'), args, { stdio: ['ignore', logOut(), logOut(), 'ipc'] }), 'upstream')
  const { url } = await waitForMessage(child, 'listening')
  return {
    url,
    pid: child.pid,
    async take () {
      const reply = waitForMessage(child, 'taken', 30_000)
      child.send({ cmd: 'take' })
      return reply
    },
    stop: () => stopChild(child)
  }
}

/** The load generator (bench/lib/load-gen.js) in its own process. */
export async function startLoadGen () {
  const child = track(fork(here('./load-gen.js'), [], { stdio: ['ignore', logOut(), logOut(), 'ipc'] }), 'load-gen')
  await waitForMessage(child, 'ready')
  return {
    pid: child.pid,
    async run (job) {
      const reply = waitForMessage(child, 'result', (job.maxMs ?? 60_000) + 30_000)
      child.send({ cmd: 'run', job })
      return (await reply).result
    },
    stop: () => stopChild(child)
  }
}

async function waitHealthy (url, child, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${child.benchName} exited (${child.exitCode}) (see ${logFile})`)
    try {
      const res = await fetch(url)
      await res.arrayBuffer()
      if (res.status < 500) return
    } catch {}
    if (Date.now() > deadline) throw new Error(`${child.benchName}: not answering ${url} (see ${logFile})`)
    await sleep(50)
  }
}

/**
 * A contender in its own process: 'raw' (raw byte relay), 'parse'
 * (parse-and-reserialize relay) or 'sluice' (`node bin/sluice.js proxy`, full
 * default rule set; log level warn so that per-request info lines, which the
 * relays do not write, are not part of the comparison).
 */
export async function startContender (name, upstreamUrl) {
  const port = await freePort()
  let child
  if (name === 'sluice') {
    child = spawn(process.execPath, [`${rootDir}bin/sluice.js`, 'proxy', '--upstream', upstreamUrl, '--port', String(port), '--log-level', 'warn', '--grace', '1000'],
      { cwd: rootDir, stdio: ['ignore', logOut(), logOut()] })
  } else {
    const file = name === 'raw' ? './raw-relay.js' : './parse-relay.js'
    child = spawn(process.execPath, [here(file), '--upstream', upstreamUrl, '--port', String(port)], { stdio: ['ignore', logOut(), logOut()] })
  }
  track(child, name)
  const url = `http://127.0.0.1:${port}`
  await waitHealthy(name === 'sluice' ? `${url}/healthz` : `${url}/v1/models`, child)
  return { name, url, pid: child.pid, stop: () => stopChild(child) }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child is gone. */
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
