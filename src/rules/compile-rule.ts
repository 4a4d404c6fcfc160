/**
 * @module rules/compile-rule
 * Turns one validated `RuleSource` into a `CompiledRule`. Throws a
 * `RuleProblem` (a sentence for the rule author, with the field at fault
 * and, in a pattern, the offset of the offending part); the loader turns
 * those into file, line and column, and adds the rule id.
 */
import RE2 from 're2'
import { analyzePattern, explainRe2Failure, PatternProblem, prefixPattern } from './analyze-pattern.js'
import { compileWords } from './compile-words.js'
import { compileReplacement } from './replacement.js'
import { reverseAutomatonOf } from './reverse-automaton.js'
import type { ReverseAutomaton } from './reverse-automaton.js'
import type { RuleCache } from './rule-cache.js'
import type { RenderReplacement } from './replacement.js'
import type { CompiledRule, RuleOrigin, RuleSource } from './types.js'
import { validators } from './validators.js'

export class RuleProblem extends Error {
  /** The field at fault, as a path inside the rule (`['allowPatterns', 2]`); none for the rule as a whole. */
  readonly field: ReadonlyArray<string | number> | undefined
  /** Offset inside that field's string value (a pattern's offending part). */
  readonly offset: number | undefined
  constructor (message: string, field?: ReadonlyArray<string | number>, offset?: number) {
    super(message)
    this.field = field
    this.offset = offset
  }
}

/**
 * A pattern field that failed to compile, as a RuleProblem: our analysis'
 * sentence and offset, or RE2's own message (explained when RE2 only says
 * "invalid", as for a lookbehind in an `allowPatterns` entry).
 */
function patternFieldProblem (field: ReadonlyArray<string | number>, source: string, err: unknown): RuleProblem {
  const name = field.map((f, i) => (typeof f === 'number' ? `[${f}]` : i === 0 ? f : `.${f}`)).join('')
  const problem = err instanceof PatternProblem ? err : explainRe2Failure(source)
  if (problem !== undefined) return new RuleProblem(`${name}: ${problem.message}`, field, problem.offset)
  return new RuleProblem(`${name} is not valid RE2: ${(err as Error).message}`, field)
}

export interface CompiledRuleInternal extends CompiledRule {
  readonly render: RenderReplacement
  /** RE2 of `source`, sticky: matches only exactly at `lastIndex` (find-match.ts). */
  readonly sticky: RE2
  /** Capture groups inside `source`. */
  readonly groups: number
  /** A prefix-language source written by the compiler itself (obfuscated words), else derived. */
  readonly prefixSource: string | undefined
  /** A region rule's closing (see rule-schema.ts `until`). */
  readonly until: RegionEnd | undefined
  /**
   * `(?:after)$`, its reversed automaton when it has one (what
   * find-match.ts reads back with: reverse-automaton.ts), and the longest
   * text it can match (see rule-schema.ts `after`).
   */
  readonly after: Lookbehind | undefined
  /** The same for `notAfter`: a match it finds refuses the match. */
  readonly notAfter: Lookbehind | undefined
  /**
   * With `notBefore`: the capture group that pattern is compiled into, an
   * optional suffix of the match (`(?:pattern)(notBefore)?`): a match that
   * took it is refused, so the text is held until it is decided.
   */
  readonly notBeforeGroup: number | undefined
}

/** A lookbehind (RE2 has none): what must (`after`) or must not (`notAfter`) end the text before a match. */
export interface Lookbehind {
  /** The pattern as analyzed (bounded repetition), without the `$`. */
  readonly source: string
  readonly regex: RE2
  readonly reverse: ReverseAutomaton | undefined
  readonly maxLength: number
}

function compileLookbehind (field: string, source: string, flags: string, maxLength: number | undefined, cache: RuleCache | undefined): Lookbehind {
  try {
    const a = analyzePattern(source, flags, maxLength, { allowEmpty: true, suggestFields: false })
    return { source: a.source, regex: new RE2(`(?:${a.source})$`, `u${flags}`), reverse: reverseAutomatonOf(a.source, flags, cache), maxLength: a.maxLength }
  } catch (err) {
    throw patternFieldProblem([field], source, err)
  }
}

/** The closing of a region: where it ends, and how much of a stream's tail may still become it. */
export interface RegionEnd {
  /** Global: the leftmost closing at or after `lastIndex`. */
  readonly regex: RE2
  /** `(?:prefix)$`: the leftmost position whose suffix may still grow into a closing. */
  readonly prefix: RE2
  /** Longest closing (UTF-16 units): the most a region holds back. */
  readonly maxLength: number
}

function compileUntil (source: string, flags: string): RegionEnd {
  try {
    const analysis = analyzePattern(source, flags, undefined, { suggestFields: false })
    const p = prefixPattern(analysis.source, flags)
    const inline = p.flags.replace(/u/g, '')
    return {
      regex: new RE2(analysis.source, `gu${flags}`),
      prefix: new RE2(inline === '' ? `(?:${p.source})$` : `(?${inline}:${p.source})$`, 'u'),
      maxLength: analysis.maxLength
    }
  } catch (err) {
    throw patternFieldProblem(['until'], source, err)
  }
}

const defaultReplacement = '[REDACTED:{category}]'

