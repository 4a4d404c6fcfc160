/**
 * @module scanner/create-scanner
 * The streaming scanner: text in, safe text and findings out, no I/O.
 *
 * Guarantee: for every way of splitting the input into chunks —
 * even inside a surrogate pair — the concatenated output and the findings
 * equal those of scanning the whole text at once (`scanText`).
 *
 * How little it holds back: after each write, the undecided tail starts at
 * the leftmost position whose suffix is still a prefix of some match of a
 * redact/cut rule (the lane's automaton, kept by hold-tracker.ts), capped at
 * the lane's longest match. Everything before it is released: no match can
 * start there any more, and every match that starts there is complete and
 * final (a match that could still grow would itself be such a prefix). So
 * "my card is 4111 11" holds "4111 11", and "the end. " holds nothing.
 * Matches are searched for only when the tracker saw a candidate end one in
 * the text about to be released, and only with those candidates' rules.
 *
 * Flag rules run on a shadow buffer of the same input and never hold text;
 * their findings are reported once the output has passed their end, so a
 * later cut can never be preceded by a finding from beyond it.
 */
import type RE2 from 're2'
import type { RegionEnd } from '../rules/compile-rule.js'
import { singleGroup } from '../rules/rule-set.js'
import type { RuleLane, RuleSet } from '../rules/rule-set.js'
import { digestValue, resolveHmacKey } from './digest.js'
import { findMatch } from './find-match.js'
import type { Match } from './find-match.js'
import { createHoldTracker } from './hold-tracker.js'
import type { HoldTracker } from './hold-tracker.js'
import { createNormalizer } from './normalize.js'
import type { Projection } from './normalize.js'
import type { Finding, ScanResult, Scanner, ScannerOptions } from './types.js'

/** See ScannerOptions.sliceChars: measured on 200 KB of prose, 512 scanned fastest (14 M chars/s, against 0.3 M whole). */
const kDefaultSliceChars = 512

interface LaneState {
  readonly lane: RuleLane
  /** Undecided text. */
  buf: string
  /** Stream offset of `buf[0]`. */
  base: number
  /** The code point just before `buf` (context for boundaries and `\b`). */
  ctx: string
  /** Inside a region (a private key…): everything up to its closing is swallowed. */
  region?: RegionEnd | undefined
  /**
   * Candidate matches still under way in `buf` (see hold-tracker.ts): the
   * exact, incremental hold. Made when needed from `buf` (at the start, and
   * again after a match or a region, whose text candidates must not span).
   */
  tracker: HoldTracker | undefined
  /** The last `lane.maxAfter` characters before `buf`, for rules with `after` or `notAfter`. */
  history: string
}

/** `buf[0, n)` is decided: it joins the context rules with `after` read. */
function pass (state: LaneState, n: number): void {
  const keep = state.lane.maxAfter
  if (keep === 0 || n === 0) return
  state.history += state.buf.slice(0, n)
  // Trimmed now and then, not at every write: it only has to hold the last `keep`.
  if (state.history.length > 2 * keep) state.history = state.history.slice(-keep)
}

function append (state: LaneState, text: string): void {
  state.buf += text
  state.tracker?.push(text)
}

function createLaneState (lane: RuleLane): LaneState {
  return { lane, buf: '', base: 0, ctx: '', tracker: undefined, history: '' }
}

/**
 * `buf` changed other than by appending or releasing its head (a match or a
 * region was consumed): the tracker is dropped, and made again from `buf`.
 */
function dropTracker (state: LaneState): void {
  state.tracker = undefined
}

function trackerOf (state: LaneState): HoldTracker {
  let tracker = state.tracker
  if (tracker === undefined) {
    // The decided text before `buf`: its contexts (`after`) and its last character (boundaries).
    tracker = createHoldTracker(state.lane.parts, state.base, state.lane.maxAfter > 0 ? state.history : state.ctx)
    tracker.push(state.buf)
    state.tracker = tracker
  }
  return tracker
}

/**
 * The raw text behind the output lane's view (see normalize.ts): `raw`
 * from `starts[head]` on is what `buf` came from; `starts[head + i]` is
 * where the raw text of `buf[i]` begins (invisible characters before it
 * included), and the last entry where the next view character's will
 * begin. Releasing or redacting view characters takes their raw text.
 */
