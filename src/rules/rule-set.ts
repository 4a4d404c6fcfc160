/**
 * @module rules/rule-set
 * A loaded, immutable set of compiled rules plus the combined regexes the
 * scanner runs: leftmost-first alternations over the rules of a lane
 * (one native call finds the next candidate of many rules: 6–10× fewer
 * calls than one regex per rule) and end-anchored alternations of the
 * rules' prefix languages (where the holdback starts).
 *
 * Two lanes: `output` (redact and cut: they change the text, so they hold it
 * back) and `flag` (report only: scanned on a shadow buffer, never holds text).
 */
import RE2 from 're2'
import { prefixPattern } from './analyze-pattern.js'
import { remember } from './disk-cache.js'
import { prefixDfaOf } from './hold-automaton.js'
import type { PrefixDfa } from './hold-automaton.js'
import { packGroups } from './pack-groups.js'
import type { CompiledRuleInternal } from './compile-rule.js'
import type { CompiledRule } from './types.js'

/**
 * Rules of a lane compiled together into one alternation. Which rules share
 * a group is measured (rules/pack-groups.ts): together where RE2's DFA stays
 * small, apart where their states would multiply.
 */
export interface RuleGroup {
  /** Indexes into the lane's `rules`, ascending. */
  readonly members: readonly number[]
  /** `(?flags:(rule0))|(?flags:(rule1))|…`, global. */
  readonly combined: RE2
  /** The same alternation, sticky: does any member match exactly at `lastIndex`? */
  readonly sticky: RE2
  /** Index of each member's wrapping capture group in `combined`. */
  readonly groupIndex: readonly number[]
  /**
   * The weakest boundary among the members (`none` < `digit` < `word` <
   * `alnum`: each touches a superset of the one before): a start after a
   * character it touches is refused by every member, so the search skips it.
   */
  readonly startBoundary: CompiledRuleInternal['boundary']
}

const kBoundaryOrder: ReadonlyArray<CompiledRuleInternal['boundary']> = ['none', 'digit', 'word', 'alnum']

export interface RuleLane {
  readonly rules: readonly CompiledRuleInternal[]
  readonly groups: readonly RuleGroup[]
  /**
   * End-anchored alternations of the rules' relaxed prefix languages (`{1,64}`
   * read as `{1,}`), one per category (see byCategory): the leftmost match
   * of any is the earliest position that may still grow into a match. One
   * native search per group: the cheapest hold for the few characters a
   * stream of prose holds.
   */
  readonly prefixes: readonly RE2[]
  /**
   * Each rule's DFA (rules/hold-automaton.ts), for the rules that have
   * one: the exact hold, kept incrementally once a stream holds more than a
   * few characters (digit runs, base64, URLs), where the relaxed one would
   * hold up to `maxLength` and re-read it all at every write.
   */
  readonly dfas: readonly PrefixDfa[]
  /** The relaxed prefixes of the rules that have no DFA (too large), for the exact hold. */
  readonly fallbackPrefixes: readonly RE2[]
  /** Longest match of any rule in the lane (UTF-16 units). */
  readonly maxLength: number
  /** Longest text an `after` of the lane's rules reads before a match: the context a stream keeps. */
  readonly maxAfter: number
}

export interface RuleSet {
  /** Every rule, enabled or not, in load order (files alphabetical, rules in file order). */
  readonly rules: readonly CompiledRule[]
  /** The files the rules came from. */
  readonly files: readonly string[]
  /** Redact and cut rules that read the normalized view (scanner/normalize.ts). */
  readonly output: RuleLane | undefined
  /** Flag rules that read the normalized view. */
  readonly flag: RuleLane | undefined
  /** Redact and cut rules that read the raw text (`view: raw`: invisible characters are what they look for). */
  readonly rawOutput: RuleLane | undefined
  /** Flag rules that read the raw text. */
  readonly rawFlag: RuleLane | undefined
  /** When the set was built, for hot-reload logs. */
  readonly loadedAt: Date
}

// Deriving a prefix automaton costs milliseconds to a second per rule, and
// rule sets are built at every start, every hot reload and in many tests:
// remembered by pattern (rules/disk-cache.ts); bump the version when the
// derivation changes.
const derivationVersion = '1'

