/**
 * @module audit/verify-audit-log
 * `sluice audit verify <file>`: reads an audit file in order and checks its
 * hash chain (see hash-chain.ts), reporting the FIRST broken line — the first
 * line an edit, deletion, insertion or reordering touched.
 *
 * Streams the file and splits it on `\n` at the byte level (0x0A never
 * occurs inside a UTF-8 sequence); the pieces of a line that spans chunks
 * are kept in a list and joined once, so long lines cost O(n).
 *
 * A last line without a newline is reported apart, with `truncated: true`:
 * every record is written together with its newline, so such a line is a
 * write cut short by a crash or a full disk (at most one record lost), not
 * an edit. It is still `ok: false` — the file is not a complete chain — but
 * the CLI can tell the two apart, and reopening the file with
 * `createAuditLog` repairs it (cuts the fragment and records that it did).
 */
import { createReadStream } from 'node:fs'
import { createChainVerifier } from './hash-chain.js'

const NEWLINE = 0x0a
/** A line this long is not one of ours; stop before it exhausts memory. */
const MAX_LINE_BYTES = 16 * 1024 * 1024

export type VerifyResult =
  | { ok: true, records: number, head: string }
  | { ok: false, line: number, reason: string, truncated?: true }

export interface VerifyOptions {
  /** The key the file was written with, for an HMAC chain. */
  chainKey?: string | Buffer
}

/**
 * Checks the chain of an audit file. Resolves `{ ok: true, records, head }`
 * (`head` is the last hash: compare it with one published elsewhere to
 * detect records cut off the end), or `{ ok: false, line, reason }` with the
 * 1-based number of the first broken line. Rejects only when the file
 * cannot be read.
 *
 * @example
 * const result = await verifyAuditLog('audit.jsonl')
 * console.log(result.ok ? `ok: ${result.records} records` : `line ${result.line}: ${result.reason}`)
 */
export async function verifyAuditLog (file: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  const verifier = createChainVerifier(options)
  let pending: Buffer[] = []
  let pendingBytes = 0
  let line = 0
  const input = createReadStream(file, { highWaterMark: 64 * 1024 })
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      let from = 0
      let nl: number
      while ((nl = chunk.indexOf(NEWLINE, from)) !== -1) {
        const piece = chunk.subarray(from, nl)
        const bytes = pending.length === 0 ? piece : Buffer.concat([...pending, piece], pendingBytes + piece.length)
        pending = []
        pendingBytes = 0
        from = nl + 1
        line++
        const check = verifier.push(bytes.toString('utf8'))
        if (!check.ok) return { ok: false, line, reason: check.reason }
      }
      if (from < chunk.length) {
        pending.push(chunk.subarray(from))
        pendingBytes += chunk.length - from
        if (pendingBytes > MAX_LINE_BYTES) {
          return { ok: false, line: line + 1, reason: `line longer than ${MAX_LINE_BYTES} bytes` }
        }
      }
    }
  } finally {
    input.destroy()
  }
  if (pendingBytes > 0) {
    return {
      ok: false,
      line: line + 1,
      reason: `truncated: the last line has no newline (an interrupted write); the ${verifier.records} records before it verify`,
      truncated: true
    }
  }
  return { ok: true, records: verifier.records, head: verifier.head }
}