interface RawMap {
  raw: string
  starts: number[]
  head: number
  /** Stream offset of `raw[0]` (the map is compacted as it goes). */
  base: number
}

function appendRaw (map: RawMap, p: Projection): void {
  const base = map.raw.length
  // The last entry is where the next view character's raw text begins: the
  // projection gives it again (it may lie before `p.raw`).
  map.starts.pop()
  for (const start of p.starts) map.starts.push(base + start)
  map.raw += p.raw
}

/** Appends text that is its own view (see Normalizer.plain): one entry per character, no projection. */
function appendPlain (map: RawMap, text: string): void {
  // The last entry stays the first character's start (invisible characters
  // before it go with it); each next one starts where the one before ends.
  const base = map.raw.length
  for (let i = 1; i <= text.length; i++) map.starts.push(base + i)
  map.raw += text
}

/** The raw text of the next `n` view characters (with the invisible ones before the next), consumed. */
function takeRaw (map: RawMap, n: number): string {
  const from = map.starts[map.head] as number
  map.head += n
  const to = map.starts[map.head] as number
  const taken = map.raw.slice(from, to)
  if (map.head > 1024 && map.head * 2 > map.starts.length) {
    // Compact now and then: the consumed part is never read again.
    map.raw = map.raw.slice(to)
    map.starts = map.starts.slice(map.head).map((x) => x - to)
    map.head = 0
    map.base += to
  }
  return taken
}

function isHighSurrogate (code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff
}

function lastCodePoint (s: string): string {
  if (s.length === 0) return ''
  if (s.length >= 2 && isHighSurrogate(s.charCodeAt(s.length - 2))) return s.slice(-2)
  return s.slice(-1)
}

/** The leftmost match of any of `prefixes` in `bytes` (the UTF-8 of `buf`), as an offset in `buf`. */
function relaxedHold (prefixes: readonly RE2[], buf: string, bytes: Buffer<ArrayBufferLike>): number {
  let b = bytes.length
  for (const prefix of prefixes) {
    // `search` returns only the start: RE2 answers it with its DFA alone, ~10x cheaper than `exec`.
    const found = prefix.search(bytes)
    if (found >= 0 && found < b) b = found
  }
  if (b === bytes.length) return buf.length
  return bytes.length === buf.length ? b : bytes.subarray(0, b).toString('utf8').length
}

/**
 * Where the undecided tail of `buf` begins: at the earliest candidate still
 * alive (and, for rules without an automaton, the relaxed prefixes' hold;
 * `bytes` is `buf` in UTF-8 when there are any).
 */
function holdStart (state: LaneState, tracker: HoldTracker, bytes: Buffer<ArrayBufferLike> | undefined): number {
  const { lane, buf } = state
  if (buf.length === 0) return 0
  let h = Math.min(buf.length, Math.max(0, tracker.leftmost() - state.base))
  if (bytes !== undefined) h = Math.min(h, relaxedHold(lane.fallbackPrefixes, buf, bytes))
  return capHold(h, buf, lane.maxLength)
}

/**
 * Cap: nothing longer than `maxLength` can still be growing, so an older
 * start is decided (this also bounds memory per stream); and a hold never
 * starts between the halves of a surrogate pair.
 */
function capHold (h: number, buf: string, maxLength: number): number {
  h = Math.max(h, buf.length - maxLength)
  if (h > 0 && h < buf.length && isHighSurrogate(buf.charCodeAt(h - 1))) h--
  return h
}

/** `buf[0, n)` is decided (released, redacted or swallowed): the lane moves past it. */
function consume (state: LaneState, n: number): void {
  pass(state, n)
  state.ctx = lastCodePoint(state.buf.slice(0, n))
  state.base += n
  state.buf = state.buf.slice(n)
}

/**
 * Swallows region text: up to the end of the first closing that can no
 * longer grow, or, while there is none, up to where a closing could still
 * begin (so only a possible partial closing is held, whatever the size of
 * the region). Returns whether the region closed.
 */
