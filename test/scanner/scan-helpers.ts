/**
 * @module test/scanner/scan-helpers
 * What the scanner tests share: feeding pieces to a streaming scanner and
 * collecting what a client would get, and the part of findings two scans
 * of the same text must agree on.
 */
import type { Finding, ScanResult, Scanner } from '../../src/scanner/types.js'

/** Writes each piece, ends the stream; `onWrite` sees the scanner after every write. */
export function feedPieces (scanner: Scanner, pieces: Iterable<string>, onWrite?: (scanner: Scanner) => void): ScanResult {
  let out = ''
  const findings: Finding[] = []
  for (const piece of pieces) {
    const r = scanner.write(piece)
    out += r.text
    findings.push(...r.findings)
    onWrite?.(scanner)
  }
  const r = scanner.end()
  const result: ScanResult = { text: out + r.text, findings: [...findings, ...r.findings] }
  if (scanner.cut !== undefined) result.cut = scanner.cut
  return result
}

/** Where, which rule and which value: in stream order. */
export function comparable (findings: readonly Finding[]): Array<Pick<Finding, 'ruleId' | 'start' | 'length' | 'digest'>> {
  return findings
    .map((f) => ({ ruleId: f.ruleId, start: f.start, length: f.length, digest: f.digest }))
    .sort((a, b) => a.start - b.start || (a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0))
}
