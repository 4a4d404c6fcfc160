/**
 * @module stream/create-stream-sanitizer
 * The pure core of the sanitizing Transform: bytes in, sanitized bytes (as
 * text) out, no Node streams, no I/O. It chains the UTF-8 decoder, the
 * framing (SSE or NDJSON), the protocol codec and one scanner per text
 * channel, and keeps the statistics the audit log records.
 *
 * Its life: `open` until the upstream ends (`ended`), a rule cuts the
 * response (`cut`) or the upstream fails (`failed`). In the last two
 * cases it has already written the protocol's closing frames, and every
 * later write returns ''. It never throws for anything upstream sends: a
 * frame too large, or an error while handling a frame, fails the stream
 * in-band with a protocol-shaped error frame (a response's headers are
 * out by then; fastify's rule: a mid-stream error is ended in-band). Text
 * a scanner still held when the stream fails is dropped, not flushed: it
 * may be the first half of a secret the failure cut short.
 *
 * Output is always whole frames: a frame is serialized only once complete.
 *
 * Deny by default: every frame a codec emits passes the generic JSON guard
 * (protocols/generic-json.ts), which scans each string the codec did not
 * scan itself and re-serializes the frame from the scanned value. SSE
 * comments are dropped: they are invisible to EventSource but not to every
 * client, and nothing in them is scanned; `event:` and `id:` go out only as
 * short clean tokens.
 *
 * Two things are read off the frames before the codec sees them. Token
 * usage, whatever protocol reports it (usage/read-usage.ts), for cost and
 * budgets; the usage-only chunk the proxy asked for on the client's behalf
 * is dropped (`stripUsageChunk`). And duplicates: an upstream that
 * reconnects with `Last-Event-ID` resends events, a buggy one repeats a
 * frame. By default (`dedupe: 'ids'`) an event whose SSE `id` was seen
 * already, or a Responses event whose `sequence_number` is not past the
 * last one, is dropped and counted: those name their place in the stream,
 * so a repeat is a resend. A frame identical to the one before it is only
 * dropped with `dedupe: 'frames'`: most chunks carry no position, and a
 * model repeats tokens (`4111`, ` 1111`, ` 1111`, ` 1111` are identical
 * consecutive deltas of a card number), so that is for upstreams known to
 * resend whole frames.
 */
import { createCodec, selectFraming } from '../protocols/select-codec.js'
import { createNdjsonParser, serializeNdjsonFrame } from '../framing/ndjson.js'
import { createSseParser } from '../framing/sse-parser.js'
import { serializeSseFrame, serializeSseRetry } from '../framing/sse-writer.js'
import { createJsonGuard } from '../protocols/generic-json.js'
import { createTextChannels } from '../protocols/text-channels.js'
import type { CodecContext, DataFrame, FailureInfo, FindingContext, Protocol, ProtocolCodec, ProtocolOption } from '../protocols/types.js'
import { createUtf8Decoder } from '../framing/utf8-decoder.js'
import { MalformedFrameError } from '../errors.js'
import type { RuleAction } from '../rules/types.js'
import type { Finding, Scanner } from '../scanner/types.js'
import { isUsageOnlyChunk, mergeUsage, noUsage, usageOf } from '../usage/read-usage.js'
import type { TokenUsage } from '../usage/read-usage.js'

