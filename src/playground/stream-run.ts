/**
 * @module playground/stream-run
 * One simulated stream of the playground: a sample answer cut into pieces
 * (chunking.ts) and written to the real scanner one piece at a time, each
 * write described as the page shows it — the text released, the tail the
 * scanner holds back (its `held` count, read as the last characters
 * written), the findings with where they sit in the output
 * (output-marks.ts), a cut — and the audit records the stream writes, made
 * by the real audit log into memory (hash-chained as in a file; never a
 * matched value). No I/O and no timers: the HTTP route paces the writes.
 */
import { createAuditLog } from '../audit/create-audit-log.js'
import type { AuditLog } from '../audit/create-audit-log.js'
import { createScanner } from '../scanner/index.js'
import type { Finding, RuleSet, ScanResult } from '../scanner/index.js'
import { splitText } from './chunking.js'
import type { ChunkingMode } from './chunking.js'
import { createOutputAligner } from './output-marks.js'
import type { OutputMark } from './output-marks.js'

export interface StreamRunOptions {
  ruleSet: RuleSet
  text: string
  mode: ChunkingMode
  size: number
  seed?: number
  /** Names the stream in its audit records. */
  requestId: string
  /** Scanner HMAC key (default: as the proxy's, SLUICE_HMAC_KEY or the process key). */
  hmacKey?: string | Buffer
}

/** What one write did, as the page shows it. */
interface WriteStep {
  seq: number
  /** The piece written. */
  piece: string
  /** Text released by this write. */
  released: string
  /** What the scanner holds back after it (the last `heldCount` characters written). */
  held: string
  heldCount: number
  findings: Finding[]
  marks: OutputMark[]
  cut?: Finding
  charsIn: number
  charsOut: number
  /** Audit records written for this step, parsed. */
  audit: Array<Record<string, unknown>>
}

interface EndStep extends Omit<WriteStep, 'piece'> {
  cancelled: boolean
  /** Most characters held back after any write. */
  maxHeld: number
  durationMs: number
}

export interface StreamRun {
  readonly pieces: readonly string[]
  /** True once a rule cut the stream: nothing more is written. */
  readonly cut: boolean
  /** Writes the next piece; undefined when none is left. */
  next: () => WriteStep | undefined
  /** Ends the stream (`cancelled`: the reader left), writes the summary record. */
  end: (cancelled: boolean) => Promise<EndStep>
}

const kRoute = '/playground/stream'
const kChannel = 'text'

/**
 * Prepares a stream over `text`.
 * @example
 * const run = createStreamRun({ ruleSet, text, mode: 'tokens', size: 1, requestId: 'p1' })
 * for (let step = run.next(); step !== undefined; step = run.next()) show(step)
 * show(await run.end(false))
 */
export function createStreamRun (options: StreamRunOptions): StreamRun {
  const { ruleSet, requestId } = options
  const pieces = splitText(options.text, options.mode, options.size, options.seed)
  const scanner = createScanner(ruleSet, options.hmacKey === undefined ? {} : { hmacKey: options.hmacKey })
  const aligner = createOutputAligner()
  const lines: string[] = []
  const audit: AuditLog = createAuditLog({ destination: { write: (line: string) => { lines.push(line) } } })
  const ctx = { requestId, route: kRoute, stream: kChannel }
  const counts = { redact: 0, cut: 0, flag: 0 }
  const started = performance.now()
  let input = ''
  let seq = 0
  let maxHeld = 0
  let ttftMs: number | null = null
  let ended = false

  function records (): Array<Record<string, unknown>> {
    return lines.splice(0).map((line) => JSON.parse(line) as Record<string, unknown>)
  }

  function describe (result: ScanResult): Omit<WriteStep, 'piece'> {
    for (const f of result.findings) {
      counts[f.action]++
      audit.finding(ctx, f)
    }
    if (result.text !== '' && ttftMs === null) ttftMs = performance.now() - started
    const heldCount = scanner.held
    maxHeld = Math.max(maxHeld, heldCount)
    const marks = aligner.push(input, result.text, result.findings, scanner.charsIn - heldCount)
    return {
      seq: seq++,
      released: result.text,
      held: heldCount === 0 ? '' : input.slice(Math.max(0, input.length - heldCount)),
      heldCount,
      findings: result.findings,
      marks,
      ...(result.cut === undefined ? {} : { cut: result.cut }),
      charsIn: scanner.charsIn,
      charsOut: scanner.charsOut,
      audit: records()
    }
  }

  return {
    pieces,
    get cut () { return scanner.cut !== undefined },
    next () {
      if (ended || scanner.cut !== undefined || seq >= pieces.length) return undefined
      const piece = pieces[seq] as string
      input += piece
      return { piece, ...describe(scanner.write(piece)) }
    },
    async end (cancelled) {
      ended = true
      // A reader who left gets nothing more: the scanner is not ended, so
      // what it held is never released (as in the proxy).
      const step = cancelled ? describe({ text: '', findings: [] }) : describe(scanner.end())
      const durationMs = performance.now() - started
      const cut = scanner.cut
      audit.summary(ctx, {
        finishReason: cancelled ? 'cancelled' : cut !== undefined ? 'content_filter' : 'stop',
        upstreamFinishReason: cancelled ? null : 'stop',
        charsIn: scanner.charsIn,
        charsOut: scanner.charsOut,
        findings: { ...counts },
        ttftMs,
        durationMs,
        cancelled
      })
      await audit.close()
      return { ...step, ...(cut === undefined ? {} : { cut }), audit: [...step.audit, ...records()], cancelled, maxHeld, durationMs }
    }
  }
}
