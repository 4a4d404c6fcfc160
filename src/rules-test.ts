/**
 * @module rules-test
 * Runs every rule's own examples through the real scanner — whole and
 * streamed in small pieces — as `sluice rules test` does (and
 * `testRuleExamples` of `sluice/scanner`). A `match` example must yield a
 * finding of that rule (and the given value, if any); a `nomatch` example
 * must yield none. It uses both the rules and the scanner, so it sits
 * above both, beside the CLI: the rules never import the scanner.
 *
 * The examples are run against the set as composed (rules/load-rules.ts),
 * every rule's examples with every other rule present, as in production:
 * - a disabled rule's examples are not run (it finds nothing by design);
 *   the other rules' examples still run without it;
 * - an override of `action` or `severity` changes what happens to a
 *   finding, not what is found: the examples hold as written and are
 *   checked against the rule as overridden, so a `match` example written
 *   for a redaction now expects a finding with the new action (a flag
 *   leaves the text as it was, a cut ends the stream), and the streamed
 *   check confirms the rule behaves the same in its new lane;
 * - an override that adds to `allow`/`allowPatterns` may let through a
 *   value a `match` example was written to catch: the operator decided
 *   that value is not a finding, so such an example is skipped and
 *   reported as skipped, not failed (the value is the example's `value`,
 *   else what the rule's pattern matches in its text).
 */
import RE2 from 're2'
import type { RuleSet } from './rules/rule-set.js'
import type { CompiledRule } from './rules/types.js'
import { createScanner } from './scanner/create-scanner.js'
import { digestValue } from './scanner/digest.js'
import { scanText } from './scanner/scan-text.js'
import type { Finding } from './scanner/types.js'

export interface ExampleFailure {
  ruleId: string
  file: string
  line: number
  kind: 'match' | 'nomatch'
  text: string
  reason: string
}

/** A `match` example not run because an override allows its value. */
export interface ExampleSkip {
  ruleId: string
  file: string
  line: number
  text: string
  /** Where the override that allows the value is. */
  reason: string
}

export interface RuleTestReport {
  rules: number
  examples: number
  failures: ExampleFailure[]
  skipped: ExampleSkip[]
}

const exampleKey = Buffer.from('sluice-rules-test')

function streamedFindings (ruleSet: RuleSet, text: string, size: number): { text: string, findings: Finding[] } {
  const scanner = createScanner(ruleSet, { hmacKey: exampleKey })
  let out = ''
  const findings: Finding[] = []
  for (let i = 0; i < text.length; i += size) {
    const r = scanner.write(text.slice(i, i + size))
    out += r.text
    findings.push(...r.findings)
  }
  const r = scanner.end()
  return { text: out + r.text, findings: [...findings, ...r.findings] }
}

function checkExample (ruleSet: RuleSet, rule: CompiledRule, text: string, expectMatch: boolean, value: string | undefined): string | undefined {
  const whole = scanText(ruleSet, text, { hmacKey: exampleKey })
  const mine = whole.findings.filter((f) => f.ruleId === rule.id)
  if (expectMatch && mine.length === 0) {
    const other = whole.findings.map((f) => f.ruleId)
    return other.length > 0 ? `no finding of this rule (found instead: ${other.join(', ')})` : 'no finding'
  }
  if (!expectMatch && mine.length > 0) return `unexpected finding at offset ${mine[0]?.start} (length ${mine[0]?.length})`
  if (value !== undefined && !mine.some((f) => f.digest === digestValue(exampleKey, value))) {
    return `found, but not the value "${value}"`
  }
  // The streamed result must be the whole-text result, piece size 1 and 3.
  for (const size of [1, 3]) {
    const s = streamedFindings(ruleSet, text, size)
    if (s.text !== whole.text) return `streamed in ${size}-character pieces, the output differs from whole-text scanning`
    if (s.findings.length !== whole.findings.length) return `streamed in ${size}-character pieces, the findings differ`
  }
  return undefined
}

/**
 * The override (as `file:line:column`) whose added `allow` or
 * `allowPatterns` lets through the value of a `match` example, if one does.
 */
function allowedByOverride (rule: CompiledRule, text: string, value: string | undefined): string | undefined {
  const overrides = (rule.origin.overrides ?? []).filter((o) => o.override.allow !== undefined || o.override.allowPatterns !== undefined)
  if (overrides.length === 0) return undefined
  const values: string[] = []
  if (value !== undefined) {
    values.push(value)
  } else {
    const re = new RE2(rule.source, `gu${rule.flags}`)
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const v = rule.group === undefined ? m[0] : m[rule.group]
      if (v !== undefined && v !== '') values.push(v)
      if (m[0] === '') re.lastIndex++
    }
  }
  for (const o of overrides) {
    const patterns = (o.override.allowPatterns ?? []).map((p) => new RE2(p, 'u'))
    if (values.some((v) => (o.override.allow ?? []).includes(v) || patterns.some((p) => p.test(v)))) return `${o.file}:${o.line}:${o.column}`
  }
  return undefined
}

/** Checks all examples of all enabled rules in `ruleSet`. */
export function testRuleExamples (ruleSet: RuleSet): RuleTestReport {
  const failures: ExampleFailure[] = []
  const skipped: ExampleSkip[] = []
  let examples = 0
  for (const rule of ruleSet.rules) {
    if (!rule.enabled) continue
    const lines = rule.origin.exampleLines
    rule.examples.match.forEach((ex, i) => {
      examples++
      const text = typeof ex === 'string' ? ex : ex.text
      const value = typeof ex === 'string' ? undefined : ex.value
      const reason = checkExample(ruleSet, rule, text, true, value)
      if (reason === undefined) return
      const line = lines?.match[i] ?? rule.origin.line
      const allowedAt = allowedByOverride(rule, text, value)
      if (allowedAt !== undefined) skipped.push({ ruleId: rule.id, file: rule.origin.file, line, text, reason: `its value is allowed by the override at ${allowedAt}` })
      else failures.push({ ruleId: rule.id, file: rule.origin.file, line, kind: 'match', text, reason })
    })
    rule.examples.nomatch.forEach((text, i) => {
      examples++
      const reason = checkExample(ruleSet, rule, text, false, undefined)
      if (reason !== undefined) failures.push({ ruleId: rule.id, file: rule.origin.file, line: lines?.nomatch[i] ?? rule.origin.line, kind: 'nomatch', text, reason })
    })
  }
  return { rules: ruleSet.rules.filter((r) => r.enabled).length, examples, failures, skipped }
}
