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
  /** `(?:after)$`, and the longest text it can match (see rule-schema.ts `after`). */
  readonly after: { readonly regex: RE2, readonly maxLength: number } | undefined
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
  const rawSource = rule.pattern ?? words?.source ?? ''
  let analysis
  let regex: RE2
  let sticky: RE2
  const indices = rule.group === undefined ? '' : 'd'
  try {
    analysis = analyzePattern(rawSource, flags, rule.maxLength)
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
  let after: CompiledRuleInternal['after']
  if (rule.after !== undefined) {
    try {
      const a = analyzePattern(rule.after, flags, rule.maxLength, { allowEmpty: true })
      after = { regex: new RE2(`(?:${a.source})$`, `u${flags}`), maxLength: a.maxLength }
    } catch (err) {
      if (err instanceof PatternProblem) throw new RuleProblem(`after: ${err.message}`)
      throw new RuleProblem(`after is not valid RE2: ${(err as Error).message}`)
    }
  }
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
    prefixSource: words?.prefix,
    until,
    after,
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
