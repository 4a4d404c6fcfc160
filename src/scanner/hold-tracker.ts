/**
 * @module scanner/hold-tracker
 * Where the undecided tail of a lane begins, kept up to date as text
 * arrives: the lane's candidate matches still alive, as one state of the
 * lane's automaton (rules/lane-automaton.ts) and the offsets they started
 * at. Each character is one transition and a copy of the few starts alive:
 * a write costs time for its own characters, and nothing is re-read.
 *
 * It also remembers where candidates that ended a whole match started, so
 * the scanner searches for matches (with RE2, validators and all) only when
 * one may start in the text it is about to decide.
 */
import type { LaneAutomaton, LaneNode, LanePart, LaneStep } from '../rules/lane-automaton.js'
import { kDenseAfter } from '../rules/lane-automaton.js'

export interface HoldTracker {
  /** Reads the next view text (contiguous with what came before). */
  push(text: string): void
  /** The stream offset of the earliest live candidate, or Infinity. */
  leftmost(): number
  /**
   * Which rules may have a whole match starting in stream offsets
   * `[from, limit)`: those with a candidate that started there and ended a
   * match (whose boundary the next character allowed; with `final`, also
   * one the text's end would). Their indexes go to `out` (ascending: the
   * lane's rule indexes; a part's own automata indexes inside a part);
   * returned: the earliest such start, or Infinity for none.
   * No other rule has a match starting there (the automata accept more than
   * the rules do: assertions, validators and allow-lists only reject), and
   * none of these starts before the returned offset (a candidate merged into
   * an equal one started no later), so the search is narrowed to them.
   */
  endedIn(from: number, limit: number, final: boolean, out: number[]): number
}

/**
 * Creates the tracker of one lane of one stream (its automata: `lane.parts`),
 * whose first push starts at stream offset `at`, right after the text
 * `before` (decided text, read for context only: its last character decides
 * boundaries, and the lane's contexts read it; '' at the start of the
 * stream). The rules it reports are indexes into `lane.rules`.
 * @example
 * const tracker = createHoldTracker(lane.parts)
 * tracker.push('card 4111 11')
 * tracker.leftmost() // 5: "4111 11" may still become a card number
 */
export function createHoldTracker (parts: readonly LanePart[], at = 0, before = ''): HoldTracker {
  const trackers = parts.map((part) => createPartTracker(part.automaton, at, contextOf(before, part.automaton.contextLength)))
  const only = trackers[0]
  if (trackers.length === 1 && only !== undefined && isIdentity((parts[0] as LanePart).rules)) return only
  const local: number[] = []
  return {
    push (text) {
      for (const tracker of trackers) tracker.push(text)
    },
    leftmost () {
      let min = Infinity
      for (const tracker of trackers) {
        const start = tracker.leftmost()
        if (start < min) min = start
      }
      return min
    },
    // Asked at every write: a loop, not a closure per call.
    endedIn (from, limit, final, out) {
      let earliest = Infinity
      for (let k = 0; k < trackers.length; k++) {
        local.length = 0
        const start = (trackers[k] as HoldTracker).endedIn(from, limit, final, local)
        if (start === Infinity) continue
        if (start < earliest) earliest = start
        const rules = (parts[k] as LanePart).rules
        for (const d of local) out.push(rules[d] as number)
      }
      if (out.length > 1) out.sort((a, b) => a - b)
      return earliest
    }
  }
}

/**
 * The end of `before` a part's tracker reads: its contexts' longest reach,
 * or only the last character (its boundary kind) when it has none. A
 * tracker made after a match had read the whole history of the lane,
 * 800 characters, at each match.
 */
function contextOf (before: string, length: number): string {
  const n = Math.max(1, length)
  if (before.length <= n) return before
  let from = before.length - n
  const code = before.charCodeAt(from)
  // Not from the middle of a surrogate pair.
  if (code >= 0xdc00 && code <= 0xdfff && from > 0) from--
  return before.slice(from)
}

function isIdentity (indexes: Int32Array): boolean {
  for (let i = 0; i < indexes.length; i++) if (indexes[i] !== i) return false
  return true
}

