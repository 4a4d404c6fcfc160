/**
 * @module policy/derive-rule-set
 * A rule set as one policy sees it: some rule files only, some rules off,
 * actions changed by rule or category, and rules in monitor mode — which
 * match and report as they would, but only flag: the action they would have
 * taken goes to the audit log (`monitored`), the text goes out unchanged.
 * That is how a new rule is rolled out: watch what it would do on real
 * traffic before it does it.
 *
 * Pure: a loaded rule set in, a derived one out. Deriving compiles the
 * rule groups again (~200 ms for the shipped rules), so callers cache the
 * result per loaded set (policy/policy-rule-sets.ts).
 */
import { basename } from 'node:path'
import type { CompiledRuleInternal } from '../rules/compile-rule.js'
import { createRuleSet } from '../rules/rule-set.js'
import type { RuleSet } from '../rules/rule-set.js'
import type { RuleAction } from '../rules/types.js'

/** What one policy changes in the loaded rules. */
export interface RulePolicy {
  /**
   * Rule files that apply (a path as loaded, or a file name): rules of other
   * files are off. Absent: every loaded file.
   */
  files?: readonly string[]
  /** Rule ids or categories turned off. */
  disable?: readonly string[]
  /** A new action by rule id or category (a rule id wins over its category). */
  actions?: Readonly<Record<string, RuleAction>>
  /** Monitor mode: `true` for every rule, or rule ids and categories. */
  monitor?: boolean | readonly string[]
}

export interface DerivedRuleSet {
  ruleSet: RuleSet
  /** The action each monitored rule would have taken (its findings flag instead). */
  monitored: ReadonlyMap<string, Exclude<RuleAction, 'flag'>>
}

function named (list: readonly string[] | undefined, rule: CompiledRuleInternal): boolean {
  return list !== undefined && (list.includes(rule.id) || list.includes(rule.category))
}

function fileApplies (files: readonly string[] | undefined, file: string): boolean {
  return files === undefined || files.includes(file) || files.includes(basename(file))
}

/** True when the policy changes nothing (the loaded set serves as it is). */
export function isNeutralPolicy (policy: RulePolicy): boolean {
  return policy.files === undefined && (policy.disable?.length ?? 0) === 0 && Object.keys(policy.actions ?? {}).length === 0 && (policy.monitor === undefined || policy.monitor === false || (Array.isArray(policy.monitor) && policy.monitor.length === 0))
}

/**
 * Derives the rule set of `policy` from a loaded set.
 *
 * @example
 * // An internal tool's key: secrets are only flagged; a new rule is watched.
 * deriveRuleSet(loaded, { actions: { secret: 'flag' }, monitor: ['pii.uk_nhs'] })
 */
export function deriveRuleSet (base: RuleSet, policy: RulePolicy): DerivedRuleSet {
  const monitored = new Map<string, Exclude<RuleAction, 'flag'>>()
  if (isNeutralPolicy(policy)) return { ruleSet: base, monitored }
  const rules: CompiledRuleInternal[] = []
  for (const rule of base.rules as readonly CompiledRuleInternal[]) {
    const enabled = rule.enabled && fileApplies(policy.files, rule.origin.file) && !named(policy.disable, rule)
    const actions = policy.actions ?? {}
    let action: RuleAction = actions[rule.id] ?? actions[rule.category] ?? rule.action
    if (enabled && action !== 'flag' && (policy.monitor === true || (Array.isArray(policy.monitor) && named(policy.monitor, rule)))) {
      monitored.set(rule.id, action)
      action = 'flag'
    }
    rules.push(enabled === rule.enabled && action === rule.action ? rule : { ...rule, enabled, action })
  }
  return { ruleSet: createRuleSet(rules, base.files, { cache: base.cache }), monitored }
}
