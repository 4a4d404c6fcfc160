/**
 * @module rules/rule-set
 * A loaded, immutable set of compiled rules plus the combined regexes the
 * scanner runs: leftmost-first alternations over the rules of a lane
 * (one native call finds the next candidate of many rules: 6–10× fewer
 * calls than one regex per rule) and end-anchored alternations of the
 * rules' prefix languages (where the holdback starts).
 *
 * Two lanes: `output` (redact and cut: they change the text, so they hold it
 * back) and `flag` (report only: scanned on a shadow buffer, never holds text).
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import RE2 from 're2'
import { prefixPattern } from './analyze-pattern.js'
import { packGroups } from './pack-groups.js'
import type { CompiledRuleInternal } from './compile-rule.js'
import type { CompiledRule } from './types.js'

/**
 * Rules of a lane compiled together into one alternation. Which rules share
 * a group is measured (rules/pack-groups.ts): together where RE2's DFA stays
 * small, apart where their states would multiply.
 */
export interface RuleGroup {
  /** Indexes into the lane's `rules`, ascending. */
  readonly members: readonly number[]
  /** `(?flags:(rule0))|(?flags:(rule1))|…`, global. */
  readonly combined: RE2
  /** The same alternation, sticky: does any member match exactly at `lastIndex`? */
  readonly sticky: RE2
  /** Index of each member's wrapping capture group in `combined`. */
  readonly groupIndex: readonly number[]
}

export interface RuleLane {
  readonly rules: readonly CompiledRuleInternal[]
  readonly groups: readonly RuleGroup[]
  /**
   * End-anchored alternations of the rules' prefix languages, packed apart
   * from `groups` (a prefix automaton blows up on other combinations): the
   * leftmost match of any is the earliest position that may still grow
   * into a match.
   */
  readonly prefixes: readonly RE2[]
  /** Longest match of any rule in the lane (UTF-16 units). */
  readonly maxLength: number
}

export interface RuleSet {
  /** Every rule, enabled or not, in load order (files alphabetical, rules in file order). */
  readonly rules: readonly CompiledRule[]
  /** The files the rules came from. */
  readonly files: readonly string[]
  /** Redact and cut rules. */
  readonly output: RuleLane | undefined
  /** Flag rules. */
  readonly flag: RuleLane | undefined
  /** When the set was built, for hot-reload logs. */
  readonly loadedAt: Date
}

// Deriving a prefix automaton costs milliseconds to a second per rule, and
// rule sets are built at every start, every hot reload and in many tests:
// cache by pattern in memory and on disk (a derived, disposable artefact,
// keyed by a hash of flags, pattern and this module's derivation version).
const prefixCache = new Map<string, string>()
const derivationVersion = '1'
const diskCacheDir = process.env.SLUICE_CACHE_DIR ?? join(tmpdir(), 'sluice-prefix-cache')

function readDiskCache (key: string): string | undefined {
  try {
    // A prefix pattern decides what is held back: trust only a private
    // cache directory of our own (a planted entry could make text leak).
    const dir = statSync(diskCacheDir)
    if ((dir.mode & 0o077) !== 0 || (process.getuid !== undefined && dir.uid !== process.getuid())) return undefined
    return readFileSync(join(diskCacheDir, key), 'utf8')
  } catch {
    return undefined
  }
}

function writeDiskCache (key: string, value: string): void {
  try {
    mkdirSync(diskCacheDir, { recursive: true, mode: 0o700 })
    // Write then rename: concurrent processes never read half an entry.
    const tmp = join(diskCacheDir, `${key}.${process.pid}.tmp`)
    writeFileSync(tmp, value)
    renameSync(tmp, join(diskCacheDir, key))
  } catch {
    // A read-only or full disk only costs the next start the derivation.
  }
}

function wrapFlags (flags: string, body: string): string {
  const inline = flags.replace(/u/g, '')
  return inline === '' ? `(?:${body})` : `(?${inline}:${body})`
}

function prefixSourceOf (rule: CompiledRuleInternal): string {
  if (rule.prefixSource !== undefined) return wrapFlags(rule.flags, rule.prefixSource)
  const key = createHash('sha256').update(`${derivationVersion}\0${rule.flags}\0${rule.source}`).digest('hex')
  let cached = prefixCache.get(key) ?? readDiskCache(key)
  if (cached === undefined) {
    const p = prefixPattern(rule.source, rule.flags)
    cached = wrapFlags(p.flags, p.source)
    writeDiskCache(key, cached)
  }
  prefixCache.set(key, cached)
  return cached
}

function createGroup (rules: readonly CompiledRuleInternal[], members: readonly number[]): RuleGroup {
  const groupIndex: number[] = []
  let next = 1
  const parts = members.map((i) => {
    const rule = rules[i] as CompiledRuleInternal
    groupIndex.push(next)
    next += 1 + rule.groups
    return wrapFlags(rule.flags, `(${rule.source})`)
  })
  return {
    members,
    combined: new RE2(parts.join('|'), 'gu'),
    sticky: new RE2(parts.join('|'), 'yu'),
    groupIndex
  }
}

function createLane (rules: CompiledRuleInternal[]): RuleLane | undefined {
  if (rules.length === 0) return undefined
  const alternatives = rules.map((rule) => wrapFlags(rule.flags, `(${rule.source})`))
  const prefixes = rules.map((rule) => `${prefixSourceOf(rule)}$`)
  return {
    rules,
    groups: packGroups(alternatives, 'gu').map((members) => createGroup(rules, members)),
    prefixes: packGroups(prefixes, 'u').map((members) => new RE2(members.map((i) => prefixes[i]).join('|'), 'u')),
    maxLength: Math.max(...rules.map((r) => r.maxLength))
  }
}

export function createRuleSet (rules: readonly CompiledRuleInternal[], files: readonly string[] = []): RuleSet {
  const enabled = rules.filter((r) => r.enabled)
  return {
    rules,
    files,
    output: createLane(enabled.filter((r) => r.action !== 'flag')),
    flag: createLane(enabled.filter((r) => r.action === 'flag')),
    loadedAt: new Date()
  }
}
