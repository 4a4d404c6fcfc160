/**
 * @module scanner/hold-tracker
 * Where the undecided tail of a lane begins, kept up to date as text
 * arrives: for each rule, the candidate matches still alive — a state of
 * the rule's DFA (rules/hold-automaton.ts) and the offset it started at.
 * Each character advances every live candidate and may start one;
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
  leftmost(): number
  /**
   * Whether a whole match may end after stream offset `from`: some
   * candidate reached a final state at a character after it. When not, no
   * rule can have a match in the text after `from` (the automata accept
   * more than the rules do: assertions, validators and allow-lists only
   * reject), and the search for matches there can be skipped.
   */
  mayMatchAfter(from: number): boolean
}

interface Live {
  readonly dfa: PrefixDfa
  /** Candidates in order of start: their states and starts (updated in place, a candidate never moves right). */
  readonly states: number[]
  readonly starts: number[]
  count: number
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
interface Starters {
  readonly ascii: Int32Array[]
  readonly other: Map<number, Int32Array>
}

const kStarters = new WeakMap<readonly PrefixDfa[], Starters>()

/** The DFAs whose initial state reads `cp`. */
function startingAt (dfas: readonly PrefixDfa[], cp: number): Int32Array {
  const found: number[] = []
  dfas.forEach((dfa, i) => {
    const cls = classOf(dfa, cp)
    if (cls !== 0 && (dfa.next[dfa.initial * dfa.classes + cls] as number) >= 0) found.push(i)
  })
  return Int32Array.from(found)
}

function startersFor (dfas: readonly PrefixDfa[]): Starters {
  let starters = kStarters.get(dfas)
  if (starters === undefined) {
    starters = { ascii: Array.from({ length: 128 }, (_, cp) => startingAt(dfas, cp)), other: new Map() }
    kStarters.set(dfas, starters)
  }
  return starters
}

function startersOf (starters: Starters, dfas: readonly PrefixDfa[], cp: number): Int32Array {
  if (cp < 128) return starters.ascii[cp] as Int32Array
  let list = starters.other.get(cp)
  if (list === undefined) {
    list = startingAt(dfas, cp)
    // Bounded: text in many scripts must not grow it without end.
    if (starters.other.size < 4096) starters.other.set(cp, list)
  }
  return list
}

/**
 * Creates the tracker of one lane of one stream, whose first push starts at
 * stream offset `at`.
 * @example
 * const tracker = createHoldTracker(lane.dfas)
 * tracker.push('card 4111 11')
 * tracker.leftmost() // 5: "4111 11" may still become a card number
 */
export function createHoldTracker (dfas: readonly PrefixDfa[], at = 0): HoldTracker {
  const starters = startersFor(dfas)
  // Made on first use: a stream touches a few rules' automata, and a
  // stream's state must stay small (thousands of streams per process).
  const lives: Array<Live | undefined> = new Array(dfas.length)
  let offset = at
  /** Stream offset just after the last character at which a candidate reached a final state. */
  let acceptEnd = -1
  /** Indexes of the DFAs with live candidates, and a stamp to join them with the starters once. */
  const active = new Int32Array(dfas.length)
  let activeCount = 0
  const stamp = new Int32Array(dfas.length).fill(-1)
  let round = 0

  function liveOf (k: number): Live {
    let live = lives[k]
    if (live === undefined) {
      live = { dfa: dfas[k] as PrefixDfa, states: [], starts: [], count: 0, seen: undefined, tick: 0 }
      lives[k] = live
    }
    return live
  }

  /** Advances `live` by one code point; returns whether candidates are left. */
  function step (live: Live, cp: number, at: number, width: number): boolean {
    const dfa = live.dfa
    const cls = cp <= 0xffff ? dfa.bmp[cp] as number : classOf(dfa, cp)
    if (cls === 0) {
      live.count = 0
      return false
    }
    const { next, classes, accept } = dfa
    const { states, starts } = live
    const tick = ++live.tick
    let seen = live.seen
    if (seen === undefined && live.count >= kScanLimit) seen = live.seen = new Int32Array(dfa.states).fill(-1)
    let n = 0
    let accepted = false
    // In place: candidate i is written at n ≤ i, so nothing unread is overwritten.
    for (let i = 0; i < live.count; i++) {
      const to = next[(states[i] as number) * classes + cls] as number
      if (to < 0) continue
      if (seen !== undefined) {
        if (seen[to] === tick) continue
        seen[to] = tick
      } else {
        let dup = false
        for (let j = 0; j < n; j++) if (states[j] === to) { dup = true; break }
        if (dup) continue
      }
      states[n] = to
      starts[n] = starts[i] as number
      if (accept[to] === 1) accepted = true
      n++
    }
    const first = next[dfa.initial * classes + cls] as number
    if (first >= 0) {
      let dup = false
      if (seen !== undefined) {
        dup = seen[first] === tick
        seen[first] = tick
      } else {
        for (let j = 0; j < n; j++) if (states[j] === first) { dup = true; break }
      }
      if (!dup) {
        states[n] = first
        starts[n] = at
        if (accept[first] === 1) accepted = true
        n++
      }
    }
    if (accepted) acceptEnd = at + width
    live.count = n
    return n > 0
  }

  return {
    push (text) {
      for (let i = 0; i < text.length;) {
        const cp = text.codePointAt(i) as number
        const width = cp > 0xffff ? 2 : 1
        const at = offset + i
        const r = ++round
        // Compacted in place: the DFAs still live stay, in order.
        let kept = 0
        for (let a = 0; a < activeCount; a++) {
          const k = active[a] as number
          stamp[k] = r
          if (step(lives[k] as Live, cp, at, width)) active[kept++] = k
        }
        const list = startersOf(starters, dfas, cp)
        for (let a = 0; a < list.length; a++) {
          const k = list[a] as number
          if (stamp[k] === r) continue
          if (step(liveOf(k), cp, at, width)) active[kept++] = k
        }
        activeCount = kept
        i += width
      }
      offset += text.length
    },
    leftmost () {
      let min = Infinity
      for (let a = 0; a < activeCount; a++) {
        const start = (lives[active[a] as number] as Live).starts[0] as number
        if (start < min) min = start
      }
      return min
    },
    mayMatchAfter (from) {
      return acceptEnd > from
    }
  }
}
