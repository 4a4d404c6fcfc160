/**
 * @module proxy/gateway-features
 * What the proxy adds around each generation request beyond scanning:
 * the client's budget (refused with 429 once spent), the rule policy of
 * its key and route (and monitor mode), reversible pseudonyms, and usage
 * and cost read from the answer — counted in metrics, the audit summary
 * and the budget. Built once per proxy from its config; `begin` runs per
 * request before the input stage, `prepare` after it.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Redis } from 'ioredis'
import { BudgetExceededError, PseudonymConfigError } from '../errors.js'
import { setReplyScan } from '../plugin/reply-scan.js'
import { createPolicyRuleSets } from '../policy/policy-rule-sets.js'
import type { ResolvedPolicy } from '../policy/policy-rule-sets.js'
import { createPseudonyms } from '../pseudonym/create-pseudonyms.js'
import { createPlaceholderFormat } from '../pseudonym/placeholder-format.js'
import type { PseudonymRequest, Pseudonyms } from '../pseudonym/create-pseudonyms.js'
import { createRedisVault } from '../pseudonym/redis-vault.js'
import { createMemoryVault } from '../pseudonym/vault.js'
import type { RuleSet } from '../rules/rule-set.js'
import { createBudgets, createMemoryBudgetStore, createRedisBudgetStore } from '../usage/budgets.js'
import type { BudgetCheck, BudgetLimit, Budgets } from '../usage/budgets.js'
import { createPriceLookup } from '../usage/price-table.js'
import { usageOf } from '../usage/read-usage.js'
import type { TokenUsage } from '../usage/read-usage.js'
import type { InputPseudonyms } from './input-stage.js'
import type { ProxyMetrics } from './metrics.js'
import type { ProxyConfig } from './proxy-config.js'

/** One request's share of the features. */
export interface GatewayRequest {
  client: string | undefined
  policy: ResolvedPolicy
  pseudonyms: PseudonymRequest | undefined
}

export interface GatewayFeatures {
  /** The input stage's pseudonym option, when pseudonyms are on. */
  readonly inputPseudonyms: InputPseudonyms | undefined
  /** Budget check, policy, the pseudonym session: before the input stage. Throws BudgetExceededError. */
  begin: (request: FastifyRequest, reply: FastifyReply, client: string | undefined, route: string, body: Record<string, unknown>, rules: RuleSet) => Promise<GatewayRequest>
  /**
   * After the input stage: the body to forward (usage asked for where the
   * client did not), and the reply's scan changes (policy rules, restored
   * pseudonyms, usage accounting).
   */
  prepare: (reply: FastifyReply, g: GatewayRequest, route: string, forwarded: Record<string, unknown>, replaced: number) => Record<string, unknown>
  /** Builds every policy's rule set for a newly loaded set. */
  prepareRules: (rules: RuleSet) => void
  close: () => Promise<void>
}

/** Routes whose streams carry usage only when asked (`stream_options.include_usage`). */
const kAskForUsage = new Set(['chat', 'completions'])

function modelOf (request: FastifyRequest, body: Record<string, unknown>): string {
  if (typeof body.model === 'string' && body.model !== '') return body.model.slice(0, 128)
  const params = request.params as Record<string, unknown> | undefined
  const model = params?.model
  return typeof model === 'string' ? model.replace(/:.*$/, '').slice(0, 128) : 'unknown'
}

function asksForUsage (body: Record<string, unknown>): boolean {
  const options = body.stream_options
  return typeof options === 'object' && options !== null && (options as Record<string, unknown>).include_usage === true
}

/** `60/40 tokens, cost 0.5/0.4 this hour`: what was spent against which limit. */
function describeSpend ({ limit, spent }: BudgetCheck): string {
  if (limit === undefined) return 'spent'
  const parts = [
    ...(limit.tokens === undefined ? [] : [`${spent.tokens}/${limit.tokens} tokens`]),
    ...(limit.cost === undefined ? [] : [`cost ${spent.cost}/${limit.cost}`])
  ]
  return `${parts.join(', ')} this ${limit.period}`
}

