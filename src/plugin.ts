/**
 * @module plugin
 * The Fastify plugin: `app.register(sluice, options)` and every LLM stream
 * a route returns is sanitized on the fly. Modelled on @fastify/compress:
 * options checked at register time, an `onSend` hook that swaps the payload
 * for `pipeline(payload, transform)`, per-route `config.sluice` overrides
 * (and `false` to opt out), a premature close is not an error.
 */
import type { Readable } from 'node:stream'
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { createAuditLog } from './audit/create-audit-log.js'
import type { AuditLog } from './audit/create-audit-log.js'
import { InvalidOptionsError } from './errors.js'
import type { SluiceDecorator, SluicePluginOptions, SluiceRouteConfig, StreamOutcome } from './plugin-options.js'
import { defaultRulesDir, loadRuleSet } from './rules/load-rules.js'
import type { RuleSet } from './rules/rule-set.js'
import { scanText } from './scanner/scan-text.js'
import type { Finding } from './scanner/types.js'
import { sanitizeJsonResponse, sanitizeReadable } from './stream/create-sanitize-stream.js'
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

const streamTypes = ['text/event-stream', 'application/x-ndjson']
const defaultContentTypes = [...streamTypes, 'application/json']
const kSanitized = Symbol('sluice.sanitized')

interface ResolvedRoute {
  rules: () => RuleSet
  contentTypes: readonly string[]
  onFinding: SluicePluginOptions['onFinding']
  onCut: SluicePluginOptions['onCut']
  protocol: string | undefined
}

function checkOptions (opts: SluicePluginOptions): void {
  const known = new Set(['rules', 'audit', 'contentTypes', 'hmacKey', 'maxEventSize', 'onFinding', 'onCut', 'onStreamEnd'])
  for (const key of Object.keys(opts)) {
    if (!known.has(key)) throw new InvalidOptionsError(`unknown option "${key}"`)
  }
  for (const key of ['onFinding', 'onCut', 'onStreamEnd'] as const) {
    if (opts[key] !== undefined && typeof opts[key] !== 'function') throw new InvalidOptionsError(`"${key}" must be a function`)
  }
  if (opts.contentTypes !== undefined && (!Array.isArray(opts.contentTypes) || opts.contentTypes.some((c) => typeof c !== 'string'))) {
    throw new InvalidOptionsError('"contentTypes" must be an array of strings')
  }
  if (opts.maxEventSize !== undefined && !(Number.isInteger(opts.maxEventSize) && opts.maxEventSize > 0)) {
    throw new InvalidOptionsError('"maxEventSize" must be a positive integer')
  }
}

async function resolveRules (rules: SluicePluginOptions['rules']): Promise<() => RuleSet> {
  if (typeof rules === 'function') return rules
  if (rules === undefined || typeof rules === 'string' || Array.isArray(rules)) {
    const set = await loadRuleSet((rules as string | string[] | undefined) ?? defaultRulesDir())
    return () => set
  }
  const set = rules as RuleSet
  return () => set
}

function isAuditLog (value: unknown): value is AuditLog {
  return typeof value === 'object' && value !== null && typeof (value as AuditLog).finding === 'function' && typeof (value as AuditLog).summary === 'function'
}

