/**
 * @module rules/pack-groups
 * Decides which patterns of a lane are compiled into one RE2 alternation.
 *
 * One alternation answers for many rules in one native call, but RE2's DFA
 * has a fixed memory budget: when the patterns together make too many
 * states (counted classes that overlap, like `[A-Za-z][A-Za-z0-9]{1,30}`
 * beside `[0-9]{13,19}`), it keeps flushing its cache or falls back to the
 * NFA, and a search of 60 random characters costs 40–300 µs instead of
 * 0.3 µs (measured on the default rules grouped by category). Which
 * combinations blow up depends on the patterns and the text, not on
 * anything a rule says, so packing is measured: on a fixed probe text of
 * the kinds that drive DFAs hardest (random ids, base64, digit runs, hex,
 * prose), a pattern joins the first group whose search it does not make
 * slower than searching both apart; otherwise it opens a group of its own.
 *
 * The matching semantics do not depend on the packing (find-match.ts
 * compares candidates across groups by start and load order), so a noisy
 * measurement can only cost speed, never change a result.
 */
import RE2 from 're2'
import { createSeededRandom } from '../json/seeded-random.js'
import { remember } from './rule-cache.js'
import type { RuleCache } from './rule-cache.js'

/** Deterministic probe texts: the same on every machine and every load. */
function createProbes (seed: number, rounds: number): Buffer[] {
  const next = createSeededRandom(seed)
  const pick = (alphabet: string, n: number): string => {
    let s = ''
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(next() * alphabet.length)]
    return s
  }
  const alnum = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
  const words = ['the', 'value', 'of', 'return', 'function', 'a', 'is', 'config', 'user', 'name', 'and', 'for', 'with']
  const probes: string[] = []
  for (let i = 0; i < rounds; i++) {
    probes.push(`chatcmpl-${pick(alnum, 24)} ${pick(alnum, 40)}`)
    probes.push(pick(`${alnum}+/=`, 64))
    probes.push(pick('0123456789 -', 64))
    probes.push(pick('0123456789abcdef', 64))
    probes.push(Array.from({ length: 12 }, () => words[Math.floor(next() * words.length)]).join(' '))
  }
  return probes.map((p) => Buffer.from(p, 'utf8'))
}

let warmProbes: Buffer[] | undefined
let timedProbes: Buffer[] | undefined

/**
 * Nanoseconds to search probe texts the regex has not seen. A DFA that fits
 * its budget has built the states they need on the warm-up texts already;
 * one that overflows keeps building states for every new text, which is
 * what random ids cost it in a real stream.
 */
function searchCost (re: RE2): number {
  warmProbes ??= createProbes(0x5eed, 4)
  timedProbes ??= createProbes(0xbeef, 4)
  for (const p of warmProbes) re.search(p)
  const start = process.hrtime.bigint()
  for (const p of timedProbes) re.search(p)
  return Number(process.hrtime.bigint() - start)
}

// Packing a lane costs tens of milliseconds and rule sets are rebuilt at
// every hot reload and in many tests: remembered per list of patterns
// (rules/rule-cache.ts); bump the version when the packing method changes.
const packVersion = '2'

/**
 * A packing as stored, if it is one of `n` patterns: every index exactly
 * once, ascending within each group. Throws on anything else, so a damaged
 * entry can never drop a rule.
 */
function decodePacking (text: string, n: number): number[][] {
  const groups: unknown = JSON.parse(text)
  if (!Array.isArray(groups)) throw new Error('damaged')
  const seen = new Set<number>()
  for (const g of groups) {
    if (!Array.isArray(g) || g.length === 0) throw new Error('damaged')
    for (let k = 0; k < g.length; k++) {
      const i: unknown = g[k]
      if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= n || seen.has(i)) throw new Error('damaged')
      if (k > 0 && i <= (g[k - 1] as number)) throw new Error('damaged')
      seen.add(i)
    }
  }
  if (seen.size !== n) throw new Error('damaged')
  return groups as number[][]
}

/**
 * Packs `sources` (already wrapped alternatives, in load order) into groups
 * of indexes, each ascending. `flags` are the RE2 flags the groups are
 * compiled with. `kinds[i]`, when given, must be equal for two sources to
 * share a group (the caller keeps apart what its search treats apart).
 * `cache` keeps packings across processes.
 */
export function packGroups (sources: readonly string[], flags: string, kinds: readonly string[] = [], cache?: RuleCache): number[][] {
  if (sources.length <= 1) return sources.map((_, i) => [i])
  const packed = remember(cache, ['pack', packVersion, flags, ...sources, ...kinds], () => JSON.stringify(measure(sources, flags, kinds)), (text) => decodePacking(text, sources.length))
  // A copy: the remembered packing serves every later rule set.
  return packed.map((g) => [...g])
}

/** Packs by measured cost (see the module header). */
function measure (sources: readonly string[], flags: string, kinds: readonly string[]): number[][] {
  const cost = (members: readonly number[]): number => searchCost(new RE2(members.map((i) => sources[i]).join('|'), flags))
  const alone = sources.map((_, i) => cost([i]))
  // What one native call costs by itself (argument passing, the scan of a
  // pattern that matches nothing): a merge saves one per search and write.
  const overhead = searchCost(new RE2('\\x00\\x01', flags))
  // A pattern that is slow on its own (a long word list, a prefix language
  // with many states) only makes any group it joins slower: it gets its own
  // group without trials, which also spares recompiling it in each trial.
  const sorted = [...alone].sort((a, b) => a - b)
  const heavy = 8 * (sorted[Math.floor(sorted.length / 2)] as number)
  const groups: Array<{ members: number[], cost: number }> = []
  for (let i = 0; i < sources.length; i++) {
    const own = alone[i] as number
    let placed = false
    for (const g of own > heavy ? [] : groups) {
      if (g.cost > heavy || kinds[g.members[0] as number] !== kinds[i]) continue
      const together = cost([...g.members, i])
      // Merging saves a native call per search; a DFA that overflows costs
      // many times more than both apart. 25% covers timer noise.
      if (together <= (g.cost + own + overhead) * 1.25) {
        g.members.push(i)
        g.cost = together
        placed = true
        break
      }
    }
    if (!placed) groups.push({ members: [i], cost: own })
  }
  // Members stay ascending within a group (find-match.ts relies on it) since
  // each index joins after all smaller ones; groups themselves are in order
  // of their first member.
  return groups.map((g) => g.members)
}
