/**
 * @module playground/run-playground
 * The process shell of `sluice playground`: the playground plugin on its own
 * Fastify server, one line saying where to open it, and a clean close on
 * SIGINT or SIGTERM. On a loopback address (the default, 127.0.0.1) the
 * page needs no token; on any other a random token is made and printed in
 * the address (after `#`, which browsers never send), since the playground
 * reads and writes files.
 *
 * Exit codes as the rest of the CLI: 0 after a clean shutdown, 1 when it
 * cannot start (a rule path or the sample folder missing, port in use).
 */
import { randomBytes } from 'node:crypto'
import { isIP } from 'node:net'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { sluicePlayground } from './playground-plugin.js'
import type { PlaygroundOptions } from './playground-plugin.js'

export interface RunPlaygroundOptions extends Pick<PlaygroundOptions, 'rules' | 'defaultRules' | 'samples' | 'loadRules'> {
  host: string
  port: number
}

export interface PlaygroundIo {
  stdout: (line: string) => void
  stderr: (line: string) => void
}

function isLoopbackHost (host: string): boolean {
  if (host === 'localhost') return true
  return isIP(host) === 4 ? host.startsWith('127.') : host === '::1'
}

/** Where a person opens the page: a wildcard address as loopback. */
function pageUrl (app: FastifyInstance, token: string | undefined): string {
  const address = app.server.address()
  if (address === null || typeof address === 'string') return String(address)
  const host = address.address === '0.0.0.0' ? '127.0.0.1' : address.address === '::' ? '[::1]' : address.family === 'IPv6' ? `[${address.address}]` : address.address
  return `http://${host}:${address.port}/${token === undefined ? '' : `#token=${token}`}`
}

/** Resolves on the first SIGINT or SIGTERM, after the server closed. */
function untilSignal (app: FastifyInstance): Promise<number> {
  return new Promise((resolve) => {
    const onSignal = (): void => {
      process.removeListener('SIGINT', onSignal)
      process.removeListener('SIGTERM', onSignal)
      // Streams in flight are the page's own: close them with the server.
      app.server.closeAllConnections()
      app.close().then(() => resolve(0), () => resolve(1))
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}

/**
 * Runs the playground until SIGINT/SIGTERM; resolves with the exit code.
 * @example
 * process.exitCode = await runPlayground({ host: '127.0.0.1', port: 8787, rules: ['./our-rules.yaml'] })
 */
export async function runPlayground (options: RunPlaygroundOptions, io: PlaygroundIo): Promise<number> {
  const token = isLoopbackHost(options.host) ? undefined : randomBytes(24).toString('base64url')
  const app = Fastify({ logger: false })
  try {
    await app.register(sluicePlayground, {
      rules: options.rules,
      defaultRules: options.defaultRules,
      samples: options.samples,
      loadRules: options.loadRules,
      token
    })
    await app.listen({ host: options.host, port: options.port })
  } catch (err) {
    io.stderr(`sluice playground: cannot start: ${(err as Error).message}`)
    await app.close().catch(() => {})
    return 1
  }
  io.stdout(`sluice playground on ${pageUrl(app, token)}`)
  if (token !== undefined) io.stderr(`sluice playground: listening on ${options.host}, not loopback: the page needs the token in the address above`)
  return untilSignal(app)
}
