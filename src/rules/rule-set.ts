/**
 * @module rules/rule-set
 * A loaded, immutable set of compiled rules plus the combined regexes the
 * scanner runs: leftmost-first alternations over the rules of a lane
 * (one native call finds the next candidate of many rules: 6–10× fewer
 * calls than one regex per rule) and the rules' automata run as one (where
 * the holdback starts, and whether a match may have ended).
 *
 * Two lanes: `output` (redact and cut: they change the text, so they hold it
 * back) and `flag` (report only: scanned on a shadow buffer, never holds text).
 */
import RE2 from 're2'
import { prefixPattern } from './analyze-pattern.js'
import { remember } from './rule-cache.js'
import type { RuleCache } from './rule-cache.js'
import { contextDfaOf, prefixDfaOf, startsWith } from './hold-automaton.js'
import type { PrefixDfa } from './hold-automaton.js'
import { createLaneAutomaton, kMaxContexts } from './lane-automaton.js'
import type { LanePart } from './lane-automaton.js'
import { packGroups } from './pack-groups.js'
import type { CompiledRuleInternal } from './compile-rule.js'
import type { Boundary, CompiledRule } from './types.js'

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
   * Each rule's DFA (rules/hold-automaton.ts), for the rules that have
   * one, in rule order.
   */
  readonly dfas: readonly PrefixDfa[]
  /**
   * Those DFAs run as one automaton (rules/lane-automaton.ts), or a few:
   * each stream's exact hold, kept incrementally (scanner/hold-tracker.ts),
   * and whether a match may start in the text about to be decided.
   */
  readonly parts: readonly LanePart[]
  /**
   * Each rule alone as a group (by rule index), made on first use
   * (`singleGroup`): the search when the automaton tells which few rules
   * can match.
   */
  readonly single: Array<RuleGroup | undefined>
  /**
   * End-anchored alternations of the relaxed prefix languages (`{1,64}`
   * read as `{1,}`) of the rules that have no DFA (too large), one per
   * category: where their hold starts. A lane with any is searched at every
   * write, as the automaton cannot tell whether they match.
   */
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
  /**
   * Where the set's derivations were remembered (rules/rule-cache.ts), if
   * anywhere but memory: a set rebuilt from it (a hot reload, the proxy's
   * input stage) passes it on.
   */
  readonly cache: RuleCache | undefined
}

export interface CreateRuleSetOptions {
  /** Keeps what building the set derives across processes (rules/rule-cache.ts); memory only when absent. */
  cache?: RuleCache | undefined
}

// Deriving a prefix automaton costs milliseconds to a second per rule, and
// rule sets are built at every start, every hot reload and in many tests:
// remembered by pattern (rules/rule-cache.ts); bump the version when the
// derivation changes.
const derivationVersion = '1'

function wrapFlags (flags: string, body: string): string {
  const inline = flags.replace(/u/g, '')
  return inline === '' ? `(?:${body})` : `(?${inline}:${body})`
}

