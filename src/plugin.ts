/**
 * @module plugin
 * The Fastify plugin: `app.register(sluice, options)` and every answer a
 * route sends is sanitized, deny by default: whatever its status, payload
 * type, media type, charset or content encoding, a body is scanned (event
 * streams on the fly, everything else whole, see http/) or refused with a
 * coded error; only `config: { sluice: false }` opts a route out. Modelled on @fastify/compress:
 * options checked at register time, an `onSend` hook that swaps the payload
 * for `pipeline(payload, transform)`, per-route `config.sluice` overrides
 * (and `false` to opt out), a premature close is not an error.
 */
import { Readable, pipeline } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { createAuditLog } from './audit/create-audit-log.js'
import type { AuditLog } from './audit/create-audit-log.js'
import { selectFraming } from './protocols/select-codec.js'
import { onClientGone } from './client-gone.js'
import type { FindingContext } from './protocols/types.js'
import { BodyTooLargeError, InvalidOptionsError, UnscannableBodyError, UnscannableMediaTypeError } from './errors.js'
import { createCharsetTranscoder, decodeBodyText, isUtf8Charset } from './http/charset.js'
import { collectBody, kDefaultMaxBodySize } from './http/collect-body.js'
import { contentCodings, decodeContent } from './http/content-encoding.js'
import { canonicalMediaType, mediaTypeOf, parseContentType } from './http/media-types.js'
import type { BodyKind, ContentType } from './http/media-types.js'
import { sanitizeWholeBody } from './http/sanitize-whole-body.js'
import type { SluiceDecorator, SluicePluginOptions, SluiceRouteConfig, StreamOutcome } from './plugin-options.js'
import { composeRulePaths, loadRuleSet } from './rules/load-rules.js'
import type { RuleSet } from './rules/rule-set.js'
import { resolveHmacKey } from './scanner/digest.js'
import { cleanTextsOf, rememberClean } from './scanner/clean-texts.js'
import { scanText } from './scanner/scan-text.js'
import type { Finding } from './scanner/types.js'
import { sanitizeReadable } from './stream/create-sanitize-stream.js'

/**
 * Headers not scanned as text: the body's label is checked where it is
 * rewritten (`labelFor`), the encoding is removed once decoded, and the rest
 * are framing the HTTP layer owns.
 */
const kUnscannedHeaders = new Set(['content-type', 'content-length', 'content-encoding', 'transfer-encoding', 'connection', 'keep-alive'])
import type { ProtocolOption, SanitizeStream } from './stream/create-sanitize-stream.js'

export type { SluicePluginOptions, SluiceRouteConfig, SluiceDecorator, StreamOutcome } from './plugin-options.js'

declare module 'fastify' {
  interface FastifyInstance {
    sluice: SluiceDecorator
  }
  interface FastifyReply {
    /** Sanitizes `stream` for this request and marks the reply as handled by Sluice. */
    sanitize: (stream: Readable, options?: { contentType?: string }) => Readable
  }
  interface FastifyContextConfig {
    sluice?: SluiceRouteConfig
  }
}

const defaultContentTypes = ['text/event-stream', 'application/x-ndjson', 'application/json']
const kSanitized = Symbol('sluice.sanitized')
/** Media types remembered as clean per rule set (labelFor). */
const maxCleanTypes = 256
// Fastify's own register options (`prefix`, `logLevel`, …) reach the plugin too.
const knownOptions = new Set(['rules', 'defaultRules', 'audit', 'contentTypes', 'binary', 'maxBodySize', 'hmacKey', 'maxEventSize', 'coalesce', 'onFinding', 'onCut', 'onStreamEnd', 'prefix', 'logLevel', 'logSerializers'])
const knownRouteOptions = new Set(['rules', 'defaultRules', 'contentTypes', 'binary', 'onFinding', 'onCut', 'protocol'])

interface ResolvedRoute {
  rules: () => RuleSet
  contentTypes: readonly string[]
  binary: 'refuse' | 'pass'
  onFinding: SluicePluginOptions['onFinding']
  onCut: SluicePluginOptions['onCut']
  protocol: string | undefined
}

function isRuleSet (value: unknown): value is RuleSet {
  return typeof value === 'object' && value !== null && Array.isArray((value as RuleSet).rules) && Array.isArray((value as RuleSet).files)
}