/** A Responses event's place in its stream (top-level key: the API writes it first or second). */
const kSequenceNumber = /^\{(?:"type":"[^"]*",)?"sequence_number":(\d{1,15})[,}]/

/** The words every usage report has (`usage`, `usageMetadata`, Ollama's `eval_count`). */
const kMayHoldUsage = /usage|eval_count/

/** Default cap on one SSE event or NDJSON line: 1 MiB. */
export const kDefaultMaxEventSize = 1024 * 1024

export interface StreamSanitizerOptions {
  /** Makes a scanner for each text channel. */
  newScanner: () => Scanner
  /** Default `auto`. */
  protocol?: ProtocolOption
  /** The upstream's Content-Type; picks SSE or NDJSON framing. */
  contentType?: string
  /** Cap on one event or line, in UTF-8 bytes (default 1 MiB). */
  maxEventSize?: number
  onFinding?: (finding: Finding, context: FindingContext) => void
  onCut?: (finding: Finding, context: FindingContext) => void
  /** A frame that could not be parsed: dropped (never passed on), counted, reported. */
  onMalformed?: (err: Error) => void
  /** Clock for time-to-first-token, in milliseconds (default `performance.now`). */
  now?: () => number
  /**
   * Merge the consecutive text-only chunks of one `write` into one chunk
   * (default true). The text each channel carries, every other frame and
   * their order are the same either way; only how many frames carry the
   * text depends on how the upstream's bytes were read. False keeps one
   * output frame per upstream frame.
   */
  coalesce?: boolean
  /** Texts known to scan clean under these rules, shared across streams (see TextChannelsOptions.cleanTexts). */
  cleanTexts?: Set<string>
  /** Drop the usage-only chunk (OpenAI `choices: []` with `usage`) after reading it: the client did not ask for it. */
  stripUsageChunk?: boolean
  /** Duplicate frames dropped: `ids` (default) repeated SSE ids and Responses sequence numbers, `frames` also identical consecutive frames, `off` none. */
  dedupe?: 'frames' | 'ids' | 'off'
}

export type SanitizerState = 'open' | 'ended' | 'cut' | 'failed'

/** What the audit log records about one stream. */
export interface SanitizeStats {
  /** The protocol spoken (decided at the first frame under `auto`). */
  protocol: Protocol | undefined
  /** Text characters (UTF-16 units) scanned, over all channels. */
  charsIn: number
  /** Text characters released, over all channels. */
  charsOut: number
  findings: Record<RuleAction, number>
  /** The upstream's own `finish_reason` / `stop_reason` / response status (last seen). */
  upstreamFinishReason: string | undefined
  /** What we told the client: the upstream's, `content_filter`/`refusal` on a cut, `error` on a failure. */
  finishReason: string | undefined
  /** `now()` when the first non-empty text was released. */
  firstTextAt: number | undefined
  /** From creation to the first non-empty released text, in ms. */
  timeToFirstTokenMs: number | undefined
  /** The finding that cut the stream, if one did. */
  cut: Finding | undefined
  /** Error code when the stream failed in-band (`SLUICE_UPSTREAM`, `SLUICE_FRAME_TOO_LARGE`). */
  errorCode: string | undefined
  /** Malformed upstream frames, dropped. */
  malformed: number
  /** Most characters held back at once, over all channels. */
  maxHeld: number
  framesIn: number
  framesOut: number
  /** Token usage the upstream reported (largest cumulative counts seen; zeros when it reported none). */
  usage: TokenUsage
  /** Whether the upstream reported usage at all. */
  usageReported: boolean
  /** Frames dropped as duplicates. */
  duplicates: number
}

export interface StreamSanitizer {
  /** Feeds upstream bytes (or already decoded text) as one read; returns sanitized output. */
  write(chunk: Uint8Array | string): string
  /**
   * Feeds part of a read: like `write`, but text-only chunks stay in the
   * codec's run, so the pieces of one read can be coalesced; `flush` ends
   * the read. (An HTTP client hands a chunked body over one HTTP chunk at a
   * time, even when one socket read brought many.)
   */
  feed(chunk: Uint8Array | string): string
  /** Ends a read begun with `feed`: returns the coalesced output. */
  flush(): string
  /** Upstream ended: flushes held text and returns the last frames. */
  end(): string
  /** Upstream failed: returns a protocol-shaped error frame (once). */
  fail(err: unknown): string
  // Methods, not getters: see createScanner on getters in object literals.
  state(): SanitizerState
  stats(): SanitizeStats
  cutFinding(): Finding | undefined
  failure(): Error | undefined
}

function describe (err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    if (typeof code === 'string') return code
    const cause = (err as { cause?: { code?: unknown } }).cause
    if (typeof cause?.code === 'string') return cause.code
    return err.name
  }
  return typeof err
}

/**
 * What the client is told. Sluice's own coded errors keep their message;
 * anything else is named by its code or class only, never by its message,
 * which could quote upstream content.
 */
