/**
 * @module proxy/create-proxy
 * The standalone compliance proxy as one Fastify app: client auth, rate
 * limit, request validation, the input stage, forwarding to the provider and
 * the Sluice plugin on every answer (streamed or not), plus health, readiness
 * and metrics. Only wiring lives here; each concern has its own file.
 *
 * Errors leave in the OpenAI error shape, `{ error: { message, type, param,
 * code } }`, with our `SLUICE_*` code, whatever raised them (our routes,
 * fastify's body parser, the rate limiter), and the process keeps serving.
 *
 * Logs never carry credentials or message content: the request serializer
 * keeps method, path, id and peer only; redaction paths are a second line of
 * defence; error messages that may quote a body (JSON syntax errors quote
 * the text) are replaced before they are logged or sent.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import pino from 'pino'
import type { DestinationStream } from 'pino'
import { createAuditLog } from '../audit/create-audit-log.js'
import type { AuditLog } from '../audit/create-audit-log.js'
import { onClientGone } from '../client-gone.js'
import { decodeBodyText } from '../http/charset.js'
import { collectBody } from '../http/collect-body.js'
import { drainRequest } from '../http/drain-request.js'
import { exceedsJsonDepth } from '../http/json-depth.js'
import { canonicalMediaType, parseContentType, sniffBodyKind } from '../http/media-types.js'
import { allowedResponseHeaders } from '../http/response-headers.js'
import { BadRequestError, InputRejectedError, NotFoundError, PayloadTooLargeError, ProxyInternalError, UnauthorizedError, UpstreamError } from '../errors.js'
import { sluice } from '../plugin.js'
import type { StreamOutcome } from '../plugin-options.js'
import { composeRulePaths, loadRuleSet } from '../rules/load-rules.js'
import type { RuleSet } from '../rules/rule-set.js'
import { resolveHmacKey } from '../scanner/digest.js'
import { createCanceller, createUpstreamClient } from './forward.js'
import type { Canceller, ForwardResponse } from './forward.js'
import { createInputStage } from './input-stage.js'
import { kProviderRoutes } from './provider-routes.js'
import type { GenerationRoute } from './provider-routes.js'
import type { InputRoute } from './input-stage.js'
import { createMetrics } from './metrics.js'
import type { ProxyMetrics } from './metrics.js'
import { hashApiKey } from './proxy-config.js'
import type { ProxyClient, ProxyConfig } from './proxy-config.js'
import { registerRateLimit } from './rate-limit.js'
import { isOriginForm, upstreamTarget } from './request-target.js'
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

const generationRoutes: GenerationRoute[] = [
  { url: '/v1/chat/completions', input: 'chat', authStyle: 'bearer' },
  { url: '/v1/completions', input: 'completions', authStyle: 'bearer' },
  { url: '/v1/responses', input: 'responses', authStyle: 'bearer' },
  // The Anthropic SDKs call beta endpoints as `/v1/messages?beta=true`.
  { url: '/v1/messages', input: 'messages', authStyle: 'x-api-key', query: ['beta'] },
  ...kProviderRoutes
]

type JsonObject = Record<string, unknown>

/** Set on a request whose client went away (its upstream call was aborted for that). */
const kClientGone = Symbol('sluice.clientGone')
/** The request's client (see `clientOf`): null when its key matched none. */
const kClient = Symbol('sluice.client')

