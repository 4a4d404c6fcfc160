/**
 * @module audit/verify-audit-log
 * `sluice audit verify FILE...`: reads an audit file — or a series of
 * rotated files, oldest first — in order and checks, line by line, that
 * each line is a record in canonical form whose hash is the hash of its own
 * bytes and links to the record before it (hash-chain.ts), that each file
 * after the first starts by continuing the one before it (rotated-files.ts),
 * and, given a key, that every checkpoint's MAC holds and the log ends with
 * a `close` checkpoint (checkpoint.ts). It reports the FIRST broken line —
 * the first line an edit, deletion, insertion or reordering touched.
 *
 * Three outcomes, told apart in the result:
 *
 * - `ok: true`: the chain holds to the end; with a key, the end is sealed
 *   (the log was closed cleanly and nothing was cut after that).
 * - `ok: false` with `truncated` and/or `unsealed`: every complete record
 *   verifies, but the end is not vouched for — the last line was cut
 *   mid-write (`truncated`), or, with a key, records follow the last
 *   checkpoint or it is not a `close` one (`unsealed`, `unsealedRecords`).
 *   That is what a crash leaves (or a log still being written), and also
 *   what cutting records off the end leaves: from the file alone the two
 *   look the same. Not evidence of an edit; reopening the file with
 *   `createAuditLog` continues it and writes a `resume` checkpoint, which
 *   later verifications list in `resumed`.
 * - `ok: false` otherwise: the chain is broken at `file`:`line`.
 *
 * Without a checkpoint key (`checkpointKey`, or else `chainKey`) there is
 * nothing to vouch for the end: a file cut at a line boundary verifies as
 * `ok`, and the result then has no `checkpoints` count (checkpoints found
 * are counted in `uncheckedCheckpoints`).
 *
 * Streams each file and splits it on `\n` at the byte level (0x0A never
 * occurs inside a UTF-8 sequence); the pieces of a line that spans chunks
 * are kept in a list and joined once, so long lines cost O(n). The bytes of
 * each line are checked as they are, never decoded and re-encoded first.
 */
import { createReadStream } from 'node:fs'
import { basename } from 'node:path'
import { InvalidOptionsError } from '../errors.js'
import { createCheckpointSigner, isCheckpointRecord, isFinalCheckpoint } from './checkpoint.js'
import { GENESIS, brokenLinkReason, checkRecordLine, createChainHasher } from './hash-chain.js'

const NEWLINE = 0x0a
/** A line this long is not one of ours; stop before it exhausts memory. */
const MAX_LINE_BYTES = 16 * 1024 * 1024

export interface VerifyOptions {
  /** The key the chain was written with, for an HMAC chain. */
  chainKey?: string | Buffer
  /** The key of the checkpoint MACs. Default: `chainKey`. */
  checkpointKey?: string | Buffer
}

/** A point where a writer reopened a log that had not been closed cleanly. */
export interface ResumePoint {
  file: string
  /** Line of the `resume` checkpoint. */
  line: number
  /** Records that were unsealed when the writer resumed: what a crash could have lost without trace. */
  unsealedRecords: number
}

export interface VerifiedFile {
  file: string
  records: number
  /** Hash of the file's last record. */
  head: string
}

export interface VerifyOk {
  ok: true
  /** Records in the chain: every line, checkpoints included. */
  records: number
  /** Hash of the last record. */
  head: string
  /** With a checkpoint key: checkpoints whose MAC holds. */
  checkpoints?: number
  /** With a checkpoint key: the checkpoint that ends the log (`rotate` only for a rotated file checked alone). */
  sealedBy?: 'close' | 'rotate'
  /** Without a checkpoint key: checkpoint records found, whose MAC could not be checked. */
  uncheckedCheckpoints?: number
  /** With a checkpoint key: where writers resumed after an unclean end. */
  resumed?: ResumePoint[]
  /** The first file continues a rotated file that was not checked (e.g. deleted by retention). */
  continues?: { file: string, prev: string }
  /** Per file, when several were checked. */
  files?: VerifiedFile[]
}