function failureInfo (err: unknown): FailureInfo {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined
  if (typeof code === 'string' && code.startsWith('SLUICE_')) return { code, message: (err as Error).message }
  return { code: 'SLUICE_UPSTREAM', message: `Upstream failed: ${describe(err)}` }
}

/**
 * Creates the sanitizer of one response stream.
 * @example
 * const sanitizer = createStreamSanitizer({ newScanner: () => createScanner(ruleSet), contentType: 'text/event-stream' })
 * socket.write(sanitizer.write(chunk)) // for each upstream chunk
 * socket.end(sanitizer.end())
 */
export function createStreamSanitizer (options: StreamSanitizerOptions): StreamSanitizer {
  const protocolOption = options.protocol ?? 'auto'
  const maxEventSize = options.maxEventSize ?? kDefaultMaxEventSize
  const now = options.now ?? (() => performance.now())
  const framing = selectFraming(protocolOption, options.contentType)
  const startedAt = now()

  let state: SanitizerState = 'open'
  let failure: Error | undefined
  let out: string[] = []
  let upstreamFinishReason: string | undefined
  let finishReason: string | undefined
  let firstTextAt: number | undefined
  let malformed = 0
  let framesIn = 0
  let framesOut = 0
  let errorCode: string | undefined
  let usage: TokenUsage = noUsage
  let usageReported = false
  let duplicates = 0
  const dedupe = options.dedupe ?? 'ids'
  const seenIds = new Set<string>()
  let previous: DataFrame | undefined
  let lastSequence = -1

  const channels = createTextChannels({
    newScanner: options.newScanner,
    accumulate: () => codec.protocol === 'openai-responses',
    onFinding: options.onFinding,
    onCut: options.onCut,
    onFirstText: () => { firstTextAt = now() },
    ...(options.cleanTexts === undefined ? {} : { cleanTexts: options.cleanTexts })
  })

  const decoder = createUtf8Decoder()
  const sse = framing === 'sse'
    ? createSseParser({
      maxEventSize,
      onEvent: onFrame,
      onComment: () => { framesIn++ },
      onRetry: (ms) => { if (flushed()) out.push(serializeSseRetry(ms, sse?.lineEnding)) }
    })
    : undefined
  const ndjson = framing === 'ndjson' ? createNdjsonParser({ maxLineSize: maxEventSize, onLine: onFrame }) : undefined

  const guard = createJsonGuard({ channels, newScanner: options.newScanner })

  function write (frame: DataFrame): void {
    framesOut++
    out.push(sse !== undefined ? serializeSseFrame(frame, sse.lineEnding) : serializeNdjsonFrame(frame, ndjson?.lineEnding))
  }

  let namedEvents = false
  const ctx: CodecContext = {
    channels,
    emit (frame: DataFrame) {
      for (const safe of guard.frame(frame, codec)) write(safe)
    },
    malformed (reason: string) {
      malformed++
      options.onMalformed?.(new MalformedFrameError(reason))
    },
    upstreamFinish (reason: string) {
      upstreamFinishReason = reason
    },
    namedEvents: () => namedEvents
  }
  const codec: ProtocolCodec = createCodec(protocolOption, framing, ctx, { coalesce: options.coalesce ?? true })

  function checkCut (): void {
    const finding = channels.cutFinding()
    if (finding === undefined || state !== 'open') return
    state = 'cut'
    finishReason = codec.cutReason
    guard.close()
    codec.cut(finding)
  }

  /** Emits what the codec coalesced so far, so a comment or `retry:` keeps its place; false once closed. */
  function flushed (): boolean {
    if (state !== 'open') return false
    codec.flush?.()
    checkCut()
    return state === 'open'
  }

  function isDuplicate (frame: DataFrame): boolean {
    if (dedupe === 'off') return false
    if (frame.id !== undefined && frame.id !== '') {
      if (seenIds.has(frame.id)) return true
      // Bounded: a stream with more ids than this is checked on the recent ones only.
      if (seenIds.size >= 65_536) seenIds.clear()
      seenIds.add(frame.id)
    }
    const sequence = kSequenceNumber.exec(frame.data)
    if (sequence !== null) {
      const n = Number(sequence[1])
      if (n <= lastSequence) return true
      lastSequence = n
    }
    const last = previous
    previous = frame
    return dedupe === 'frames' && last !== undefined && last.data === frame.data && last.event === frame.event && last.id === frame.id
  }

  /** Reads usage off a frame; true when the frame is the usage-only chunk to drop. */
  function readUsage (frame: DataFrame): boolean {
    // Only frames that can hold usage are parsed a second time (the codec parses its own); one pass over the data.
    if (!kMayHoldUsage.test(frame.data)) return false
    let parsed: unknown
    try {
      parsed = JSON.parse(frame.data)
    } catch {
      return false
    }
    const found = usageOf(parsed)
    if (found !== undefined) {
      usageReported = true
      usage = mergeUsage(usage, found)
    }
    return options.stripUsageChunk === true && isUsageOnlyChunk(parsed)
  }

  function onFrame (frame: DataFrame): void {
    if (state !== 'open') return
    framesIn++
    if (isDuplicate(frame)) {
      duplicates++
      return
    }
    if (readUsage(frame)) return
    if (frame.event !== undefined) namedEvents = true
    codec.frame(frame)
    checkCut()
  }

  function failWith (err: unknown): void {
    if (state !== 'open') return
    // Frames that arrived whole before the failure go out as they would
    // have one read earlier (scanned: held text stays held and is dropped).
    try {
      flushed()
    } catch {}
    if (state !== 'open') return
    state = 'failed'
    failure = err instanceof Error ? err : new Error(String(err))
    const info = failureInfo(err)
    errorCode = info.code
    finishReason = 'error'
    guard.close()
    codec.fail(info)
  }

  function drain (): string {
    if (out.length === 0) return ''
    const text = out.length === 1 ? out[0] as string : out.join('')
    out = []
    return text
  }

  function feed (text: string): void {
    if (text.length === 0) return
    if (sse !== undefined) sse.feed(text)
    else ndjson?.feed(text)
  }

  /** Feeds a chunk (if any) and, at the end of a read, emits what was coalesced. */
  function take (chunk: Uint8Array | string | undefined, endRead: boolean): string {
    if (state !== 'open') return ''
    try {
      if (chunk !== undefined) feed(typeof chunk === 'string' ? chunk : decoder.write(chunk))
      if (endRead) flushed()
    } catch (err) {
      failWith(err)
    }
    return drain()
  }

  return {
    write (chunk) {
      return take(chunk, true)
    },
    feed (chunk) {
      return take(chunk, false)
    },
    flush () {
      return take(undefined, true)
    },
    end () {
      if (state !== 'open') return drain()
      try {
        feed(decoder.end())
        sse?.end()
        ndjson?.end()
        if (state === 'open') {
          codec.flush?.()
          checkCut()
        }
        if (state === 'open') {
          for (const frame of guard.flush()) write(frame)
          checkCut()
        }
        if (state === 'open') {
          guard.close()
          codec.end()
          checkCut()
        }
      } catch (err) {
        failWith(err)
      }
      if (state === 'open') {
        state = 'ended'
        finishReason = upstreamFinishReason
      }
      return drain()
    },
    fail (err) {
      failWith(err)
      return drain()
    },
    state () {
      return state
    },
    stats (): SanitizeStats {
      return {
        protocol: codec.protocol,
        charsIn: channels.stats.charsIn,
        charsOut: channels.stats.charsOut,
        findings: { ...channels.stats.findings },
        upstreamFinishReason,
        finishReason,
        firstTextAt,
        timeToFirstTokenMs: firstTextAt === undefined ? undefined : firstTextAt - startedAt,
        cut: channels.cutFinding(),
        errorCode,
        malformed,
        maxHeld: channels.stats.maxHeld,
        framesIn,
        framesOut,
        usage,
        usageReported,
        duplicates
      }
    },
    cutFinding () {
      return channels.cutFinding()
    },
    failure () {
      return failure
    }
  }
}
