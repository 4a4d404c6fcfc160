/**
 * @module stream/create-sanitize-stream
 * The Node Transform around the stream sanitizer: upstream LLM response
 * bytes in, sanitized bytes out. One path for the Fastify plugin and the
 * proxy (STYLE: pure core, thin shells); everything protocol-specific is in
 * protocols/ and framing/, everything stateful in stream/create-stream-sanitizer.ts.
 *
 * Backpressure: a plain Transform with the default high-water marks, so a
 * slow reader stops `pipe`/`pipeline` from reading the upstream; memory per
 * stream is bounded by the buffers, the scanners' holdback and one frame
 * (`maxEventSize`).
 *
 * Events, besides the stream ones:
 * - `'finding'` (finding, context) for every finding;
 * - `'cut'` (finding): the closing frames are already pushed and the
 *   readable side is ending; abort the upstream request (every later
 *   write is dropped);
 * - `'malformed'` (err): an upstream frame was dropped;
 * - `'failed'` (err): the stream ended in-band with an error frame (a frame
 *   over `maxEventSize`, or `failUpstream`).
 *
 * Upstream errors: `pipeline(source, transform)` destroys the transform
 * when the source fails, and a destroyed stream can no longer write the
 * error frame the client needs. So either call `failUpstream(err)` from the
 * source's `'error'` handler, or use `sanitizeReadable(source, options)`,
 * which wires it all (errors in-band, a cut or failure stops the source, a
 * consumer that goes away destroys it).
 */
import { Transform } from 'node:stream'
import type { Readable, TransformCallback } from 'node:stream'
import { sanitizeJsonBody } from '../protocols/sanitize-json-body.js'
import type { FindingContext, JsonSanitizeOptions, JsonSanitizeResult, ProtocolOption } from '../protocols/types.js'
import type { RuleSet } from '../rules/rule-set.js'
import { cleanTextsOf } from '../scanner/clean-texts.js'

import { createScanner } from '../scanner/create-scanner.js'
import type { Finding, Scanner, ScannerOptions } from '../scanner/types.js'
import { createStreamSanitizer } from './create-stream-sanitizer.js'
import { budgetSpent, spend } from './turn-budget.js'
import type { SanitizeStats, StreamSanitizer } from './create-stream-sanitizer.js'
export type { SanitizeStats } from './create-stream-sanitizer.js'
export type { FindingContext, JsonSanitizeResult, ProtocolOption } from '../protocols/types.js'

/** Bytes (or characters) of one read scanned before yielding to the event loop (see #transformSliced). */
const kMaxSlice = 1024

export interface SanitizeStreamOptions {
  ruleSet: RuleSet
  scannerOptions?: ScannerOptions
  /** Default `auto`: SSE or NDJSON from `contentType`, the protocol from the first frame. */
  protocol?: ProtocolOption
  /** The upstream's Content-Type (`text/event-stream`, `application/x-ndjson`). */
  contentType?: string
  /** Cap on one SSE event or NDJSON line, in bytes (default 1 MiB). */
  maxEventSize?: number
  onFinding?: (finding: Finding, context: FindingContext) => void
  onCut?: (finding: Finding) => void
  onMalformed?: (err: Error) => void
  /** Readable/writable high-water mark in bytes (default: Node's 16 KiB for input, 2 KiB for output). */
  highWaterMark?: number
  /** Merge the text-only chunks of one read into one chunk (default true; see createStreamSanitizer). */
  coalesce?: boolean
  /**
   * Share the process's scanning budget per event-loop turn (default true,
   * see stream/turn-budget.ts): once other streams spent it, this one's next
   * piece waits for the next turn. `false` scans every piece at once.
   */
  shareTurns?: boolean
  /** Wraps each channel's scanner (the proxy restores pseudonyms this way, after the rules ran). */
  wrapScanner?: (scanner: Scanner) => Scanner
  /** Drop the usage-only chunk after reading it (see StreamSanitizerOptions). */
  stripUsageChunk?: boolean
  /** Duplicate frames dropped (see StreamSanitizerOptions; default `ids`). */
  dedupe?: 'frames' | 'ids' | 'off'
}

export interface SanitizeStream extends Transform {
  /** Statistics for the audit log; final once the stream has ended. */
  readonly stats: SanitizeStats
  /**
   * The upstream failed: what was already written goes through, then the
   * protocol's error frame ends the stream (held text is dropped, never a
   * half frame is written), and the writable side is ended.
   */
  failUpstream(err: unknown): void
}

