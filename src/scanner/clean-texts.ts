/**
 * @module scanner/clean-texts
 * Texts known to scan clean, whole and with no finding, under one rule set:
 * ids, model names, object keys, enum values and header values repeat in
 * every frame of every stream, and a whole scan of a short random id costs
 * far more than a lookup. A rule set never changes (a reload makes a new
 * one), so the verdicts are kept per rule set, bounded.
 */
import type { RuleSet } from '../rules/rule-set.js'
import type { Finding } from './types.js'

/** Longest text remembered, and how many are kept per rule set. */
const kMaxCleanLength = 256
const kMaxCleanTexts = 4096

const kCleanTexts = new WeakMap<RuleSet, Set<string>>()

/** The clean texts of a rule set (made on first use). */
export function cleanTextsOf (ruleSet: RuleSet): Set<string> {
  let set = kCleanTexts.get(ruleSet)
  if (set === undefined) kCleanTexts.set(ruleSet, (set = new Set()))
  return set
}

/** Remembers `text` when its whole scan changed nothing and found nothing. */
export function rememberClean (set: Set<string>, text: string, released: string, findings: readonly Finding[]): void {
  if (released !== text || findings.length > 0 || text.length > kMaxCleanLength) return
  if (set.size >= kMaxCleanTexts) set.clear()
  set.add(text)
}
