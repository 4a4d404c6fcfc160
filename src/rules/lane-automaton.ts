/**
 * @module rules/lane-automaton
 * A lane's rule automata (rules/hold-automaton.ts) run as one automaton,
 * determinized lazily and shared by every stream of the lane.
 *
 * Its state is the ordered list of the candidates still alive — pairs
 * (rule automaton, state of it), earliest start first, equal pairs merged
 * into the earliest (they read the same future, and only the leftmost start
 * matters) — plus the boundary kind of the last character read. A state's
 * transition on a character class is computed once, with where each
 * candidate of the next state comes from (an index into the current list,
 * or "starts here"): a stream then steps one table entry per character and
 * carries its candidates' starts along, instead of stepping each rule.
 *
 * Boundaries are part of the automaton: a rule with a boundary starts no
 * candidate right after a character its boundary touches (the match would be
 * refused: rules/boundaries.ts), so inside a run of digits only the run's
 * start is a candidate of a digit-bounded rule; and a candidate that ends a
 * whole match counts as a match only once the next character does not touch
 * its boundary (see `pending`).
 *
 * So are contexts: a rule whose `after` (the text a match must follow) is
 * given as an automaton starts a candidate only where that automaton has
 * just accepted. Such an automaton runs alongside, its states kept as a set
 * (they hold nothing back, so they need no starts): a link's query is then
 * a candidate only after `](https://…`, and a `?` anywhere else in prose or
 * code holds nothing and costs no search.
 */
import { charKind, kTouch } from './boundaries.js'
import { classOf as dfaClassOf } from './hold-automaton.js'
import type { PrefixDfa } from './hold-automaton.js'
import type { Boundary } from './types.js'

let bmpKinds: Uint8Array | undefined

/** Boundary kinds of the BMP, computed once per process (65,536 tests). */
function kindsOfBmp (): Uint8Array {
  if (bmpKinds === undefined) {
    bmpKinds = new Uint8Array(0x10000)
    for (let cp = 0x30; cp < 0x10000; cp++) bmpKinds[cp] = charKind(cp)
  }
  return bmpKinds
}

export interface LaneNode {
  /** Candidates, earliest start first: `[automaton, state, automaton, state, …]`. */
  readonly elems: Int32Array
  /** Context automata under way: `context index << 20 | state`, ascending. */
  readonly context: Int32Array
  /** Bit `c` set when context `c` just accepted (a rule that needs it may start at the next character). */
  readonly contextMatched: number
  /** Boundary kind of the last character read: a rule whose boundary touches it starts no candidate at the next one. */
  readonly kind: number
  /** Indexes of candidates that just ended a whole match of a rule without boundary. */
  readonly immediate: Int32Array
  /**
   * `[index, touched kinds]` of candidates that just ended a whole match of
   * a rule with a boundary: a match once the next character is of a kind
   * the boundary does not touch (or the text ends).
   */
  readonly pending: Int32Array
  /**
   * Transitions by class, filled on first use. A Map: a state sees a few of
   * the lane's hundreds of classes, and an array per state sized to all of
   * them limited the table to a few thousand states.
   */
  readonly next: Map<number, LaneStep>
  /**
   * The same transitions in an array indexed by class, for a state read
   * often (`kDenseAfter` reads): an array read costs a third of a Map's,
   * and the few states prose and code keep returning to (no candidate, one
   * word under way) take most reads. Made by `densify`.
   */
  dense: Array<LaneStep | undefined> | undefined
  /** Reads through `next` so far (counted until the state is made dense). */
  reads: number
  /** The same state without candidates (contexts kept), made on first use. */
  bare: LaneNode | undefined
}

/** Reads of a state's transitions after which they are kept in an array too. */
export const kDenseAfter = 256

export interface LaneStep {
  readonly to: LaneNode
  /**
   * For each candidate of `to`: the index of the candidate it continues, or
   * -1 when it starts at this character. Ascending apart from the -1s (the
   * order of the starts is kept), so `from[j] >= j` for the others.
   */
  readonly from: Int32Array
  /** How many candidates of `to` are those of the same index before it (`from[j] === j`): their starts stay as they are. */
  readonly keep: number
}

