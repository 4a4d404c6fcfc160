/**
 * @module proxy/forwarding-routes
 * The routes that reach the provider: the generation routes (OpenAI's,
 * Anthropic's, and the other providers' of provider-routes.ts) and the
 * model list. A generation request is validated, run through the input
 * stage (its findings audited and counted; a reject refuses it), forwarded,
 * and the answer relayed through the plugin (relay.ts). The upstream call
 * is aborted the moment the client goes away.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AuditLog } from '../audit/create-audit-log.js'
import { onClientGone } from '../client-gone.js'
import { InputRejectedError } from '../errors.js'
import type { RuleSet } from '../rules/rule-set.js'
import type { ClientAuth } from './client-auth.js'
import { createCanceller } from './cancel.js'
import type { Canceller } from './cancel.js'
import type { UpstreamClient } from './forward.js'
import type { GatewayFeatures } from './gateway-features.js'
import type { InputStage, InputStageResult } from './input-stage.js'
import type { ProxyMetrics } from './metrics.js'
import { kProviderRoutes } from './provider-routes.js'
import type { GenerationRoute } from './provider-routes.js'
import type { Relay } from './relay.js'
import { validateBody } from './request-body.js'
import { upstreamTarget } from './request-target.js'

const generationRoutes: GenerationRoute[] = [
  { url: '/v1/chat/completions', input: 'chat', authStyle: 'bearer' },
  { url: '/v1/completions', input: 'completions', authStyle: 'bearer' },
  { url: '/v1/responses', input: 'responses', authStyle: 'bearer' },
  // The Anthropic SDKs call beta endpoints as `/v1/messages?beta=true`.
  { url: '/v1/messages', input: 'messages', authStyle: 'x-api-key', query: ['beta'] },
  ...kProviderRoutes
]

/** Query parameters of the model list (Anthropic pages it; OpenAI takes none). */
const modelListQuery: ReadonlySet<string> = new Set(['limit', 'after_id', 'before_id', 'beta'])

/** Set on a request whose client went away (its upstream call was aborted for that). */
const kClientGone = Symbol('sluice.clientGone')

/** True when the request's upstream call was aborted because its client went away. */
export function clientWentAway (request: FastifyRequest): boolean {
  return (request as unknown as Record<symbol, boolean>)[kClientGone] === true
}

/**
 * Aborts the upstream call the moment the client goes away: at its FIN or
 * RST on the socket (see client-gone.ts), which aborts undici's request
 * and destroys its socket in the same call.
 */
function abortOnClientClose (request: FastifyRequest, reply: FastifyReply, metrics: ProxyMetrics): Canceller {
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

export interface ForwardingRoutesOptions {
  upstream: UpstreamClient
  relay: Relay
  auth: ClientAuth
  /** Send the client's own credentials upstream (then Gemini's `key` query parameter goes on too). */
  forwardClientAuth: boolean
  inputStage: InputStage
  /** The rule set for a new request. */
  rules: () => RuleSet
  audit: AuditLog
  metrics: ProxyMetrics
  /** Counts upstream exchanges in flight: `started`, then `ended` once it is answered or failed. */
  exchanges: { started: () => void, ended: () => void }
  /** Budgets, policies, pseudonyms, usage (gateway-features.ts). */
  gateway: GatewayFeatures
}

/** Audits, counts and logs what the input stage found in a request. */
function reportInputFindings (request: FastifyRequest, route: string, input: InputStageResult, { audit, metrics }: ForwardingRoutesOptions): void {
  const ctx = { requestId: String(request.id), route, stream: 'input' }
  for (const f of input.findings) {
    if (audit.enabled) audit.finding(ctx, { ruleId: f.ruleId, category: f.category, action: f.decision === 'reject' ? 'cut' : f.action, severity: f.severity, start: f.start, length: f.length, digest: f.digest })
    metrics.countFinding({ ruleId: f.ruleId, category: f.category, action: f.decision }, 'input')
  }
  if (input.findings.length > 0) {
    request.log.info({ findings: input.findings.map((f) => ({ ruleId: f.ruleId, decision: f.decision, field: f.field })) }, 'input findings')
  }
}

/** One generation route: validate, scan the input, forward, relay. */
function registerGenerationRoute (app: FastifyInstance, route: GenerationRoute, opts: ForwardingRoutesOptions): void {
  const { upstream, relay, auth, inputStage, rules, metrics, exchanges, gateway } = opts
  // Gemini's `key` parameter is the client's credential: upstream only when the client's own key is what goes there.
  const query: ReadonlySet<string> = new Set([...(route.query ?? []), ...(opts.forwardClientAuth && route.authStyle === 'x-goog-api-key' ? ['key'] : [])])
  app.post(route.url, auth.required ? { onRequest: auth.authenticate } : {}, async function generate (request, reply) {
    const body = route.validate === undefined ? validateBody(route.input, request.body) : route.validate(request.body, request.params)
    const ruleSet = rules()
    const g = await gateway.begin(request, reply, auth.clientOf(request)?.id, route.input, body, ruleSet)
    let input = inputStage.run(ruleSet, body, g.pseudonyms?.session)
    // A concurrent request of the conversation named a value first: the body is rewritten with its names.
    if (g.pseudonyms !== undefined && !(await g.pseudonyms.commit())) input = inputStage.run(ruleSet, body, g.pseudonyms.session)
    reportInputFindings(request, route.url, input, opts)
    if (input.rejected !== undefined) throw new InputRejectedError(input.rejected.ruleId, input.rejected.category)
    const replaced = input.findings.filter((f) => f.decision === 'pseudonymize').length
    const forwarded = gateway.prepare(reply, g, route.input, input.body, replaced)
    const controller = abortOnClientClose(request, reply, metrics)
    exchanges.started()
    try {
      const res = await upstream.forward({
        method: 'POST',
        path: upstreamTarget(route.url, request.params, request.url, query),
        headers: request.headers,
        forwardHeaders: auth.forwardHeadersOf(request),
        body: JSON.stringify(forwarded),
        authStyle: route.authStyle,
        signal: controller.signal
      })
      return await relay(reply, res)
    } finally {
      exchanges.ended()
    }
  })
}

/**
 * Registers the generation routes and the model list (scanned like every
 * answer: the model list is upstream text too).
 */
export function registerForwardingRoutes (app: FastifyInstance, opts: ForwardingRoutesOptions): void {
  for (const route of generationRoutes) registerGenerationRoute(app, route, opts)
  const { upstream, relay, auth, metrics } = opts
  app.get('/v1/models', auth.required ? { onRequest: auth.authenticate } : {}, async function models (request, reply) {
    const controller = abortOnClientClose(request, reply, metrics)
    const res = await upstream.forward({
      method: 'GET',
      path: upstreamTarget('/v1/models', undefined, request.url, modelListQuery),
      headers: request.headers,
      forwardHeaders: auth.forwardHeadersOf(request),
      authStyle: 'bearer',
      signal: controller.signal
    })
    return relay(reply, res)
  })
}
