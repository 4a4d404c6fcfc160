/**
 * @module proxy/run-proxy
 * The process shell around the proxy, for the CLI: `sluice proxy` (config,
 * listen, one startup log line, graceful shutdown) and `sluice demo` (the
 * demo upstream in-process with the proxy in front of it, for `npm start`).
 *
 * Shutdown on SIGTERM/SIGINT: readiness turns 503 at once (load balancers
 * stop sending), the listener stops accepting, streams in flight run to
 * their end within a grace period (then their sockets are closed), the
 * audit log is flushed and closed, and the promise resolves with exit code 0.
 * No `process.exit`: the process ends when its event loop is empty, so no
 * log line or audit record is lost (pino's advice: flush, don't exit).
 */
import type { FastifyInstance } from 'fastify'
import { createDemoUpstream, demoControlHeaders } from '../demo/create-demo-upstream.js'
import type { DemoUpstream } from '../demo/create-demo-upstream.js'
import { createProxy } from './create-proxy.js'
import { proxyUsage, resolveProxyConfig } from './proxy-config.js'
import type { ProxyConfig } from './proxy-config.js'

/**
 * Pending connections the kernel queues before `accept` (capped by
 * net.core.somaxconn). Node's default, 511, overflowed when 1,000 clients
 * connected within a second while the event loop was busy: the dropped SYNs
 * were retried after 1, 3, 7 s, which showed as seconds of time to first
 * token (bench/e2e-stream.bench.js, C = 1,000; 1,826 listen overflows).
 */
export const kListenBacklog = 4096

export interface RunIo {
  stdout: (line: string) => void
  stderr: (line: string) => void
  env: Record<string, string | undefined>
}

const defaultIo: RunIo = {
  stdout: (line) => { process.stdout.write(line + '\n') },
  stderr: (line) => { process.stderr.write(line + '\n') },
  env: process.env
}

/** Where the proxy listens, as a URL (wildcard hosts become loopback). */
function baseUrl (app: FastifyInstance): string {
  const address = app.server.address()
  if (address === null || typeof address === 'string') return String(address)
  const host = address.address === '0.0.0.0' ? '127.0.0.1' : address.address === '::' ? '[::1]' : address.family === 'IPv6' ? `[${address.address}]` : address.address
  return `http://${host}:${address.port}`
}

/** The startup line: what a reader needs to know, never a key. */
function startupMessage (app: FastifyInstance, config: ProxyConfig): string {
  const keys = config.apiKeyHashes.length === 0 ? 'no client keys required' : `${config.apiKeyHashes.length} client key(s) accepted`
  const upstreamKeys = config.upstreamKeys.length === 0 ? 'no upstream key' : `${config.upstreamKeys.length} upstream key(s)`
  return `sluice proxy listening on ${baseUrl(app)}, forwarding to ${new URL(config.upstream).origin}; ` +
    `${app.sluiceProxy.ruleSet.rules.length} rules; ${keys}; ${upstreamKeys}`
}

/** Closes an app that failed to start; a failure to close changes nothing about the exit code. */
async function closeQuietly (app: FastifyInstance | undefined): Promise<void> {
  await app?.close().catch(() => {})
}

/**
 * Waits for SIGTERM/SIGINT, then drains and closes. A second signal closes
 * every connection at once. Resolves when the app is closed.
 */
