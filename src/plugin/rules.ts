/**
 * @module plugin/rules
 * The rules the plugin or a route is given: a loaded rule set, rule file
 * path(s) or a getter, each turned into a getter the hooks call when a
 * stream starts (a getter is asked again for every new stream: hot reload).
 */
import { createDiskRuleCache } from '../disk-rule-cache.js'
import { composeRulePaths, loadRuleSet } from '../rules/load-rules.js'
import type { RuleSet } from '../rules/rule-set.js'

export function isRuleSet (value: unknown): value is RuleSet {
  return typeof value === 'object' && value !== null && Array.isArray((value as RuleSet).rules) && Array.isArray((value as RuleSet).files)
}

/** Rule file or directory path(s): one string or a list of strings. */
export function isRulePaths (value: unknown): value is string | readonly string[] {
  return typeof value === 'string' || (Array.isArray(value) && value.every((p) => typeof p === 'string'))
}

/**
 * Paths load after the shipped rules (their files may disable or override
 * shipped rules), unless `defaultRules` is false; nothing given loads the
 * shipped rules.
 */
export async function resolveRules (rules: RuleSet | string | readonly string[] | (() => RuleSet) | undefined, defaultRules = true): Promise<() => RuleSet> {
  if (typeof rules === 'function') return rules
  if (rules === undefined || isRulePaths(rules)) {
    const set = await loadRuleSet(composeRulePaths(rules, defaultRules), { cache: createDiskRuleCache() })
    return () => set
  }
  return () => rules
}
