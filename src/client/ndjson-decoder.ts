/**
 * @module client/ndjson-decoder
 * An incremental newline-delimited JSON line splitter (ndjson-spec 1.0):
 * LF or CRLF, empty (or blank) lines skipped, a last line without a newline
 * is still a line. Fragments of an unfinished line are kept in a list and
 * joined once. A cap on one line in UTF-8 bytes, independent of how the
 * input was split: `feed` throws a `StreamClientError` with code
 * `SLUICE_CLIENT_FRAME_TOO_LARGE` past it.
 */
import { utf8Length } from './byte-length.js'
import { StreamClientError } from './client-error.js'
import { kDefaultMaxEventSize } from './sse-decoder.js'

export interface NdjsonDecoderOptions {
  onLine: (line: string) => void
  /** Largest line accepted, in UTF-8 bytes. Default 16 MiB. */
  maxLineSize?: number | undefined
}

export interface NdjsonDecoder {
  feed(text: string): void
  /** Ends the input: a last line without a newline is handed on. */
  end(): void
}

function tooLarge (max: number): StreamClientError {
  return new StreamClientError({ code: 'SLUICE_CLIENT_FRAME_TOO_LARGE', message: `A line exceeded ${max} bytes.` })
}

/**
 * Creates an NDJSON line splitter for one stream.
 * @example
 * const nd = createNdjsonDecoder({ onLine: (l) => console.log(JSON.parse(l)) })
 * nd.feed('{"a":1}\r\n{"b"')
 * nd.feed(':2}')
 * nd.end() // logs { a: 1 } then { b: 2 }
 */
export function createNdjsonDecoder (options: NdjsonDecoderOptions): NdjsonDecoder {
  const { onLine } = options
  const maxLineSize = options.maxLineSize ?? kDefaultMaxEventSize
  const fragments: string[] = []
  let fragmentsLength = 0

  function emit (raw: string): void {
    const line = raw.charCodeAt(raw.length - 1) === 13 ? raw.slice(0, -1) : raw
    if (line.length * 3 > maxLineSize && utf8Length(line) > maxLineSize) throw tooLarge(maxLineSize)
    if (line.trim() === '') return
    onLine(line)
  }

  return {
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
        emit(line)
        start = lf + 1
        lf = text.indexOf('\n', start)
      }
      if (start < text.length) {
        const rest = text.slice(start)
        fragments.push(rest)
        fragmentsLength += rest.length
        // + 1: a CR at the end may still be the first half of a CRLF.
        if (fragmentsLength > maxLineSize + 1) throw tooLarge(maxLineSize)
      }
    },
    end () {
      if (fragments.length === 0) return
      const line = fragments.join('')
      fragments.length = 0
      fragmentsLength = 0
      emit(line)
    }
  }
}
