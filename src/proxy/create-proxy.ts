/**
 * @module proxy/create-proxy
 * The standalone compliance proxy as one Fastify app: client auth, rate
 * limit, request validation, the input stage, forwarding to the provider and
 * the Sluice plugin on every answer (streamed or not), plus health, readiness
 * and metrics. Only wiring lives here; each concern has its own file:
 * errors in the OpenAI shape (error-replies.ts), client keys
 * (client-auth.ts), the request body (request-body.ts), the routes to the
 * provider (forwarding-routes.ts) and the answer's way back (relay.ts), the
 * probes and metrics (ops-routes.ts), the logger (proxy-logger.ts).
 */
import { InvalidOptionsError } from '../errors.js'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import Fastify from 'fastify'
import type { FastifyHttpOptions, FastifyInstance } from 'fastify'
import type { DestinationStream, Logger } from 'pino'
import { createAuditLog } from '../audit/create-audit-log.js'
import type { AuditLog } from '../audit/create-audit-log.js'
import { sluice } from '../plugin/index.js'
import type { StreamOutcome } from '../plugin/options.js'
import { createDiskRuleCache } from '../disk-rule-cache.js'
import { composeRulePaths, loadRuleSet } from '../rules/load-rules.js'
import type { RuleSet } from '../rules/rule-set.js'
import { resolveHmacKey } from '../scanner/digest.js'
import { createClientAuth } from './client-auth.js'
import { badRequest, setErrorReplies } from './error-replies.js'
import { createUpstreamClient } from './forward.js'
import { clientWentAway, registerForwardingRoutes } from './forwarding-routes.js'
import { createGatewayFeatures } from './gateway-features.js'
import { createInputStage } from './input-stage.js'
import { createMetrics } from './metrics.js'
import type { ProxyMetrics } from './metrics.js'
import { registerOpsRoutes } from './ops-routes.js'
import type { ProxyConfig } from './proxy-config.js'
import { createProxyLogger } from './proxy-logger.js'
import { registerRateLimit } from './rate-limit.js'
import { createRelay } from './relay.js'
import { useBoundedJsonParser } from './request-body.js'
import { isOriginForm } from './request-target.js'
import { createRuleReloader } from './rule-reloader.js'

export interface CreateProxyOptions {
  /** Where request logs go (default stdout); tests pass a sink to read them. */
  logStream?: DestinationStream
  /** An already loaded rule set (skips loading `config.rules`; no file watching). */
  ruleSet?: RuleSet
}

/** What the proxy adds to its Fastify instance. */
export interface ProxyState {
  readonly metrics: ProxyMetrics
  readonly audit: AuditLog
  /** The rule set new requests use. */
  readonly ruleSet: RuleSet
  /** True once shutdown began: `/readyz` answers 503. */
  readonly shuttingDown: boolean
  /** Marks the proxy as draining (`/readyz` 503) before `app.close()`. */
  beginShutdown: () => void
  /** Streams and upstream requests in flight. */
  readonly inFlight: number
  /** `http://host:port/metrics` when metrics have their own listener (after `ready`). */
  readonly metricsUrl: string | undefined
}

declare module 'fastify' {
  interface FastifyInstance {
    sluiceProxy: ProxyState
  }
}

/** Fastify's options: the client-side limits, request ids, and how closing treats open connections. */
/**
 * The HTTP versions served: HTTP/1.1; with TLS files HTTPS, and with
 * `http2` HTTP/2 beside HTTP/1.1 (ALPN picks); `http2` without TLS is h2c
 * with prior knowledge, what a load balancer speaks to its backends (no
 * HTTP/1.1 on that port: Node has no h2c upgrade).
 */
function protocolOptions (config: ProxyConfig): Record<string, unknown> {
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) throw new InvalidOptionsError('TLS needs both a certificate (--tls-cert) and its key (--tls-key)')
  const tls = config.tlsCert === undefined || config.tlsKey === undefined ? undefined : { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) }
  if (config.http2) return tls === undefined ? { http2: true } : { http2: true, https: { ...tls, allowHTTP1: true } }
  return tls === undefined ? {} : { https: tls }
}

