/**
 * @module framing/sse-parser
 * Server-Sent Events framing (HTML Living Standard §9.2.6), incremental and
 * split-proof, as a thin wrapper of `eventsource-parser` (the parser the
 * OpenAI and Anthropic SDKs' ecosystem uses). Measured before choosing, on
 * a 20 000-event OpenAI chat stream: 1.1 M events/s in 16-char reads and
 * 9 M events/s in 4 KiB reads, against 0.6–0.9 M events/s for a hand-written
 * line splitter, and ~0.36 M/s for the JSON.parse + JSON.stringify every
 * frame costs anyway: framing is never the bottleneck.
 *
 * What the wrapper adds:
 * - a cap on one event in bytes (`FrameTooLargeError`): the library's
 *   `maxBufferSize` (UTF-16 units of the unfinished line plus the event's
 *   data so far) bounds memory while an event grows, and the finished
 *   event's data is checked in UTF-8 bytes, so the cap does not depend on
 *   how the input was split;
 * - the upstream's line ending (LF, CRLF or CR), so re-serialized frames
 *   use the same one, even when a CR ends one read and its LF starts the
 *   next;
 * - `retry:` values and comments (keep-alives) handed on for pass-through.
 *
 * A BOM is removed by the UTF-8 decoder before text gets here (and the
 * library drops one too). Unknown fields are ignored, as browsers do. An
 * event left unfinished when the input ends is discarded, as the standard
 * says.
 */
import { createParser } from 'eventsource-parser'
import type { ParseError } from 'eventsource-parser'
import { FrameTooLargeError } from '../errors.js'
import type { DataFrame } from '../protocols/types.js'

export type LineEnding = '\n' | '\r\n' | '\r'

export interface SseParserOptions {
  /** Largest event (its data, in UTF-8 bytes) accepted; larger throws FrameTooLargeError. */
  maxEventSize: number
  onEvent: (frame: DataFrame) => void
  /** A comment line (`: text`), the leading `:` and one space removed. */
  onComment?: (comment: string) => void
  onRetry?: (ms: number) => void
}

export interface SseParser {
  /** Feeds decoded text; calls back for each completed event. Throws FrameTooLargeError. */
  feed(text: string): void
  /**
   * Ends the input. A CR as the very last character still ends its line
   * (the parser waits for a possible LF after a CR); an unfinished event
   * is then discarded.
   */
  end(): void
  /** The first line ending seen upstream (LF until one is seen). */
  readonly lineEnding: LineEnding
}

// Room for a line's field name and an `event:`/`id:` line next to the data,
// so an event whose data fits the cap never trips the growing-event check.
const kFieldSlack = 256

/**
 * Creates an SSE parser for one stream.
 * @example
 * const parser = createSseParser({ maxEventSize: 1 << 20, onEvent: (f) => console.log(f.data) })
 * parser.feed('data: {"a":1}\r')
 * parser.feed('\n\r\n') // logs {"a":1}
 */
export function createSseParser (options: SseParserOptions): SseParser {
  const { maxEventSize, onEvent } = options
  let lineEnding: LineEnding | undefined
  let pendingCR = false
  let endsWithCR = false

  const parser = createParser({
    maxBufferSize: maxEventSize + kFieldSlack,
    onEvent: function onSseEvent (message) {
      if (message.data.length > maxEventSize / 3 && Buffer.byteLength(message.data) > maxEventSize) {
        throw new FrameTooLargeError(maxEventSize)
      }
      onEvent({ event: message.event, id: message.id, data: message.data })
    },
    onComment: options.onComment,
    onRetry: options.onRetry,
    onError: function onSseError (err: ParseError) {
      // Unknown fields and bad `retry:` values are ignored, as browsers do.
      if (err.type === 'max-buffer-size-exceeded') throw new FrameTooLargeError(maxEventSize)
    }
  })

  function detectLineEnding (text: string): void {
    if (pendingCR) {
      lineEnding = text.charCodeAt(0) === 10 ? '\r\n' : '\r'
      return
    }
    const lf = text.indexOf('\n')
    const cr = text.indexOf('\r')
    if (cr === -1 && lf === -1) return
    if (cr === -1 || (lf !== -1 && lf < cr)) {
      lineEnding = '\n'
    } else if (cr === text.length - 1) {
      pendingCR = true
    } else {
      lineEnding = text.charCodeAt(cr + 1) === 10 ? '\r\n' : '\r'
    }
  }

  // `lineEnding` is a field, not a getter: a getter in an object literal
  // costs V8 a runtime call (see createScanner), per stream.
  const self: { -readonly [K in keyof SseParser]: SseParser[K] } = {
    feed (text) {
      if (text.length === 0) return
      if (lineEnding === undefined) {
        detectLineEnding(text)
        self.lineEnding = lineEnding ?? '\n'
      }
      endsWithCR = text.charCodeAt(text.length - 1) === 13
      parser.feed(text)
    },
    end () {
      if (endsWithCR) parser.feed('\n')
      endsWithCR = false
    },
    lineEnding: '\n'
  }
  return self
}
