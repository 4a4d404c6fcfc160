/**
 * @module audit/create-audit-log
 * The audit log: one hash-chained JSON line per finding, one summary per
 * stream, and rare events — kept apart from the request log, because it
 * answers a different question ("what did Sluice decide, provably") and is
 * kept, shipped and verified differently.
 *
 * Records never carry a matched value nor text around it: a finding is
 * written field by field from the scanner's `Finding` (rule, offsets and the
 * HMAC digest the scanner already computed), never spread, so a field added
 * to `Finding` later cannot leak into the file by accident.
 *
 * Writing. A record is serialized once, in canonical form (hash-chain.ts),
 * hashed once, and that very string is written: the bytes hashed are the
 * bytes in the file. (A logger on top would serialize a second time and
 * add `level`, `pid` and `hostname`.) A file destination is written with
 * one synchronous `write(2)` per record (file-sink.ts); stdout through
 * pino's destination (SonicBoom) with `sync: true`. Either way each record
 * reaches the kernel before `finding()`/`summary()` returns: a process
 * killed with SIGKILL or SIGTERM (default action, no handler) has already
 * written every record it reported; nothing waits in a user-space buffer,
 * and no signal handler is installed (a library must not change how a
 * process reacts to SIGTERM: the host's graceful shutdown calls `close()`).
 * The cost is one `write(2)` per record on the event loop — tens of
 * microseconds — affordable because records come per finding and per
 * stream, not per token; a buffered destination would be cheaper but would
 * lose its buffer in a crash, which is exactly what an audit log must not
 * do. Power loss is another matter: `fsync: true` adds an fsync per record
 * (milliseconds each), off by default.
 *
 * Checkpoints (checkpoint.ts). With a key (`checkpointKey`, or else
 * `chainKey`) the log seals its head with a signed checkpoint record every
 * `checkpointEvery` records, at rotation and at `close()`, so a verifier
 * can tell a complete file from one whose end was cut off or whose writer
 * crashed. Without a key none are written: an unsigned seal would prove
 * nothing to someone who can cut the file.
 *
 * Reopening a file continues its chain (read-chain-tail.ts): an interrupted
 * last line is cut off and an `audit_tail_repaired` event records that; a
 * file that does not end with a `close` (or `rotate`) checkpoint had a
 * writer that did not close it, and gets a `resume` checkpoint first, so
 * the unclean end stays visible in the chain for good.
 *
 * Rotation (`rotate: { maxBytes, intervalMs }`, file destinations only;
 * names in rotated-files.ts). Checked before each record: once the file
 * holds `maxBytes` or its first record is `intervalMs` old, the file gets a
 * `rotate` checkpoint, is renamed `<file>.N`, and a new `<file>` starts with
 * a `continue` record whose `prev` is the old file's last hash and whose
 * `continues` names the old file, so the chain runs on across files. A file
 * therefore grows past `maxBytes` by at most one record and a checkpoint,
 * and an idle log is rotated by its next record, not by a timer (none is
 * kept running). A crash between two steps of a rotation is finished on
 * reopen: a file that ends with a `rotate` checkpoint is moved aside, and a
 * missing or empty active file continues the newest rotated one.
 *
 * One writer per file: two processes appending to the same file would fork
 * the chain. Give each worker its own file.
 */
import { renameSync } from 'node:fs'
import { basename } from 'node:path'
import pino from 'pino'
import type { DestinationStream } from 'pino'
import type { RuleAction, Severity } from '../rules/types.js'
import type { Finding } from '../scanner/types.js'
import { AuditRotateError, InvalidOptionsError } from '../errors.js'
import { isJsonObject } from '../json/json-object.js'
import { createCheckpointSigner, isFinalCheckpoint } from './checkpoint.js'
import type { CheckpointReason } from './checkpoint.js'
import { createFileSink } from './file-sink.js'
import type { FileSink } from './file-sink.js'
import { GENESIS, createChainHasher, isChainHash, sealRecord } from './hash-chain.js'
import { readChainTail, readFirstRecordTime } from './read-chain-tail.js'
import { listRotatedFiles, nextRotatedPath } from './rotated-files.js'