/** `rules`, `contentTypes` and the callbacks are checked alike for the plugin and for a route (`where` names which). */
function checkCommon (opts: Record<string, unknown>, where: string): void {
  for (const key of ['onFinding', 'onCut', 'onStreamEnd']) {
    if (opts[key] !== undefined && typeof opts[key] !== 'function') throw new InvalidOptionsError(`${where}"${key}" must be a function`)
  }
  const types = opts.contentTypes
  if (types !== undefined && (!Array.isArray(types) || types.some((c) => typeof c !== 'string'))) {
    throw new InvalidOptionsError(`${where}"contentTypes" must be an array of strings`)
  }
  if (opts.binary !== undefined && opts.binary !== 'refuse' && opts.binary !== 'pass') {
    throw new InvalidOptionsError(`${where}"binary" must be "refuse" or "pass"`)
  }
  const rules = opts.rules
  const isPaths = typeof rules === 'string' || (Array.isArray(rules) && rules.every((p) => typeof p === 'string'))
  if (rules !== undefined && !isPaths && typeof rules !== 'function' && !isRuleSet(rules)) {
    throw new InvalidOptionsError(`${where}"rules" must be a rule set, rule file path(s) or a function returning a rule set`)
  }
  // It says whether rule paths add to the shipped rules: given with anything else, it would do nothing.
  const defaultRules = opts.defaultRules
  if (defaultRules !== undefined) {
    if (typeof defaultRules !== 'boolean') throw new InvalidOptionsError(`${where}"defaultRules" must be a boolean`)
    if (rules !== undefined && !isPaths) throw new InvalidOptionsError(`${where}"defaultRules" applies to "rules" given as paths, not to a rule set or a getter`)
    if (rules === undefined && (where !== '' || !defaultRules)) throw new InvalidOptionsError(`${where}"defaultRules" needs "rules" given as paths`)
  }
}

function checkOptions (opts: SluicePluginOptions): void {
  for (const key of Object.keys(opts)) {
    if (!knownOptions.has(key)) throw new InvalidOptionsError(`unknown option "${key}"`)
  }
  checkCommon(opts as Record<string, unknown>, '')
  if (opts.maxEventSize !== undefined && !(Number.isInteger(opts.maxEventSize) && opts.maxEventSize > 0)) {
    throw new InvalidOptionsError('"maxEventSize" must be a positive integer')
  }
  if (opts.maxBodySize !== undefined && !(Number.isInteger(opts.maxBodySize) && opts.maxBodySize > 0)) {
    throw new InvalidOptionsError('"maxBodySize" must be a positive integer')
  }
  if (opts.coalesce !== undefined && typeof opts.coalesce !== 'boolean') {
    throw new InvalidOptionsError('"coalesce" must be a boolean')
  }
  if (opts.hmacKey !== undefined && (typeof opts.hmacKey !== 'string' || opts.hmacKey === '')) {
    throw new InvalidOptionsError('"hmacKey" must be a non-empty string')
  }
  // A wrong type here would otherwise reach createAuditLog as "no destination", i.e. stdout.
  const audit: unknown = opts.audit
  const validAudit = audit === undefined || audit === false || typeof audit === 'string' || isAuditLog(audit) ||
    (typeof audit === 'object' && audit !== null && typeof (audit as { destination?: unknown }).destination === 'string')
  if (!validAudit) throw new InvalidOptionsError('"audit" must be a file path, { destination, chainKey }, an AuditLog or false')
}

/** A route's `config.sluice`, checked when the route is added so a typo fails at startup. */
function checkRouteConfig (cfg: unknown, url: string): void {
  if (cfg === undefined || cfg === false) return
  const where = `route ${url}: `
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw new InvalidOptionsError(`${where}"config.sluice" must be false or an object`)
  for (const key of Object.keys(cfg)) {
    if (!knownRouteOptions.has(key)) throw new InvalidOptionsError(`${where}unknown route option "${key}"`)
  }
  checkCommon(cfg as Record<string, unknown>, where)
  const protocol = (cfg as { protocol?: unknown }).protocol
  if (protocol !== undefined) {
    try {
      selectFraming(protocol as ProtocolOption)
    } catch {
      throw new InvalidOptionsError(`${where}"protocol" must be one of the supported protocols or "auto", not ${JSON.stringify(protocol)}`)
    }
  }
}

