/**
 * @module rules/reverse-automaton
 * A rule's `after` (a lookbehind) read backwards from a match's start: the
 * pattern's NFA reversed, determinized lazily as text is read (the way RE2
 * runs its DFA), in JavaScript.
 *
 * The end-anchored regex `(?:after)$` it replaces scans its whole window
 * forwards, and with counted repetitions RE2's DFA gives up on it (hundreds
 * of µs per call); a full reversed DFA can be huge (a markdown image's
 * `!\[…{0,200}\]\(…{1,200}` has 234,000 states: the alt text's count times
 * the URL's, as `](` can be part of both). Read backwards, a lookbehind
 * costs as many steps as the context it reads, and only the subsets of NFA
 * states that real text reaches are ever built.
 */
import { NFA } from 'refa'
import { parseForAutomata } from './analyze-pattern.js'
import { rememberBuilt } from './rule-cache.js'
import type { RuleCache } from './rule-cache.js'

/** A state of the lazy DFA: a set of NFA states. */
export interface ReverseState {
  /** Whether it ends a match (the context read so far matches the pattern). */
  readonly accept: boolean
  /** NFA states, ascending. */
  readonly members: Int32Array
  /** Transitions by class: a state, null (dead), or undefined (not computed yet). */
  readonly next: Array<ReverseState | null | undefined>
}

export interface ReverseAutomaton {
  readonly initial: ReverseState
  /** The state after reading code point `cp` (backwards) from `state`, or null when nothing can match any more. */
  step (state: ReverseState, cp: number): ReverseState | null
}

/** NFA states of a pattern beyond which it keeps the regex (bounds load time and memory). */
const kMaxNfaStates = 20_000
/** Subsets remembered per automaton before the table starts afresh (states in use stay valid). */
const kMaxStates = 4096
/** Bumped when the serialized form changes: older cached NFAs are then ignored. */
const kVersion = '1'

interface Serialized { nodes: number, initial: number, finals: number[], edges: Array<[number, number, number, number]> }

function build (source: string, flags: string): Serialized | undefined {
  try {
    // Assertions would need the characters around: such a pattern keeps the regex.
    const { expression, maxCharacter } = parseForAutomata(source, flags, 'throw')
    const nfa = NFA.fromRegex(expression, { maxCharacter }, {}, new NFA.LimitedNodeFactory(kMaxNfaStates))
    nfa.reverse()
    const index = new Map<NFA.ReadonlyNode, number>([[nfa.initial, 0]])
    const order: NFA.ReadonlyNode[] = [nfa.initial]
    const edges: Array<[number, number, number, number]> = []
    for (let i = 0; i < order.length; i++) {
      for (const [to, chars] of (order[i] as NFA.ReadonlyNode).out) {
        let j = index.get(to)
        if (j === undefined) {
          j = order.length
          index.set(to, j)
          order.push(to)
        }
        for (const range of chars.ranges) edges.push([i, j, range.min, range.max])
      }
    }
    return { nodes: order.length, initial: 0, finals: [...nfa.finals].map((n) => index.get(n) as number), edges }
  } catch {
    return undefined
  }
}

function load (s: Serialized): ReverseAutomaton {
  // Classes: the elementary intervals between the edges' bounds.
  const bounds = [...new Set(s.edges.flatMap(([, , min, max]) => [min, max + 1]))].sort((a, b) => a - b)
  const starts = Float64Array.from(bounds)
  /** Class of code point `cp`: the interval it falls in (1…), or 0 outside every edge. */
  function classOf (cp: number): number {
    let lo = 0
    let hi = starts.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((starts[mid] as number) <= cp) lo = mid + 1
      else hi = mid
    }
    return lo
  }
  const bmp = new Uint16Array(0x10000)
  for (let i = 0; i < starts.length && (starts[i] as number) <= 0xffff; i++) {
    bmp.fill(i + 1, starts[i] as number, Math.min(starts[i + 1] ?? 0x10000, 0x10000))
  }
  const classes = starts.length + 1
  // Per NFA state, its edges as [to, first class, last class].
  const out: number[][] = Array.from({ length: s.nodes }, () => [])
  for (const [from, to, min, max] of s.edges) {
    if (from < 0 || from >= s.nodes || to < 0 || to >= s.nodes || min > max) throw new Error('damaged')
    ;(out[from] as number[]).push(to, classOf(min), classOf(max))
  }
  const finals = new Uint8Array(s.nodes)
  for (const f of s.finals) finals[f] = 1
  const seen = new Int32Array(s.nodes)
  let stamp = 0

  let states = new Map<string, ReverseState>()
  function intern (members: number[]): ReverseState {
    members.sort((a, b) => a - b)
    const key = members.join(',')
    let state = states.get(key)
    if (state === undefined) {
      if (states.size >= kMaxStates) states = new Map()
      state = { accept: members.some((m) => finals[m] === 1), members: Int32Array.from(members), next: new Array(classes) }
      states.set(key, state)
    }
    return state
  }
  const initial = intern([s.initial])

  return {
    initial,
    step (state, cp) {
      const cls = cp <= 0xffff ? bmp[cp] as number : classOf(cp)
      const cached = state.next[cls]
      if (cached !== undefined) return cached
      const mark = ++stamp
      const members: number[] = []
      for (const m of state.members) {
        const edges = out[m] as number[]
        for (let e = 0; e < edges.length; e += 3) {
          const to = edges[e] as number
          if (cls < (edges[e + 1] as number) || cls > (edges[e + 2] as number) || seen[to] === mark) continue
          seen[to] = mark
          members.push(to)
        }
      }
      const next = members.length === 0 ? null : intern(members)
      state.next[cls] = next
      return next
    }
  }
}

/**
 * The reversed automaton of an `after` pattern, or undefined when it has
 * assertions or is too large (the `(?:after)$` regex is used then).
 */
export function reverseAutomatonOf (source: string, flags: string, cache?: RuleCache): ReverseAutomaton | undefined {
  return rememberBuilt(cache, ['reverse', kVersion, flags, source], () => build(source, flags), load)
}