function mediaType (header: unknown): string {
  return String(header ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
}

function isReadable (payload: unknown): payload is Readable {
  return payload !== null && typeof payload === 'object' && typeof (payload as Readable).pipe === 'function'
}

async function sluicePlugin (fastify: FastifyInstance, opts: SluicePluginOptions): Promise<void> {
  checkOptions(opts)
  let rules = await resolveRules(opts.rules)
  // An AuditLog instance is shared with its owner (who closes it); a path
  // or options make one that this plugin owns and closes.
  const given = opts.audit
  const owned = given !== undefined && given !== false && !isAuditLog(given)
  const audit: AuditLog | undefined = given === undefined || given === false
    ? undefined
    : isAuditLog(given) ? given : createAuditLog(typeof given === 'string' ? { destination: given } : given)
  if (owned && audit !== undefined) fastify.addHook('onClose', async () => { await audit.close() })
  const scannerOptions = opts.hmacKey === undefined ? {} : { hmacKey: opts.hmacKey }
  const globalTypes = opts.contentTypes ?? defaultContentTypes

  const decorator: SluiceDecorator = {
    scan: (text) => scanText(rules(), text, scannerOptions),
    get ruleSet () { return rules() },
    setRuleSet (ruleSet) { rules = () => ruleSet }
  }
  fastify.decorate('sluice', decorator)

  // Route-level rules: sets and getters are kept as given; paths load in
  // onReady so a broken file fails startup, not a request.
  const routeRules = new Map<string, () => RuleSet>()
  const pendingRoutePaths: Array<{ key: string, paths: string | readonly string[] }> = []
  fastify.addHook('onRoute', (route) => {
    const cfg = (route.config as { sluice?: SluiceRouteConfig } | undefined)?.sluice
    if (cfg === undefined || cfg === false || cfg.rules === undefined) return
    const key = `${route.method.toString()} ${route.url}`
    const r = cfg.rules
    if (typeof r === 'string' || Array.isArray(r)) pendingRoutePaths.push({ key, paths: r as string | readonly string[] })
    else if (typeof r === 'function') routeRules.set(key, r)
    else { const set = r as RuleSet; routeRules.set(key, () => set) }
  })
  fastify.addHook('onReady', async () => {
    for (const route of pendingRoutePaths) routeRules.set(route.key, await resolveRules(route.paths))
  })

  function routeOf (request: FastifyRequest): ResolvedRoute | undefined {
    const cfg = (request.routeOptions.config as { sluice?: SluiceRouteConfig }).sluice
    if (cfg === false) return undefined
    const key = `${request.routeOptions.method?.toString() ?? request.method} ${request.routeOptions.url ?? ''}`
    return {
      rules: routeRules.get(key) ?? rules,
      contentTypes: cfg?.contentTypes ?? globalTypes,
      onFinding: cfg?.onFinding ?? opts.onFinding,
      onCut: cfg?.onCut ?? opts.onCut,
      protocol: cfg?.protocol
    }
  }

  function sanitizeFor (request: FastifyRequest, reply: FastifyReply, source: Readable, route: ResolvedRoute, contentType: string): SanitizeStream {
    const started = performance.now()
    const ctx = { requestId: String(request.id), route: request.routeOptions.url ?? request.url }
    let cancelled = false
    let ended = false
    const transform = sanitizeReadable(source, {
      ruleSet: route.rules(),
      contentType,
      ...(route.protocol === undefined ? {} : { protocol: route.protocol as ProtocolOption }),
      scannerOptions,
      ...(opts.maxEventSize === undefined ? {} : { maxEventSize: opts.maxEventSize }),
      onFinding: (finding, where) => {
        audit?.finding({ ...ctx, stream: where.channel }, finding)
        route.onFinding?.(finding, request, where)
      },
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
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) {
        // The client went away: destroying the transform destroys the source,
        // which aborts the upstream read at once.
        cancelled = true
        transform.destroy()
      }
      finish()
    })
    return transform
  }

  fastify.decorateReply('sanitize', function sanitize (this: FastifyReply, stream: Readable, options?: { contentType?: string }) {
    const route = routeOf(this.request) ?? { rules, contentTypes: globalTypes, onFinding: opts.onFinding, onCut: opts.onCut, protocol: undefined }
    const contentType = options?.contentType ?? mediaType(this.getHeader('content-type'))
    ;(this as unknown as Record<symbol, boolean>)[kSanitized] = true
    return sanitizeFor(this.request, this, stream, route, contentType)
  })

  fastify.addHook('onSend', async function sluiceOnSend (request, reply, payload) {
    if ((reply as unknown as Record<symbol, boolean>)[kSanitized] === true) return payload
    const route = routeOf(request)
    if (route === undefined) return payload
    const contentType = mediaType(reply.getHeader('content-type'))
    if (!route.contentTypes.includes(contentType)) return payload
    if (isReadable(payload)) {
      if (!streamTypes.includes(contentType) && contentType !== 'application/json') return payload
      if (contentType === 'application/json') {
        // A JSON body delivered as a stream: collect it (bounded by the route's own body) and sanitize once.
        const chunks: Buffer[] = []
        for await (const c of payload) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string))
        return sanitizeJsonText(Buffer.concat(chunks).toString('utf8'), request, route, reply)
      }
      reply.removeHeader('content-length')
      return sanitizeFor(request, reply, payload, route, contentType)
    }
    if (contentType === 'application/json' && (typeof payload === 'string' || Buffer.isBuffer(payload))) {
      return sanitizeJsonText(payload.toString(), request, route, reply)
    }
    return payload
  })

  function sanitizeJsonText (text: string, request: FastifyRequest, route: ResolvedRoute, reply: FastifyReply): string {
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      return text
    }
    const ctx = { requestId: String(request.id), route: request.routeOptions.url ?? request.url }
    const result = sanitizeJsonResponse(body, route.rules(), {
      scannerOptions,
      onFinding: (finding, where) => {
        audit?.finding({ ...ctx, stream: where.channel }, finding)
        route.onFinding?.(finding, request, where)
      },
      onCut: (finding) => { route.onCut?.(finding, request) }
    })
    if (result.changed !== true) return text
    reply.removeHeader('content-length')
    return JSON.stringify(result.body)
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