export interface VerifyFailure {
  ok: false
  file: string
  /** 1-based line: the first broken one, or where the unvouched tail starts. */
  line: number
  reason: string
  /** The chain holds, but the last line of the last file has no newline: a write cut short. */
  truncated?: true
  /** The chain holds, but nothing seals its end (with a checkpoint key): see `unsealedRecords`. */
  unsealed?: true
  /** With `truncated` or `unsealed`: complete records that verify. */
  records?: number
  /** With `unsealed`: how many of them come after the last checkpoint. */
  unsealedRecords?: number
}

export type VerifyResult = VerifyOk | VerifyFailure

interface LineScan {
  /** Complete lines read. */
  lines: number
  /** Bytes after the last newline. */
  partialBytes: number
  failure?: { line: number, reason: string }
}

/** Calls `onLine` for each complete line until it returns a reason to stop. */
async function scanLines (file: string, onLine: (bytes: Buffer, line: number) => string | undefined): Promise<LineScan> {
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
        const reason = onLine(bytes, line)
        if (reason !== undefined) return { lines: line, partialBytes: 0, failure: { line, reason } }
      }
      if (from < chunk.length) {
        pending.push(chunk.subarray(from))
        pendingBytes += chunk.length - from
        if (pendingBytes > MAX_LINE_BYTES) {
          return { lines: line, partialBytes: pendingBytes, failure: { line: line + 1, reason: `line longer than ${MAX_LINE_BYTES} bytes` } }
        }
      }
    }
  } finally {
    input.destroy()
  }
  return { lines: line, partialBytes: pendingBytes }
}

