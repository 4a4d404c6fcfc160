/**
 * @module client/create-decoder
 * The pure core of the client: response bytes in, decoded events out (text
 * deltas with their redaction spans, in-band errors, one finish). No I/O, no
 * timers, nothing but `TextDecoder`: the same code runs on the main thread
 * or in the decoding Worker (decoder-host.ts), whose messages carry these
 * events as they are.
 *
 * Order of work per chunk: UTF-8 (a streaming TextDecoder: a character split
 * between chunks is joined, a leading BOM dropped, invalid bytes become
 * U+FFFD), then SSE or NDJSON framing, then the protocol's reader, then per
 * channel the marker holdback (redaction-markers.ts) so that no marker is
 * split between two deltas.
 *
 * The finish: a cut (`content_filter`, `refusal`) outranks an error, which
 * outranks any other reason; among equals the last one said wins. It is
 * told at the protocol's terminal frame (`[DONE]`, `message_stop`,
 * `response.completed`…) or at the end of the body, after every held text;
 * with none said, the reason is `missing`. Input after the finish is ignored.
 */
import { StreamClientError } from './client-error.js'
import type { ClientErrorInit } from './client-error.js'
import { createNdjsonDecoder } from './ndjson-decoder.js'
import { defaultRedactionMarkers, findRedactions, holdbackStart } from './redaction-markers.js'
import type { RedactionMarker } from './redaction-markers.js'
import { errorOf } from './reader-sink.js'
import type { FrameReader, InbandError, ReaderSink, WireFrame } from './reader-sink.js'
import { createReader, recogniseProtocol } from './select-reader.js'
import type { Framing, KnownProtocol } from './select-reader.js'
import { createSseDecoder } from './sse-decoder.js'
import type { ChannelRef, ClientProtocol, FinishReason, RedactionSpan } from './types.js'

/** One thing the decoder found, in stream order. */
export type DecodedEvent =
  | { type: 'text', ref: ChannelRef, text: string, offset: number, spans: RedactionSpan[] }
  | { type: 'error', error: ClientErrorInit }
  | { type: 'finish', reason: FinishReason, raw: string | undefined, frame: unknown, protocol: KnownProtocol | undefined }

export interface DecoderOptions {
  protocol: ClientProtocol
  framing: Framing
  /** Default: the markers of the shipped rules. */
  markers?: readonly RedactionMarker[] | undefined
  /** Largest SSE event or NDJSON line, in UTF-8 bytes. Default 16 MiB. */
  maxEventSize?: number | undefined
}

export interface Decoder {
  /** Decodes the next chunk of the body. */
  push(bytes: Uint8Array): DecodedEvent[]
  /** The body ended: held text, then the finish. */
  end(): DecodedEvent[]
  /** The body broke off: held text, then the error and the finish (unless a finish reason was said already). */
  fail(error: ClientErrorInit): DecodedEvent[]
  /** Whether the finish was told. */
  finished(): boolean
}

interface Channel {
  ref: ChannelRef
  held: string
  offset: number
}

function rank (reason: FinishReason): number {
  if (reason === 'content_filter' || reason === 'refusal') return 3
  return reason === 'error' ? 2 : 1
}

function errorInit (error: InbandError): ClientErrorInit {
  return { code: error.code ?? 'SLUICE_CLIENT_STREAM_ERROR', message: error.message, type: error.type }
}

/**
 * Creates the decoder of one response body.
 * @example
 * const decoder = createDecoder({ protocol: 'openai-chat', framing: 'sse' })
 * decoder.push(new TextEncoder().encode('data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'))
 * // [{ type: 'text', ref: { key: '0:content', channel: 'content', choice: 0 }, text: 'Hi', offset: 0, spans: [] }]
 */