function serverOptions (config: ProxyConfig, logger: Logger): FastifyHttpOptions<Server, Logger> {
  const limits = config.connections
  return {
    ...protocolOptions(config),
    loggerInstance: logger,
    bodyLimit: config.bodyLimit,
    // A hop count is proxy-addr's too; Fastify's types omit it.
    trustProxy: config.trustProxy as boolean | string | string[],
    // Judged per request and per silent socket, never on a whole answer: a
    // long SSE stream is limited by the upstream idle and total timeouts.
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.socketIdleMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxRequestsPerSocket: limits.maxRequestsPerSocket,
    // Node checks request and header deadlines on this interval (30 s by
    // default, which would let a slow client run up to 30 s past them).
    http: { headersTimeout: limits.headersTimeoutMs, requestTimeout: limits.requestTimeoutMs, connectionsCheckingInterval: 1000 },
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // Streams end on their own; new requests on kept-alive sockets get 503 while closing.
    return503OnClosing: true,
    // HTTP/2 servers have no idle connections to close (sessions are closed with the server).
    ...(config.http2 ? {} : { forceCloseConnections: 'idle' as const })
  }
}

function auditLogOf (config: ProxyConfig): AuditLog {
  if (config.audit === false) return createAuditLog({ destination: false })
  return createAuditLog({
    destination: config.audit,
    checkpointEvery: config.auditCheckpointEvery,
    ...(config.auditChainKey === undefined ? {} : { chainKey: config.auditChainKey }),
    ...(config.auditCheckpointKey === undefined ? {} : { checkpointKey: config.auditCheckpointKey }),
    ...(config.auditRotate === undefined ? {} : { rotate: config.auditRotate })
  })
}

/** The request hooks every route shares: the request id header, origin-form targets only, the bounded JSON parser, request metrics. */
function addRequestHooks (app: FastifyInstance, maxJsonDepth: number, metrics: ProxyMetrics): void {
  // Lets a client quote the id that audit records and logs carry. Callback
  // hooks: an async one costs a promise and a microtask turn per request.
  app.addHook('onRequest', function requestIdHeader (request, reply, done) {
    void reply.header('x-sluice-request-id', request.id)
    done(isOriginForm(request.raw.url ?? '') ? undefined : badRequest('The request target must be a path (origin-form); absolute URLs are not accepted.', null))
  })
  useBoundedJsonParser(app, maxJsonDepth)
  app.addHook('onResponse', function observeResponse (request, reply, done) {
    metrics.observeRequest(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000)
    done()
  })
}

interface AnswerScanning {
  rules: () => RuleSet
  audit: AuditLog
  maxBodySize: number
  metrics: ProxyMetrics
  compress: boolean
}

/** The Sluice plugin on every answer, sharing the request side's audit log (one writer, one hash chain). */
async function scanAnswers (app: FastifyInstance, { rules, audit, maxBodySize, metrics, compress }: AnswerScanning): Promise<void> {
  await app.register(sluice, {
    rules,
    compress,
    // The plugin writes output findings (with their channel) and the stream summaries.
    audit,
    maxBodySize,
    onFinding: (finding) => { metrics.countFinding(finding, 'output') },
    onCut: (finding, request) => {
      request.log.info({ ruleId: finding.ruleId, category: finding.category }, 'answer cut by rule')
    },
    onStreamEnd: (outcome: StreamOutcome) => { metrics.observeStreamEnd(outcome) }
  })
}

/**
 * Builds the proxy app (not listening yet: call `app.listen`). Loads the
 * rules first, so a broken rule file fails here and not on a request.
 *
 * @example
 * const config = await resolveProxyConfig({ argv: ['--upstream', 'http://127.0.0.1:9000'], env: process.env })
 * const app = await createProxy(config)
 * await app.listen({ host: config.host, port: config.port })
 */