export interface LaneAutomaton {
  /** How many rule automata it runs. */
  readonly size: number
  /** Per rule automaton, the context it needs to start (see LaneContexts), or -1. */
  readonly needs: Int32Array
  /** How much decided text a new tracker must read for its contexts (0: only the last character, for boundaries). */
  readonly contextLength: number
  /** Class of each BMP code unit. */
  readonly bmp: Uint16Array
  /** Boundary kind of the characters of each class. */
  readonly kinds: readonly number[]
  /** The state before any text, after a character of boundary kind `kind`. */
  initial (kind: number): LaneNode
  /** The class of a code point above the BMP. */
  astralClass (cp: number): number
  /** The transition of `node` on class `cls` (computed on first use). */
  step (node: LaneNode, cls: number): LaneStep
  /** Gives `node` its `dense` array of the transitions known so far. */
  densify (node: LaneNode): void
  /** `node` without its candidates, its contexts kept: after reading text that is context only. */
  bare (node: LaneNode): LaneNode
}

/**
 * Contexts of a lane's rules: automata of `after` patterns (hold-automaton.ts
 * `patternDfaOf`, accepting where the pattern matched), and for each rule
 * automaton the index of the one it needs, or -1 (none: it may start
 * anywhere its boundary allows).
 */
export interface LaneContexts {
  readonly dfas: readonly PrefixDfa[]
  readonly of: readonly number[]
  /** The longest text a context must read before a match (the longest `after` among them). */
  readonly maxLength: number
}

/**
 * One automaton of a lane and, for each of its rule automata, the rule's
 * index in the lane's `rules`. A lane runs several when one rule would
 * multiply the states of all the others (see rule-set.ts).
 */
export interface LanePart {
  readonly automaton: LaneAutomaton
  readonly rules: Int32Array
}

/** Contexts a lane may track (one bit each in `contextMatched`). */
export const kMaxContexts = 30
/** Bits of a context's state in a `context` entry, and their mask. */
const kContextShift = 20
const kContextState = (1 << kContextShift) - 1

/**
 * Interned states beyond which the table starts afresh (a stream keeps its
 * own state object, so nothing breaks). 400 KB of READMEs visit 13,000 with
 * the default rules (candidates of the e-mail local part at every count up
 * to 64, times the others alive), random base64 4,400; a state with its
 * transitions takes about half a kilobyte.
 */
const kMaxNodes = 60_000
/** Code points above the BMP whose class is remembered. */
const kMaxAstral = 4096

/**
 * Creates the automaton of a lane: `ruleDfas[i]` is the automaton of a rule
 * with boundary `boundaries[i]`, which starts only right after a match of
 * context `contexts.of[i]` when that is not -1.
 * @example
 * const automaton = createLaneAutomaton(dfas, rules.map((r) => r.boundary))
 * let node = automaton.initial(0)
 * node = automaton.step(node, automaton.bmp[0x34]).to
 */
