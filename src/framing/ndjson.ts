/**
 * @module framing/ndjson
 * Newline-delimited JSON framing (`application/x-ndjson`, ndjson-spec 1.0):
 * one JSON value per line, LF or CRLF, empty lines ignored, and the last
 * line may lack its newline. Parsing is incremental: fragments of an
 * unfinished line are kept in a list and joined once (as eventsource-parser
 * does), so a line split into many reads costs O(n), not O(n²).
 *
 * The cap on one line is in UTF-8 bytes and does not depend on how the
 * input was split: a growing line fails as soon as its UTF-16 length alone
 * exceeds the cap (bytes ≥ units), a finished one is measured in bytes.
 */
import { FrameTooLargeError } from '../errors.js'
import type { DataFrame } from '../protocols/types.js'

export interface NdjsonParserOptions {
  /** Largest line accepted, in UTF-8 bytes; larger throws FrameTooLargeError. */
  maxLineSize: number
  onLine: (frame: DataFrame) => void
}

export interface NdjsonParser {
  feed(text: string): void
  /** Ends the input: a last line without a newline is still a frame. */
  end(): void
  /** `\r\n` when the first line ended so, else `\n`. */
  readonly lineEnding: '\n' | '\r\n'
}

/**
 * Creates an NDJSON line parser for one stream.
 * @example
 * const parser = createNdjsonParser({ maxLineSize: 1 << 20, onLine: (f) => JSON.parse(f.data) })
 * parser.feed('{"a":1}\n{"b"')
 * parser.feed(':2}\n')
 */
export function createNdjsonParser (options: NdjsonParserOptions): NdjsonParser {
  const { maxLineSize, onLine } = options
  const fragments: string[] = []
  let fragmentsLength = 0
  let lineEnding: '\n' | '\r\n' | undefined

  function emitLine (raw: string): void {
    let line = raw
    if (line.charCodeAt(line.length - 1) === 13) {
      line = line.slice(0, -1)
      lineEnding ??= '\r\n'
    }
    lineEnding ??= '\n'
    self.lineEnding = lineEnding
    if (line.length > maxLineSize / 3 && Buffer.byteLength(line) > maxLineSize) {
      throw new FrameTooLargeError(maxLineSize)
    }
    if (line.trim() === '') return
    onLine({ data: line })
  }

  // `lineEnding` is a field, not a getter: see createSseParser.
  const self: { -readonly [K in keyof NdjsonParser]: NdjsonParser[K] } = {
    feed (text) {
      let start = 0
      let lf = text.indexOf('\n')
      while (lf !== -1) {
        let line = text.slice(start, lf)
        if (fragments.length > 0) {
          fragments.push(line)
          line = fragments.join('')
          fragments.length = 0
          fragmentsLength = 0
        }
        emitLine(line)
        start = lf + 1
        lf = text.indexOf('\n', start)
      }
      if (start < text.length) {
        const rest = text.slice(start)
        fragments.push(rest)
        fragmentsLength += rest.length
        // A CR may still be dropped as part of CRLF, hence the + 1.
        if (fragmentsLength > maxLineSize + 1) throw new FrameTooLargeError(maxLineSize)
      }
    },
    end () {
      if (fragments.length === 0) return
      const line = fragments.join('')
      fragments.length = 0
      fragmentsLength = 0
      emitLine(line)
    },
    lineEnding: '\n'
  }
  return self
}

/** One frame as an NDJSON line. */
export function serializeNdjsonFrame (frame: DataFrame, eol: '\n' | '\r\n' = '\n'): string {
  return frame.data + eol
}
