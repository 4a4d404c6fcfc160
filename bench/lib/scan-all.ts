/**
 * @module bench/lib/scan-all
 * Whole-text scanning that goes on past a cut, for the evaluations: a cut
 * ends a stream (nothing more is released), so `scanText` reports nothing
 * after it; to count every rule's findings in a document, the text after
 * the cut is scanned again by a fresh scanner, with offsets shifted back
 * into the document. The cut itself is recorded. (A match that would have
 * spanned the cut boundary is the only thing this can miss.)
 */
import type { RuleSet } from '../../src/rules/rule-set.js'
import { scanText } from '../../src/scanner/scan-text.js'
import type { Finding } from '../../src/scanner/types.js'

export interface ScanAllResult {
  /** Every finding, offsets into the whole text. */
  findings: Finding[]
  /** The cut findings, in order (each also in `findings`). */
  cuts: Finding[]
  /** The released text of every segment, joined (what a reader would see, were cuts only removals). */
  output: string
}

export function scanAll (ruleSet: RuleSet, text: string, hmacKey: Buffer): ScanAllResult {
  const findings: Finding[] = []
  const cuts: Finding[] = []
  let output = ''
  let offset = 0
  while (offset < text.length) {
    const result = scanText(ruleSet, offset === 0 ? text : text.slice(offset), { hmacKey })
    for (const f of result.findings) findings.push(offset === 0 ? f : { ...f, start: f.start + offset })
    output += result.text
    if (result.cut === undefined) break
    const cut = { ...result.cut, start: result.cut.start + offset }
    cuts.push(cut)
    // A cut of zero length would scan the same text again.
    offset = cut.start + Math.max(1, cut.length)
  }
  return { findings, cuts, output }
}
