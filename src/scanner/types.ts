/**
 * @module scanner/types
 * The scanner's contract: text in, safe text and findings out. No I/O.
 */
import type { RuleAction, Severity } from '../rules/types.js'

/**
 * One decision of the scanner. It never carries the matched value: only
 * where it was and an HMAC digest of it, so audit records can correlate
 * equal values without storing them.
 */
export interface Finding {
  ruleId: string
  category: string
  action: RuleAction
  severity: Severity
  /** Offset of the match in the input stream, in UTF-16 code units. */
  start: number
  /** Length of the match in UTF-16 code units. */
  length: number
  /** Hex HMAC-SHA256 of the matched value (the redacted group when the rule names one). */
  digest: string
}

export interface ScanResult {
  /** Sanitized text released by this call. */
  text: string
  /** Findings decided during this call, in stream order for each action kind. */
  findings: Finding[]
  /** Set once a `cut` rule matched: nothing more will ever be released. */
  cut?: Finding
}

export interface Scanner {
  /** Feeds the next piece of the stream; returns what can be released now. */
  write(text: string): ScanResult
  /**
   * Ends the stream: releases everything still held back. `last`, if
   * given, is written first: the same result as `write(last)` then
   * `end()`, without deciding a holdback for text that is final anyway
   * (what `scanText` does).
   */
  end(last?: string): ScanResult
  /** Characters (UTF-16 units) currently held back. */
  readonly held: number
  /** Characters written so far. */
  readonly charsIn: number
  /** Characters released so far. */
  readonly charsOut: number
  readonly cut: Finding | undefined
}

export interface ScannerOptions {
  /** Key for pseudonyms and digests. Default: `SLUICE_HMAC_KEY`, else a per-process random key. */
  hmacKey?: string | Buffer
  /**
   * Longest piece scanned in one step (default 512 characters); a longer
   * write is scanned piece by piece, which gives the same result (any
   * chunking does). Each decided match re-reads the undecided buffer, so
   * unbounded pieces cost time quadratic in the text between matches.
   * `Infinity` turns it off (the tests' whole-text reference).
   */
  sliceChars?: number
}