export function createGatewayFeatures (config: ProxyConfig, metrics: ProxyMetrics): GatewayFeatures {
  const redis = config.redis === undefined ? undefined : new Redis(config.redis, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: false })
  // Without an 'error' listener ioredis prints every reconnect failure; the
  // features fail closed on their own (a vault error refuses the request).
  redis?.on('error', () => {})
  const limits: Record<string, BudgetLimit> = {}
  for (const client of config.clients) if (client.budget !== undefined) limits[client.id] = client.budget
  const budgets: Budgets | undefined = Object.keys(limits).length === 0
    ? undefined
    : createBudgets({ limits, store: redis === undefined ? createMemoryBudgetStore() : createRedisBudgetStore(redis) })
  const prices = createPriceLookup(config.prices)
  const monitor = config.monitor.includes('all') ? true : config.monitor
  const policies = createPolicyRuleSets(config.policies, monitor)

  let pseudonyms: Pseudonyms | undefined
  if (config.pseudonyms.enabled) {
    const key = config.pseudonyms.key
    if (key === undefined) throw new PseudonymConfigError('pseudonyms need a key (--pseudonym-key, SLUICE_PSEUDONYM_KEY or pseudonyms.key)')
    const { template, ttlMs, unknown } = config.pseudonyms
    const format = createPlaceholderFormat(template)
    const vault = redis === undefined ? createMemoryVault({ format, ttlMs }) : createRedisVault({ redis, format, ttlMs })
    pseudonyms = createPseudonyms({ vault, key, format, unknown })
  }

  function account (client: string | undefined, model: string, usage: TokenUsage): number {
    const cost = prices.costOf(model, usage)
    metrics.countUsage(client ?? 'anonymous', model, usage, cost)
    void budgets?.record(client, { tokens: usage.input + usage.cachedInput + usage.output, cost }).catch(() => {})
    return cost
  }

  return {
    inputPseudonyms: pseudonyms === undefined ? undefined : { categories: config.pseudonyms.categories },
    async begin (request, reply, client, route, body, rules) {
      if (budgets !== undefined) {
        const check = await budgets.check(client)
        if (check.exceeded) {
          void reply.header('retry-after', String(check.retryAfterS))
          throw new BudgetExceededError(describeSpend(check))
        }
      }
      const policy = policies.resolve(rules, client, route)
      const header = request.headers[config.pseudonyms.conversationHeader]
      const session = pseudonyms === undefined ? undefined : await pseudonyms.open(client ?? 'anonymous', body, typeof header === 'string' ? header : undefined)
      return { client, policy, pseudonyms: session }
    },
    prepare (reply, g, route, forwarded, replaced) {
      const model = modelOf(reply.request, forwarded)
      let body = forwarded
      let strip = false
      if (config.includeUsage && kAskForUsage.has(route) && body.stream === true && !asksForUsage(body)) {
        const options = typeof body.stream_options === 'object' && body.stream_options !== null ? body.stream_options : {}
        body = { ...body, stream_options: { ...options, include_usage: true } }
        strip = true
      }
      void reply.header('x-sluice-policy', g.policy.name)
      let accounted = false
      setReplyScan(reply, {
        ...(g.policy.ruleSet === undefined ? {} : { ruleSet: g.policy.ruleSet }),
        ...(g.pseudonyms === undefined ? {} : { wrapScanner: g.pseudonyms.restoringScanner }),
        stripUsageChunk: strip,
        costOf: (usage) => prices.costOf(model, usage),
        onStreamEnd: (outcome) => {
          if (outcome.usageReported && !accounted) {
            accounted = true
            account(g.client, model, outcome.usage)
          }
          if (outcome.duplicates > 0) metrics.countDuplicates(outcome.duplicates)
        },
        onParsed: (value) => {
          const usage = usageOf(value)
          if (usage !== undefined && !accounted) {
            accounted = true
            account(g.client, model, usage)
          }
        },
        summaryFields: () => ({
          policy: g.policy.name,
          ...(g.pseudonyms === undefined ? {} : { pseudonyms: { replaced, ...g.pseudonyms.restoredCounts() } })
        })
      })
      return body
    },
    prepareRules (rules) {
      policies.prepare(rules)
    },
    async close () {
      await pseudonyms?.close()
      redis?.disconnect()
    }
  }
}
