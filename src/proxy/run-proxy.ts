/**
 * @module proxy/run-proxy
 * The process shell around the proxy, for the CLI: `sluice proxy` (config,
 * listen, one startup log line, warnings about settings that break or
 * weaken it, graceful shutdown) and `sluice demo` (the demo upstream
 * in-process with the proxy in front of it, for `npm start`).
 *
 * Exit codes as the rest of the CLI: 0 after a clean shutdown (or help), 1
 * when it cannot start, 2 on a usage problem (flag, variable, config file).
 *
 * Shutdown on SIGTERM/SIGINT: readiness turns 503 at once (load balancers
 * stop sending), the listener stops accepting, streams in flight run to
 * their end within a grace period (then their sockets are closed), the
 * audit log is flushed and closed, and the promise resolves with exit code 0.
 * No `process.exit`: the process ends when its event loop is empty, so no
 * log line or audit record is lost (pino's advice: flush, don't exit).
 */
import type { FastifyInstance } from 'fastify'
import { commandUsage, isUsageError, usageProblem, wantsHelp } from '../cli-args.js'
import type { DemoUpstream } from '../demo/create-demo-upstream.js'
import { hmacKeyFromEnv } from '../scanner/digest.js'
import { createProxy } from './create-proxy.js'
import { resolveProxyConfig } from './proxy-config.js'
import type { ProxyConfig } from './proxy-config.js'
import { proxyUsageOptions } from './settings/reference.js'

/**
 * Pending connections the kernel queues before `accept` (capped by
 * net.core.somaxconn). Node's default, 511, overflowed when 1,000 clients
 * connected within a second while the event loop was busy: the dropped SYNs
 * were retried after 1, 3, 7 s, which showed as seconds of time to first
 * token (bench/e2e-stream.bench.js, C = 1,000; 1,826 listen overflows).
 */
export const kListenBacklog = 4096

/** `sluice proxy --help`: every flag of the settings table (with its variable), help itself, and the exit codes. */
export const proxyUsage = commandUsage({
  name: 'proxy',
  required: '--upstream URL',
  summary: 'Runs the compliance proxy in front of a provider. Every flag is also an\n' +
    'environment variable (in brackets) and a key of the config file (--config):\n' +
    'flags win over variables, variables over the file. Client keys with their\n' +
    'own settings (clients) are set in the config file only.',
  options: proxyUsageOptions(),
  exitCodes: [
    '0  shut down cleanly after SIGTERM or SIGINT',
    '1  could not start (rule files, port in use, audit file)',
    '2  usage error (flag, environment variable or config file)'
  ]
})

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
function startupMessage (app: FastifyInstance, config: ProxyConfig, address: string): string {
  const keys = config.apiKeyHashes.length === 0 ? 'no client keys required' : `${config.apiKeyHashes.length} client key(s) accepted`
  const upstreamKeys = config.upstreamKeys.length === 0 ? (config.forwardClientAuth ? "client's own key forwarded" : 'no upstream key') : `${config.upstreamKeys.length} upstream key(s)`
  return `sluice proxy listening on ${address}, forwarding to ${new URL(config.upstream).origin}; ` +
    `${app.sluiceProxy.ruleSet.rules.length} rules; ${keys}; ${upstreamKeys}`
}

/**
 * Listens, with the startup line as the text Fastify logs once listening
 * (it logs one line per address whatever the resolver returns, so the line
 * cannot be written apart without an empty one beside it).
 */
async function listen (app: FastifyInstance, config: ProxyConfig): Promise<void> {
  let logged = false
  const listenTextResolver = (address: string): string => {
    if (logged) return `sluice proxy also listening on ${address}`
    logged = true
    return startupMessage(app, config, address)
  }
  await app.listen({ host: config.host, port: config.port, backlog: kListenBacklog, listenTextResolver })
}

/** A setting that makes the proxy fail or weakens it, said at start; `kind` names it in the log record. */
interface StartupWarning {
  kind: 'no_upstream_credentials' | 'no_hmac_key'
  message: string
}

