/**
 * @module scanner/hold-tracker
 * Where the undecided tail of a lane begins, kept up to date as text
 * arrives: for each rule, the candidate matches still alive — a state of
 * the rule's prefix DFA (rules/hold-automaton.ts) and the offset it started
 * at. Each character advances every live candidate and may start one;
 * candidates in the same state merge into the earliest (they read the same
 * future, and only the leftmost start matters). The work per character is
 * bounded by the rules' states, whatever the length of the held text: a
 * write costs time for its own characters, and nothing is re-read.
 */
import { classOf } from '../rules/hold-automaton.js'
import type { PrefixDfa } from '../rules/hold-automaton.js'

export interface HoldTracker {
  /** Reads the next view text (contiguous with what came before). */
  push(text: string): void
  /** The stream offset of the earliest live candidate, or Infinity. */
  readonly leftmost: number
  /**
   * Whether a whole match may end after stream offset `from`: some
   * candidate reached a final state at a character after it. When not, no
   * rule can have a match in the text after `from` (the automata accept
   * more than the rules do: assertions, validators and allow-lists only
   * reject), and the search for matches there can be skipped.
   */
  mayMatchAfter(from: number): boolean
  /** Forgets every candidate; the next push starts at stream offset `at`. */
  reset(at: number): void
}

interface Live {
  readonly dfa: PrefixDfa
  states: Int32Array
  starts: Float64Array
  count: number
  /** Double buffers, swapped at every character; grown as needed (most streams keep a handful of candidates). */
  nextStates: Int32Array
  nextStarts: Float64Array
  /** For many candidates: `seen[state] === tick` when the state already has an (earlier) one this character. */
  seen: Int32Array | undefined
  tick: number
}

/** Below this many candidates a duplicate state is found by a scan, above it by a table of all states. */
const kScanLimit = 16

/**
 * Per lane (its list of DFAs): for each code point, the DFAs whose initial
 * state reads it — the only ones a character can start a candidate in. On
 * prose most rules cannot start at most characters, so a character steps
 * the few that can and the few with live candidates, not every rule.
 */
const kStarters = new WeakMap<readonly PrefixDfa[], Map<number, Int32Array>>()

function startersOf (dfas: readonly PrefixDfa[], cp: number): Int32Array {
  let byCp = kStarters.get(dfas)
  if (byCp === undefined) kStarters.set(dfas, (byCp = new Map()))
  let list = byCp.get(cp)
  if (list === undefined) {
    const found: number[] = []
    dfas.forEach((dfa, i) => {
      const cls = classOf(dfa, cp)
      if (cls !== 0 && (dfa.next[dfa.initial * dfa.classes + cls] as number) >= 0) found.push(i)
    })
    list = Int32Array.from(found)
    // Bounded: text in many scripts must not grow it without end.
    if (byCp.size < 4096) byCp.set(cp, list)
  }
  return list
}

export function createHoldTracker (dfas: readonly PrefixDfa[]): HoldTracker {
  // Made on first use: a stream touches a few rules' automata, and a
  // stream's state must stay small (thousands of streams per process).
  const lives: Array<Live | undefined> = new Array(dfas.length)
  function liveOf (k: number): Live {
    let live = lives[k]
    if (live === undefined) {
      const dfa = dfas[k] as PrefixDfa
      const size = Math.min(8, dfa.states)
      live = {
        dfa,
        states: new Int32Array(size),
        starts: new Float64Array(size),
        count: 0,
        nextStates: new Int32Array(size),
        nextStarts: new Float64Array(size),
        seen: undefined,
        tick: 0
      }
      lives[k] = live
    }
    return live
  }
  let offset = 0
  /** Stream offset just after the last character at which a candidate reached a final state. */
  let acceptEnd = -1
  /** Indexes of the DFAs with live candidates, and a stamp to join them with the starters once. */
  let active: number[] = []
  let nextActive: number[] = []
  const stamp = new Int32Array(dfas.length).fill(-1)
  let round = 0

  /** Whether `to` already has a candidate among the first `n` of this character. */
  function taken (live: Live, to: number, n: number, tick: number): boolean {
    if (live.seen !== undefined) {
      if (live.seen[to] === tick) return true
      live.seen[to] = tick
      return false
    }
    for (let j = 0; j < n; j++) if (live.nextStates[j] === to) return true
    return false
  }

  function grow (live: Live, n: number): void {
    if (n < live.nextStates.length) return
    const size = Math.min(live.dfa.states, live.nextStates.length * 2)
    const states = new Int32Array(size)
    states.set(live.nextStates)
    const starts = new Float64Array(size)
    starts.set(live.nextStarts)
    live.nextStates = states
    live.nextStarts = starts
  }

  function step (live: Live, cp: number, at: number): void {
    const { dfa } = live
    const cls = classOf(dfa, cp)
    let n = 0
    if (cls !== 0) {
      const tick = ++live.tick
      if (live.seen === undefined && live.count >= kScanLimit) live.seen = new Int32Array(dfa.states).fill(-1)
      const { next, classes } = dfa
      for (let i = 0; i < live.count; i++) {
        const to = next[(live.states[i] as number) * classes + cls] as number
        if (to < 0 || taken(live, to, n, tick)) continue
        grow(live, n)
        live.nextStates[n] = to
        live.nextStarts[n] = live.starts[i] as number
        n++
      }
      const first = next[dfa.initial * classes + cls] as number
      if (first >= 0 && !taken(live, first, n, tick)) {
        grow(live, n)
        live.nextStates[n] = first
        live.nextStarts[n] = at
        n++
      }
      const accept = dfa.accept
      for (let i = 0; i < n; i++) {
        if (accept[live.nextStates[i] as number] === 1) {
          acceptEnd = at + (cp > 0xffff ? 2 : 1)
          break
        }
      }
    }
    const states = live.states
    const starts = live.starts
    live.states = live.nextStates
    live.starts = live.nextStarts
    // The other buffer must be as large as the one now in use.
    live.nextStates = states.length >= live.states.length ? states : new Int32Array(live.states.length)
    live.nextStarts = starts.length >= live.starts.length ? starts : new Float64Array(live.starts.length)
    live.count = n
  }

  return {
    push (text) {
      for (let i = 0; i < text.length;) {
        const cp = text.codePointAt(i) as number
        const r = ++round
        nextActive.length = 0
        for (const k of active) {
          stamp[k] = r
          const live = liveOf(k)
          step(live, cp, offset + i)
          if (live.count > 0) nextActive.push(k)
        }
        for (const k of startersOf(dfas, cp)) {
          if (stamp[k] === r) continue
          const live = liveOf(k)
          step(live, cp, offset + i)
          if (live.count > 0) nextActive.push(k)
        }
        const t = active
        active = nextActive
        nextActive = t
        i += cp > 0xffff ? 2 : 1
      }
      offset += text.length
    },
    get leftmost () {
      let min = Infinity
      for (const k of active) {
        const start = (lives[k] as Live).starts[0] as number
        if (start < min) min = start
      }
      return min
    },
    mayMatchAfter (from) {
      return acceptEnd > from
    },
    reset (at) {
      for (const k of active) (lives[k] as Live).count = 0
      active.length = 0
      offset = at
      acceptEnd = -1
    }
  }
}
