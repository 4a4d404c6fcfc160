/**
 * @module rules/hold-automaton
 * Per rule, a DFA of its matches whose every state is a live prefix, with
 * counted repetition kept exact: the scanner runs them, as one per lane
 * (rules/lane-automaton.ts), incrementally over the text it holds
 * (scanner/hold-tracker.ts), so a write costs time for its own characters
 * only, and a position stays held exactly as long as some rule could still
 * match from it (a run of digits is no card prefix past 19 digits, a word
 * no e-mail local part past 64 characters).
 *
 * The end-anchored RE2 alternation this replaces had to relax `{1,64}` to
 * `{1,}` to stay small, so any run stayed "viable" up to the lane's longest
 * match, and it re-read the whole held text at every write. Anchored at the
 * candidate's start, a DFA with exact counts stays small (tens to a few
 * thousand states per rule), and equal states of two candidates merge (the
 * later one can never end up leftmost).
 *
 * A rule whose DFA would pass `kMaxStates` (several long counted classes
 * that overlap) is left to the relaxed RE2 prefix (`fallback`), as before.
 */
import { DFA, NFA } from 'refa'
import type { CompiledRuleInternal } from './compile-rule.js'
import { parseForAutomata, relaxRepetitions } from './analyze-pattern.js'
import { rememberBuilt } from './rule-cache.js'
import type { RuleCache } from './rule-cache.js'

/** Beyond this many states a rule keeps the relaxed RE2 prefix (bounds load time and memory). */
const kMaxStates = 20_000
/** Bumped when the compiled form changes: older cached automata are then ignored. */
const kVersion = '2'

/** A compiled prefix DFA: states 0…n-1, `next[state * classes + class]` or -1 (dead). */
export interface PrefixDfa {
  readonly states: number
  readonly classes: number
  readonly initial: number
  readonly next: Int32Array
  /** Class of each BMP code unit (0: no transition anywhere). */
  readonly bmp: Uint16Array
  /** Classes of code points above the BMP, as sorted `[min, max, class]` ranges. */
  readonly astral: ReadonlyArray<readonly [number, number, number]>
  /** 1 for the states that end a whole match (before assertions, validators and allow-lists). */
  readonly accept: Uint8Array
}

interface Serialized { states: number, classes: number, initial: number, next: string, ranges: Array<[number, number, number]>, accept: number[] }

/** `relaxed`: counted repetitions read as unbounded (`{1,200}` as `{1,}`): a superset, in far fewer states. */
function build (source: string, flags: string, relaxed: boolean): Serialized | undefined {
  try {
    const { expression, maxCharacter } = parseForAutomata(source, flags, 'ignore')
    if (relaxed) relaxRepetitions(expression)
    const nfa = NFA.fromRegex(expression, { maxCharacter }, {}, new NFA.LimitedNodeFactory(kMaxStates))
    // The match DFA, minimized: states that cannot reach a match end are
    // gone, so every state left is a live prefix, and the final ones end a
    // whole match.
    const dfa = DFA.fromFA(nfa, new DFA.LimitedNodeFactory(kMaxStates))
    dfa.minimize()
    // Number the states, breadth first from the initial one.
    const index = new Map<DFA.ReadonlyNode, number>([[dfa.initial, 0]])
    const order: DFA.ReadonlyNode[] = [dfa.initial]
    const cuts = new Set<number>()
    for (let i = 0; i < order.length; i++) {
      for (const [range, to] of (order[i] as DFA.ReadonlyNode).out.entries()) {
        cuts.add(range.min)
        cuts.add(range.max + 1)
        if (!index.has(to)) {
          index.set(to, order.length)
          order.push(to)
        }
      }
    }
    // Elementary intervals between the transitions' bounds are the classes (1…k).
    const bounds = [...cuts].sort((a, b) => a - b)
    const ranges: Array<[number, number, number]> = []
    for (let i = 0; i + 1 < bounds.length; i++) ranges.push([bounds[i] as number, (bounds[i + 1] as number) - 1, i + 1])
    const classes = ranges.length + 1
    const next = new Int32Array(order.length * classes).fill(-1)
    for (let s = 0; s < order.length; s++) {
      for (const [range, to] of (order[s] as DFA.ReadonlyNode).out.entries()) {
        // The intervals inside `range`: bounds are sorted, so find the first by binary search.
        let lo = 0
        let hi = ranges.length
        while (lo < hi) {
          const mid = (lo + hi) >> 1
          if ((ranges[mid] as [number, number, number])[0] < range.min) lo = mid + 1
          else hi = mid
        }
        for (let c = lo; c < ranges.length && (ranges[c] as [number, number, number])[1] <= range.max; c++) {
          next[s * classes + c + 1] = index.get(to) as number
        }
      }
    }
    const accept = order.map((node, i) => dfa.finals.has(node as DFA.Node) ? i : -1).filter((i) => i >= 0)
    return { states: order.length, classes, initial: 0, next: Buffer.from(next.buffer).toString('base64'), ranges, accept }
  } catch {
    return undefined
  }
}