/** One `allowPatterns` entry (also an override's, checked where it is written). */
export function compileAllowPattern (source: string, field: ReadonlyArray<string | number>): RE2 {
  try {
    return new RE2(source, 'u')
  } catch (err) {
    throw patternFieldProblem(field, source, err)
  }
}

/** Compiles `rule`; what it derives (a lookbehind's automaton) is remembered in `cache` (rules/rule-cache.ts). */
export function compileRule (rule: RuleSource, origin: RuleOrigin, cache?: RuleCache): CompiledRuleInternal {
  if ((rule.pattern === undefined) === (rule.words === undefined)) {
    throw new RuleProblem('a rule needs exactly one of "pattern" or "words"')
  }
  if (rule.obfuscation === true && rule.words === undefined) {
    throw new RuleProblem('"obfuscation" applies to "words" rules only', ['obfuscation'])
  }
  const flags = [...new Set(rule.flags ?? '')].sort().join('')
  const words = rule.words === undefined ? undefined : compileWords(rule.words, rule.obfuscation === true)
  const matchSource = rule.pattern ?? words?.source ?? ''
  let analysis
  let sticky: RE2
  let notBeforeGroup: number | undefined
  const indices = rule.group === undefined && rule.notBefore === undefined ? '' : 'd'
  // Offsets in a words rule's compiled pattern mean nothing to its author: the field is named, not a column.
  const matchProblem = (err: unknown): RuleProblem => rule.pattern === undefined
    ? new RuleProblem(`words: ${(err as Error).message}`, ['words'])
    : patternFieldProblem(['pattern'], matchSource, err)
  try {
    analysis = analyzePattern(matchSource, flags, rule.maxLength)
  } catch (err) {
    throw matchProblem(err)
  }
  if (rule.notBefore !== undefined) {
    try {
      analyzePattern(rule.notBefore, flags, rule.maxLength, { suggestFields: false })
    } catch (err) {
      throw patternFieldProblem(['notBefore'], rule.notBefore, err)
    }
    notBeforeGroup = analysis.groups + 1
    try {
      analysis = analyzePattern(`(?:${matchSource})(${rule.notBefore})?`, flags, rule.maxLength)
    } catch (err) {
      throw new RuleProblem(`notBefore: with the pattern, ${(err as Error).message}`, ['notBefore'])
    }
  }
  try {
    // RE2 has the last word on what it accepts; compiled once, kept.
    sticky = new RE2(analysis.source, `yu${flags}${indices}`)
  } catch (err) {
    throw matchProblem(err)
  }
  if (rule.group !== undefined && rule.group > analysis.groups) {
    throw new RuleProblem(`group ${rule.group} does not exist (the pattern has ${analysis.groups})`, ['group'])
  }
  if (rule.until !== undefined && rule.action !== 'redact') {
    throw new RuleProblem(`"until" (a region) applies to action "redact" only, not "${rule.action}"`, ['action'])
  }
  if (rule.until !== undefined && rule.pattern === undefined) {
    throw new RuleProblem('"until" needs a "pattern" to open the region', ['until'])
  }
  const until = rule.until === undefined ? undefined : compileUntil(rule.until, flags)
  const after = rule.after === undefined ? undefined : compileLookbehind('after', rule.after, flags, rule.maxLength, cache)
  const notAfter = rule.notAfter === undefined ? undefined : compileLookbehind('notAfter', rule.notAfter, flags, rule.maxLength, cache)
  if (rule.action !== 'redact' && rule.replacement !== undefined) {
    throw new RuleProblem(`"replacement" only applies to action "redact", not "${rule.action}"`, ['replacement'])
  }
  const validator = rule.validator === undefined ? undefined : validators[rule.validator]
  if (rule.validator !== undefined && validator === undefined) {
    throw new RuleProblem(`unknown validator "${rule.validator}" (known: ${Object.keys(validators).join(', ')})`, ['validator'])
  }
  const allowPatterns = (rule.allowPatterns ?? []).map((p, i) => compileAllowPattern(p, ['allowPatterns', i]))
  const replacement = rule.replacement ?? defaultReplacement
  let render: RenderReplacement
  try {
    render = compileReplacement(replacement)
  } catch (err) {
    throw new RuleProblem((err as Error).message, ['replacement'])
  }

  return {
    id: rule.id,
    category: rule.category,
    description: rule.description,
    action: rule.action,
    severity: rule.severity ?? 'medium',
    enabled: rule.enabled ?? true,
    boundary: rule.boundary ?? 'none',
    view: rule.view ?? 'normalized',
    source: analysis.source,
    flags,
    sticky,
    maxLength: analysis.maxLength,
    group: rule.group,
    groups: analysis.groups,
    // The compiler's prefix language is the words' own, without a `notBefore` suffix.
    prefixSource: rule.notBefore === undefined ? words?.prefix : undefined,
    until,
    after,
    notAfter,
    notBeforeGroup,
    validator,
    validatorName: rule.validator,
    minEntropy: rule.minEntropy,
    allow: new Set(rule.allow ?? []),
    allowPatterns,
    replacement,
    render,
    origin,
    examples: { match: rule.examples?.match ?? [], nomatch: rule.examples?.nomatch ?? [] }
  }
}