function advanceRegion (state: LaneState, region: RegionEnd, final: boolean, onSwallow: (n: number) => void): boolean {
  const buf = state.buf
  const h = final || buf.length === 0 ? buf.length : capHold(relaxedHold([region.prefix], buf, Buffer.from(buf, 'utf8')), buf, region.maxLength)
  region.regex.lastIndex = 0
  const m = region.regex.exec(buf)
  // A closing that starts before the hold is complete (had it been able to
  // grow, the hold would start at it or before).
  const closed = m !== null && m.index < h && m[0].length > 0
  const n = closed ? m.index + m[0].length : h
  if (n > 0) {
    onSwallow(n)
    consume(state, n)
  }
  if (closed || final) state.region = undefined
  if (closed) dropTracker(state)
  return closed
}

/** Scratch list for HoldTracker.endedIn (emptied after each use). */
const kEnded: number[] = []

/**
 * Decides as much of a lane's buffer as can be decided now (all of it when
 * `final`): text no match can start in any more goes to `onText`, each
 * match to `onMatch` (which returns true to stop: a cut), and region text
 * to `onSwallow`. What is decided leaves the buffer; the rest stays held.
 */
function advance (
  state: LaneState,
  final: boolean,
  onText: (text: string) => void,
  onMatch: (m: Match, s: string, absStart: number) => boolean,
  onSwallow: (n: number) => void = () => {}
): void {
  for (;;) {
    if (state.region !== undefined) {
      if (!advanceRegion(state, state.region, final, onSwallow)) return
      continue
    }
    const lane = state.lane
    const off = state.ctx.length
    const tracker = trackerOf(state)
    // Rules without an automaton: their relaxed prefixes are searched, and
    // so are matches, at every write. node-re2 converts a string argument
    // to UTF-8 on every call: converted once for both.
    const untracked = lane.fallbackPrefixes.length > 0
    let s = untracked ? state.ctx + state.buf : ''
    const bytes = untracked ? Buffer.from(s, 'utf8') : undefined
    const h = final ? state.buf.length : holdStart(state, tracker, bytes?.subarray(Buffer.byteLength(state.ctx, 'utf8')))
    if (h === 0 && !final) return
    // Only rules with a candidate that ended a match in the text to decide
    // can match there, from its start on: none, no search (and no window
    // to build).
    let m: Match | undefined
    const ended = untracked ? state.base : tracker.endedIn(state.base, final ? Infinity : state.base + h, final, kEnded)
    if (ended !== Infinity) {
      if (!untracked) s = state.ctx + state.buf
      const groups = untracked ? lane.groups : kEnded.map((i) => singleGroup(lane, i))
      kEnded.length = 0
      m = findMatch(lane, s, off + ended - state.base, final ? s.length : off + h, lane.maxAfter > 0 ? { history: state.history, from: off } : undefined, groups, bytes)
    }
    if (m !== undefined) {
      if (m.start > off) onText(s.slice(off, m.start))
      const stop = onMatch(m, s, state.base + m.start - off)
      consume(state, m.end - off)
      if (stop) return
      // A region's opening: what follows is swallowed up to its closing.
      if (m.rule.until !== undefined) state.region = m.rule.until
      dropTracker(state)
      continue
    }
    if (h > 0) {
      onText(state.buf.slice(0, h))
      consume(state, h)
    }
    return
  }
}

/**
 * Creates a scanner for one stream.
 * @example
 * const scanner = createScanner(ruleSet)
 * let out = ''
 * for (const token of tokens) out += scanner.write(token).text
 * out += scanner.end().text
 */