/** Where a finding or summary belongs. */
export interface AuditContext {
  requestId: string
  route?: string
  /** The stream within the response, e.g. `"choice:0"` or a choice index. */
  stream?: string | number
}

export interface FindingCounts {
  redact: number
  cut: number
  flag: number
}

/** What the plugin/proxy knows when one stream ends. */
export interface StreamSummary {
  /** The finish reason sent to the client (ours: e.g. `"content_filter"` after a cut). */
  finishReason: string | null
  /** The finish reason upstream sent, if it sent one before the stream ended. */
  upstreamFinishReason?: string | null | undefined
  charsIn: number
  charsOut: number
  findings: FindingCounts
  /** Milliseconds from the request to the first token released; null if none was. */
  ttftMs?: number | null | undefined
  durationMs: number
  /** The client went away before the end. */
  cancelled: boolean
  /** What ended the stream abnormally. An `Error` is reduced to its code and message. */
  error?: string | { code?: string, message: string }
  /** Tokens the upstream reported and their cost at the configured prices (a cancelled stream: what was generated before). */
  usage?: { input: number, cachedInput: number, output: number, cost?: number }
  /** The rule policy that applied. */
  policy?: string
  /** Pseudonyms: values replaced in the request, placeholders restored and unknown in the answer (counts, never values). */
  pseudonyms?: { replaced: number, restored: number, unknown: number }
}

interface ChainFields {
  time: number
  prev: string
  hash: string
}

export interface FindingRecord extends ChainFields {
  kind: 'finding'
  requestId: string
  route?: string
  stream?: string | number
  ruleId: string
  category: string
  action: RuleAction
  severity: Severity
  /** Offset of the match in the stream's text, in UTF-16 code units. */
  offset: number
  length: number
  /** HMAC digest of the matched value, as the scanner computed it. */
  digest: string
}

export interface SummaryRecord extends ChainFields {
  kind: 'summary'
  requestId: string
  route?: string
  stream?: string | number
  finishReason: string | null
  upstreamFinishReason: string | null
  charsIn: number
  charsOut: number
  findings: FindingCounts
  ttftMs: number | null
  durationMs: number
  cancelled: boolean
  error?: { code?: string, message: string }
}

export interface EventRecord extends ChainFields {
  kind: 'event'
  /** e.g. `"rules_reloaded"`, or `"audit_tail_repaired"` (written by the log itself). */
  event: string
  data: Record<string, unknown>
}

/** A signed seal of the chain head (see checkpoint.ts). */
export interface CheckpointRecord extends ChainFields {
  kind: 'checkpoint'
  reason: CheckpointReason
  /** HMAC-SHA256 of the record without `mac` and `hash`, under the checkpoint key. */
  mac: string
}

/** The first record of a file that continues a rotated one; its `prev` is that file's last hash. */
export interface ContinueRecord extends ChainFields {
  kind: 'continue'
  /** The name (without directory) of the rotated file this one continues. */
  continues: string
}

/** One line of the audit file, plus any `base` fields given at creation. */
export type AuditRecord = FindingRecord | SummaryRecord | EventRecord | CheckpointRecord | ContinueRecord

export interface AuditLog {
  /** False for the no-op log (`enabled: false` or `destination: false`). */
  readonly enabled: boolean
  /**
   * Hash of the last record written (GENESIS before any). Publish it
   * somewhere else from time to time: with checkpoints a cut tail is
   * detected from the file alone, except a cut back to an earlier clean
   * close; without a key, only a head kept elsewhere detects a cut tail.
   */
  readonly head: string
  /** Records written by this instance (every line: checkpoints and `continue` records too). */
  readonly records: number
  finding(ctx: AuditContext, finding: Finding): void
  summary(ctx: AuditContext, summary: StreamSummary): void
  /** A misc event; `data` must be JSON data (it is written as is, so never put matched text in it). */
  event(name: string, data?: Record<string, unknown>): void
  /**
   * Writes an `interval` checkpoint now, sealing everything written so far
   * (e.g. from a timer, for a quiet log). A no-op without a checkpoint key.
   */
  checkpoint(): void
  /** Writes anything a failed write left behind, and fsyncs a file destination. */
  flush(): void
  /**
   * Writes a `close` checkpoint (with a key), flushes, and closes the
   * destination if this log opened it. Later records are dropped with a warning.
   */
  close(): Promise<void>
}

