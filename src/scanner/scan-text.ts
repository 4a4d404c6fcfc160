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
  // One final write: no holdback to decide, the text is all there is.
  return createScanner(ruleSet, options).end(text)
}
