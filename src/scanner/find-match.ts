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
import type { CompiledRuleInternal } from '../rules/compile-rule.js'
import type { RuleLane } from '../rules/rule-set.js'
import { shannonEntropy } from '../rules/validators.js'

export interface Match {
  rule: CompiledRuleInternal
  /** Start and end of the whole match in the searched string. */
  start: number
  end: number
  /** The part that is redacted and digested (the rule's `group`, else the whole match). */
  valueStart: number
  valueEnd: number
}

const asciiWord = /[A-Za-z0-9_]/
const digit = /[0-9]/
const alnum = /[\p{L}\p{N}]/u

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

function touches (boundary: CompiledRuleInternal['boundary'], ch: string): boolean {
  if (ch === '') return false
  switch (boundary) {
    case 'word': return asciiWord.test(ch)
    case 'digit': return digit.test(ch)
    case 'alnum': return alnum.test(ch)
    default: return false
  }
}

/** Locates the rule's `group` inside a match known to start at `start`. */
function locateGroup (rule: CompiledRuleInternal, s: string, start: number): [number, number] | undefined {
  rule.regex.lastIndex = start
  const m = rule.regex.exec(s)
  if (m === null || m.index !== start || rule.group === undefined) return undefined
  const span = m.indices?.[rule.group]
  return span === undefined ? undefined : [span[0], span[1]]
}

/** Applies everything beyond the regex: boundary, group, allow-lists, entropy, validator. */
function accept (rule: CompiledRuleInternal, s: string, start: number, end: number): Match | undefined {
  if (end === start) return undefined
  if (rule.boundary !== 'none') {
    if (touches(rule.boundary, codePointBefore(s, start))) return undefined
    if (touches(rule.boundary, codePointAt(s, end))) return undefined
  }
  let valueStart = start
  let valueEnd = end
  if (rule.group !== undefined) {
    const span = locateGroup(rule, s, start)
    if (span === undefined || span[1] === span[0]) return undefined
    ;[valueStart, valueEnd] = span
  }
  const value = s.slice(valueStart, valueEnd)
  if (rule.allow.has(value)) return undefined
  for (const p of rule.allowPatterns) if (p.test(value)) return undefined
  if (rule.minEntropy !== undefined && shannonEntropy(value) < rule.minEntropy) return undefined
  if (rule.validator !== undefined && !rule.validator(value, { before: codePointBefore(s, start) })) return undefined
  return { rule, start, end, valueStart, valueEnd }
}

/** The first accepted match of one rule starting at or after `from` and before `limit`. */
function firstOfRule (rule: CompiledRuleInternal, s: string, from: number, limit: number): Match | undefined {
  const re = rule.regex
  let pos = from
  while (pos < limit) {
    re.lastIndex = pos
    const m = re.exec(s)
    if (m === null || m.index >= limit) return undefined
    const found = accept(rule, s, m.index, m.index + m[0].length)
    if (found !== undefined) return found
    // Resume one code point later, never inside a surrogate pair.
    const cp = s.codePointAt(m.index) ?? 0
    pos = m.index + (cp > 0xffff ? 2 : 1)
  }
  return undefined
}

/**
 * The next match of `lane` in `s` starting at or after `from` and before
 * `limit`. One DFA-only `search` per rule group settles the common case (no
 * candidate); otherwise each group's leftmost candidate is compared. Only
 * when the winning candidate is rejected do we ask each rule that matches
 * anywhere (a RE2.Set pass) for its first accepted match.
 */
export function findMatch (lane: RuleLane, s: string, from: number, limit = s.length): Match | undefined {
  let bestStart = Infinity
  let bestEnd = 0
  let bestRule = -1
  for (const g of lane.groups) {
    const re = g.combined
    if (re.search(s) < 0) continue
    re.lastIndex = from
    const m = re.exec(s)
    if (m === null || m.index >= limit || m.index > bestStart) continue
    let member = -1
    for (let k = 0; k < g.members.length; k++) {
      if (m[g.groupIndex[k] as number] !== undefined) { member = g.members[k] as number; break }
    }
    if (m.index < bestStart || member < bestRule) {
      bestStart = m.index
      bestEnd = m.index + m[0].length
      bestRule = member
    }
  }
  if (bestRule < 0) return undefined
  const found = accept(lane.rules[bestRule] as CompiledRuleInternal, s, bestStart, bestEnd)
  if (found !== undefined) return found

  // Slow path: the leftmost candidate was rejected. No rule matches before
  // `bestStart`, so the rules that match anywhere are searched from there;
  // on equal starts the rule loaded first wins.
  let best: Match | undefined
  let bestIndex = -1
  for (const g of lane.groups) {
    const hits = g.set.match(s)
    for (const k of hits) {
      const i = g.members[k] as number
      const end = best === undefined ? limit : best.start + 1
      const candidate = firstOfRule(lane.rules[i] as CompiledRuleInternal, s, bestStart, end)
      if (candidate === undefined) continue
      if (best === undefined || candidate.start < best.start || (candidate.start === best.start && i < bestIndex)) {
        best = candidate
        bestIndex = i
      }
    }
  }
  return best
}
