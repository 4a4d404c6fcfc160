/**
 * @module scanner/find-match
 * The matching semantics, shared by the streaming scanner and `scanText`:
 *
 * From a position p, the next match of a lane is the match with the smallest
 * start among all the lane's rules, where each rule's match at a start is
 * RE2's leftmost-first match there and must pass the rule's boundary,
 * validator, entropy and allow-lists; a rule whose match fails is searched
 * again one character later. On equal starts the rule loaded first wins.
 * After a match the search resumes at its end, so matches never overlap.
 *
 * Everything here is pure: the caller passes the text window and where the
 * search may start (characters before it are context only).
 */
import { touches } from '../rules/boundaries.js'
import type { CompiledRuleInternal, Lookbehind } from '../rules/compile-rule.js'
import { shannonEntropy } from '../rules/entropy.js'
import type { RuleGroup, RuleLane } from '../rules/rule-set.js'

export interface Match {
  rule: CompiledRuleInternal
  /** Start and end of the whole match in the searched string. */
  start: number
  end: number
  /** The part that is redacted and digested (the rule's `group`, else the whole match). */
  valueStart: number
  valueEnd: number
}

function codePointBefore (s: string, i: number): string {
  if (i <= 0) return ''
  const low = s.charCodeAt(i - 1)
  if (i >= 2 && low >= 0xdc00 && low <= 0xdfff) {
    const high = s.charCodeAt(i - 2)
    if (high >= 0xd800 && high <= 0xdbff) return s.slice(i - 2, i)
  }
  return s.slice(i - 1, i)
}

function codePointAt (s: string, i: number): string {
  const cp = s.codePointAt(i)
  return cp === undefined ? '' : String.fromCodePoint(cp)
}

/** The spans of the rule's capture groups in its match known to start at `start`. */
function groupsAt (rule: CompiledRuleInternal, s: string, start: number): RegExpIndicesArray | undefined {
  rule.sticky.lastIndex = start
  return rule.sticky.exec(s)?.indices
}

/**
 * Text before `s[from]` the caller keeps for `after` (released text, so
 * whole-text and streamed scans see the same), and where `s` starts to be
 * new: `s.slice(0, from)` is already the end of `history`.
 */
export interface Lead {
  readonly history: string
  readonly from: number
}

/**
 * The code point that ends at `end` in `text` (which may not reach below
 * `floor`), or -1 at `floor`; its width is 2 for a surrogate pair.
 */
function codePointEndingAt (text: string, end: number, floor: number): number {
  if (end <= floor) return -1
  const low = text.charCodeAt(end - 1)
  if (low >= 0xdc00 && low <= 0xdfff && end - 2 >= floor) {
    const high = text.charCodeAt(end - 2)
    if (high >= 0xd800 && high <= 0xdbff) return ((high - 0xd800) << 10) + (low - 0xdc00) + 0x10000
  }
  return low
}

/**
 * The text before `s[start]` that the rule's `after` must match (the
 * longest, as the end-anchored regex finds it), or undefined when it does
 * not. It reads `s` back from `start` to `lead.from`, then `lead.history`
 * back from its end, at most `after.maxLength` units.
 */