/** Bytes of sanitized output buffered before the writer is held back (see the constructor). */
const kReadableHighWaterMark = 2048

class SanitizeTransform extends Transform implements SanitizeStream {
  readonly #sanitizer: StreamSanitizer
  readonly #onCut: ((finding: Finding) => void) | undefined
  /** Whether we pushed the end of the readable side ourselves (cut or failure). */
  #closed = false
  /** Set by `failUpstream`: the stream ends with an error frame. */
  #upstreamError: { err: unknown } | undefined
  /** A microtask will end the current read (see `_transform`). */
  #readPending = false
  /** `_flush` ran: the sanitizer has ended, nothing more may be pushed. */
  #flushed = false
  /** Whether this stream waits when the turn's budget is spent (see SanitizeStreamOptions.shareTurns). */
  readonly #shareTurns: boolean

  constructor (options: SanitizeStreamOptions) {
    // The readable side holds sanitized text, ~1 byte per character against
    // the ~40 bytes per character of the JSON frames read: Node's default
    // 16 KiB there would let a slow client's stream buffer 16,000 characters
    // (minutes of reading) before backpressure reached the upstream.
    super(options.highWaterMark === undefined ? { readableHighWaterMark: kReadableHighWaterMark } : { highWaterMark: options.highWaterMark })
    const { ruleSet, scannerOptions, wrapScanner } = options
    this.#sanitizer = createStreamSanitizer({
      newScanner: wrapScanner === undefined ? () => createScanner(ruleSet, scannerOptions) : () => wrapScanner(createScanner(ruleSet, scannerOptions)),
      // A wrapped scanner changes what clean text turns into: no shared shortcut.
      ...(wrapScanner === undefined ? { cleanTexts: cleanTextsOf(ruleSet) } : {}),
      ...(options.stripUsageChunk === undefined ? {} : { stripUsageChunk: options.stripUsageChunk }),
      ...(options.dedupe === undefined ? {} : { dedupe: options.dedupe }),
      ...(options.protocol === undefined ? {} : { protocol: options.protocol }),
      ...(options.contentType === undefined ? {} : { contentType: options.contentType }),
      ...(options.maxEventSize === undefined ? {} : { maxEventSize: options.maxEventSize }),
      ...(options.coalesce === undefined ? {} : { coalesce: options.coalesce }),
      onFinding: (finding, context) => {
        options.onFinding?.(finding, context)
        this.emit('finding', finding, context)
      },
      onMalformed: (err) => {
        options.onMalformed?.(err)
        this.emit('malformed', err)
      }
    })
    this.#onCut = options.onCut
    this.#shareTurns = options.shareTurns ?? true
  }

  get stats (): SanitizeStats {
    return this.#sanitizer.stats()
  }

  override _transform (chunk: Buffer | string, encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#closed) {
      callback()
      return
    }
    // The chunk waits for a later turn, and the writer with it (backpressure).
    if (this.#mustWait()) {
      setImmediate(() => this._transform(chunk, encoding, callback))
      return
    }
    if (chunk.length > kMaxSlice) {
      this.#transformSliced(chunk, 0, callback)
      return
    }
    // undici and node:http hand a chunked body over one HTTP chunk per
    // 'data' event, all in one go for one socket read; ending the read in a
    // microtask lets the sanitizer scan and write them as one (coalescing).
    // But Transform only holds back the writer (backpressure) when a
    // `_transform` call itself pushes while the readable side is full, so
    // once the reader lags, every chunk is finished here and now.
    const lagging = this.readableLength >= this.readableHighWaterMark
    const started = performance.now()
    this.#emit(lagging ? this.#sanitizer.write(chunk) : this.#sanitizer.feed(chunk), started)
    if (!lagging && !this.#readPending && !this.#closed) {
      this.#readPending = true
      queueMicrotask(this.#endRead)
    }
    callback()
  }

  /**
   * A large read is scanned a slice at a time, giving the event loop a turn
   * between slices: one socket read of a hostile stream (64 KiB of digits,
   * each a possible card or phone number) must not stall every other
   * stream and the health check while it is scanned.
   */
  #transformSliced (chunk: Buffer | string, at: number, callback: TransformCallback): void {
    if (this.#closed || this.destroyed) {
      callback()
      return
    }
    if (this.#mustWait()) {
      setImmediate(() => this.#transformSliced(chunk, at, callback))
      return
    }
    const started = performance.now()
    const end = Math.min(chunk.length, at + kMaxSlice)
    this.#emit(this.#sanitizer.write(chunk.slice(at, end)), started)
    if (end >= chunk.length || this.#closed) {
      callback()
      return
    }
    setImmediate(() => this.#transformSliced(chunk, end, callback))
  }

  /** Ends the read begun by the `_transform` calls of this tick. */
  readonly #endRead = (): void => {
    if (this.#closed || this.#flushed || this.destroyed) {
      this.#readPending = false
      return
    }
    // The coalesced read is scanned here: it waits too when the turn's
    // budget is spent (chunks fed meanwhile join it).
    if (this.#mustWait()) {
      setImmediate(this.#endRead)
      return
    }
    this.#readPending = false
    const started = performance.now()
    this.#emit(this.#sanitizer.flush(), started)
  }

  /** Whether this turn's scanning budget is spent (see turn-budget.ts): the work waits for a later turn. */
  #mustWait (): boolean {
    return this.#shareTurns && budgetSpent()
  }

  /** Pushes what a piece of scanning begun at `started` released, settles a cut or failure, and counts its time against the turn's budget. */
  #emit (out: string, started: number): void {
    if (out !== '') this.push(out)
    this.#settle()
    spend(performance.now() - started)
  }

  override _flush (callback: TransformCallback): void {
    this.#flushed = true
    if (!this.#closed) {
      const started = performance.now()
      this.#emit(this.#upstreamError === undefined ? this.#sanitizer.end() : this.#sanitizer.fail(this.#upstreamError.err), started)
    }
    callback()
  }

  failUpstream (err: unknown): void {
    if (this.#closed || this.destroyed || this.#upstreamError !== undefined) return
    // Ending the writable side lets the reads already buffered go through
    // first; `_flush` then writes the error frame instead of flushing.
    this.#upstreamError = { err }
    if (!this.writableEnded) this.end()
  }

  /** After a cut or a failure: end the readable side and tell the owner. */
  #settle (): void {
    const state = this.#sanitizer.state()
    if (this.#closed || (state !== 'cut' && state !== 'failed')) return
    this.#closed = true
    this.push(null)
    if (state === 'cut') {
      const finding = this.#sanitizer.cutFinding() as Finding
      this.#onCut?.(finding)
      this.emit('cut', finding)
    } else {
      this.emit('failed', this.#sanitizer.failure())
    }
  }
}

/**
 * Creates the sanitizing Transform for one upstream response.
 * @example
 * const stream = createSanitizeStream({ ruleSet, contentType: res.headers['content-type'] })
 * stream.on('cut', () => upstreamAbort.abort())
 * upstreamBody.on('error', (err) => stream.failUpstream(err))
 * upstreamBody.pipe(stream).pipe(clientResponse)
 */
export function createSanitizeStream (options: SanitizeStreamOptions): SanitizeStream {
  return new SanitizeTransform(options)
}

/**
 * Pipes an upstream body through a new sanitize stream and returns it.
 * Upstream errors end it in-band (`failUpstream`); a cut or failure
 * unpipes and destroys the upstream (no more tokens paid for) and ends the
 * writable side; destroying the returned stream (the client went away)
 * destroys the upstream.
 */
export function sanitizeReadable (source: Readable, options: SanitizeStreamOptions): SanitizeStream {
  const stream = createSanitizeStream(options)
  const stop = (): void => {
    source.unpipe(stream)
    source.destroy()
    if (!stream.writableEnded) stream.end()
  }
  source.on('error', (err) => {
    source.unpipe(stream)
    stream.failUpstream(err)
  })
  stream.once('cut', stop)
  stream.once('failed', stop)
  stream.once('close', () => { if (!source.destroyed) source.destroy() })
  source.pipe(stream)
  return stream
}

export interface JsonResponseOptions extends Omit<JsonSanitizeOptions, 'onCut'> {
  scannerOptions?: ScannerOptions
  onCut?: (finding: Finding) => void
}

/**
 * Sanitizes a non-streaming JSON response body (Chat Completions,
 * Completions, Responses, Anthropic Messages; recognised from the body
 * unless `protocol` says). Returns a sanitized copy and what was found.
 * @example
 * const result = sanitizeJsonResponse(JSON.parse(text), ruleSet)
 * reply.send(result.changed ? result.body : text)
 */
export function sanitizeJsonResponse (body: unknown, ruleSet: RuleSet, options: JsonResponseOptions = {}): JsonSanitizeResult {
  const { scannerOptions, onCut, ...rest } = options
  return sanitizeJsonBody(body, () => createScanner(ruleSet, scannerOptions), {
    ...rest,
    ...(onCut === undefined ? {} : { onCut: (finding: Finding) => onCut(finding) })
  })
}
