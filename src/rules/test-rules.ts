/**
 * @module rules/test-rules
 * Runs every rule's own examples through the real scanner — whole and
 * streamed in small pieces — as `sluice rules test` does. A `match` example
 * must yield a finding of that rule (and the given value, if any); a
 * `nomatch` example must yield none.
 */
import { createScanner } from '../scanner/create-scanner.js'
import { scanText } from '../scanner/scan-text.js'
import type { Finding } from '../scanner/types.js'
import { digestValue } from '../scanner/digest.js'
import type { RuleSet } from './rule-set.js'
import type { CompiledRule } from './types.js'

export interface ExampleFailure {
  ruleId: string
  file: string
  line: number
  kind: 'match' | 'nomatch'
  text: string
  reason: string
}

export interface RuleTestReport {
  rules: number
  examples: number
  failures: ExampleFailure[]
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

/** Checks all examples of all enabled rules in `ruleSet`. */
export function testRuleExamples (ruleSet: RuleSet): RuleTestReport {
  const failures: ExampleFailure[] = []
  let examples = 0
  for (const rule of ruleSet.rules) {
    if (!rule.enabled) continue
    const lines = rule.origin.exampleLines
    rule.examples.match.forEach((ex, i) => {
      examples++
      const text = typeof ex === 'string' ? ex : ex.text
      const value = typeof ex === 'string' ? undefined : ex.value
      const reason = checkExample(ruleSet, rule, text, true, value)
      if (reason !== undefined) failures.push({ ruleId: rule.id, file: rule.origin.file, line: lines?.match[i] ?? rule.origin.line, kind: 'match', text, reason })
    })
    rule.examples.nomatch.forEach((text, i) => {
      examples++
      const reason = checkExample(ruleSet, rule, text, false, undefined)
      if (reason !== undefined) failures.push({ ruleId: rule.id, file: rule.origin.file, line: lines?.nomatch[i] ?? rule.origin.line, kind: 'nomatch', text, reason })
    })
  }
  return { rules: ruleSet.rules.filter((r) => r.enabled).length, examples, failures }
}
