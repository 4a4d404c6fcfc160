/**
 * @module audit/read-chain-tail
 * Finds where an existing audit file's chain ends, so a new writer continues
 * it instead of starting a second chain in the same file. Reads only the
 * tail (backwards, in chunks), never the whole file: audit files grow large
 * and opening one must stay cheap. Checking the whole chain is
 * `verifyAuditLog`'s job.
 *
 * A final line without a newline is a record whose write was interrupted
 * (crash, full disk): every record is written with its newline in one
 * write, so such a fragment was never a complete record. It is cut off
 * before appending — otherwise the next record would be glued onto it and
 * the file would stay broken — and the caller records the repair in the
 * chain itself (see create-audit-log.ts).
 *
 * It also returns the last record, parsed, so the writer can tell a file
 * that was closed cleanly (it ends with a `close` or `rotate` checkpoint)
 * from one whose writer crashed (see checkpoint.ts), and reads the time of
 * a file's first record, from which time-based rotation counts.
 */
import { closeSync, fstatSync, openSync, readSync, truncateSync } from 'node:fs'
import { AuditFileError } from '../errors.js'
import { GENESIS, checkRecordLine } from './hash-chain.js'
import type { ChainHasher } from './hash-chain.js'

const NEWLINE = 0x0a
const OPEN_BRACE = 0x7b
const CHUNK = 64 * 1024

export interface ChainTail {
  /** Hash of the last complete record, or GENESIS for a new or empty file. */
  prev: string
  /** Bytes of an interrupted last line that were cut off (0 when the file ended cleanly). */
  droppedBytes: number
  /** The last complete record, parsed; absent for a new or empty file. */
  last?: Record<string, unknown>
}

export interface ReadChainTailOptions {
  /**
   * Cut off an interrupted last line (default true). False for a file that
   * must not be changed (a rotated file): such a line is then an error.
   */
  repair?: boolean
}

/** Index of the last `\n` in bytes `[0, end)` of the file, or -1. */
function lastNewlineBefore (fd: number, end: number): number {
  const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(end, 1)))
  let pos = end
  while (pos > 0) {
    const start = Math.max(0, pos - buf.length)
    const n = readSync(fd, buf, 0, pos - start, start)
    const i = buf.subarray(0, n).lastIndexOf(NEWLINE)
    if (i !== -1) return start + i
    pos = start
  }
  return -1
}

function readRange (fd: number, start: number, end: number): Buffer {
  const buf = Buffer.allocUnsafe(end - start)
  let done = 0
  while (done < buf.length) {
    const n = readSync(fd, buf, done, buf.length - done, start + done)
    if (n === 0) break
    done += n
  }
  return buf.subarray(0, done)
}

/**
 * Reads the chain head of `file` (GENESIS if it does not exist or is empty),
 * cutting off an interrupted last line. Throws `AuditFileError` when the
 * last complete line is not a record of this chain — a foreign file, an
 * edited tail, or a different chain key — rather than appending to it.
 */
export function readChainTail (file: string, hasher: ChainHasher, options: ReadChainTailOptions = {}): ChainTail {
  let fd: number
  try {
    fd = openSync(file, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { prev: GENESIS, droppedBytes: 0 }
    throw err
  }
  let contentEnd: number
  let droppedBytes = 0
  let prev = GENESIS
  let last: Record<string, unknown> | undefined
  try {
    const size = fstatSync(fd).size
    if (size === 0) return { prev: GENESIS, droppedBytes: 0 }
    const lastNl = lastNewlineBefore(fd, size)
    contentEnd = lastNl + 1
    if (contentEnd < size) {
      // Only a fragment of one of our records starts with `{`; anything
      // else means this is not our file, and we must not cut it.
      if (readRange(fd, contentEnd, contentEnd + 1)[0] !== OPEN_BRACE) {
        throw new AuditFileError(file, 'the last line is not an audit record')
      }
      if (options.repair === false) throw new AuditFileError(file, 'the last line is incomplete')
      droppedBytes = size - contentEnd
    }
    if (contentEnd > 0) {
      const lineStart = lastNewlineBefore(fd, lastNl) + 1
      const check = checkRecordLine(readRange(fd, lineStart, lastNl), hasher)
      if (!check.ok) throw new AuditFileError(file, `the last record is invalid: ${check.reason}`)
      prev = check.hash
      last = check.record
    }
  } finally {
    closeSync(fd)
  }
  if (droppedBytes > 0) truncateSync(file, contentEnd)
  return last === undefined ? { prev, droppedBytes } : { prev, droppedBytes, last }
}

/**
 * The `time` of the first record of `file`, or undefined when the file is
 * missing, empty, or does not start with a complete record whose `time` is
 * a number within its first 64 KiB (our first lines are short: a
 * `continue` record or a finding).
 */
export function readFirstRecordTime (file: string): number | undefined {
  let fd: number
  try {
    fd = openSync(file, 'r')
  } catch {
    return undefined
  }
  try {
    const head = readRange(fd, 0, Math.min(CHUNK, fstatSync(fd).size))
    const nl = head.indexOf(NEWLINE)
    if (nl === -1) return undefined
    const record = JSON.parse(head.subarray(0, nl).toString('utf8')) as unknown
    const time = (record as { time?: unknown } | null)?.time
    return typeof time === 'number' && Number.isFinite(time) ? time : undefined
  } catch {
    return undefined
  } finally {
    closeSync(fd)
  }
}
