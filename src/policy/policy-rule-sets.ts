/**
 * @module policy/policy-rule-sets
 * Which rules a request gets: the first configured policy whose clients and
 * routes match it, else the default one (the global monitor setting alone).
 * Derived sets are built once per loaded rule set and policy, so a hot
 * reload costs one rebuild per policy on first use, and a request nothing.
 */
import type { RuleSet } from '../rules/rule-set.js'
import { deriveRuleSet } from './derive-rule-set.js'
import type { DerivedRuleSet, RulePolicy } from './derive-rule-set.js'

/** A policy of the configuration. */
export interface ClientPolicy extends RulePolicy {
  /** Names the policy in logs, the audit and the `x-sluice-policy` header. */
  name: string
  /** Client ids (the `id` of a configured client key) it applies to; absent: every client. */
  clients?: readonly string[]
  /** Routes it applies to (`chat`, `completions`, `responses`, `messages`, `gemini`, …); absent: every route. */
  routes?: readonly string[]
}

export interface ResolvedPolicy extends DerivedRuleSet {
  /** The policy's name; `default` when none matched. */
  name: string
}

export interface PolicyRuleSets {
  /** The rules for a request of `client` (undefined: no client keys) on `route`. */
  resolve: (base: RuleSet, client: string | undefined, route: string | undefined) => ResolvedPolicy
  /** Builds every policy's set for `base` now (after a load), so no request waits for it. */
  prepare: (base: RuleSet) => void
}

/** Merges the global monitor setting into a policy (either can turn a rule to monitor). */
function withGlobalMonitor (policy: RulePolicy, monitor: boolean | readonly string[]): RulePolicy {
  if (monitor === false || (Array.isArray(monitor) && monitor.length === 0)) return policy
  if (monitor === true || policy.monitor === true) return { ...policy, monitor: true }
  return { ...policy, monitor: [...(Array.isArray(policy.monitor) ? policy.monitor : []), ...monitor] }
}

export function createPolicyRuleSets (policies: readonly ClientPolicy[] = [], monitor: boolean | readonly string[] = false): PolicyRuleSets {
  const fallback: ClientPolicy = { name: 'default' }
  const cache = new WeakMap<RuleSet, Map<string, ResolvedPolicy>>()

  function build (base: RuleSet, policy: ClientPolicy): ResolvedPolicy {
    let perSet = cache.get(base)
    if (perSet === undefined) {
      perSet = new Map()
      cache.set(base, perSet)
    }
    let resolved = perSet.get(policy.name)
    if (resolved === undefined) {
      resolved = { name: policy.name, ...deriveRuleSet(base, withGlobalMonitor(policy, monitor)) }
      perSet.set(policy.name, resolved)
    }
    return resolved
  }

  function match (client: string | undefined, route: string | undefined): ClientPolicy {
    return policies.find((p) =>
      (p.clients === undefined || (client !== undefined && p.clients.includes(client))) &&
      (p.routes === undefined || (route !== undefined && p.routes.includes(route)))
    ) ?? fallback
  }

  return {
    resolve: (base, client, route) => build(base, match(client, route)),
    prepare (base) {
      build(base, fallback)
      for (const policy of policies) build(base, policy)
    }
  }
}
