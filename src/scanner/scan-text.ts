/**
 * @module scanner/scan-text
 * Whole-text scanning: the reference every chunking must equal. It is the
 * streaming scanner fed once, so both share one implementation of the
 * semantics (scanner/find-match.ts).
 */
import type { RuleSet } from '../rules/rule-set.js'
import { createScanner } from './create-scanner.js'
import type { ScanResult, ScannerOptions } from './types.js'

export function scanText (ruleSet: RuleSet, text: string, options?: ScannerOptions): ScanResult {
  const scanner = createScanner(ruleSet, options)
  const first = scanner.write(text)
  const last = scanner.end()
  const result: ScanResult = { text: first.text + last.text, findings: [...first.findings, ...last.findings] }
  const cut = first.cut ?? last.cut
  if (cut !== undefined) result.cut = cut
  return result
}
