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
 * Writing. The destination is pino's (SonicBoom), opened with `sync: true`:
 * each record reaches the kernel before `finding()`/`summary()` returns. A
 * process killed with SIGKILL or SIGTERM (default action, no handler) has
 * therefore already written every record it reported; nothing is waiting in
 * a user-space buffer, and no signal handler is installed (a library must
 * not change how a process reacts to SIGTERM: the host's graceful shutdown
 * calls `close()`). The cost is one `write(2)` per record on the event loop
 * — tens of microseconds — which is affordable because records come per
 * finding and per stream, not per token; an async buffered destination
 * would be cheaper but would lose its buffer in a crash, which is exactly
 * what an audit log must not do. Power loss is another matter: `fsync: true`
 * adds an fsync per record (milliseconds each), off by default.
 *
 * We use pino's destination but not a pino logger on top of it: the bytes
 * hashed must be the bytes written, so a record is serialized once
 * (canonical JSON), hashed once, and that very string is written. A logger
 * would serialize a second time and add `level`, `pid` and `hostname`.
 *
 * One writer per file: two processes appending to the same file would fork
 * the chain. Give each worker its own file.
 */
import pino from 'pino'
import type { DestinationStream } from 'pino'
import type { RuleAction, Severity } from '../rules/types.js'
import type { Finding } from '../scanner/types.js'
import { InvalidOptionsError } from '../errors.js'
import { GENESIS, createChainHasher, isChainHash, sealRecord } from './hash-chain.js'
import { readChainTail } from './read-chain-tail.js'

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
  upstreamFinishReason?: string | null
  charsIn: number
  charsOut: number
  findings: FindingCounts
  /** Milliseconds from the request to the first token released; null if none was. */
  ttftMs?: number | null
  durationMs: number
  /** The client went away before the end. */
  cancelled: boolean
  /** What ended the stream abnormally. An `Error` is reduced to its code and message. */
  error?: string | { code?: string, message: string }
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

/** One line of the audit file, plus any `base` fields given at creation. */
export type AuditRecord = FindingRecord | SummaryRecord | EventRecord

export interface AuditLog {
  /** False for the no-op log (`enabled: false` or `destination: false`). */
  readonly enabled: boolean
  /**
   * Hash of the last record written (GENESIS before any). Publish it
   * somewhere else from time to time: that is what makes cutting records off
   * the end of the file detectable.
   */
  readonly head: string
  /** Records written by this instance. */
  readonly records: number
  finding(ctx: AuditContext, finding: Finding): void
  summary(ctx: AuditContext, summary: StreamSummary): void
  /** A misc event; `data` must be JSON data (it is written as is, so never put matched text in it). */
  event(name: string, data?: Record<string, unknown>): void
  /** Pushes anything still buffered to the destination (a no-op for the default sync file). */
  flush(): void
  /** Flushes; closes the destination if this log opened it. Later records are dropped with a warning. */
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
  /** Fields added to every record, e.g. `{ service, instance }`. Record fields win over them. */
  base?: Record<string, unknown>
  /** Chain head to continue from on a stream destination (files continue from their tail). */
  prev?: string
  /** fsync after each record, to survive power loss and not only crashes. Default false. */
  fsync?: boolean
  /** Write errors (disk full, …). Default: a process warning. The chain still advances: SonicBoom retries the bytes. */
  onError?: (err: Error) => void
}

/** The part of a SonicBoom-like destination we may use. */
interface Flushable {
  flush?: (cb: (err?: Error | null) => void) => void
}

const RESERVED_BASE_KEYS = ['prev', 'hash', 'kind', 'time']

function noopAuditLog (): AuditLog {
  return {
    enabled: false,
    head: GENESIS,
    records: 0,
    finding () {},
    summary () {},
    event () {},
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

function checkOptions (options: AuditLogOptions): void {
  const { base, prev, chainKey } = options
  if (base !== undefined) {
    if (base === null || typeof base !== 'object' || Array.isArray(base)) {
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
}

/**
 * Opens the audit log.
 *
 * @example
 * const audit = createAuditLog({ destination: '/var/log/sluice/audit.jsonl' })
 * for (const f of result.findings) audit.finding({ requestId, route, stream: 'choice:0' }, f)
 * audit.summary({ requestId, route, stream: 'choice:0' }, { finishReason: 'stop', ... })
 * await audit.close()
 */
export function createAuditLog (options: AuditLogOptions = {}): AuditLog {
  const { enabled = true, destination, chainKey, fsync = false, onError = defaultOnError } = options
  if (!enabled || destination === false) return noopAuditLog()
  checkOptions(options)
  const base = options.base
  const hasher = createChainHasher(chainKey)

  let prev = options.prev ?? GENESIS
  let droppedBytes = 0
  let stream: DestinationStream
  let owned: ReturnType<typeof pino.destination> | undefined
  if (typeof destination === 'string') {
    const tail = readChainTail(destination, hasher)
    prev = tail.prev
    droppedBytes = tail.droppedBytes
    owned = pino.destination({ dest: destination, sync: true, mkdir: true, append: true, mode: 0o600, fsync })
    stream = owned
  } else if (destination === undefined) {
    owned = pino.destination({ dest: 1, sync: true, fsync })
    stream = owned
  } else {
    stream = destination
  }
  // Without a listener an 'error' event would throw out of finding() into
  // the response stream; an audit failure is reported, not fatal to traffic.
  owned?.on('error', onError)

  let records = 0
  let closing: Promise<void> | undefined
  let warnedClosed = false

  function append (fields: Record<string, unknown>): void {
    if (closing !== undefined) {
      if (!warnedClosed) {
        warnedClosed = true
        process.emitWarning('audit record after close() dropped', { type: 'SluiceAuditWarning', code: 'SLUICE_AUDIT_CLOSED' })
      }
      return
    }
    const sealed = sealRecord(base === undefined ? fields : { ...base, ...fields }, prev, hasher)
    // Advance first: if the write fails, SonicBoom keeps the unwritten bytes
    // and writes them before anything newer, so the file order still follows
    // the chain.
    prev = sealed.hash
    records++
    try {
      stream.write(sealed.line)
    } catch (err) {
      onError(err as Error)
    }
  }

  function withContext (ctx: AuditContext, fields: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = { time: Date.now(), requestId: ctx.requestId }
    if (ctx.route !== undefined) out.route = ctx.route
    if (ctx.stream !== undefined) out.stream = ctx.stream
    return Object.assign(out, fields)
  }

  function flushStream (): void {
    try {
      if (owned !== undefined) {
        // Writes whatever a failed write left behind, then fsyncs.
        owned.flushSync()
      } else {
        // flushSync() on a foreign async SonicBoom could overtake a write in
        // flight and reorder lines; flush() only starts writing the buffer.
        (stream as DestinationStream & Flushable).flush?.(() => {})
      }
    } catch (err) {
      onError(err as Error)
    }
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
      append(withContext(ctx, fields))
    },

    event: function auditEvent (name, data = {}) {
      append({ time: Date.now(), kind: 'event', event: name, data })
    },

    flush: flushStream,

    close: function closeAuditLog () {
      closing ??= (async () => {
        if (owned === undefined) {
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
        const dest = owned
        await new Promise<void>((resolve) => {
          dest.once('close', () => resolve())
          dest.once('error', () => resolve())
          dest.end()
        })
      })()
      return closing
    }
  }

  if (droppedBytes > 0) log.event('audit_tail_repaired', { droppedBytes })
  return log
}