export function createScanner (ruleSet: RuleSet, options: ScannerOptions = {}): Scanner {
  const key = resolveHmacKey(options.hmacKey)
  const sliceChars = Math.max(1, options.sliceChars ?? kDefaultSliceChars)
  const view = createStage(ruleSet.output, ruleSet.flag, key, sliceChars, true)
  if (ruleSet.rawOutput === undefined && ruleSet.rawFlag === undefined) return view
  const redactions: Redaction[] = []
  // A Map, not a WeakMap: a scanner is made per stream and per scanned
  // string, and weak tables cost the collector far more than the entries,
  // which the composition deletes as it reports them.
  const hooks: StageHooks = { outputEnds: new Map(), onRedaction: (span) => redactions.push(span) }
  return composeStages(createStage(ruleSet.rawOutput, ruleSet.rawFlag, key, sliceChars, false, hooks), view, hooks.outputEnds, redactions)
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** A stage of the scanner: a Scanner that also says how far its output is decided. */
interface Stage extends Scanner {
  /** Input offset up to which the output is decided (released or redacted); at a cut, where the cut match starts. */
  readonly passed: number
}

/**
 * Two stages in a row: what the first releases is the second's input. Each
 * stage gives the same output for every chunking of its input, so the pair
 * does too. A finding of the first stage is reported once the second has
 * decided its output past it, and never if the second cut before it (as a
 * whole-text scan, where the first stage sees all of the text, would
 * otherwise report findings beyond the cut). The second stage's offsets are
 * mapped back through the first's redactions: all offsets are the input's.
 */
function composeStages (first: Stage, second: Stage, ends: Map<Finding, number>, redactions: Redaction[]): Scanner {
  let queue: Finding[] = []
  let cut: Finding | undefined

  /** The input offset of offset `x` of the first stage's output (inside a replacement: its start, or its end). */
  function toInput (x: number, side: 'start' | 'end'): number {
    for (let i = redactions.length - 1; i >= 0; i--) {
      const r = redactions[i] as Redaction
      if (r.outStart > x) continue
      if (x >= r.outEnd) return x + r.inEnd - r.outEnd
      return side === 'start' ? r.inStart : r.inEnd
    }
    return x
  }

  /** The second stage's findings in input offsets, like the first's. */
  function mapFindings (findings: Finding[]): Finding[] {
    if (redactions.length === 0) return findings
    for (const f of findings) {
      const start = toInput(f.start, 'start')
      f.length = toInput(f.start + f.length, 'end') - start
      f.start = start
    }
    // Redactions wholly before what the second stage has decided are not
    // needed again (its later findings start after it); the last one is
    // kept for its shift.
    while (redactions.length > 1 && (redactions[1] as Redaction).outEnd <= second.passed) redactions.shift()
    return findings
  }

  function join (a: ScanResult, b: ScanResult, final: boolean): ScanResult {
    queue.push(...a.findings)
    // The first stage cut, or the stream ended, and the second ended without
    // a cut: all of it passed (`second.passed` stops short of trailing text
    // the normalized view removes, such as invisible characters).
    const limit = (a.cut !== undefined || final) && second.cut === undefined ? Infinity : second.passed
    const released: Finding[] = []
    const keep: Finding[] = []
    for (const f of queue) ((ends.get(f) ?? 0) <= limit ? released : keep).push(f)
    queue = second.cut !== undefined || a.cut !== undefined ? [] : keep
    if (queue.length === 0) ends.clear()
    else for (const f of released) ends.delete(f)
    if (a.cut !== undefined && released.includes(a.cut)) cut = a.cut
    else if (b.cut !== undefined) cut = b.cut
    const mapped = mapFindings(b.findings)
    // In input order, as a chunked scan reports them (earlier ones in earlier writes).
    const result: ScanResult = { text: b.text, findings: released.length === 0 ? mapped : mapped.length === 0 ? released : [...released, ...mapped].sort((x, y) => x.start - y.start) }
    if (cut !== undefined) result.cut = cut
    return result
  }
  function sync (result: ScanResult): ScanResult {
    self.held = first.held + second.held
    self.charsIn = first.charsIn
    self.charsOut = second.charsOut
    self.cut = cut
    return result
  }
  const self: Mutable<Scanner> = {
    write (chunk) {
      if (cut !== undefined || second.cut !== undefined) return sync({ text: '', findings: [] })
      const a = first.write(chunk)
      // A cut in the first stage ends the stream: the second releases what it holds of the text before it.
      return sync(join(a, a.cut !== undefined ? second.end(a.text) : second.write(a.text), false))
    },
    end (last) {
      if (cut !== undefined || second.cut !== undefined) return sync({ text: '', findings: [] })
      const a = first.end(last)
      return sync(join(a, second.end(a.text), true))
    },
    held: 0,
    charsIn: 0,
    charsOut: 0,
    cut: undefined
  }
  return self
}

/**
 * One stage: the output and flag lanes of one view. With `normalize`, the
 * lanes read the normalized view (normalize.ts) and released text is the
 * raw text behind it; without, they read the raw text itself.
 */
/** What a first stage tells the composition: where each finding's output ends, and each redaction's input and output spans. */
interface StageHooks {
  outputEnds: Map<Finding, number>
  onRedaction: (span: Redaction) => void
}

/** A redaction of a raw stage: input `[inStart, inEnd)` became output `[outStart, outEnd)`. */
interface Redaction { inStart: number, inEnd: number, outStart: number, outEnd: number }

function createStage (output: RuleLane | undefined, flagLane: RuleLane | undefined, key: Buffer, sliceChars: number, normalize: boolean, hooks?: StageHooks): Stage {
  const outputEnds = hooks?.outputEnds
  const out: LaneState | undefined = output === undefined ? undefined : createLaneState(output)
  const flag: LaneState | undefined = flagLane === undefined ? undefined : createLaneState(flagLane)
  const normalizer = normalize && (out !== undefined || flag !== undefined) ? createNormalizer() : undefined
  const map: RawMap | undefined = normalizer === undefined || out === undefined ? undefined : { raw: '', starts: [0], head: 0, base: 0 }
  /** Decided flag findings waiting for the output to pass their end. */
  let flagQueue: Array<{ finding: Finding, end: number }> = []
  let pendingHigh = ''
  let charsIn = 0
  let charsOut = 0
  let cut: Finding | undefined
  let ended = false

  // Per-call accumulators (reset by each write/end).
  let text = ''
  let findings: Finding[] = []

  function makeFinding (m: Match, s: string, absStart: number): Finding {
    const rule = m.rule
    return {
      ruleId: rule.id,
      category: rule.category,
      action: rule.action,
      severity: rule.severity,
      start: absStart,
      length: m.end - m.start,
      digest: digestValue(key, s.slice(m.valueStart, m.valueEnd))
    }
  }

  const onOutputText = map === undefined
    ? (t: string): void => { text += t }
    : (t: string): void => { text += takeRaw(map, t.length) }
  const onOutputMatch = (m: Match, s: string, absStart: number): boolean => {
    const finding = makeFinding(m, s, absStart)
    if (map !== undefined) {
      // Where the match is in the input as sent (the text before it was
      // released just now, so its raw text starts at the head).
      const from = map.starts[map.head] as number
      finding.start = map.base + from
      finding.length = (map.starts[map.head + m.end - m.start] as number) - from
    }
    findings.push(finding)
    if (m.rule.action === 'cut') {
      cut = finding
      outputEnds?.set(finding, charsOut + text.length)
      return true
    }
    const value = s.slice(m.valueStart, m.valueEnd)
    const rendered = m.rule.render({
      value,
      id: m.rule.id,
      category: m.rule.category,
      digest: () => finding.digest
    })
    if (map === undefined) {
      const outStart = charsOut + text.length
      text += s.slice(m.start, m.valueStart) + rendered + s.slice(m.valueEnd, m.end)
      outputEnds?.set(finding, charsOut + text.length)
      hooks?.onRedaction({ inStart: absStart, inEnd: absStart + m.end - m.start, outStart, outEnd: charsOut + text.length })
      return false
    }
    // The parts of the match around the value keep their raw text; the
    // value's raw characters, however they were spelled, are replaced.
    const before = takeRaw(map, m.valueStart - m.start)
    takeRaw(map, m.valueEnd - m.valueStart)
    text += before + rendered + takeRaw(map, m.end - m.valueEnd)
    return false
  }
  const onSwallow = (n: number): void => { if (map !== undefined) takeRaw(map, n) }
  const ignoreText = (): void => {}
  const onFlagMatch = (m: Match, s: string, absStart: number): boolean => {
    flagQueue.push({ finding: makeFinding(m, s, absStart), end: absStart + m.end - m.start })
    return false
  }

  /** Reports queued flag findings that end at or before `limit`. */
  function releaseFlags (limit: number): void {
    if (flagQueue.length === 0) return
    const keep: typeof flagQueue = []
    for (const q of flagQueue) {
      if (q.end <= limit) {
        findings.push(q.finding)
        outputEnds?.set(q.finding, charsOut + text.length)
      } else keep.push(q)
    }
    flagQueue = keep
  }

  function run (final: boolean): void {
    if (out !== undefined) advance(out, final, onOutputText, onOutputMatch, onSwallow)
    if (flag === undefined) return
    if (cut !== undefined) {
      // Flags are reported for the input up to where output stopped.
      const limit = cut.start
      if (limit < flag.base + flag.buf.length) {
        flag.buf = flag.buf.slice(0, Math.max(0, limit - flag.base))
        dropTracker(flag)
      }
      advance(flag, true, ignoreText, onFlagMatch)
      releaseFlags(limit)
      flagQueue = []
      return
    }
    advance(flag, final, ignoreText, onFlagMatch)
    releaseFlags(final || out === undefined ? Infinity : out.base)
  }

  function collect (): ScanResult {
    charsOut += text.length
    const result: ScanResult = { text, findings: findings.length > 1 ? findings.sort((a, b) => a.start - b.start) : findings }
    if (cut !== undefined) result.cut = cut
    text = ''
    findings = []
    self.charsIn = charsIn
    self.charsOut = charsOut
    self.cut = cut
    self.held = map === undefined
      ? (out?.buf.length ?? 0) + pendingHigh.length
      : map.raw.length - (map.starts[map.head] as number) + (normalizer?.pending ?? 0) + pendingHigh.length
    if (map !== undefined) self.passed = map.base + (map.starts[map.head] as number)
    else if (out !== undefined) self.passed = cut !== undefined ? cut.start : out.base
    else self.passed = charsIn - pendingHigh.length - (normalizer?.pending ?? 0)
    return result
  }

  function writePiece (chunk: string): void {
    let input = pendingHigh + chunk
    pendingHigh = ''
    // Hold a trailing high surrogate until its partner arrives, so RE2
    // never sees half a character.
    if (isHighSurrogate(input.charCodeAt(input.length - 1))) {
      pendingHigh = input.slice(-1)
      input = input.slice(0, -1)
    }
    feed(input, false)
    run(false)
  }

  /** Appends input to the lanes (its view, when normalizing). */
  function feed (input: string, final: boolean): void {
    if (normalizer === undefined) {
      if (out !== undefined) append(out, input)
      else text += input
      if (flag !== undefined) append(flag, input)
      return
    }
    if (normalizer.plain(input)) {
      // The common case, prose and code in ASCII: its own view, mapped one to one.
      if (out !== undefined && map !== undefined) {
        appendPlain(map, input)
        append(out, input)
      } else {
        text += input
      }
      if (flag !== undefined) append(flag, input)
      return
    }
    const p = normalizer.push(input, final)
    if (out !== undefined && map !== undefined) {
      append(out, p.text)
      appendRaw(map, p)
    } else {
      text += p.raw
    }
    if (flag !== undefined) append(flag, p.text)
  }

  // Counters are plain fields set at the end of each call (they change only
  // then): an object literal with getters costs V8 a runtime call and ~1 µs
  // per scanner, and scanners are made per stream and per scanned string.
  const self: Mutable<Stage> = {
    write (chunk: string): ScanResult {
      charsIn += chunk.length
      if (cut !== undefined || ended || chunk.length === 0) return collect()
      if (chunk.length <= sliceChars) {
        writePiece(chunk)
      } else {
        // (A piece may end inside a surrogate pair: writePiece holds the half.)
        // eslint-disable-next-line no-unmodified-loop-condition -- set by a callback
        for (let p = 0; p < chunk.length && cut === undefined; p += sliceChars) writePiece(chunk.slice(p, p + sliceChars))
      }
      return collect()
    },
    end (last = ''): ScanResult {
      charsIn += last.length
      if (cut !== undefined || ended) return collect()
      // Long text is scanned in slices as `write` does (a match costs a
      // rebuild of the buffer it is in); only the last slice skips the
      // holdback.
      let from = 0
      // eslint-disable-next-line no-unmodified-loop-condition -- set by a callback
      for (; last.length - from > sliceChars && cut === undefined; from += sliceChars) writePiece(last.slice(from, from + sliceChars))
      if (cut !== undefined) return collect()
      ended = true
      const rest = pendingHigh + last.slice(from)
      pendingHigh = ''
      if (rest !== '' || normalizer !== undefined) feed(rest, true)
      run(true)
      // Invisible characters after the last view character go out with the end.
      if (map !== undefined && cut === undefined) text += map.raw.slice(map.starts[map.head])
      return collect()
    },
    held: 0,
    charsIn: 0,
    charsOut: 0,
    cut: undefined,
    passed: 0
  }
  return self
}