export interface AuditLogOptions {
  /** Set false for a no-op log. Default true. */
  enabled?: boolean
  /**
   * A file path (created with its directory, mode 0600, appended to, chain
   * continued), any pino `DestinationStream` (left open on close: its owner
   * ends it), or `false` for a no-op log. Default: stdout.
   */
  destination?: string | DestinationStream | false
  /** Key for an HMAC chain instead of plain SHA-256 (see hash-chain.ts). Verify with the same key. */
  chainKey?: string | Buffer
  /**
   * Key for the checkpoint MACs (see checkpoint.ts). Default: `chainKey`.
   * With neither, no checkpoints are written and a cut tail goes unnoticed.
   * Verify with the same key.
   */
  checkpointKey?: string | Buffer
  /**
   * A checkpoint after this many records (checkpoints not counted), besides
   * those at rotation and close: at most this many records of a crashed
   * writer are unsealed. A positive integer, or Infinity. Default 1000.
   */
  checkpointEvery?: number
  /** Rotate a file destination by size and/or age (at least one). Default: never. */
  rotate?: AuditRotateOptions
  /** Fields added to every record, e.g. `{ service, instance }`. Record fields win over them. */
  base?: Record<string, unknown>
  /** Chain head to continue from on a stream destination (files continue from their tail). */
  prev?: string
  /** fsync after each record, to survive power loss and not only crashes. Default false. */
  fsync?: boolean
  /**
   * Write and rotation errors (disk full, …). Default: a process warning.
   * The chain still advances: the bytes are kept and written first next time.
   */
  onError?: (err: Error) => void
}

export interface AuditRotateOptions {
  /** Rotate once the file holds this many bytes. */
  maxBytes?: number
  /** Rotate once the file's first record is this many milliseconds old. */
  intervalMs?: number
}

/** The part of a SonicBoom-like destination we may use. */
interface Flushable {
  flush?: (cb: (err?: Error | null) => void) => void
}

const RESERVED_BASE_KEYS = ['prev', 'hash', 'kind', 'time']
/** A crashed writer leaves at most this many records unsealed by default: about 300 KB of typical records. */
const DEFAULT_CHECKPOINT_EVERY = 1000
/** After a failed rotation, wait this long before trying again rather than sealing every record for a rename that keeps failing. */
const ROTATE_RETRY_MS = 60_000

function noopAuditLog (): AuditLog {
  return {
    enabled: false,
    head: GENESIS,
    records: 0,
    finding () {},
    summary () {},
    event () {},
    checkpoint () {},
    flush () {},
    close: async function closeNoop () {}
  }
}

function defaultOnError (err: Error): void {
  // (emitWarning ignores type and code when given an Error, hence the string.)
  process.emitWarning(`audit write failed: ${err.message}`, { type: 'SluiceAuditWarning', code: 'SLUICE_AUDIT_WRITE' })
}

function toErrorField (error: NonNullable<StreamSummary['error']>): { code?: string, message: string } {
  if (typeof error === 'string') return { message: error }
  return error.code === undefined ? { message: error.message } : { code: error.code, message: error.message }
}

function isPositive (value: unknown): value is number {
  return typeof value === 'number' && value > 0 && !Number.isNaN(value)
}

