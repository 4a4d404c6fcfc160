/**
 * @module proxy/ops-routes
 * The routes of operations: `/healthz`, `/readyz` (503 once shutdown
 * began) and `/metrics`, on the proxy's listener or on its own (an internal
 * address clients never reach), behind a bearer token when one is set.
 * Probes and scrapes are neither sanitized nor rate limited (a limited
 * health check restarts healthy pods).
 */
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { UnauthorizedError } from '../errors.js'
import type { RuleSet } from '../rules/rule-set.js'
import { createBearerCheck } from './client-auth.js'
import { sendRawError } from './error-replies.js'
import type { ProxyMetrics } from './metrics.js'
import type { MetricsExposure } from './proxy-config.js'

export interface OpsRoutesOptions {
  metrics: ProxyMetrics
  exposure: MetricsExposure
  /** The rule set new requests use (its size is in `/readyz`). */
  rules: () => RuleSet
  shuttingDown: () => boolean
  /** Told the URL of `/metrics` on its own listener, once it listens. */
  onMetricsListening: (url: string) => void
}

const opsConfig = { config: { sluice: false as const, rateLimit: false as const } }

/** The URL of `/metrics` on a listener. */
function metricsUrlOf (server: Server): string {
  const address = server.address() as AddressInfo
  return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/metrics`
}

/** `/metrics` alone, on a listener of its own; closed when the app closes. */
function listenForMetrics (app: FastifyInstance, port: number, { metrics, exposure, onMetricsListening }: OpsRoutesOptions, scrapeAllowed: ((authorization: string | undefined) => boolean) | undefined): void {
  let server: Server | undefined
  function serveScrape (req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '').split('?')[0]
    if (req.method !== 'GET' || path !== '/metrics') {
      sendRawError(res, 404, 'Only GET /metrics is served here.', 'SLUICE_NOT_FOUND')
      return
    }
    if (scrapeAllowed !== undefined && !scrapeAllowed(req.headers.authorization)) {
      const err = new UnauthorizedError()
      sendRawError(res, 401, err.message, err.code)
      return
    }
    metrics.metrics().then((text) => {
      res.writeHead(200, { 'content-type': metrics.contentType }).end(text)
    }, () => {
      res.writeHead(500).end()
    })
  }
  app.addHook('onReady', async function listenMetrics () {
    const listening = createServer(serveScrape)
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject)
      listening.listen(port, exposure.host, () => {
        listening.off('error', reject)
        resolve()
      })
    })
    server = listening
    onMetricsListening(metricsUrlOf(listening))
  })
  app.addHook('onClose', async function closeMetricsListener () {
    if (server !== undefined) await new Promise((resolve) => server?.close(resolve))
  })
}

/**
 * Registers the probes and `/metrics`.
 *
 * @example
 * registerOpsRoutes(app, { metrics, exposure: config.metrics, rules: () => ruleSet, shuttingDown: () => false, onMetricsListening: () => {} })
 */
export function registerOpsRoutes (app: FastifyInstance, opts: OpsRoutesOptions): void {
  const { metrics, exposure, rules, shuttingDown } = opts
  app.get('/healthz', opsConfig, async () => ({ status: 'ok' }))
  app.get('/readyz', opsConfig, async (_request, reply) => {
    if (shuttingDown()) return reply.code(503).send({ status: 'shutting_down' })
    return { status: 'ready', rules: rules().rules.length }
  })
  // Without a token every scrape is allowed (on its own listener, or a trusted network).
  const scrapeAllowed = exposure.tokenHash === undefined ? undefined : createBearerCheck(exposure.tokenHash)
  if (exposure.port !== undefined) {
    // Its own listener: scrapes reach it on an internal address, clients never.
    listenForMetrics(app, exposure.port, opts, scrapeAllowed)
    return
  }
  const tokenCheck = scrapeAllowed === undefined
    ? {}
    : {
        onRequest: function metricsToken (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void) {
          done(scrapeAllowed(request.headers.authorization) ? undefined : new UnauthorizedError())
        }
      }
  app.get('/metrics', { ...opsConfig, ...tokenCheck }, async (_request, reply) => {
    return reply.type(metrics.contentType).send(await metrics.metrics())
  })
}