export function createDecoder (options: DecoderOptions): Decoder {
  const markers = options.markers ?? defaultRedactionMarkers
  const framing = options.framing
  const utf8 = new TextDecoder('utf-8')
  const channels = new Map<string, Channel>()
  let out: DecodedEvent[] = []
  let protocol: KnownProtocol | undefined = options.protocol === 'auto' ? undefined : options.protocol
  let finish: { reason: FinishReason, raw: string | undefined, frame: unknown } | undefined
  let done = false

  function emitText (channel: Channel, text: string): void {
    if (text === '') return
    out.push({ type: 'text', ref: channel.ref, text, offset: channel.offset, spans: findRedactions(text, markers) })
    channel.offset += text.length
  }

  function flushHeld (): void {
    for (const channel of channels.values()) {
      const held = channel.held
      channel.held = ''
      emitText(channel, held)
    }
  }

  function note (reason: FinishReason, raw: string | undefined, frame: unknown): void {
    if (finish === undefined || rank(reason) >= rank(finish.reason)) finish = { reason, raw, frame }
  }

  function finalize (): void {
    if (done) return
    flushHeld()
    done = true
    out.push({ type: 'finish', reason: finish?.reason ?? 'missing', raw: finish?.raw, frame: finish?.frame, protocol })
  }

  function inbandError (error: ClientErrorInit, frame: unknown): void {
    flushHeld()
    out.push({ type: 'error', error })
    note('error', error.type ?? error.code, frame)
  }

  const sink: ReaderSink = {
    text (ref, text) {
      if (done) return
      let channel = channels.get(ref.key)
      if (channel === undefined) channels.set(ref.key, (channel = { ref, held: '', offset: 0 }))
      else if (ref.name !== undefined && channel.ref.name !== ref.name) channel.ref = ref
      const all = channel.held === '' ? text : channel.held + text
      const hold = holdbackStart(all)
      channel.held = all.slice(hold)
      emitText(channel, hold === all.length ? all : all.slice(0, hold))
    },
    finish: note,
    error (error, frame) {
      inbandError(errorInit(error), frame)
    },
    terminal: finalize
  }

  let reader: FrameReader | undefined = protocol === undefined ? undefined : createReader(protocol, sink)

  function onFrame (frame: WireFrame): void {
    if (done) return
    if (reader === undefined) {
      protocol = recogniseProtocol(framing, frame)
      if (protocol !== undefined) reader = createReader(protocol, sink)
    }
    // Error objects look alike in every protocol (and come before any is recognised).
    if (frame.data.includes('"error"')) {
      const obj = parseErrorFrame(frame.data)
      if (obj !== undefined) {
        inbandError(errorInit(obj.error), obj.frame)
        return
      }
    }
    reader?.(frame)
  }

  const framer = framing === 'sse'
    ? createSseDecoder({ onEvent: onFrame, maxEventSize: options.maxEventSize })
    : createNdjsonDecoder({ onLine: (data) => onFrame({ data }), maxLineSize: options.maxEventSize })

  function drain (): DecodedEvent[] {
    const events = out
    out = []
    return events
  }

  function failed (err: unknown): void {
    const init: ClientErrorInit = err instanceof StreamClientError
      ? { code: err.code, message: err.message }
      : { code: 'SLUICE_CLIENT_STREAM_ERROR', message: err instanceof Error ? err.message : String(err) }
    inbandError(init, undefined)
    finalize()
  }

  return {
    push (bytes) {
      if (done) return []
      try {
        framer.feed(utf8.decode(bytes, { stream: true }))
      } catch (err) {
        failed(err)
      }
      return drain()
    },
    end () {
      if (!done) {
        try {
          framer.feed(utf8.decode())
          framer.end()
        } catch (err) {
          failed(err)
        }
        finalize()
      }
      return drain()
    },
    fail (error) {
      if (!done) {
        flushHeld()
        if (finish === undefined) inbandError(error, undefined)
        finalize()
      }
      return drain()
    },
    finished: () => done
  }
}

/** A frame whose top-level `error` is an error object (or an Ollama error string). */
function parseErrorFrame (data: string): { error: InbandError, frame: unknown } | undefined {
  let value: unknown
  try {
    value = JSON.parse(data)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const error = errorOf(value as Record<string, unknown>)
  return error === undefined ? undefined : { error, frame: value }
}