function checkOptions (options: AuditLogOptions): void {
  const { base, prev, chainKey, checkpointKey, checkpointEvery, rotate } = options
  if (base !== undefined) {
    if (!isJsonObject(base)) {
      throw new InvalidOptionsError('audit "base" must be an object')
    }
    for (const key of RESERVED_BASE_KEYS) {
      if (Object.hasOwn(base, key)) throw new InvalidOptionsError(`audit "base" must not set "${key}"`)
    }
  }
  if (prev !== undefined && !isChainHash(prev)) {
    throw new InvalidOptionsError('audit "prev" must be 64 lowercase hex characters')
  }
  if (chainKey !== undefined && chainKey.length === 0) {
    throw new InvalidOptionsError('audit "chainKey" must not be empty')
  }
  if (checkpointKey !== undefined && checkpointKey.length === 0) {
    throw new InvalidOptionsError('audit "checkpointKey" must not be empty')
  }
  if (checkpointEvery !== undefined && !(checkpointEvery === Infinity || (Number.isInteger(checkpointEvery) && checkpointEvery > 0))) {
    throw new InvalidOptionsError('audit "checkpointEvery" must be a positive integer or Infinity')
  }
  if (rotate !== undefined) {
    if (rotate === null || typeof rotate !== 'object') throw new InvalidOptionsError('audit "rotate" must be an object')
    if (typeof options.destination !== 'string') throw new InvalidOptionsError('audit "rotate" needs a file path as destination')
    const { maxBytes, intervalMs } = rotate
    if (maxBytes === undefined && intervalMs === undefined) {
      throw new InvalidOptionsError('audit "rotate" needs "maxBytes" or "intervalMs"')
    }
    if (maxBytes !== undefined && !(isPositive(maxBytes) && Number.isSafeInteger(maxBytes))) {
      throw new InvalidOptionsError('audit "rotate.maxBytes" must be a positive integer')
    }
    if (intervalMs !== undefined && !(isPositive(intervalMs) && Number.isFinite(intervalMs))) {
      throw new InvalidOptionsError('audit "rotate.intervalMs" must be a positive number')
    }
  }
}

/**
 * Opens the audit log.
 *
 * @example
 * const audit = createAuditLog({
 *   destination: '/var/log/sluice/audit.jsonl',
 *   checkpointKey: process.env.SLUICE_AUDIT_CHECKPOINT_KEY,
 *   rotate: { maxBytes: 64 * 1024 * 1024, intervalMs: 24 * 3600 * 1000 }
 * })
 * for (const f of result.findings) audit.finding({ requestId, route, stream: 'choice:0' }, f)
 * audit.summary({ requestId, route, stream: 'choice:0' }, { finishReason: 'stop', ... })
 * await audit.close()
 */