export function leadOf (after: Lookbehind | undefined, s: string, start: number, lead: Lead | undefined): string | undefined {
  if (after === undefined) return ''
  const history = lead?.history ?? ''
  const from = lead?.from ?? 0
  const reverse = after.reverse
  if (reverse === undefined) {
    const recent = s.slice(from, start)
    // `history` may hold more than `after` reads: only its end counts.
    const window = recent.length >= after.maxLength ? recent.slice(-after.maxLength) : history.slice(-(after.maxLength - recent.length)) + recent
    after.regex.lastIndex = 0
    const m = after.regex.exec(window)
    return m === null ? undefined : m[0]
  }
  let state = reverse.initial
  let longest = state.accept ? 0 : -1
  let read = 0
  // In `s` down to `from`, then in `history` down to its start.
  let text = s
  let end = start
  let floor = from
  let inHistory = false
  while (read < after.maxLength) {
    let cp = codePointEndingAt(text, end, floor)
    if (cp < 0) {
      if (inHistory) break
      inHistory = true
      text = history
      end = history.length
      floor = 0
      cp = codePointEndingAt(text, end, floor)
      if (cp < 0) break
    }
    const width = cp > 0xffff ? 2 : 1
    // A pair cut by the window's limit is read no further, as the regex's window would cut it.
    if (read + width > after.maxLength) break
    const next = reverse.step(state, cp)
    if (next === null) break
    state = next
    read += width
    end -= width
    if (state.accept) longest = read
  }
  if (longest < 0) return undefined
  const recent = start - from
  if (longest <= recent) return s.slice(start - longest, start)
  return history.slice(history.length - (longest - recent)) + s.slice(from, start)
}

/** Applies everything beyond the regex: boundary, group, allow-lists, entropy, validator, `after`, `notAfter`, `notBefore`. */
function accept (rule: CompiledRuleInternal, s: string, start: number, end: number, lead?: Lead): Match | undefined {
  if (end === start) return undefined
  const leadText = leadOf(rule.after, s, start, lead)
  if (leadText === undefined) return undefined
  if (rule.notAfter !== undefined && leadOf(rule.notAfter, s, start, lead) !== undefined) return undefined
  if (rule.boundary !== 'none') {
    if (touches(rule.boundary, codePointBefore(s, start))) return undefined
    if (touches(rule.boundary, codePointAt(s, end))) return undefined
  }
  let valueStart = start
  let valueEnd = end
  if (rule.group !== undefined || rule.notBeforeGroup !== undefined) {
    const spans = groupsAt(rule, s, start)
    if (spans === undefined) return undefined
    // The match went on into what must not follow it.
    if (rule.notBeforeGroup !== undefined && spans[rule.notBeforeGroup] !== undefined) return undefined
    if (rule.group !== undefined) {
      const span = spans[rule.group]
      if (span === undefined || span[1] === span[0]) return undefined
      ;[valueStart, valueEnd] = span
    }
  }
  const value = s.slice(valueStart, valueEnd)
  if (rule.allow.has(value)) return undefined
  for (const p of rule.allowPatterns) if (p.test(value)) return undefined
  if (rule.minEntropy !== undefined && shannonEntropy(value) < rule.minEntropy) return undefined
  if (rule.validator !== undefined && !rule.validator(value, { before: codePointBefore(s, start), lead: leadText })) return undefined
  return { rule, start, end, valueStart, valueEnd }
}

/** The rule's own match exactly at `start`, if it has one there and it is accepted. */
function acceptedAt (rule: CompiledRuleInternal, s: string, start: number, lead: Lead | undefined): Match | undefined {
  const re = rule.sticky
  re.lastIndex = start
  const m = re.exec(s)
  return m === null ? undefined : accept(rule, s, start, start + m[0].length, lead)
}

interface Candidate { start: number, end: number, rule: number }

/** The accepted match at exactly `start` of the earliest-loaded rule after `after`. */
function laterAcceptedAt (lane: RuleLane, groups: readonly RuleGroup[], s: string, start: number, after: number, lead: Lead | undefined): Match | undefined {
  let best: Match | undefined
  let bestIndex = Infinity
  const before = codePointBefore(s, start)
  for (const g of groups) {
    const last = g.members[g.members.length - 1] as number
    if (last <= after || (g.members[0] as number) >= bestIndex) continue
    // No member may start after this character (inside a run of digits, say).
    if (touches(g.startBoundary, before)) continue
    g.sticky.lastIndex = start
    if (g.sticky.exec(s) === null) continue
    for (const i of g.members) {
      if (i <= after) continue
      if (i >= bestIndex) break
      const m = acceptedAt(lane.rules[i] as CompiledRuleInternal, s, start, lead)
      if (m !== undefined) {
        best = m
        bestIndex = i
        break
      }
    }
  }
  return best
}