/** The tracker of one automaton (one part of a lane): indexes are the automaton's own. */
function createPartTracker (automaton: LaneAutomaton, at: number, before: string): HoldTracker {
  const { bmp, kinds } = automaton
  let node: LaneNode = automaton.initial(0)
  // Starts of the candidates of `node`.
  let starts = new Float64Array(8)
  let offset = at
  /**
   * Candidates that ended a match: their starts and automata (dropped once
   * the scanner passes them). A candidate that goes on matching (a URL's
   * query: every character ends a match) repeats itself: only a new start
   * of an automaton is added.
   */
  const endedStarts: number[] = []
  const endedDfas: number[] = []
  const lastEnded = new Float64Array(automaton.size).fill(-1)

  function noteEnd (k: number): void {
    const start = starts[k] as number
    const d = node.elems[2 * k] as number
    if (lastEnded[d] === start) return
    lastEnded[d] = start
    endedStarts.push(start)
    endedDfas.push(d)
  }

  const self: HoldTracker = {
    push (text) {
      for (let i = 0; i < text.length;) {
        let cp = text.charCodeAt(i)
        let width = 1
        if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < text.length) {
          const low = text.charCodeAt(i + 1)
          if (low >= 0xdc00 && low <= 0xdfff) {
            cp = ((cp - 0xd800) << 10) + (low - 0xdc00) + 0x10000
            width = 2
          }
        }
        const cls = cp <= 0xffff ? bmp[cp] as number : automaton.astralClass(cp)
        const pos = offset + i
        // Matches that ended at the last character and wait for this one to
        // clear their boundary.
        const pending = node.pending
        if (pending.length > 0) {
          const bit = 1 << (kinds[cls] as number)
          for (let k = 0; k < pending.length; k += 2) {
            if (((pending[k + 1] as number) & bit) === 0) noteEnd(pending[k] as number)
          }
        }
        const dense = node.dense
        let step: LaneStep | undefined
        if (dense !== undefined) {
          step = dense[cls]
        } else {
          step = node.next.get(cls)
          if (++node.reads === kDenseAfter) automaton.densify(node)
        }
        step ??= automaton.step(node, cls)
        const from = step.from
        const n = from.length
        if (n > starts.length) {
          const grown = new Float64Array(n * 2)
          grown.set(starts)
          starts = grown
        }
        // In place: `from[j] >= j` (or -1), so what is read has not been
        // written yet; the first `keep` stay where they are.
        for (let j = step.keep; j < n; j++) {
          const f = from[j] as number
          starts[j] = f < 0 ? pos : starts[f] as number
        }
        node = step.to
        const immediate = node.immediate
        for (let k = 0; k < immediate.length; k++) noteEnd(immediate[k] as number)
        i += width
      }
      offset += text.length
    },
    leftmost () {
      return node.elems.length === 0 ? Infinity : starts[0] as number
    },
    endedIn (from, limit, final, out) {
      let kept = 0
      let earliest = Infinity
      for (let k = 0; k < endedStarts.length; k++) {
        const start = endedStarts[k] as number
        if (start < from) continue
        const d = endedDfas[k] as number
        endedStarts[kept] = start
        endedDfas[kept++] = d
        if (start >= limit) continue
        if (start < earliest) earliest = start
        if (!out.includes(d)) out.push(d)
      }
      if (kept !== endedStarts.length) {
        endedStarts.length = kept
        endedDfas.length = kept
      }
      if (final) {
        const pending = node.pending
        for (let k = 0; k < pending.length; k += 2) {
          const i = pending[k] as number
          const start = starts[i] as number
          if (start < from || start >= limit) continue
          if (start < earliest) earliest = start
          const d = node.elems[2 * i] as number
          if (!out.includes(d)) out.push(d)
        }
      }
      if (out.length > 1) out.sort((a, b) => a - b)
      return earliest
    }
  }
  if (before !== '') {
    // Read for its contexts; no candidate may start in it.
    offset = at - before.length
    self.push(before)
    node = automaton.bare(node)
    endedStarts.length = 0
    endedDfas.length = 0
    lastEnded.fill(-1)
  }
  return self
}