function wrapFlags (flags: string, body: string): string {
  const inline = flags.replace(/u/g, '')
  return inline === '' ? `(?:${body})` : `(?${inline}:${body})`
}

function prefixSourceOf (rule: CompiledRuleInternal): string {
  if (rule.prefixSource !== undefined) return wrapFlags(rule.flags, rule.prefixSource)
  return remember(['prefix', derivationVersion, rule.flags, rule.source], () => {
    const p = prefixPattern(rule.source, rule.flags)
    return wrapFlags(p.flags, p.source)
  }, (text) => text)
}

function createGroup (rules: readonly CompiledRuleInternal[], members: readonly number[]): RuleGroup {
  const groupIndex: number[] = []
  let next = 1
  const parts = members.map((i) => {
    const rule = rules[i] as CompiledRuleInternal
    groupIndex.push(next)
    next += 1 + rule.groups
    return wrapFlags(rule.flags, `(${rule.source})`)
  })
  let weakest = kBoundaryOrder.length - 1
  for (const i of members) weakest = Math.min(weakest, kBoundaryOrder.indexOf((rules[i] as CompiledRuleInternal).boundary))
  return {
    members,
    combined: new RE2(parts.join('|'), 'gu'),
    sticky: new RE2(parts.join('|'), 'yu'),
    groupIndex,
    startBoundary: kBoundaryOrder[weakest] as CompiledRuleInternal['boundary']
  }
}

/**
 * Rule indexes by category, in load order. The prefix languages are grouped
 * this way rather than packed by measured cost: on novel text any union of
 * them overflows RE2's DFA (all 21 together: 200 µs per 16 characters), but
 * the held tail of a stream is mostly prose whose states stay cached, where
 * a search per group costs more than the overflow does (measured end to end
 * at 100 streams: 4 category groups kept 0.99 of the parse-only relay's
 * chunks/s, 19 packed groups 0.91).
 */
function byCategory (rules: readonly CompiledRuleInternal[]): Map<string, number[]> {
  const groups = new Map<string, number[]>()
  rules.forEach((rule, i) => {
    const members = groups.get(rule.category) ?? []
    members.push(i)
    groups.set(rule.category, members)
  })
  return groups
}

function prefixGroups (rules: readonly CompiledRuleInternal[]): RE2[] {
  return [...byCategory(rules).values()].map((members) => new RE2(members.map((i) => `${prefixSourceOf(rules[i] as CompiledRuleInternal)}$`).join('|'), 'u'))
}

function createLane (rules: CompiledRuleInternal[]): RuleLane | undefined {
  if (rules.length === 0) return undefined
  const alternatives = rules.map((rule) => wrapFlags(rule.flags, `(${rule.source})`))
  const dfas: PrefixDfa[] = []
  const fallback: CompiledRuleInternal[] = []
  for (const rule of rules) {
    const dfa = prefixDfaOf(rule)
    if (dfa === undefined) fallback.push(rule)
    else dfas.push(dfa)
  }
  return {
    rules,
    // Rules with a start boundary pack apart from those without: a group
    // whose members all have one skips the starts it refuses (find-match.ts),
    // inside a run of digits every one of them.
    groups: packGroups(alternatives, 'gu', rules.map((r) => r.boundary === 'none' ? 'free' : 'bounded')).map((members) => createGroup(rules, members)),
    prefixes: prefixGroups(rules),
    dfas,
    fallbackPrefixes: prefixGroups(fallback),
    maxLength: Math.max(...rules.map((r) => r.maxLength)),
    maxAfter: Math.max(0, ...rules.map((r) => r.after?.maxLength ?? 0))
  }
}

export function createRuleSet (rules: readonly CompiledRuleInternal[], files: readonly string[] = []): RuleSet {
  const enabled = rules.filter((r) => r.enabled)
  return {
    rules,
    files,
    output: createLane(enabled.filter((r) => r.action !== 'flag' && r.view === 'normalized')),
    flag: createLane(enabled.filter((r) => r.action === 'flag' && r.view === 'normalized')),
    rawOutput: createLane(enabled.filter((r) => r.action !== 'flag' && r.view === 'raw')),
    rawFlag: createLane(enabled.filter((r) => r.action === 'flag' && r.view === 'raw')),
    loadedAt: new Date()
  }
}