export function createAuditLog (options: AuditLogOptions = {}): AuditLog {
  const { enabled = true, destination, chainKey, fsync = false, onError = defaultOnError, rotate } = options
  if (!enabled || destination === false) return noopAuditLog()
  checkOptions(options)
  const base = options.base
  const hasher = createChainHasher(chainKey)
  const checkpointKey = options.checkpointKey ?? chainKey
  const signer = checkpointKey === undefined ? undefined : createCheckpointSigner(checkpointKey)
  const checkpointEvery = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY

  let prev = options.prev ?? GENESIS
  let records = 0
  /** Records since the last checkpoint this log wrote or found. */
  let sinceCheckpoint = 0
  let closing: Promise<void> | undefined
  let warnedClosed = false
  /** The file destination, or the stream one. */
  let sink: FileSink | undefined
  let stream: DestinationStream | undefined
  /** stdout, which we opened and so end at close (but never close: fd 1). */
  let ownedStdout: ReturnType<typeof pino.destination> | undefined
  let fileStartedAt = Date.now()
  let rotateRetryAt = 0

  function write (line: string): void {
    if (sink !== undefined) {
      sink.write(line)
      return
    }
    try {
      stream!.write(line)
    } catch (err) {
      onError(err as Error)
    }
  }

  /** Links and writes one record; no policy (checkpoints, rotation) here. */
  function seal (fields: Record<string, unknown>): void {
    let record = base === undefined ? fields : { ...base, ...fields }
    if (fields.kind === 'checkpoint' && signer !== undefined) {
      const { mac: _fromBase, ...unsigned } = record
      record = { ...unsigned, mac: signer.sign({ ...unsigned, prev }) }
    }
    const sealed = sealRecord(record, prev, hasher)
    // Advance first: if the write fails, the sink keeps the unwritten bytes
    // and writes them before anything newer, so the file order still
    // follows the chain.
    prev = sealed.hash
    records++
    write(sealed.line)
  }

  function writeCheckpoint (reason: CheckpointReason): void {
    if (signer === undefined) return
    seal({ time: Date.now(), kind: 'checkpoint', reason })
    sinceCheckpoint = 0
  }

  /**
   * Renames the active file to its next rotated name and opens a new one.
   * Returns the rotated file's name, or undefined (reported) on failure.
   */
  function moveAside (file: string, current: FileSink): string | undefined {
    let target: string
    try {
      target = nextRotatedPath(file)
      renameSync(file, target)
    } catch (err) {
      onError(new AuditRotateError(file, (err as Error).message))
      return undefined
    }
    try {
      current.reopen()
    } catch (err) {
      // Records go on into the renamed file, whose chain is intact.
      onError(new AuditRotateError(file, `renamed to ${basename(target)}, but a new file cannot be opened: ${(err as Error).message}`))
      return undefined
    }
    fileStartedAt = Date.now()
    return basename(target)
  }

  function writeContinue (continues: string): void {
    seal({ time: Date.now(), kind: 'continue', continues })
    sinceCheckpoint++
  }

  function rotationDue (): boolean {
    if (sink === undefined || rotate === undefined || sink.size === 0) return false
    const now = Date.now()
    if (now < rotateRetryAt) return false
    if (rotate.maxBytes !== undefined && sink.size >= rotate.maxBytes) return true
    return rotate.intervalMs !== undefined && now - fileStartedAt >= rotate.intervalMs
  }

  function rotateFile (file: string, current: FileSink): void {
    // Bytes still owed to this file must land in it, before its seal.
    if (current.flush()) {
      writeCheckpoint('rotate')
      if (current.flush()) {
        const continues = moveAside(file, current)
        if (continues !== undefined) {
          writeContinue(continues)
          return
        }
      }
    }
    rotateRetryAt = Date.now() + ROTATE_RETRY_MS
  }

  function append (fields: Record<string, unknown>): void {
    if (closing !== undefined) {
      if (!warnedClosed) {
        warnedClosed = true
        process.emitWarning('audit record after close() dropped', { type: 'SluiceAuditWarning', code: 'SLUICE_AUDIT_CLOSED' })
      }
      return
    }
    if (rotationDue()) rotateFile(destination as string, sink!)
    seal(fields)
    sinceCheckpoint++
    if (signer !== undefined && sinceCheckpoint >= checkpointEvery) writeCheckpoint('interval')
  }

  let droppedBytes = 0
  if (typeof destination === 'string') {
    const tail = readChainTail(destination, hasher)
    prev = tail.prev
    droppedBytes = tail.droppedBytes
    let last = tail.last
    let continues: string | undefined
    if (rotate !== undefined) {
      if (last?.kind === 'checkpoint' && last.reason === 'rotate') {
        // The last writer sealed this file for rotation but stopped before renaming it.
        const target = nextRotatedPath(destination)
        try {
          renameSync(destination, target)
        } catch (err) {
          throw new AuditRotateError(destination, (err as Error).message)
        }
        continues = basename(target)
      } else if (last === undefined) {
        // A missing or empty file (after cutting a fragment): if the last
        // writer renamed the file but stopped before starting the next one,
        // this file continues the newest rotated one.
        const newest = listRotatedFiles(destination).at(-1)
        if (newest !== undefined) {
          const before = readChainTail(newest, hasher, { repair: false })
          prev = before.prev
          last = before.last
          continues = basename(newest)
        }
      }
    }
    sink = createFileSink(destination, { fsync, onError })
    fileStartedAt = sink.size > 0 ? readFirstRecordTime(destination) ?? Date.now() : Date.now()
    if (continues !== undefined) writeContinue(continues)
    if (last !== undefined && !isFinalCheckpoint(last)) writeCheckpoint('resume')
  } else if (destination === undefined) {
    ownedStdout = pino.destination({ dest: 1, sync: true, fsync })
    stream = ownedStdout
  } else {
    stream = destination
  }
  // Without a listener an 'error' event would throw out of finding() into
  // the response stream; an audit failure is reported, not fatal to traffic.
  ownedStdout?.on('error', onError)

  function withContext (ctx: AuditContext, fields: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = { time: Date.now(), requestId: ctx.requestId }
    if (ctx.route !== undefined) out.route = ctx.route
    if (ctx.stream !== undefined) out.stream = ctx.stream
    return Object.assign(out, fields)
  }

  function flushLog (): void {
    if (sink !== undefined) {
      sink.flush()
      return
    }
    try {
      if (ownedStdout !== undefined) {
        // Writes whatever a failed write left behind, then fsyncs.
        ownedStdout.flushSync()
      } else {
        // flushSync() on a foreign async SonicBoom could overtake a write in
        // flight and reorder lines; flush() only starts writing the buffer.
        (stream as DestinationStream & Flushable).flush?.(() => {})
      }
    } catch (err) {
      onError(err as Error)
    }
  }

  async function closeDestination (): Promise<void> {
    if (sink !== undefined) {
      sink.close()
      return
    }
    if (ownedStdout === undefined) {
      // Not ours to end; flush(cb) is pino's contract for buffered destinations.
      const s = stream as DestinationStream & Flushable
      if (typeof s.flush === 'function') {
        const flush = s.flush.bind(s)
        await new Promise<void>((resolve) => {
          flush((err) => {
            if (err) onError(err)
            resolve()
          })
        })
      }
      return
    }
    const dest = ownedStdout
    await new Promise<void>((resolve) => {
      dest.once('close', () => resolve())
      dest.once('error', () => resolve())
      dest.end()
    })
  }

  const log: AuditLog = {
    enabled: true,
    get head () { return prev },
    get records () { return records },

    finding: function auditFinding (ctx, finding) {
      append(withContext(ctx, {
        kind: 'finding',
        ruleId: finding.ruleId,
        category: finding.category,
        action: finding.action,
        severity: finding.severity,
        offset: finding.start,
        length: finding.length,
        digest: finding.digest
      }))
    },

    summary: function auditSummary (ctx, summary) {
      const fields: Record<string, unknown> = {
        kind: 'summary',
        finishReason: summary.finishReason,
        upstreamFinishReason: summary.upstreamFinishReason ?? null,
        charsIn: summary.charsIn,
        charsOut: summary.charsOut,
        findings: { redact: summary.findings.redact, cut: summary.findings.cut, flag: summary.findings.flag },
        ttftMs: summary.ttftMs ?? null,
        durationMs: summary.durationMs,
        cancelled: summary.cancelled
      }
      if (summary.error !== undefined) fields.error = toErrorField(summary.error)
      if (summary.usage !== undefined) fields.usage = { ...summary.usage }
      if (summary.policy !== undefined) fields.policy = summary.policy
      if (summary.pseudonyms !== undefined) fields.pseudonyms = { ...summary.pseudonyms }
      append(withContext(ctx, fields))
    },

    event: function auditEvent (name, data = {}) {
      append({ time: Date.now(), kind: 'event', event: name, data })
    },

    checkpoint: function auditCheckpoint () {
      if (closing === undefined) writeCheckpoint('interval')
    },

    flush: flushLog,

    close: function closeAuditLog () {
      if (closing === undefined) {
        writeCheckpoint('close')
        closing = closeDestination()
      }
      return closing
    }
  }

  if (droppedBytes > 0) log.event('audit_tail_repaired', { droppedBytes })
  return log
}