/** Paths load after the shipped rules (their files may disable or override shipped rules), unless `defaultRules` is false. */
async function resolveRules (rules: SluicePluginOptions['rules'], defaultRules = true): Promise<() => RuleSet> {
  if (typeof rules === 'function') return rules
  if (rules === undefined || typeof rules === 'string' || Array.isArray(rules)) {
    const set = await loadRuleSet(composeRulePaths(rules as string | string[] | undefined, defaultRules))
    return () => set
  }
  const set = rules as RuleSet
  return () => set
}

function isAuditLog (value: unknown): value is AuditLog {
  return typeof value === 'object' && value !== null && typeof (value as AuditLog).finding === 'function' && typeof (value as AuditLog).summary === 'function'
}

function isReadable (payload: unknown): payload is Readable {
  return payload !== null && typeof payload === 'object' && typeof (payload as Readable).pipe === 'function'
}

async function sluicePlugin (fastify: FastifyInstance, opts: SluicePluginOptions): Promise<void> {
  checkOptions(opts)
  let rules = await resolveRules(opts.rules, opts.defaultRules)
  // An AuditLog instance is shared with its owner (who closes it); a path
  // or options make one that this plugin owns and closes.
  const given = opts.audit
  const owned = given !== undefined && given !== false && !isAuditLog(given)
  // A shared no-op log (the proxy without --audit) counts as none: `audit?.x(...)`
  // then skips building the records it would drop, per finding and per stream.
  const audit: AuditLog | undefined = given === undefined || given === false
    ? undefined
    : isAuditLog(given) ? (given.enabled === false ? undefined : given) : createAuditLog(typeof given === 'string' ? { destination: given } : given)
  if (owned && audit !== undefined) fastify.addHook('onClose', async () => { await audit.close() })
  // Resolved once: every scanner (one per stream channel, one per JSON
  // field) would otherwise read SLUICE_HMAC_KEY from process.env again.
  const scannerOptions = { hmacKey: resolveHmacKey(opts.hmacKey) }
  // Lower-cased once: media types compare case-insensitively (RFC 9110 §8.3.1).
  const globalTypes = (opts.contentTypes ?? defaultContentTypes).map((c) => mediaTypeOf(c))
  const globalBinary = opts.binary ?? 'refuse'
  const maxBodySize = opts.maxBodySize ?? kDefaultMaxBodySize
  // Stable, so resolved routes can be cached: reads `rules` as `setRuleSet` left it.
  const currentRules = (): RuleSet => rules()

  const decorator: SluiceDecorator = {
    scan: (text) => scanText(rules(), text, scannerOptions),
    get ruleSet () { return rules() },
    setRuleSet (ruleSet) { rules = () => ruleSet }
  }
  fastify.decorate('sluice', decorator)

  // Route-level rules are found by the route's `config.sluice` object
  // itself (fastify copies `config` shallowly, so the request sees the very
  // object onRoute saw): one entry serves every method, the HEAD twin of a
  // GET route and any prefix. Sets and getters are used as given; paths
  // load in onReady (each distinct list once) so a broken file fails
  // startup, not a request.
  const routeRules = new WeakMap<object, () => RuleSet>()
  const pendingRoutePaths = new Map<object, { paths: string | readonly string[], defaultRules: boolean }>()
  fastify.addHook('onRoute', (route) => {
    const cfg = (route.config as { sluice?: unknown } | undefined)?.sluice
    checkRouteConfig(cfg, route.url)
    if (cfg === undefined || cfg === false) return
    const r = (cfg as Exclude<SluiceRouteConfig, false>).rules
    if (typeof r === 'string' || Array.isArray(r)) {
      const defaultRules = (cfg as Exclude<SluiceRouteConfig, false>).defaultRules ?? opts.defaultRules ?? true
      pendingRoutePaths.set(cfg as object, { paths: r as string | readonly string[], defaultRules })
    }
  })
  fastify.addHook('onReady', async () => {
    const loaded = new Map<string, Promise<() => RuleSet>>()
    for (const [cfg, { paths, defaultRules }] of pendingRoutePaths) {
      const key = JSON.stringify([paths, defaultRules])
      let getter = loaded.get(key)
      if (getter === undefined) loaded.set(key, (getter = resolveRules(paths, defaultRules)))
      routeRules.set(cfg, await getter)
    }
    pendingRoutePaths.clear()
  })

  function rulesOf (cfg: Exclude<SluiceRouteConfig, false> | undefined): () => RuleSet {
    const r = cfg?.rules
    if (cfg === undefined || r === undefined) return currentRules
    if (typeof r === 'function') return r
    if (typeof r !== 'string' && !Array.isArray(r)) {
      const set = r as RuleSet
      return () => set
    }
    const getter = routeRules.get(cfg)
    // Rules given as a path on a route this plugin never saw (added before it
    // was registered): fail the request rather than quietly use other rules.
    if (getter === undefined) throw new InvalidOptionsError('route rules given as a path were not loaded: register the sluice plugin before the route')
    return getter
  }

  function resolveRoute (cfg: Exclude<SluiceRouteConfig, false> | undefined): ResolvedRoute {
    return {
      rules: rulesOf(cfg),
      contentTypes: cfg?.contentTypes === undefined ? globalTypes : cfg.contentTypes.map((c) => mediaTypeOf(c)),
      binary: cfg?.binary ?? globalBinary,
      onFinding: cfg?.onFinding ?? opts.onFinding,
      onCut: cfg?.onCut ?? opts.onCut,
      protocol: cfg?.protocol
    }
  }

  // Resolved once per route config object (the same object every request of
  // the route sees, see above), not once per response.
  const resolvedRoutes = new WeakMap<object, ResolvedRoute>()
  let defaultRoute: ResolvedRoute | undefined

  function routeOf (request: FastifyRequest): ResolvedRoute | undefined {
    const cfg = (request.routeOptions.config as { sluice?: SluiceRouteConfig } | undefined)?.sluice
    if (cfg === false) return undefined
    if (cfg === undefined) return (defaultRoute ??= resolveRoute(undefined))
    let route = resolvedRoutes.get(cfg)
    if (route === undefined) {
      route = resolveRoute(cfg)
      resolvedRoutes.set(cfg, route)
    }
    return route
  }

  /** Where a request's findings go: the audit log (with their channel) and the route's callback. */
  function reporterFor (request: FastifyRequest, route: ResolvedRoute): { ctx: { requestId: string, route: string }, onFinding: (finding: Finding, where: FindingContext) => void } {
    const ctx = { requestId: String(request.id), route: request.routeOptions.url ?? request.url }
    return {
      ctx,
      onFinding: (finding, where) => {
        audit?.finding({ ...ctx, stream: where.channel }, finding)
        route.onFinding?.(finding, request, where)
      }
    }
  }

  function sanitizeFor (request: FastifyRequest, reply: FastifyReply, source: Readable, route: ResolvedRoute, contentType: string): SanitizeStream {
    const started = performance.now()
    const { ctx, onFinding } = reporterFor(request, route)
    let cancelled = false
    let ended = false
    const transform = sanitizeReadable(source, {
      ruleSet: route.rules(),
      contentType,
      ...(route.protocol === undefined ? {} : { protocol: route.protocol as ProtocolOption }),
      scannerOptions,
      ...(opts.maxEventSize === undefined ? {} : { maxEventSize: opts.maxEventSize }),
      ...(opts.coalesce === undefined ? {} : { coalesce: opts.coalesce }),
      onFinding,
      // sanitizeReadable destroys the source on a cut: the route's upstream call is aborted.
      onCut: (finding) => { route.onCut?.(finding, request) }
    })
    const finish = (): void => {
      if (ended) return
      ended = true
      const stats = transform.stats
      const outcome: StreamOutcome = {
        requestId: ctx.requestId,
        route: ctx.route,
        protocol: stats.protocol ?? 'unknown',
        finishReason: cancelled ? 'cancelled' : stats.finishReason ?? null,
        upstreamFinishReason: stats.upstreamFinishReason ?? null,
        charsIn: stats.charsIn,
        charsOut: stats.charsOut,
        findings: { ...stats.findings },
        ttftMs: stats.timeToFirstTokenMs ?? null,
        durationMs: performance.now() - started,
        cancelled,
        malformed: stats.malformed,
        maxHeld: stats.maxHeld
      }
      if (stats.errorCode !== undefined) outcome.error = stats.errorCode
      audit?.summary(ctx, {
        finishReason: outcome.finishReason,
        upstreamFinishReason: outcome.upstreamFinishReason,
        charsIn: outcome.charsIn,
        charsOut: outcome.charsOut,
        findings: outcome.findings,
        ttftMs: outcome.ttftMs,
        durationMs: outcome.durationMs,
        cancelled,
        ...(outcome.error === undefined ? {} : { error: outcome.error })
      })
      opts.onStreamEnd?.(outcome, request)
    }
    // At the client's FIN or RST, not at the response's 'close' a loop turn
    // or more later (see client-gone.ts).
    onClientGone(reply.raw, () => {
      // Ended, not cancelled, once the transform handed its last byte to the
      // response: `writableFinished` alone is false under `inject` (no socket).
      if (transform.readableEnded) return
      // Destroying the transform destroys the source, which aborts the
      // upstream read at once.
      cancelled = true
      transform.destroy()
    })
    reply.raw.once('close', finish)
    return transform
  }

  fastify.decorateReply('sanitize', function sanitize (this: FastifyReply, stream: Readable, options?: { contentType?: string }) {
    ;(this as unknown as Record<symbol, boolean>)[kSanitized] = true
    try {
      const route = routeOf(this.request) ?? (defaultRoute ??= resolveRoute(undefined))
      const contentType = options?.contentType ?? mediaTypeOf(this.getHeader('content-type'))
      return sanitizeFor(this.request, this, stream, route, contentType)
    } catch (err) {
      // e.g. a content type that is no stream: the caller gets the error, the stream is not left open.
      stream.destroy()
      throw err
    }
  })

  // A callback hook, not an async one: most payloads are settled at once,
  // and every response (probes included) passes here.
  fastify.addHook('onSend', function sluiceOnSend (request, reply, payload, done) {
    const failed = (err: unknown): void => {
      // Fastify sends the error instead and never reads the stream: destroy
      // it, or the route's upstream request stays open (and billing).
      if (isReadable(payload) && !payload.destroyed) payload.destroy()
      done(err as Error)
    }
    let result: unknown
    try {
      result = sanitizePayload(request, reply, payload)
    } catch (err) {
      failed(err)
      return
    }
    if (result instanceof Promise) result.then((next: unknown) => { done(null, next) }, failed)
    else done(null, result)
  })

  /**
   * The payload as a Node stream, a string or a Buffer. A web `Response`
   * (whose status and headers fastify would apply only after this hook,
   * over ours) is unpacked here, a web stream wrapped; any other payload
   * cannot be scanned, so it is refused.
   */
  function payloadOf (reply: FastifyReply, input: unknown): Readable | string | Buffer | null {
    if (typeof input === 'string' || Buffer.isBuffer(input) || isReadable(input)) return input
    if (typeof input === 'object' && input !== null && Object.prototype.toString.call(input) === '[object Response]') {
      const response = input as Response
      void reply.code(response.status)
      response.headers.forEach((value, name) => { void reply.header(name, value) })
      return response.body === null ? null : Readable.fromWeb(response.body as WebReadableStream)
    }
    if (typeof (input as { getReader?: unknown }).getReader === 'function') return Readable.fromWeb(input as WebReadableStream)
    throw new UnscannableBodyError(`payload of type ${typeof input}`)
  }

  /**
   * The Content-Type Sluice sends: the route's media type when it was one
   * clear label that scans clean, else the one for the kind the body was
   * read as; always UTF-8 (what was scanned is what is sent).
   */
  const cleanTypes = new WeakMap<RuleSet, Set<string>>()
  function labelFor (ct: ContentType, kind: Exclude<BodyKind, 'binary' | 'unknown'>, rules: RuleSet): string {
    // A text/* or an added stream type may carry any of the kinds; a JSON,
    // SSE or NDJSON label on a body read as another kind would mislead the client.
    const keep = !ct.ambiguous && (ct.kind === kind || ct.kind === 'text' || ct.kind === 'binary')
    let type = keep ? ct.mediaType : canonicalMediaType(kind)
    // The media type is upstream text too (`text/4111111111111111`).
    let clean = cleanTypes.get(rules)
    if (clean === undefined) cleanTypes.set(rules, (clean = new Set()))
    if (!clean.has(type)) {
      if (scanText(rules, type, scannerOptions).text !== type) type = canonicalMediaType(kind)
      else if (clean.size < maxCleanTypes) clean.add(type)
    }
    return `${type}; charset=utf-8`
  }

  /**
   * The payload to send, sanitized: now, or (a body still to be read whole)
   * a promise of it. Deny by default: every status, every payload type and
   * every media type is scanned or refused. Only a route with `sluice:
   * false`, a stream the route sanitized itself (`reply.sanitize`) and a
   * binary type where `binary: 'pass'` is set go out as they are.
   */
  /**
   * Header values a route set are text the client reads too (a route that
   * copies an upstream's trace header copies whatever it says): each is
   * scanned whole, and one a rule would change is removed.
   */
  function scanReplyHeaders (reply: FastifyReply, rules: RuleSet): void {
    const clean = cleanTextsOf(rules)
    for (const [name, value] of Object.entries(reply.getHeaders())) {
      if (kUnscannedHeaders.has(name) || name.startsWith('x-sluice-')) continue
      const values = Array.isArray(value) ? value : typeof value === 'string' ? [value] : []
      for (const v of values) {
        if (clean.has(v)) continue
        const result = scanText(rules, v, scannerOptions)
        if (result.text !== v) {
          reply.removeHeader(name)
          break
        }
        rememberClean(clean, v, result.text, result.findings)
      }
    }
  }

  function sanitizePayload (request: FastifyRequest, reply: FastifyReply, input: unknown): unknown {
    if ((reply as unknown as Record<symbol, boolean>)[kSanitized] === true) return input
    const route = routeOf(request)
    if (route !== undefined) scanReplyHeaders(reply, route.rules())
    if (route === undefined || input === undefined || input === null) return input
    const payload = payloadOf(reply, input)
    if (payload === null) return null
    const ct = parseContentType(reply.getHeader('content-type'))
    let kind = ct.kind
    // `contentTypes` only adds event streams; it never lets a body pass.
    if ((kind === 'text' || kind === 'binary') && route.contentTypes.includes(ct.mediaType)) kind = route.protocol === 'ndjson' ? 'ndjson' : 'sse'
    if (kind === 'binary') {
      if (route.binary === 'pass') return payload
      throw new UnscannableMediaTypeError(ct.mediaType)
    }
    // A body the route compressed itself is decoded and sent as identity;
    // the headers go first, so an error reply is not labelled compressed.
    const encoding = reply.getHeader('content-encoding')
    reply.removeHeader('content-encoding')
    reply.removeHeader('content-length')
    const codings = contentCodings(encoding)
    const charset = isUtf8Charset(ct.charset) ? undefined : ct.charset
    if ((kind === 'sse' || kind === 'ndjson') && isReadable(payload)) {
      let source = decodeContent(payload, codings)
      if (charset !== undefined) source = pipeline(source, createCharsetTranscoder(charset), () => {})
      const rules = route.rules()
      void reply.header('content-type', labelFor(ct, kind, rules))
      return sanitizeFor(request, reply, source, route, canonicalMediaType(kind))
    }
    if (codings.length === 0 && !isReadable(payload)) {
      // Already whole (most JSON answers): sanitized now, no promise.
      if ((typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length) > maxBodySize) throw new BodyTooLargeError(maxBodySize)
      // A string is text already: fastify writes it as UTF-8 whatever the label says.
      const text = typeof payload === 'string' ? payload : decodeBodyText(payload, charset)
      return sanitizeWhole(text, kind, ct, request, reply, route)
    }
    const source = decodeContent(isReadable(payload) ? payload : Readable.from([Buffer.from(payload)]), codings)
    return collectBody(source, maxBodySize).then((bytes) => sanitizeWhole(decodeBodyText(bytes, charset), kind, ct, request, reply, route))
  }

  /** A body held whole: read the way a client may read it, scanned, re-serialized, re-labelled. */
  function sanitizeWhole (text: string, kind: BodyKind, ct: ContentType, request: FastifyRequest, reply: FastifyReply, route: ResolvedRoute): string {
    const { onFinding } = reporterFor(request, route)
    const rules = route.rules()
    const result = sanitizeWholeBody(text, kind, {
      ruleSet: rules,
      scannerOptions,
      ...(route.protocol === undefined ? {} : { protocol: route.protocol as ProtocolOption }),
      ...(opts.maxEventSize === undefined ? {} : { maxEventSize: opts.maxEventSize }),
      onFinding,
      onCut: (finding) => { route.onCut?.(finding, request) }
    })
    void reply.header('content-type', labelFor(ct, result.kind, rules))
    return result.text
  }
}

/**
 * The Sluice Fastify plugin.
 * @example
 * import Fastify from 'fastify'
 * import sluice from 'sluice'
 * const app = Fastify()
 * await app.register(sluice, { audit: './audit.jsonl' })
 */
export const sluice = fp(sluicePlugin, { fastify: '5.x', name: 'sluice' })
export default sluice