function untilSignal (app: FastifyInstance, graceMs: number, onClosed: () => Promise<void> = async () => {}): Promise<number> {
  return new Promise((resolve) => {
    let closing = false
    let graceTimer: NodeJS.Timeout | undefined
    const onSignal = (signal: NodeJS.Signals): void => {
      if (closing) {
        app.log.warn({ signal }, 'second signal: closing every connection now')
        app.server.closeAllConnections()
        return
      }
      closing = true
      app.sluiceProxy.beginShutdown()
      app.log.info({ signal, inFlight: app.sluiceProxy.inFlight, graceMs }, 'shutting down: letting streams in flight finish')
      graceTimer = setTimeout(() => {
        app.log.warn({ inFlight: app.sluiceProxy.inFlight }, 'grace period over: closing remaining connections')
        app.server.closeAllConnections()
      }, graceMs)
      graceTimer.unref()
      app.close()
        .then(onClosed)
        .then(() => {
          app.log.info('shut down cleanly')
          resolve(0)
        }, (err: unknown) => {
          app.log.error({ err }, 'shutdown failed')
          resolve(1)
        })
        .finally(() => {
          if (graceTimer !== undefined) clearTimeout(graceTimer)
          process.removeListener('SIGTERM', onSignal)
          process.removeListener('SIGINT', onSignal)
        })
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  })
}

/**
 * `sluice proxy …`: resolves the config (flags > env > file > defaults),
 * serves until SIGTERM/SIGINT, and resolves with the exit code (0 after a
 * clean shutdown, 1 when it cannot start, 2 on bad arguments).
 *
 * @example
 * // bin: sluice proxy --upstream https://api.openai.com --port 8080
 * process.exitCode = await runProxy(process.argv.slice(3))
 */
export async function runProxy (argv: string[], io: RunIo = defaultIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout(proxyUsage)
    return 0
  }
  let config: ProxyConfig
  try {
    config = await resolveProxyConfig({ argv, env: io.env })
  } catch (err) {
    io.stderr(`sluice proxy: ${(err as Error).message}\n\n${proxyUsage}`)
    return 2
  }
  let app: FastifyInstance | undefined
  try {
    app = await createProxy(config)
    await app.listen({ host: config.host, port: config.port, backlog: kListenBacklog, listenTextResolver: () => '' } as never)
  } catch (err) {
    io.stderr(`sluice proxy: cannot start: ${(err as Error).message}`)
    // The rule watcher and the audit file keep a process alive: close them,
    // so the process exits and a supervisor's restart-on-failure fires.
    await closeQuietly(app)
    return 1
  }
  app.log.info(startupMessage(app, config))
  return untilSignal(app, config.shutdownGraceMs)
}

/**
 * `sluice demo` / `npm start`: the demo upstream (a fake OpenAI/Anthropic
 * server with canned answers) on an ephemeral port, the proxy in front of it
 * on 127.0.0.1:8080 (or `--port`), and a curl line to try it.
 */
export async function runDemo (argv: string[], io: RunIo = defaultIo): Promise<number> {
  let demo: DemoUpstream | undefined
  let app: FastifyInstance | undefined
  let config: ProxyConfig
  try {
    demo = createDemoUpstream()
    const upstreamUrl = await demo.listen(0, '127.0.0.1')
    // The demo's own control headers (answer, pace, faults) go through to it.
    const controls = demoControlHeaders.flatMap((name) => ['--forward-header', name])
    config = await resolveProxyConfig({ argv: ['--upstream', upstreamUrl, ...controls, ...argv], env: { ...io.env, SLUICE_UPSTREAM: undefined } })
    app = await createProxy(config)
    await app.listen({ host: config.host, port: config.port, backlog: kListenBacklog, listenTextResolver: () => '' } as never)
  } catch (err) {
    await closeQuietly(app)
    await demo?.close()
    io.stderr(`sluice demo: cannot start: ${(err as Error).message}`)
    return 1
  }
  const url = baseUrl(app)
  app.log.info(startupMessage(app, config))
  const body = JSON.stringify({
    model: 'sluice-demo-1',
    stream: true,
    messages: [{ role: 'user', content: 'How do I contact my account manager by e-mail?' }]
  })
  io.stdout([
    '',
    `Sluice demo ready: proxy on ${url}, demo upstream behind it (no API key, no network).`,
    'Try (the e-mail address in the answer arrives redacted):',
    '',
    `  curl -N ${url}/v1/chat/completions -H 'content-type: application/json' \\`,
    `    -d '${body}'`,
    '',
    "Other prompts: 'card', 'key', 'abuse', 'injection', 'image', 'haiku'. Ctrl-C to stop.",
    ''
  ].join('\n'))
  const upstream = demo
  return untilSignal(app, config.shutdownGraceMs, async () => { await upstream.close() })
}