/**
 * The first position at or after `pos` where some member of the group may
 * start: one not right after a character its weakest boundary touches. In a
 * run of digits, every start inside the run is refused by digit-bounded
 * rules; skipping them costs a character test each instead of a search.
 */
function viableStart (group: RuleGroup, s: string, pos: number, limit: number): number {
  if (group.startBoundary === 'none') return pos
  while (pos < limit && touches(group.startBoundary, codePointBefore(s, pos))) {
    const cp = s.codePointAt(pos) ?? 0
    pos += cp > 0xffff ? 2 : 1
  }
  return pos
}

/** The leftmost candidate of one group at or after `pos` (its first alternative wins at that start). */
function groupCandidate (group: RuleGroup, s: string, pos: number): Candidate | undefined {
  const re = group.combined
  re.lastIndex = pos
  const m = re.exec(s)
  if (m === null) return undefined
  for (let k = 0; k < group.members.length; k++) {
    if (m[group.groupIndex[k] as number] !== undefined) {
      return { start: m.index, end: m.index + m[0].length, rule: group.members[k] as number }
    }
  }
  return undefined
}

/**
 * The next match of `lane` in `s` starting at or after `from` and before
 * `limit`. Candidates are visited in start order: each rule group's
 * leftmost-first alternation proposes one (DFA-only `search` first skips
 * groups with no candidate at all); the earliest, lowest-index candidate is
 * checked; if rejected, the later rules are tried exactly at that start
 * (sticky), then the search moves one code point on. Each position is
 * visited once, so a text full of near-misses stays linear.
 *
 * `groups`: the lane's groups, or, when the caller knows that only some
 * rules can match there (scanner/hold-tracker.ts), those rules' own groups
 * (rule-set.ts `singleGroup`), ascending: a search of one small regex each
 * instead of every group's. `bytes`: `s` in UTF-8, when the caller has it.
 */
export function findMatch (lane: RuleLane, s: string, from: number, limit = s.length, lead?: Lead, groups: readonly RuleGroup[] = lane.groups, bytes?: Buffer<ArrayBufferLike>): Match | undefined {
  const cache: Array<Candidate | undefined | null> = new Array(groups.length)
  // Rules the caller chose have a candidate already: no pre-filter. Else one
  // UTF-8 conversion for all the groups' pre-filter searches (node-re2
  // converts a string argument at every call).
  if (groups === lane.groups) {
    bytes ??= Buffer.from(s, 'utf8')
    for (let g = 0; g < groups.length; g++) {
      // null: this group has no candidate at or after the current position.
      cache[g] = (groups[g] as RuleGroup).combined.search(bytes) < 0 ? null : undefined
    }
  }
  let pos = from
  while (pos < limit) {
    let best: Candidate | undefined
    for (let g = 0; g < groups.length; g++) {
      let c = cache[g]
      if (c === null) continue
      if (c === undefined || c.start < pos) {
        const group = groups[g] as RuleGroup
        const from = viableStart(group, s, pos, limit)
        // No viable start before the limit: nothing this group finds can be taken now.
        if (from >= limit) continue
        c = groupCandidate(group, s, from)
        cache[g] = c ?? null
        if (c === undefined) continue
      }
      if (best === undefined || c.start < best.start || (c.start === best.start && c.rule < best.rule)) best = c
    }
    if (best === undefined || best.start >= limit) return undefined
    const found = accept(lane.rules[best.rule] as CompiledRuleInternal, s, best.start, best.end, lead)
    if (found !== undefined) return found
    // Rejected: a rule loaded later may still match exactly here. One
    // sticky probe per group skips the groups with nothing at this start.
    const other = laterAcceptedAt(lane, groups, s, best.start, best.rule, lead)
    if (other !== undefined) return other
    const cp = s.codePointAt(best.start) ?? 0
    pos = best.start + (cp > 0xffff ? 2 : 1)
  }
  return undefined
}