function load (s: Serialized): PrefixDfa {
  const next = new Int32Array(new Uint8Array(Buffer.from(s.next, 'base64')).buffer)
  if (next.length !== s.states * s.classes) throw new Error('damaged')
  const bmp = new Uint16Array(0x10000)
  const astral: Array<[number, number, number]> = []
  for (const [min, max, cls] of s.ranges) {
    if (cls <= 0 || cls >= s.classes || min > max) throw new Error('damaged')
    if (min <= 0xffff) bmp.fill(cls, min, Math.min(max, 0xffff) + 1)
    if (max > 0xffff) astral.push([Math.max(min, 0x10000), max, cls])
  }
  for (const v of next) if (v < -1 || v >= s.states) throw new Error('damaged')
  const accept = new Uint8Array(s.states)
  for (const i of s.accept) {
    if (!Number.isInteger(i) || i < 0 || i >= s.states) throw new Error('damaged')
    accept[i] = 1
  }
  return { states: s.states, classes: s.classes, initial: s.initial, next, bmp, astral, accept }
}

function dfaOf (source: string, flags: string, relaxed: boolean, cache: RuleCache | undefined): PrefixDfa | undefined {
  return rememberBuilt(cache, [relaxed ? 'relaxed-dfa' : 'dfa', kVersion, flags, source], () => build(source, flags, relaxed), load)
}

/** The rule's prefix DFA, or undefined when it is too large (the rule keeps the RE2 prefix). */
export function prefixDfaOf (rule: CompiledRuleInternal, cache?: RuleCache): PrefixDfa | undefined {
  return dfaOf(rule.source, rule.flags, false, cache)
}

/**
 * The DFA of a context (a rule's `after`), counts relaxed: it only gates
 * where a rule's candidates may start, so accepting more is safe, and exact
 * counts (a URL's `{1,200}` characters) multiplied the lane's states by
 * hundreds. Undefined when it is too large.
 */
export function contextDfaOf (source: string, flags: string, cache?: RuleCache): PrefixDfa | undefined {
  return dfaOf(source, flags, true, cache)
}

/** Whether a match of `dfa` may start with code point `cp` (its initial state reads it). */
export function startsWith (dfa: PrefixDfa, cp: number): boolean {
  const cls = classOf(dfa, cp)
  return cls !== 0 && (dfa.next[dfa.initial * dfa.classes + cls] as number) >= 0
}

/** The class of code point `cp` in `dfa` (0 when no transition reads it). */
export function classOf (dfa: PrefixDfa, cp: number): number {
  if (cp <= 0xffff) return dfa.bmp[cp] as number
  for (const [min, max, cls] of dfa.astral) {
    if (cp < min) return 0
    if (cp <= max) return cls
  }
  return 0
}