function plural (n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/**
 * Checks the chain of an audit file, or of rotated files given oldest
 * first (see `sortAuditSeries` for putting a glob in order). Resolves
 * `{ ok: true, records, head, … }` or `{ ok: false, file, line, reason, … }`
 * (see the module header for the outcomes). Rejects only when a file
 * cannot be read.
 *
 * @example
 * const result = await verifyAuditLog(['audit.jsonl.1', 'audit.jsonl'], { checkpointKey })
 * if (result.ok) console.log(`ok: ${result.records} records`)
 * else if (result.unsealed || result.truncated) console.log(`intact, but the end is not sealed: ${result.reason}`)
 * else console.log(`${result.file}:${result.line}: ${result.reason}`)
 */
export async function verifyAuditLog (files: string | readonly string[], options: VerifyOptions = {}): Promise<VerifyResult> {
  const list = typeof files === 'string' ? [files] : [...files]
  if (list.length === 0) throw new InvalidOptionsError('verifyAuditLog needs at least one file')
  const hasher = createChainHasher(options.chainKey)
  const checkpointKey = options.checkpointKey ?? options.chainKey
  const signer = checkpointKey === undefined ? undefined : createCheckpointSigner(checkpointKey)

  let head = GENESIS
  let records = 0
  let checkpoints = 0
  let uncheckedCheckpoints = 0
  /** Records after the last checkpoint, across files. */
  let sinceCheckpoint = 0
  let lastCheckpointReason: unknown
  const resumed: ResumePoint[] = []
  const verified: VerifiedFile[] = []
  let continues: VerifyOk['continues']

  for (let i = 0; i < list.length; i++) {
    const file = list[i]!
    const isLast = i === list.length - 1
    let fileRecords = 0
    let lastRecord: Record<string, unknown> | undefined
    /** First line after this file's last checkpoint. */
    let unsealedFrom = 1

    const scan = await scanLines(file, function checkLine (bytes, line) {
      const check = checkRecordLine(bytes, hasher)
      if (!check.ok) return check.reason
      const record = check.record
      if (line === 1 && i === 0 && check.prev !== GENESIS && record.kind === 'continue') {
        // The series starts after files that were not given.
        continues = { file: String(record.continues), prev: check.prev }
        head = check.prev
      } else if (line === 1 && i > 0 && (record.kind !== 'continue' || check.prev !== head)) {
        const what = record.kind !== 'continue'
          ? 'its first record is not a "continue" record'
          : `its first record continues ${JSON.stringify(record.continues)}, not the end of this file's predecessor`
        return `does not continue ${basename(list[i - 1]!)}: ${what} (a file is missing, out of order, or was cut)`
      }
      if (check.prev !== head) return brokenLinkReason(records)
      if (isCheckpointRecord(record)) {
        if (signer === undefined) {
          uncheckedCheckpoints++
        } else {
          const bad = signer.check(record)
          if (bad !== undefined) return bad
          checkpoints++
          if (record.reason === 'resume') resumed.push({ file, line, unsealedRecords: sinceCheckpoint })
        }
        sinceCheckpoint = 0
        lastCheckpointReason = record.reason
        unsealedFrom = line + 1
      } else {
        sinceCheckpoint++
      }
      head = check.hash
      records++
      fileRecords++
      lastRecord = record
      return undefined
    })
    if (scan.failure !== undefined) return { ok: false, file, line: scan.failure.line, reason: scan.failure.reason }
    const end = scan.lines + 1

    if (!isLast) {
      if (scan.partialBytes > 0) {
        return { ok: false, file, line: end, reason: 'the last line has no newline, yet later files continue this one: it was cut' }
      }
      if (scan.lines === 0) return { ok: false, file, line: 1, reason: 'empty, yet later files continue this one' }
      // Normally "rotate"; "close" when a rotation renamed the file but
      // could not open the next one, and the writer went on in this file.
      if (signer !== undefined && !isFinalCheckpoint(lastRecord)) {
        return { ok: false, file, line: end, reason: 'does not end with a "rotate" checkpoint, yet later files continue this one: records were cut off its end' }
      }
      verified.push({ file, records: fileRecords, head })
      continue
    }
    verified.push({ file, records: fileRecords, head })

    const truncated = scan.partialBytes > 0
    const finalReason = !truncated && isCheckpointRecord(lastRecord) ? lastRecord?.reason : undefined
    if (signer !== undefined && finalReason === 'rotate' && list.length > 1) {
      return { ok: false, file, line: end, reason: 'ends with a "rotate" checkpoint, but the file that continues it is missing' }
    }
    const sealed = signer === undefined || finalReason === 'close' || finalReason === 'rotate'
    if (truncated || !sealed) {
      const failure: VerifyFailure = { ok: false, file, line: end, reason: '', records }
      const notes: string[] = []
      if (truncated) {
        failure.truncated = true
        notes.push(`truncated: the last line has no newline (an interrupted write); the ${plural(records, 'record')} before it verify`)
      }
      if (signer !== undefined) {
        failure.unsealed = true
        failure.unsealedRecords = sinceCheckpoint
        if (!truncated && sinceCheckpoint > 0) failure.line = unsealedFrom
        const last = lastCheckpointReason === undefined ? 'there is no checkpoint' : `the last checkpoint is ${JSON.stringify(lastCheckpointReason)}`
        notes.push(`unsealed tail: ${plural(sinceCheckpoint, 'record')} after the last checkpoint, and ${last}, not "close": ` +
          'the writer did not close the log (a crash, or it is still open), or records were cut off the end')
      }
      failure.reason = notes.join('; ')
      return failure
    }
  }

  const result: VerifyOk = { ok: true, records, head }
  if (signer !== undefined) {
    result.checkpoints = checkpoints
    result.sealedBy = lastCheckpointReason === 'rotate' ? 'rotate' : 'close'
    if (resumed.length > 0) result.resumed = resumed
  } else if (uncheckedCheckpoints > 0) {
    result.uncheckedCheckpoints = uncheckedCheckpoints
  }
  if (continues !== undefined) result.continues = continues
  if (list.length > 1) result.files = verified
  return result
}