function isObject (value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** OpenAI's error `type` for a status (what SDKs and clients switch on). */
function errorType (status: number): string {
  if (status === 401) return 'authentication_error'
  if (status === 429) return 'rate_limit_error'
  if (status === 504) return 'timeout_error'
  if (status === 502) return 'upstream_error'
  if (status >= 500) return 'server_error'
  return 'invalid_request_error'
}

export function errorBody (status: number, message: string, code: string | null, param: string | null = null): { error: { message: string, type: string, param: string | null, code: string | null } } {
  return { error: { message, type: errorType(status), param, code } }
}

/** A request error with the body field it is about (OpenAI's `param`). */
function badRequest (message: string, param: string | null): Error {
  const err = new BadRequestError(message)
  ;(err as Error & { param?: string | null }).param = param
  return err
}

/** The shape checks a provider would make first; the provider still has the last word. */
function validateBody (route: InputRoute, body: unknown): JsonObject {
  if (!isObject(body)) throw badRequest('The request body must be a JSON object.', null)
  if (typeof body.model !== 'string' || body.model.length === 0) {
    throw badRequest(body.model === undefined ? "Missing required parameter: 'model'." : "Invalid type for 'model': expected a non-empty string.", 'model')
  }
  if (body.stream !== undefined && typeof body.stream !== 'boolean') {
    throw badRequest("Invalid type for 'stream': expected a boolean.", 'stream')
  }
  const checkMessages = (): void => {
    if (body.messages === undefined) throw badRequest("Missing required parameter: 'messages'.", 'messages')
    if (!Array.isArray(body.messages) || body.messages.length === 0 || !body.messages.every(isObject)) {
      throw badRequest("Invalid type for 'messages': expected a non-empty array of message objects.", 'messages')
    }
    body.messages.forEach((m, i) => {
      if (isObject(m) && typeof m.role !== 'string') throw badRequest(`Missing required parameter: 'messages[${i}].role'.`, `messages[${i}].role`)
    })
  }
  switch (route) {
    case 'chat':
    case 'messages':
      checkMessages()
      break
    case 'completions':
      if (typeof body.prompt !== 'string' && !Array.isArray(body.prompt)) {
        throw badRequest(body.prompt === undefined ? "Missing required parameter: 'prompt'." : "Invalid type for 'prompt': expected a string or an array.", 'prompt')
      }
      break
    case 'responses':
      if (body.input !== undefined && typeof body.input !== 'string' && !Array.isArray(body.input)) {
        throw badRequest("Invalid type for 'input': expected a string or an array.", 'input')
      }
      break
  }
  return body
}

/**
 * The client's key: `Authorization: Bearer KEY` (OpenAI), `x-api-key: KEY`
 * (Anthropic), `x-goog-api-key: KEY` or a `key` query parameter (Gemini's SDKs).
 */
function clientKeyOf (request: FastifyRequest): string | undefined {
  const bearer = bearerToken(request.headers.authorization)
  if (bearer !== undefined) return bearer
  for (const name of ['x-api-key', 'x-goog-api-key']) {
    const value = request.headers[name]
    if (typeof value === 'string' && value.length > 0) return value
  }
  const key = (request.query as Record<string, unknown> | undefined)?.key
  return typeof key === 'string' && key.length > 0 ? key : undefined
}

/** A known client: its key's position and the identity headers it may send upstream. */
interface KnownClient {
  readonly index: number
  readonly forwardHeaders: ReadonlySet<string>
}

/** The token of `Authorization: Bearer TOKEN`, if that is what the header holds. */
function bearerToken (authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined
  return /^Bearer\s+(.+)$/i.exec(authorization.trim())?.[1]
}

/**
 * Finds which stored SHA-256 hash a secret (a client key, the metrics token)
 * has: its index, or -1. Compares against every stored hash, always all of
 * them, with `timingSafeEqual` on equal-length digests: neither the position
 * of a match nor a prefix of the secret shows in the timing.
 */
function createSecretMatcher (hashes: readonly string[]): (secret: string | undefined) => number {
  const digests = hashes.map((h) => Buffer.from(h, 'hex'))
  return function matchSecret (secret) {
    if (secret === undefined) return -1
    const digest = Buffer.from(hashApiKey(secret), 'hex')
    let found = -1
    for (let i = 0; i < digests.length; i++) {
      if (timingSafeEqual(digest, digests[i] as Buffer) && found < 0) found = i
    }
    return found
  }
}

/** Finds a client by key: plain `apiKeys` first, then `clients`, with the identity headers each may send. */
function createClientDirectory (apiKeyHashes: readonly string[], clients: readonly ProxyClient[], everyone: readonly string[]): (key: string | undefined) => KnownClient | undefined {
  const all = [...apiKeyHashes.map((keyHash) => ({ keyHash, forwardHeaders: [] as string[] })), ...clients]
  const known: KnownClient[] = all.map((c, index) => ({ index, forwardHeaders: new Set([...everyone, ...c.forwardHeaders]) }))
  const match = createSecretMatcher(all.map((c) => c.keyHash))
  return function findClient (key) {
    return known[match(key)]
  }
}

/** `Authorization: Bearer TOKEN` whose SHA-256 is `tokenHash`. */
function createBearerCheck (tokenHash: string): (authorization: string | undefined) => boolean {
  const match = createSecretMatcher([tokenHash])
  return (authorization) => match(bearerToken(authorization)) === 0
}

/** Query parameters of the model list (Anthropic pages it; OpenAI takes none). */
const modelListQuery: ReadonlySet<string> = new Set(['limit', 'after_id', 'before_id', 'beta'])

/** Largest request body read only to be thrown away, so a 413 reaches the client. */
const kMaxDrainBytes = 64 * 1024 * 1024

/** Error messages safe to send and log (they never quote the request). */
function publicError (err: FastifyError & { param?: string | null }, bodyLimit: number): { status: number, message: string, code: string, param: string | null } {
  const code = err.code
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.statusCode === 413) {
    return { status: 413, message: new PayloadTooLargeError(bodyLimit).message, code: 'SLUICE_PAYLOAD_TOO_LARGE', param: null }
  }
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return { status: 400, message: "Unsupported Content-Type: send 'application/json'.", code: 'SLUICE_BAD_REQUEST', param: null }
  }
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return { status: 400, message: 'The request body is empty; expected a JSON object.', code: 'SLUICE_BAD_REQUEST', param: null }
  }
  if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError || (err.statusCode === 400 && code === undefined)) {
    // Node's JSON.parse messages quote the body: never echo them.
    return { status: 400, message: 'The request body is not valid JSON.', code: 'SLUICE_BAD_REQUEST', param: null }
  }
  if (typeof code === 'string' && code.startsWith('SLUICE_')) {
    return { status: err.statusCode ?? 500, message: err.message, code, param: err.param ?? null }
  }
  const status = err.statusCode ?? 500
  if (status === 429) return { status, message: err.message || 'Rate limit exceeded.', code: 'SLUICE_RATE_LIMITED', param: null }
  if (status >= 400 && status < 500) return { status, message: err.message, code: code ?? 'SLUICE_BAD_REQUEST', param: null }
  const internal = new ProxyInternalError()
  return { status: 500, message: internal.message, code: internal.code, param: null }
}

