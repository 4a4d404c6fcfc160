/**
 * @module rules/compile-rule
 * Turns one validated `RuleSource` into a `CompiledRule`. Throws a
 * `RuleProblem` (a sentence for the rule author); the loader adds file,
 * line and rule id.
 */
import RE2 from 're2'
import { analyzePattern, PatternProblem, prefixPattern } from './analyze-pattern.js'
import { compileWords } from './compile-words.js'
import { compileReplacement } from './replacement.js'
import { reverseAutomatonOf } from './reverse-automaton.js'
import type { ReverseAutomaton } from './reverse-automaton.js'
import type { RenderReplacement } from './replacement.js'
import type { CompiledRule, RuleOrigin, RuleSource } from './types.js'
import { validators } from './validators.js'

export class RuleProblem extends Error {}

export interface CompiledRuleInternal extends CompiledRule {
  readonly render: RenderReplacement
  /** Sticky twin of `regex`: matches only exactly at `lastIndex`. */
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

function compileLookbehind (field: string, source: string, flags: string, maxLength: number | undefined): Lookbehind {
  try {
    const a = analyzePattern(source, flags, maxLength, { allowEmpty: true })
    return { source: a.source, regex: new RE2(`(?:${a.source})$`, `u${flags}`), reverse: reverseAutomatonOf(a.source, flags), maxLength: a.maxLength }
  } catch (err) {
    if (err instanceof PatternProblem) throw new RuleProblem(`${field}: ${err.message}`)
    throw new RuleProblem(`${field} is not valid RE2: ${(err as Error).message}`)
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
    const analysis = analyzePattern(source, flags, undefined)
    const p = prefixPattern(analysis.source, flags)
    const inline = p.flags.replace(/u/g, '')
    return {
      regex: new RE2(analysis.source, `gu${flags}`),
      prefix: new RE2(inline === '' ? `(?:${p.source})$` : `(?${inline}:${p.source})$`, 'u'),
      maxLength: analysis.maxLength
    }
  } catch (err) {
    if (err instanceof PatternProblem) throw new RuleProblem(`until: ${err.message}`)
    throw new RuleProblem(`until is not valid RE2: ${(err as Error).message}`)
  }
}

const defaultReplacement = '[REDACTED:{category}]'

export function compileRule (rule: RuleSource, origin: RuleOrigin): CompiledRuleInternal {
  if ((rule.pattern === undefined) === (rule.words === undefined)) {
    throw new RuleProblem('a rule needs exactly one of "pattern" or "words"')
  }
  if (rule.obfuscation === true && rule.words === undefined) {
    throw new RuleProblem('"obfuscation" applies to "words" rules only')
  }
  const flags = [...new Set(rule.flags ?? '')].sort().join('')
  const words = rule.words === undefined ? undefined : compileWords(rule.words, rule.obfuscation === true)
  const matchSource = rule.pattern ?? words?.source ?? ''
  let analysis
  let regex: RE2
  let sticky: RE2
  let notBeforeGroup: number | undefined
  const indices = rule.group === undefined && rule.notBefore === undefined ? '' : 'd'
  try {
    analysis = analyzePattern(matchSource, flags, rule.maxLength)
    if (rule.notBefore !== undefined) {
      try {
        analyzePattern(rule.notBefore, flags, rule.maxLength)
      } catch (err) {
        if (err instanceof PatternProblem) throw new RuleProblem(`notBefore: ${err.message}`)
        throw err
      }
      notBeforeGroup = analysis.groups + 1
      analysis = analyzePattern(`(?:${matchSource})(${rule.notBefore})?`, flags, rule.maxLength)
    }
    // RE2 has the last word on what it accepts; compiled once, kept.
    regex = new RE2(analysis.source, `gu${flags}${indices}`)
    sticky = new RE2(analysis.source, `yu${flags}${indices}`)
  } catch (err) {
    if (err instanceof PatternProblem) throw new RuleProblem(`pattern: ${err.message}`)
    throw new RuleProblem(`pattern is not valid RE2: ${(err as Error).message}`)
  }
  if (rule.group !== undefined && rule.group > analysis.groups) {
    throw new RuleProblem(`group ${rule.group} does not exist (the pattern has ${analysis.groups})`)
  }
  if (rule.until !== undefined && rule.action !== 'redact') {
    throw new RuleProblem('"until" (a region) applies to action "redact" only')
  }
  if (rule.until !== undefined && rule.pattern === undefined) {
    throw new RuleProblem('"until" needs a "pattern" to open the region')
  }
  const until = rule.until === undefined ? undefined : compileUntil(rule.until, flags)
  const after = rule.after === undefined ? undefined : compileLookbehind('after', rule.after, flags, rule.maxLength)
  const notAfter = rule.notAfter === undefined ? undefined : compileLookbehind('notAfter', rule.notAfter, flags, rule.maxLength)
  if (rule.action !== 'redact' && rule.replacement !== undefined) {
    throw new RuleProblem(`"replacement" only applies to action "redact", not "${rule.action}"`)
  }
  const validator = rule.validator === undefined ? undefined : validators[rule.validator]
  if (rule.validator !== undefined && validator === undefined) {
    throw new RuleProblem(`unknown validator "${rule.validator}" (known: ${Object.keys(validators).join(', ')})`)
  }
  const allowPatterns = (rule.allowPatterns ?? []).map((p, i) => {
    try {
      return new RE2(p, 'u')
    } catch (err) {
      throw new RuleProblem(`allowPatterns[${i}] is not valid RE2: ${(err as Error).message}`)
    }
  })
  const replacement = rule.replacement ?? defaultReplacement
  let render: RenderReplacement
  try {
    render = compileReplacement(replacement)
  } catch (err) {
    throw new RuleProblem((err as Error).message)
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
    regex,
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