function startupWarnings (config: ProxyConfig, { demo }: { demo: boolean }): StartupWarning[] {
  const warnings: StartupWarning[] = []
  // The demo upstream takes no key; a provider answers 401 to a request without one.
  if (!demo && config.upstreamKeys.length === 0 && !config.forwardClientAuth) {
    warnings.push({
      kind: 'no_upstream_credentials',
      message: `no upstream key and no client key forwarded: requests reach ${new URL(config.upstream).origin} without credentials, ` +
        "and a provider answers 401. Set SLUICE_UPSTREAM_KEYS (or --upstream-key), or --forward-client-auth to send the client's own key"
    })
  }
  // The scanner reads the key from the process environment (scanner/digest.ts), so that is what counts here.
  if (hmacKeyFromEnv() === undefined) {
    warnings.push({
      kind: 'no_hmac_key',
      message: 'SLUICE_HMAC_KEY is not set: pseudonyms and audit digests use a random key and change at every restart. ' +
        'Set SLUICE_HMAC_KEY to a secret of 32 bytes or more to keep them stable'
    })
  }
  return warnings
}

/** Logs each warning as a pino warn line; `human` also prints it on stderr, where a person starting the proxy looks. */
function warnAtStart (app: FastifyInstance, warnings: StartupWarning[], human?: (line: string) => void): void {
  for (const w of warnings) {
    app.log.warn({ warning: w.kind }, w.message)
    human?.(`sluice proxy: warning: ${w.message}`)
  }
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
  if (wantsHelp(argv)) {
    io.stdout(proxyUsage)
    return 0
  }
  let config: ProxyConfig
  try {
    config = await resolveProxyConfig({ argv, env: io.env })
  } catch (err) {
    io.stderr(`sluice proxy: ${isUsageError(err) ? usageProblem(err) : (err as Error).message}\n\n${proxyUsage}`)
    return 2
  }
  let app: FastifyInstance | undefined
  try {
    app = await createProxy(config)
    await listen(app, config)
  } catch (err) {
    io.stderr(`sluice proxy: cannot start: ${(err as Error).message}`)
    // The rule watcher and the audit file keep a process alive: close them,
    // so the process exits and a supervisor's restart-on-failure fires.
    await closeQuietly(app)
    return 1
  }
  warnAtStart(app, startupWarnings(config, { demo: false }), io.stderr)
  return untilSignal(app, config.shutdownGraceMs)
}

export const demoUsage = `Usage: sluice demo [options]

Runs the proxy in front of a built-in demo upstream (a fake OpenAI/Anthropic
server with canned answers: no API key, no network) and prints a curl line
to try it.

Options:
  --port N      port to listen on (default 8080)
  -h, --help    print this help

Every option of "sluice proxy" but --upstream is accepted too (sluice proxy --help).

Exit codes:
  0  shut down cleanly after SIGTERM or SIGINT
  1  could not start (port in use, rule files)
  2  usage error`

/**
 * `sluice demo` / `npm start`: the demo upstream (a fake OpenAI/Anthropic
 * server with canned answers) on an ephemeral port, the proxy in front of it
 * on 127.0.0.1:8080 (or `--port`), and a curl line to try it.
 */
export async function runDemo (argv: string[], io: RunIo = defaultIo): Promise<number> {
  if (wantsHelp(argv)) {
    io.stdout(demoUsage)
    return 0
  }
  const usageFailed = (problem: string): number => {
    io.stderr(`sluice demo: ${problem}\n\n${demoUsage}`)
    return 2
  }
  if (argv.some((arg) => arg === '--upstream' || arg.startsWith('--upstream='))) {
    return usageFailed('--upstream is not for the demo: it runs its own upstream (use "sluice proxy --upstream URL")')
  }
  let demo: DemoUpstream | undefined
  let app: FastifyInstance | undefined
  let config: ProxyConfig
  try {
    // Loaded here, not imported at the top: `sluice proxy` never loads the demo upstream.
    const { createDemoUpstream, demoControlHeaders } = await import('../demo/create-demo-upstream.js')
    demo = createDemoUpstream()
    const upstreamUrl = await demo.listen(0, '127.0.0.1')
    // The demo's own control headers (answer, pace, faults) go through to it.
    const controls = demoControlHeaders.flatMap((name) => ['--forward-header', name])
    try {
      config = await resolveProxyConfig({ argv: ['--upstream', upstreamUrl, ...controls, ...argv], env: { ...io.env, SLUICE_UPSTREAM: undefined } })
    } catch (err) {
      await demo.close()
      return usageFailed(isUsageError(err) ? usageProblem(err) : (err as Error).message)
    }
    app = await createProxy(config)
    await listen(app, config)
  } catch (err) {
    await closeQuietly(app)
    await demo?.close()
    io.stderr(`sluice demo: cannot start: ${(err as Error).message}`)
    return 1
  }
  const url = baseUrl(app)
  warnAtStart(app, startupWarnings(config, { demo: true }))
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