/** pino options for request logs: no headers, no bodies, no query strings. */
function loggerOptions (level: string): pino.LoggerOptions {
  return {
    level,
    redact: {
      paths: [
        'req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers["x-goog-api-key"]', 'req.headers.cookie',
        'headers.authorization', 'headers["x-api-key"]', 'headers["x-goog-api-key"]', 'upstreamKeys', 'apiKeys', 'body', 'req.body'
      ],
      censor: '[redacted]'
    },
    serializers: {
      req (req: { method?: string, url?: string, id?: string, ip?: string, socket?: { remoteAddress?: string } }) {
        // The query string could carry a key (`?api_key=`): log the path only.
        return { id: req.id, method: req.method, path: (req.url ?? '').split('?')[0], remoteAddress: req.ip ?? req.socket?.remoteAddress }
      },
      res (res: { statusCode?: number }) {
        return { statusCode: res.statusCode }
      },
      err (err: { code?: string, statusCode?: number, name?: string, message?: string, stack?: string }) {
        // Only our coded errors have messages we wrote (and know to be free of content).
        const ours = typeof err.code === 'string' && err.code.startsWith('SLUICE_')
        return { type: err.name, code: err.code, statusCode: err.statusCode, ...(ours ? { message: err.message } : {}) }
      }
    }
  }
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
  const initialRules = options.ruleSet ?? await loadRuleSet(rulePaths)
  const logger = options.logStream === undefined ? pino(loggerOptions(config.logLevel)) : pino(loggerOptions(config.logLevel), options.logStream)
  const limits = config.connections
  const app = Fastify({
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
    forceCloseConnections: 'idle'
  }) as unknown as FastifyInstance
  app.server.maxConnections = limits.maxConnections

  // One key for every input scan (read once, not from process.env per scan);
  // the plugin resolves the same one (SLUICE_HMAC_KEY or the process key).
  const inputStage = createInputStage(config.input, { hmacKey: resolveHmacKey() })
  inputStage.prepare(initialRules)
  const metrics = createMetrics()
  const audit = config.audit === false
    ? createAuditLog({ destination: false })
    : createAuditLog({
      destination: config.audit,
      checkpointEvery: config.auditCheckpointEvery,
      ...(config.auditChainKey === undefined ? {} : { chainKey: config.auditChainKey }),
      ...(config.auditCheckpointKey === undefined ? {} : { checkpointKey: config.auditCheckpointKey }),
      ...(config.auditRotate === undefined ? {} : { rotate: config.auditRotate })
    })
  const reloader = options.ruleSet === undefined && config.watchRules
    ? createRuleReloader({
      paths: rulePaths,
      initial: initialRules,
      logger: app.log,
      onReload: (rs) => {
        inputStage.prepare(rs)
        audit.event('rules_reloaded', { rules: rs.rules.length, files: rs.files.length })
      }
    })
    : undefined
  const currentRules = reloader === undefined ? () => initialRules : reloader.current
  const upstream = createUpstreamClient({
    upstream: config.upstream,
    upstreamKeys: config.upstreamKeys,
    forwardClientAuth: config.forwardClientAuth,
    retries: config.retries,
    retryBaseDelayMs: config.retryBaseDelayMs,
    retryMaxDelayMs: config.retryMaxDelayMs,
    timeouts: config.timeouts,
    metrics
  })
  const findClient = createClientDirectory(config.apiKeyHashes, config.clients, config.forwardHeaders)
  const requireKey = config.apiKeyHashes.length > 0 || config.clients.length > 0
  const anyone: KnownClient = { index: -1, forwardHeaders: new Set(config.forwardHeaders) }
  /** The client a request authenticates as (looked up once per request), or undefined. */
  function clientOf (request: FastifyRequest): KnownClient | undefined {
    const holder = request as unknown as Record<symbol, KnownClient | null | undefined>
    let client = holder[kClient]
    if (client === undefined) {
      client = findClient(clientKeyOf(request)) ?? null
      holder[kClient] = client
    }
    return client ?? undefined
  }
  let metricsServer: Server | undefined
  let metricsUrl: string | undefined
  let shuttingDown = false
  let inFlight = 0

  app.decorate('sluiceProxy', {
    metrics,
    audit,
    get ruleSet () { return currentRules() },
    get shuttingDown () { return shuttingDown },
    get inFlight () { return inFlight },
    get metricsUrl () { return metricsUrl },
    beginShutdown () { shuttingDown = true }
  } satisfies ProxyState)

  app.addHook('preClose', async () => { shuttingDown = true })
  app.addHook('onClose', async () => {
    reloader?.close()
    if (metricsServer !== undefined) await new Promise((resolve) => metricsServer?.close(resolve))
    await upstream.destroy()
    await audit.close()
  })

  app.setErrorHandler(function sluiceErrorHandler (err: FastifyError & { param?: string | null }, request, reply) {
    const clientGone = reply.raw.destroyed || (request as unknown as Record<symbol, boolean>)[kClientGone] === true
    if (clientGone && (err.name === 'AbortError' || err.code === 'UND_ERR_ABORTED')) {
      // The client went away before the answer started: nothing to send, nothing wrong.
      request.log.info('request cancelled by the client before the answer started')
      return
    }
    const e = publicError(err, config.bodyLimit)
    // `code` is not always a string (a DOMException's is a number).
    if (e.status >= 500 && !String(err.code ?? '').startsWith('SLUICE_UPSTREAM')) request.log.error({ err }, 'request failed')
    else request.log.info({ err, statusCode: e.status }, 'request refused')
    if (reply.sent || reply.raw.headersSent) return
    if (e.status === 413 && !request.raw.complete) {
      // Answer once the client has finished sending (see http/drain-request.ts), then close.
      return drainRequest(request.raw, kMaxDrainBytes, limits.requestTimeoutMs).then(() => {
        void reply.code(413).header('connection', 'close').type('application/json').send(errorBody(413, e.message, e.code, e.param))
        return reply
      })
    }
    const headers = (err as { headers?: Record<string, string> }).headers
    if (headers !== undefined) void reply.headers(headers)
    void reply.code(e.status).type('application/json').send(errorBody(e.status, e.message, e.code, e.param))
  })
  app.setNotFoundHandler(function sluiceNotFound (request, reply) {
    const err = new NotFoundError(request.method, (request.url).split('?')[0])
    void reply.code(404).type('application/json').send(errorBody(404, err.message, err.code))
  })

  // Lets a client quote the id that audit records and logs carry. Callback
  // hooks: an async one costs a promise and a microtask turn per request.
  app.addHook('onRequest', function requestIdHeader (request, reply, done) {
    void reply.header('x-sluice-request-id', request.id)
    done(isOriginForm(request.raw.url ?? '') ? undefined : badRequest('The request target must be a path (origin-form); absolute URLs are not accepted.', null))
  })

  // Fastify's JSON parser (with its prototype-poisoning checks), behind a
  // nesting limit: a deeply nested body is a 400, not a stack overflow.
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, function parseBoundedJson (request, body, done) {
    const text = String(body)
    if (exceedsJsonDepth(text, config.maxJsonDepth)) {
      done(badRequest(`The request body nests deeper than ${config.maxJsonDepth} levels.`, null), undefined)
      return
    }
    parseJson(request, text, done)
  })
  app.addHook('onResponse', function observeResponse (request, reply, done) {
    metrics.observeRequest(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000)
    done()
  })

  await app.register(sluice, {
    rules: currentRules,
    // Shared with the request side: one writer, one hash chain. The plugin
    // writes output findings (with their channel) and the stream summaries.
    audit,
    maxBodySize: config.maxBodySize,
    onFinding: (finding) => { metrics.countFinding(finding, 'output') },
    onCut: (finding, request) => {
      request.log.info({ ruleId: finding.ruleId, category: finding.category }, 'answer cut by rule')
    },
    onStreamEnd: (outcome: StreamOutcome) => { metrics.observeStreamEnd(outcome) }
  })

  if (config.rateLimit !== false) {
    await registerRateLimit(app, {
      max: config.rateLimit.max,
      timeWindow: config.rateLimit.timeWindow,
      ...(config.redis === undefined ? {} : { redisUrl: config.redis }),
      // Per authenticated client when keys are configured, else per address
      // (`trustProxy`-aware): a key the proxy does not know is no identity,
      // or a fresh random key per request would get a fresh bucket.
      keyOf: (request) => {
        const client = requireKey ? clientOf(request) : undefined
        return client === undefined ? `ip:${request.ip}` : `client:${client.index}`
      }
    })
  }

  function authenticate (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void {
    done(clientOf(request) === undefined ? new UnauthorizedError() : undefined)
  }
  // No hook at all when no client key is required.
  const authOptions = requireKey ? { onRequest: authenticate } : {}

  /**
   * Aborts the upstream call the moment the client goes away: at its FIN or
   * RST on the socket (see client-gone.ts), which aborts undici's request
   * and destroys its socket in the same call.
   */
  function abortOnClientClose (request: FastifyRequest, reply: FastifyReply): Canceller {
    const controller = createCanceller()
    onClientGone(reply.raw, () => {
      if (controller.signal.aborted) return
      ;(request as unknown as Record<symbol, boolean>)[kClientGone] = true
      request.log.info('client went away; upstream request cancelled')
      metrics.countUpstreamError('cancelled')
      controller.abort()
    })
    return controller
  }

  /**
   * Sends the upstream answer through the plugin, which scans every body
   * whatever its status or type (or refuses it): event streams as streams,
   * everything else whole, bounded by `maxBodySize`. Only the allowed
   * upstream headers go on, each scanned with the rules; Sluice's own
   * (`x-sluice-request-id`) are set by Sluice and never taken from upstream.
   */
  async function relay (reply: FastifyReply, res: ForwardResponse): Promise<FastifyReply> {
    if (res.status >= 500) {
      res.body.destroy()
      throw new UpstreamError(`upstream answered ${res.status} after ${res.attempts} attempt(s)`)
    }
    const headers = allowedResponseHeaders(res.headers)
    const type = parseContentType(headers['content-type'])
    // A label given twice (or none): the plugin sniffs the body instead.
    if (type.ambiguous) delete headers['content-type']
    void reply.code(res.status).headers(headers)
    if (res.status < 300 && (type.kind === 'sse' || type.kind === 'ndjson')) {
      metrics.streamStarted()
      inFlight++
      reply.raw.once('close', () => {
        metrics.streamEnded()
        inFlight--
      })
      return reply.send(res.body)
    }
    // Whole bodies are read here, so an idle or total timeout is still a clean 502/504.
    const bytes = await collectBody(res.body, config.maxBodySize, () => new UpstreamError('upstream body closed before its end'))
    // Bytes under the upstream's label (the plugin decodes its charset).
    // Unlabelled, or labelled twice: text labelled as what it reads as (the
    // plugin sniffs it again; a Buffer would be labelled octet-stream, and
    // SDKs parse only a body labelled JSON).
    if (!type.ambiguous) return reply.send(bytes)
    const text = decodeBodyText(bytes, undefined)
    return reply.type(canonicalMediaType(sniffBodyKind(text))).send(text)
  }

  for (const route of generationRoutes) {
    // Gemini's `key` parameter is the client's credential: upstream only when the client's own key is what goes there.
    const query: ReadonlySet<string> = new Set([...(route.query ?? []), ...(config.forwardClientAuth && route.authStyle === 'x-goog-api-key' ? ['key'] : [])])
    app.post(route.url, authOptions, async function generate (request, reply) {
      const body = route.validate === undefined ? validateBody(route.input, request.body) : route.validate(request.body, request.params)
      const input = inputStage.run(currentRules(), body)
      const ctx = { requestId: String(request.id), route: route.url, stream: 'input' }
      for (const f of input.findings) {
        if (audit.enabled) audit.finding(ctx, { ruleId: f.ruleId, category: f.category, action: f.decision === 'reject' ? 'cut' : f.action, severity: f.severity, start: f.start, length: f.length, digest: f.digest })
        metrics.countFinding({ ruleId: f.ruleId, category: f.category, action: f.decision }, 'input')
      }
      if (input.findings.length > 0) {
        request.log.info({ findings: input.findings.map((f) => ({ ruleId: f.ruleId, decision: f.decision, field: f.field })) }, 'input findings')
      }
      if (input.rejected !== undefined) {
        throw new InputRejectedError(input.rejected.ruleId, input.rejected.category)
      }
      const controller = abortOnClientClose(request, reply)
      inFlight++
      try {
        const res = await upstream.forward({
          method: 'POST',
          path: upstreamTarget(route.url, request.params, request.url, query),
          headers: request.headers,
          forwardHeaders: (clientOf(request) ?? anyone).forwardHeaders,
          body: JSON.stringify(input.body),
          authStyle: route.authStyle,
          signal: controller.signal
        })
        return await relay(reply, res)
      } finally {
        inFlight--
      }
    })
  }

  // Scanned like every answer: the model list is upstream text too.
  app.get('/v1/models', authOptions, async function models (request, reply) {
    const controller = abortOnClientClose(request, reply)
    const res = await upstream.forward({
      method: 'GET',
      path: upstreamTarget('/v1/models', undefined, request.url, modelListQuery),
      headers: request.headers,
      forwardHeaders: (clientOf(request) ?? anyone).forwardHeaders,
      authStyle: 'bearer',
      signal: controller.signal
    })
    return relay(reply, res)
  })

  // Probes and scrapes are neither sanitized nor rate limited (a limited health check restarts healthy pods).
  const opsConfig = { config: { sluice: false as const, rateLimit: false as const } }
  app.get('/healthz', opsConfig, async () => ({ status: 'ok' }))
  app.get('/readyz', opsConfig, async (_request, reply) => {
    if (shuttingDown) return reply.code(503).send({ status: 'shutting_down' })
    return { status: 'ready', rules: currentRules().rules.length }
  })
  // Without a token every scrape is allowed (on its own listener, or a trusted network).
  const scrapeAllowed = config.metrics.tokenHash === undefined ? undefined : createBearerCheck(config.metrics.tokenHash)
  if (config.metrics.port === undefined) {
    app.get('/metrics', {
      ...opsConfig,
      ...(scrapeAllowed === undefined
        ? {}
        : {
            onRequest: function metricsToken (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void) {
              done(scrapeAllowed(request.headers.authorization) ? undefined : new UnauthorizedError())
            }
          })
    }, async (_request, reply) => {
      return reply.type(metrics.contentType).send(await metrics.metrics())
    })
  } else {
    // Its own listener: scrapes reach it on an internal address, clients never.
    const { port, host } = config.metrics
    app.addHook('onReady', async function listenMetrics () {
      const server = createServer((req, res) => {
        const path = (req.url ?? '').split('?')[0]
        if (req.method !== 'GET' || path !== '/metrics') {
          res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify(errorBody(404, 'Only GET /metrics is served here.', 'SLUICE_NOT_FOUND')))
          return
        }
        if (scrapeAllowed !== undefined && !scrapeAllowed(req.headers.authorization)) {
          const err = new UnauthorizedError()
          res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify(errorBody(401, err.message, err.code)))
          return
        }
        metrics.metrics().then((text) => {
          res.writeHead(200, { 'content-type': metrics.contentType }).end(text)
        }, () => {
          res.writeHead(500).end()
        })
      })
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, host, () => {
          server.off('error', reject)
          resolve()
        })
      })
      metricsServer = server
      const address = server.address() as AddressInfo
      metricsUrl = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/metrics`
    })
  }

  return app
}