export async function createProxy (config: ProxyConfig, options: CreateProxyOptions = {}): Promise<FastifyInstance> {
  // The shipped rules first, then the configured paths: their files add to, disable or override the shipped ones.
  const rulePaths = composeRulePaths(config.rules, config.defaultRules)
  const initialRules = options.ruleSet ?? await loadRuleSet(rulePaths, { cache: createDiskRuleCache() })
  const app = Fastify(serverOptions(config, createProxyLogger(config.logLevel, options.logStream))) as unknown as FastifyInstance
  app.server.maxConnections = config.connections.maxConnections

  // One key for every input scan (read once, not from process.env per scan);
  // the plugin resolves the same one (SLUICE_HMAC_KEY or the process key).
  const metrics = createMetrics()
  const gateway = createGatewayFeatures(config, metrics)
  const inputStage = createInputStage(config.input, { hmacKey: resolveHmacKey() }, gateway.inputPseudonyms)
  inputStage.prepare(initialRules)
  gateway.prepareRules(initialRules)
  const audit = auditLogOf(config)
  const reloader = options.ruleSet === undefined && config.watchRules
    ? createRuleReloader({
      paths: rulePaths,
      initial: initialRules,
      logger: app.log,
      onReload: (rs) => {
        inputStage.prepare(rs)
        gateway.prepareRules(rs)
        audit.event('rules_reloaded', { rules: rs.rules.length, files: rs.files.length })
      }
    })
    : undefined
  const rules = reloader === undefined ? () => initialRules : reloader.current
  const upstream = createUpstreamClient({
    upstream: config.upstream,
    upstreamKeys: config.upstreamKeys,
    forwardClientAuth: config.forwardClientAuth,
    retries: config.retries,
    retryBaseDelayMs: config.retryBaseDelayMs,
    retryMaxDelayMs: config.retryMaxDelayMs,
    timeouts: config.timeouts,
    metrics,
    allowH2: config.upstreamHttp2
  })
  const auth = createClientAuth(config)
  let metricsUrl: string | undefined
  let shuttingDown = false
  // Streams and upstream exchanges in flight, for the shutdown's grace period and its log lines.
  let inFlight = 0
  const exchanges = { started: () => { inFlight++ }, ended: () => { inFlight-- } }

  app.decorate('sluiceProxy', {
    metrics,
    audit,
    get ruleSet () { return rules() },
    get shuttingDown () { return shuttingDown },
    get inFlight () { return inFlight },
    get metricsUrl () { return metricsUrl },
    beginShutdown () { shuttingDown = true }
  } satisfies ProxyState)
  app.addHook('preClose', async () => { shuttingDown = true })
  app.addHook('onClose', async () => {
    reloader?.close()
    await upstream.destroy()
    await gateway.close()
    await audit.close()
  })

  setErrorReplies(app, { bodyLimit: config.bodyLimit, requestTimeoutMs: config.connections.requestTimeoutMs, clientGone: clientWentAway })
  addRequestHooks(app, config.maxJsonDepth, metrics)
  await scanAnswers(app, { rules, audit, maxBodySize: config.maxBodySize, metrics, compress: config.compress })
  if (config.rateLimit !== false) {
    await registerRateLimit(app, { ...config.rateLimit, ...(config.redis === undefined ? {} : { redisUrl: config.redis }), keyOf: auth.rateLimitKey })
  }
  const relay = createRelay({
    maxBodySize: config.maxBodySize,
    streams: {
      started: () => { metrics.streamStarted(); exchanges.started() },
      ended: () => { metrics.streamEnded(); exchanges.ended() }
    }
  })
  registerForwardingRoutes(app, { upstream, relay, auth, forwardClientAuth: config.forwardClientAuth, inputStage, rules, audit, metrics, exchanges, gateway })
  registerOpsRoutes(app, { metrics, exposure: config.metrics, rules, shuttingDown: () => shuttingDown, onMetricsListening: (url) => { metricsUrl = url } })
  return app
}