export function createLaneAutomaton (ruleDfas: readonly PrefixDfa[], boundaries: readonly Boundary[], contexts: LaneContexts = { dfas: [], of: [], maxLength: 0 }): LaneAutomaton {
  if (contexts.dfas.length > kMaxContexts || contexts.dfas.some((d) => d.states >= 1 << kContextShift)) {
    throw new Error('too many or too large contexts')
  }
  const count = ruleDfas.length
  // Rule automata first, then the contexts': one numbering for classes and `seen`.
  const dfas = [...ruleDfas, ...contexts.dfas]
  const all = dfas.length
  const touch = Int32Array.from(boundaries, (b) => kTouch[b])
  const needs = Int32Array.from({ length: count }, (_, d) => contexts.of[d] ?? -1)
  const offsets = new Int32Array(all + 1)
  for (let d = 0; d < all; d++) offsets[d + 1] = (offsets[d] as number) + (dfas[d] as PrefixDfa).states
  const seen = new Int32Array(offsets[all] as number)
  let stamp = 0

  // Classes: the coarsest partition of code points that every automaton
  // (rules' and contexts') and the boundary kinds agree on. Each class
  // keeps its class in every automaton.
  const byTuple = new Map<string, number>()
  const dfaClasses: Uint16Array[] = []
  const kinds: number[] = []
  // Per class, the rule automata and the context automata a character of it can start.
  const starters: Array<Int32Array | undefined> = []
  const contextStarters: Array<Int32Array | undefined> = []

  function classOfTuple (tuple: Uint16Array, kind: number): number {
    const key = `${kind}:${tuple.join(',')}`
    let cls = byTuple.get(key)
    if (cls === undefined) {
      cls = dfaClasses.length
      byTuple.set(key, cls)
      dfaClasses.push(tuple)
      kinds.push(kind)
    }
    return cls
  }

  const bmpKind = kindsOfBmp()
  const cuts = new Uint8Array(0x10000)
  cuts[0] = 1
  for (let cp = 1; cp < 0x10000; cp++) if (bmpKind[cp] !== bmpKind[cp - 1]) cuts[cp] = 1
  for (const dfa of dfas) {
    const table = dfa.bmp
    for (let cp = 1; cp < 0x10000; cp++) if (table[cp] !== table[cp - 1]) cuts[cp] = 1
  }
  const bmp = new Uint16Array(0x10000)
  for (let cp = 0; cp < 0x10000;) {
    let end = cp + 1
    while (end < 0x10000 && cuts[end] === 0) end++
    const tuple = Uint16Array.from(dfas, (dfa) => dfa.bmp[cp] as number)
    bmp.fill(classOfTuple(tuple, bmpKind[cp] as number), cp, end)
    cp = end
  }
  const astral = new Map<number, number>()

  /** Automata `[from, to)` whose initial state reads class `cls` (remembered in `cache`). */
  function startersIn (cache: Array<Int32Array | undefined>, cls: number, from: number, to: number): Int32Array {
    let list = cache[cls]
    if (list === undefined) {
      const tuple = dfaClasses[cls] as Uint16Array
      const found: number[] = []
      for (let d = from; d < to; d++) {
        const dfa = dfas[d] as PrefixDfa
        const c = tuple[d] as number
        if (c !== 0 && (dfa.next[dfa.initial * dfa.classes + c] as number) >= 0) found.push(d)
      }
      list = Int32Array.from(found)
      cache[cls] = list
    }
    return list
  }

  /**
   * The state automaton `d` goes to from `state` on its class `c`, or -1
   * when it dies there or another candidate already reached that state at
   * this character (the earlier one is kept).
   */
  function reach (d: number, state: number, c: number): number {
    if (c === 0) return -1
    const dfa = dfas[d] as PrefixDfa
    const to = dfa.next[state * dfa.classes + c] as number
    if (to < 0) return -1
    const at = (offsets[d] as number) + to
    if (seen[at] === stamp) return -1
    seen[at] = stamp
    return to
  }

  // Interned by a hash of (kind, candidates, contexts), equal ones chained.
  let nodes = new Map<number, LaneNode | LaneNode[]>()
  let size = 0

  function sameNode (node: LaneNode, elems: readonly number[], kind: number, context: readonly number[]): boolean {
    if (node.kind !== kind || node.elems.length !== elems.length || node.context.length !== context.length) return false
    for (let i = 0; i < elems.length; i++) if (node.elems[i] !== elems[i]) return false
    for (let i = 0; i < context.length; i++) if (node.context[i] !== context[i]) return false
    return true
  }

  /** The state of these candidates, kind and contexts (`context` ascending). */
  function intern (elems: readonly number[], kind: number, context: readonly number[]): LaneNode {
    let hash = 0x811c9dc5 ^ kind
    for (let i = 0; i < elems.length; i++) hash = Math.imul(hash ^ (elems[i] as number), 0x01000193)
    hash = Math.imul(hash ^ 0x5bd1e995, 0x01000193)
    for (let i = 0; i < context.length; i++) hash = Math.imul(hash ^ (context[i] as number), 0x01000193)
    const found = nodes.get(hash)
    if (found !== undefined) {
      if (!Array.isArray(found)) {
        if (sameNode(found, elems, kind, context)) return found
      } else {
        for (const node of found) if (sameNode(node, elems, kind, context)) return node
      }
    }
    const immediate: number[] = []
    const pending: number[] = []
    for (let i = 0; i < elems.length; i += 2) {
      const d = elems[i] as number
      if ((dfas[d] as PrefixDfa).accept[elems[i + 1] as number] !== 1) continue
      const t = touch[d] as number
      if (t === 0) immediate.push(i >> 1)
      else pending.push(i >> 1, t)
    }
    let contextMatched = 0
    for (const code of context) {
      const c = code >>> kContextShift
      if ((dfas[count + c] as PrefixDfa).accept[code & kContextState] === 1) contextMatched |= 1 << c
    }
    const node: LaneNode = {
      elems: Int32Array.from(elems),
      context: Int32Array.from(context),
      contextMatched,
      kind,
      immediate: Int32Array.from(immediate),
      pending: Int32Array.from(pending),
      next: new Map(),
      dense: undefined,
      reads: 0,
      bare: undefined
    }
    if (size >= kMaxNodes) {
      nodes = new Map()
      size = 0
    }
    const again = nodes.get(hash)
    if (again === undefined) nodes.set(hash, node)
    else if (Array.isArray(again)) again.push(node)
    else nodes.set(hash, [again, node])
    size++
    return node
  }

  return {
    size: count,
    needs,
    contextLength: contexts.dfas.length === 0 ? 0 : contexts.maxLength,
    bmp,
    kinds,
    initial (kind) {
      return intern([], kind, [])
    },
    astralClass (cp) {
      let cls = astral.get(cp)
      if (cls === undefined) {
        cls = classOfTuple(Uint16Array.from(dfas, (dfa) => dfaClassOf(dfa, cp)), charKind(cp))
        if (astral.size < kMaxAstral) astral.set(cp, cls)
      }
      return cls
    },
    step (node, cls) {
      const cached = node.next.get(cls)
      if (cached !== undefined) return cached
      const tuple = dfaClasses[cls] as Uint16Array
      const out: number[] = []
      const from: number[] = []
      stamp++
      const { elems } = node
      for (let i = 0; i < elems.length; i += 2) {
        const d = elems[i] as number
        const to = reach(d, elems[i + 1] as number, tuple[d] as number)
        if (to < 0) continue
        out.push(d, to)
        from.push(i >> 1)
      }
      const before = 1 << node.kind
      for (const d of startersIn(starters, cls, 0, count)) {
        if (((touch[d] as number) & before) !== 0) continue
        // A rule with a context starts only right after it matched.
        const need = needs[d] as number
        if (need >= 0 && (node.contextMatched & (1 << need)) === 0) continue
        const to = reach(d, (dfas[d] as PrefixDfa).initial, tuple[d] as number)
        if (to < 0) continue
        out.push(d, to)
        from.push(-1)
      }
      // Contexts: a set of states, no starts.
      const context: number[] = []
      for (const code of node.context) {
        const d = count + (code >>> kContextShift)
        const to = reach(d, code & kContextState, tuple[d] as number)
        if (to >= 0) context.push(((d - count) << kContextShift) | to)
      }
      for (const d of startersIn(contextStarters, cls, count, all)) {
        const to = reach(d, (dfas[d] as PrefixDfa).initial, tuple[d] as number)
        if (to >= 0) context.push(((d - count) << kContextShift) | to)
      }
      context.sort((a, b) => a - b)
      let keep = 0
      while (keep < from.length && from[keep] === keep) keep++
      const result: LaneStep = { to: intern(out, kinds[cls] as number, context), from: Int32Array.from(from), keep }
      node.next.set(cls, result)
      if (node.dense !== undefined) node.dense[cls] = result
      return result
    },
    bare (node) {
      node.bare ??= intern([], node.kind, [...node.context])
      return node.bare
    },
    densify (node) {
      // Sized to the classes now (more may come from astral characters): a
      // holey array of that length keeps fast elements.
      const dense = new Array<LaneStep | undefined>(kinds.length)
      for (const [cls, step] of node.next) dense[cls] = step
      node.dense = dense
    }
  }
}
