/**
 * @module test/helpers/redis-server
 * Starts a real `redis-server` for tests: bound to 127.0.0.1 on a free
 * port, no persistence, in its own process; `stop()` ends it. Needs
 * `redis-server` on PATH (Debian: `apt-get install redis-server`, which
 * `.ci/run` does).
 * @example
 * const redis = await startRedisServer()
 * t.teardown(redis.stop)
 * // … redis.url is redis://127.0.0.1:PORT
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'

export interface RedisServer {
  port: number
  /** `redis://127.0.0.1:PORT` */
  url: string
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and waits for its exit. */
  stop: () => Promise<void>
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => { resolve(port) })
    })
  })
}

/**
 * The pid of the redis-server answering on `port`, or undefined. Checking
 * the pid, not just PONG, makes sure the server is ours and not another
 * test's that took the port between freePort() and our start.
 */
async function serverPid (port: number): Promise<number | undefined> {
  return await new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    let reply = ''
    const done = (pid: number | undefined) => { socket.destroy(); resolve(pid) }
    socket.setTimeout(1000, () => { done(undefined) })
    socket.on('error', () => { done(undefined) })
    socket.on('connect', () => { socket.write('INFO server\r\n') })
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1')
      const m = /process_id:(\d+)\r\n/.exec(reply)
      if (m !== null) done(Number(m[1]))
      else if (reply.startsWith('-')) done(undefined)
    })
  })
}

function exited (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => { child.once('exit', () => { resolve() }) })
}

async function startOn (port: number): Promise<RedisServer | undefined> {
  const child = spawn('redis-server', [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', 'no',
    '--daemonize', 'no',
    '--dir', tmpdir(),
    '--loglevel', 'warning'
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const collect = (chunk: Buffer) => { output = (output + chunk.toString()).slice(-4000) }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const spawnError = new Promise<Error>((resolve) => { child.once('error', resolve) })

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const gone = exited(child)
    child.kill('SIGTERM')
    const timer = setTimeout(() => { child.kill('SIGKILL') }, 5000)
    await gone
    clearTimeout(timer)
  }

  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    const failure = await Promise.race([spawnError, new Promise<undefined>((resolve) => { setTimeout(() => { resolve(undefined) }, 50) })])
    if (failure !== undefined) {
      throw new Error(`cannot start redis-server (${failure.message}); install it, e.g.: apt-get update && apt-get install -y --no-install-recommends redis-server`)
    }
    // Exited early: most likely the port was taken between freePort() and now.
    if (child.exitCode !== null) {
      if (/address already in use/i.test(output)) return undefined
      throw new Error(`redis-server exited with code ${child.exitCode}: ${output}`)
    }
    const pid = await serverPid(port)
    if (pid !== undefined && pid === child.pid) return { port, url: `redis://127.0.0.1:${port}`, stop }
  }
  await stop()
  throw new Error(`redis-server did not answer on port ${port} within 10 s: ${output}`)
}

/**
 * Starts a fresh redis-server on a free 127.0.0.1 port (or on `port`, e.g.
 * to restart one that was stopped) and waits until it answers.
 */
export async function startRedisServer (options: { port?: number } = {}): Promise<RedisServer> {
  if (options.port !== undefined) {
    const server = await startOn(options.port)
    if (server === undefined) throw new Error(`redis-server: port ${options.port} is in use`)
    return server
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const server = await startOn(await freePort())
    if (server !== undefined) return server
  }
  throw new Error('redis-server: no free port after 5 attempts')
}