function prefixSourceOf (rule: CompiledRuleInternal, cache: RuleCache | undefined): string {
  if (rule.prefixSource !== undefined) return wrapFlags(rule.flags, rule.prefixSource)
  return remember(cache, ['prefix', derivationVersion, rule.flags, rule.source], () => {
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
 * Rule indexes by category, in load order: on novel text any union of the
 * relaxed prefix languages overflows RE2's DFA (all 21 default rules
 * together: 200 µs per 16 characters), so they are searched a category at a
 * time.
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

function prefixGroups (rules: readonly CompiledRuleInternal[], cache: RuleCache | undefined): RE2[] {
  return [...byCategory(rules).values()].map((members) => new RE2(members.map((i) => `${prefixSourceOf(rules[i] as CompiledRuleInternal, cache)}$`).join('|'), 'u'))
}

/** Characters a context's first one may be, beyond which it is not worth running (see contextFor). */
const kContextStarts = 8

/** How many BMP code points a match of `dfa` may start with (Infinity if one above the BMP). */
function initialReach (dfa: PrefixDfa): number {
  for (const [min] of dfa.astral) if (startsWith(dfa, min)) return Infinity
  let n = 0
  for (let cp = 0; cp < 0x10000; cp++) if (startsWith(dfa, cp)) n++
  return n
}

/**
 * The context a rule's candidates need (an index into `contexts`, added on
 * first use), or -1: its `after` as an automaton (lane-automaton.ts), when
 * that is worth running — it cannot match empty text, and it starts on a
 * few characters only (`]` of a link, `!` of an image, `src`), so it is
 * rarely under way. A broad one (a URL scheme: any letter) would be under
 * way at every word, for a rule that starts rarely anyway.
 */
function contextFor (rule: CompiledRuleInternal, contexts: PrefixDfa[], index: Map<string, number>, cache: RuleCache | undefined): number {
  const after = rule.after
  if (after === undefined) return -1
  const key = `${rule.flags}/${after.source}`
  const known = index.get(key)
  if (known !== undefined) return known
  let found = -1
  const dfa = contexts.length < kMaxContexts ? contextDfaOf(after.source, rule.flags, cache) : undefined
  if (dfa !== undefined && dfa.accept[dfa.initial] !== 1 && initialReach(dfa) <= kContextStarts) {
    found = contexts.length
    contexts.push(dfa)
  }
  index.set(key, found)
  return found
}

/** States beyond which a rule that starts on every letter and digit runs apart (see createLane). */
const kWideStates = 500

const kAsciiAlnum = [...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'].map((ch) => ch.charCodeAt(0))

function startsOnEveryAlnum (dfa: PrefixDfa): boolean {
  return kAsciiAlnum.every((cp) => startsWith(dfa, cp))
}

/**
 * The automaton of the lane's rule automata `members` (indexes into `dfas`,
 * whose rules are `dfaRules`), with the contexts they need (`contextOf`).
 */
function createPart (members: readonly number[], dfas: readonly PrefixDfa[], dfaRules: readonly number[], boundaries: readonly Boundary[], contexts: readonly PrefixDfa[], contextOf: readonly number[], contextLength: number): LanePart {
  const of = members.map((d) => contextOf[d] ?? -1)
  return {
    automaton: createLaneAutomaton(members.map((d) => dfas[d] as PrefixDfa), members.map((d) => boundaries[d] as Boundary), { dfas: contexts, of, maxLength: contextLength }),
    rules: Int32Array.from(members, (d) => dfaRules[d] as number)
  }
}

function createLane (rules: CompiledRuleInternal[], cache: RuleCache | undefined): RuleLane | undefined {
  if (rules.length === 0) return undefined
  const alternatives = rules.map((rule) => wrapFlags(rule.flags, `(${rule.source})`))
  const dfas: PrefixDfa[] = []
  const dfaRules: number[] = []
  const boundaries: Boundary[] = []
  const fallback: CompiledRuleInternal[] = []
  const contexts: PrefixDfa[] = []
  const contextOf: number[] = []
  const contextIndex = new Map<string, number>()
  rules.forEach((rule, i) => {
    const dfa = prefixDfaOf(rule, cache)
    if (dfa === undefined) {
      fallback.push(rule)
      return
    }
    dfas.push(dfa)
    dfaRules.push(i)
    boundaries.push(rule.boundary)
    contextOf.push(contextFor(rule, contexts, contextIndex, cache))
  })
  // A rule that may start on any letter or digit and has many states (the
  // e-mail address: a local part at every count up to 64, at every word)
  // runs on its own: with the others, its states multiply theirs (on 2 MB
  // of READMEs 27,000 states together, 7,400 and 9,100 apart).
  const wide = dfas.map((dfa, d) => contextOf[d] === -1 && dfa.states >= kWideStates && startsOnEveryAlnum(dfa))
  const parts: LanePart[] = []
  const rest = dfas.map((_, d) => d).filter((d) => wide[d] !== true)
  // A new tracker reads the decided text before it for its contexts: as much as the longest `after` of the rules that need one.
  const contextLength = Math.max(0, ...dfaRules.map((i, d) => contextOf[d] === -1 ? 0 : (rules[i] as CompiledRuleInternal).after?.maxLength ?? 0))
  if (rest.length > 0 || dfas.length === 0) parts.push(createPart(rest, dfas, dfaRules, boundaries, contexts, contextOf, contextLength))
  dfas.forEach((_, d) => { if (wide[d] === true) parts.push(createPart([d], dfas, dfaRules, boundaries, [], [-1], 0)) })
  return {
    rules,
    // Rules with a start boundary pack apart from those without: a group
    // whose members all have one skips the starts it refuses (find-match.ts),
    // inside a run of digits every one of them.
    groups: packGroups(alternatives, 'gu', rules.map((r) => r.boundary === 'none' ? 'free' : 'bounded'), cache).map((members) => createGroup(rules, members)),
    dfas,
    parts,
    single: new Array(rules.length),
    fallbackPrefixes: prefixGroups(fallback, cache),
    maxLength: Math.max(...rules.map((r) => r.maxLength)),
    maxAfter: Math.max(0, ...rules.map((r) => Math.max(r.after?.maxLength ?? 0, r.notAfter?.maxLength ?? 0)))
  }
}

/** Rule `i` of `lane` alone as a group (compiled on first use: most rules of a lane never need it). */
export function singleGroup (lane: RuleLane, i: number): RuleGroup {
  let group = lane.single[i]
  if (group === undefined) {
    group = createGroup(lane.rules, [i])
    lane.single[i] = group
  }
  return group
}

/** The set of compiled `rules` (from `files`), its lanes built. */
export function createRuleSet (rules: readonly CompiledRuleInternal[], files: readonly string[] = [], options: CreateRuleSetOptions = {}): RuleSet {
  const { cache } = options
  const enabled = rules.filter((r) => r.enabled)
  return {
    rules,
    files,
    output: createLane(enabled.filter((r) => r.action !== 'flag' && r.view === 'normalized'), cache),
    flag: createLane(enabled.filter((r) => r.action === 'flag' && r.view === 'normalized'), cache),
    rawOutput: createLane(enabled.filter((r) => r.action !== 'flag' && r.view === 'raw'), cache),
    rawFlag: createLane(enabled.filter((r) => r.action === 'flag' && r.view === 'raw'), cache),
    loadedAt: new Date(),
    cache
  }
}
