/**
 * @module client/sse-decoder
 * An incremental Server-Sent Events parser (HTML Living Standard §9.2.6,
 * "Parsing an event stream") for browsers and Node: text in, events out,
 * no I/O and no Node API.
 *
 * - Lines end with CRLF, LF or CR; a CR that ends one chunk and the LF that
 *   starts the next are one line ending.
 * - `data:` lines of one event are joined with LF; one leading space after
 *   the colon is removed; a line without a colon is a field with an empty
 *   value; comments (`:`) and unknown fields are ignored; `id:` persists
 *   across events (without NUL), `retry:` is digits only.
 * - An event with no `data:` line dispatches nothing; an event left
 *   unfinished when the input ends is discarded.
 * - Fragments of an unfinished line are kept in a list and joined once
 *   (no O(n²) on a line split into many chunks).
 * - A cap on one event in UTF-8 bytes (its data, and the line being read):
 *   past it, `feed` throws a `StreamClientError` with code
 *   `SLUICE_CLIENT_FRAME_TOO_LARGE`.
 *
 * Bytes are decoded before they get here (see create-decoder.ts: a
 * streaming TextDecoder, which also drops a leading BOM).
 */
import { utf8Length } from './byte-length.js'
import { StreamClientError } from './client-error.js'

/** One dispatched event. `event` is undefined when the stream named none (the standard's "message"). */
export interface SseEvent {
  event: string | undefined
  data: string
  id: string | undefined
}

export interface SseDecoderOptions {
  onEvent: (event: SseEvent) => void
  /** Largest event accepted, in UTF-8 bytes of its data. Default 16 MiB. */
  maxEventSize?: number | undefined
  onRetry?: (ms: number) => void
}

export interface SseDecoder {
  /** Feeds decoded text; calls `onEvent` for each event it completes. */
  feed(text: string): void
  /** Ends the input: an unfinished event is discarded. */
  end(): void
}

export const kDefaultMaxEventSize = 16 * 1024 * 1024
// Room for a field name and an `event:`/`id:` line beside the data.
const kFieldSlack = 256
const LF = 10
const CR = 13

function tooLarge (max: number): StreamClientError {
  return new StreamClientError({ code: 'SLUICE_CLIENT_FRAME_TOO_LARGE', message: `An event exceeded ${max} bytes.` })
}

/**
 * Creates an SSE parser for one stream.
 * @example
 * const sse = createSseDecoder({ onEvent: (e) => console.log(e.event, e.data) })
 * sse.feed('event: ping\r')
 * sse.feed('\ndata: {}\r\n\r\n') // logs: ping {}
 */
export function createSseDecoder (options: SseDecoderOptions): SseDecoder {
  const { onEvent, onRetry } = options
  const maxEventSize = options.maxEventSize ?? kDefaultMaxEventSize
  const maxUnits = maxEventSize + kFieldSlack
  /** Pieces of the line being read. */
  const fragments: string[] = []
  let fragmentsLength = 0
  /** The last character fed was a CR: an LF first in the next chunk belongs to it. */
  let afterCR = false
  let dataLines: string[] = []
  /** UTF-16 units of the data so far, LFs included: bytes ≥ units, so past the cap in units is past it in bytes. */
  let dataUnits = 0
  let eventType: string | undefined
  let lastId: string | undefined

  function dispatch (): void {
    if (dataLines.length === 0) {
      eventType = undefined
      return
    }
    const data = dataLines.length === 1 ? dataLines[0] as string : dataLines.join('\n')
    const event = eventType
    dataLines = []
    dataUnits = 0
    eventType = undefined
    // Only a long text can be past the cap in bytes (at most 3 bytes a unit).
    if (data.length * 3 > maxEventSize && utf8Length(data) > maxEventSize) throw tooLarge(maxEventSize)
    onEvent({ event, data, id: lastId })
  }

  function line (text: string): void {
    if (text === '') {
      dispatch()
      return
    }
    if (text.charCodeAt(0) === 58 /* : */) return
    const colon = text.indexOf(':')
    const field = colon === -1 ? text : text.slice(0, colon)
    let value = colon === -1 ? '' : text.slice(colon + 1)
    if (value.charCodeAt(0) === 32) value = value.slice(1)
    switch (field) {
      case 'data':
        dataLines.push(value)
        dataUnits += value.length + 1
        if (dataUnits > maxUnits) throw tooLarge(maxEventSize)
        break
      case 'event':
        eventType = value
        break
      case 'id':
        if (!value.includes('\0')) lastId = value
        break
      case 'retry':
        if (/^\d+$/.test(value)) onRetry?.(Number(value))
        break
      default:
        break
    }
  }

  return {
    feed (text) {
      let i = 0
      if (afterCR) {
        afterCR = false
        if (text.charCodeAt(0) === LF) i = 1
      }
      // Next LF and CR, each found once per pass over the text.
      let nextLF = text.indexOf('\n', i)
      let nextCR = text.indexOf('\r', i)
      while (i < text.length) {
        if (nextLF !== -1 && nextLF < i) nextLF = text.indexOf('\n', i)
        if (nextCR !== -1 && nextCR < i) nextCR = text.indexOf('\r', i)
        const end = nextLF === -1 ? nextCR : nextCR === -1 ? nextLF : Math.min(nextLF, nextCR)
        if (end === -1) {
          const rest = text.slice(i)
          fragments.push(rest)
          fragmentsLength += rest.length
          if (fragmentsLength + dataUnits > maxUnits) throw tooLarge(maxEventSize)
          return
        }
        let piece = text.slice(i, end)
        if (fragments.length > 0) {
          fragments.push(piece)
          piece = fragments.join('')
          fragments.length = 0
          fragmentsLength = 0
        }
        i = end + 1
        if (text.charCodeAt(end) === CR) {
          if (i === text.length) afterCR = true
          else if (text.charCodeAt(i) === LF) i++
        }
        line(piece)
      }
    },
    end () {
      // The standard discards an event (and a line) left unfinished.
      fragments.length = 0
      fragmentsLength = 0
      dataLines = []
      dataUnits = 0
      eventType = undefined
      afterCR = false
    }
  }
}
