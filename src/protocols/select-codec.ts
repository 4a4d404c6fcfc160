/**
 * @module protocols/select-codec
 * Picks the framing from the content type and the codec from the protocol
 * option. With `auto`, an SSE stream's protocol is recognised from its
 * first frame: Responses API events are named `response.*`, Anthropic's
 * `message_start`…, legacy Completions chunks say `"object":
 * "text_completion"`, and anything else is read as Chat Completions.
 * NDJSON streams carry Chat Completions chunks.
 */
import { UnsupportedProtocolError } from '../errors.js'
import { createAnthropicMessagesCodec } from './anthropic-messages.js'
import { isRecord } from './json-frame.js'
import { createOpenAiChatCodec } from './openai-chat.js'
import { createOpenAiCompletionsCodec } from './openai-completions.js'
import { createOpenAiResponsesCodec } from './openai-responses.js'
import type { CodecContext, Framing, Protocol, ProtocolCodec, ProtocolOption } from './types.js'

const kNdjsonTypes = new Set([
  'application/x-ndjson',
  'application/ndjson',
  'application/jsonl',
  'application/x-jsonlines',
  'application/jsonlines'
])

const kAnthropicEvents = new Set([
  'message_start',
  'content_block_start',
  'content_block_delta',
  'content_block_stop',
  'message_delta',
  'message_stop',
  'ping'
])

const kProtocols = new Set<ProtocolOption>([
  'openai-chat',
  'openai-completions',
  'openai-responses',
  'anthropic-messages',
  'ndjson',
  'auto'
])

/** The media type of a Content-Type header, lower-cased, without parameters. */
export function mediaTypeOf (contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase()
}

/** Whether a response with this content type is a stream Sluice can sanitize. */
export function isStreamContentType (contentType: string | undefined): boolean {
  if (contentType === undefined) return false
  const type = mediaTypeOf(contentType)
  return type === 'text/event-stream' || kNdjsonTypes.has(type)
}

/**
 * The framing for a stream: from the content type when given (it says what
 * the bytes are), else from the protocol (`ndjson` or SSE). Throws
 * UnsupportedProtocolError for an unknown protocol or a content type that
 * is not a stream (use `sanitizeJsonResponse` for `application/json`).
 */
export function selectFraming (protocol: ProtocolOption, contentType?: string): Framing {
  if (!kProtocols.has(protocol)) throw new UnsupportedProtocolError(String(protocol))
  if (contentType === undefined || contentType === '') return protocol === 'ndjson' ? 'ndjson' : 'sse'
  const type = mediaTypeOf(contentType)
  if (type === 'text/event-stream') return 'sse'
  if (kNdjsonTypes.has(type)) return 'ndjson'
  throw new UnsupportedProtocolError(type)
}

/** Recognises the protocol of an SSE stream from its first data frame, if it can. */
export function sniffProtocol (event: string | undefined, data: string): Protocol | undefined {
  if (event !== undefined) {
    if (event.startsWith('response.')) return 'openai-responses'
    if (kAnthropicEvents.has(event)) return 'anthropic-messages'
  }
  if (data === '[DONE]') return 'openai-chat'
  let value: unknown
  try {
    value = JSON.parse(data)
  } catch {
    return undefined
  }
  if (!isRecord(value)) return undefined
  const type = value.type
  if (typeof type === 'string') {
    if (type.startsWith('response.')) return 'openai-responses'
    if (kAnthropicEvents.has(type)) return 'anthropic-messages'
  }
  if (value.object === 'text_completion') return 'openai-completions'
  return 'openai-chat'
}

/** What every codec is made with. */
export interface CodecOptions {
  /** Merge consecutive text-only chunks of one read (OpenAI chat and completions; default true). */
  coalesce?: boolean
}

function codecFor (protocol: Protocol, framing: Framing, ctx: CodecContext, options: CodecOptions): ProtocolCodec {
  const coalesce = options.coalesce ?? true
  switch (protocol) {
    case 'openai-chat':
    case 'ndjson':
      return createOpenAiChatCodec(ctx, { doneMarker: framing === 'sse', coalesce })
    case 'openai-completions':
      return createOpenAiCompletionsCodec(ctx, { coalesce })
    case 'openai-responses':
      return createOpenAiResponsesCodec(ctx)
    case 'anthropic-messages':
      return createAnthropicMessagesCodec(ctx)
  }
}

/**
 * The codec for a protocol option. `auto` over NDJSON is Chat Completions;
 * over SSE it decides at the first frame it recognises (frames before that
 * cannot be read by any codec, so they are reported malformed and dropped).
 */
export function createCodec (protocol: ProtocolOption, framing: Framing, ctx: CodecContext, options: CodecOptions = {}): ProtocolCodec {
  if (protocol !== 'auto') return codecFor(protocol, framing, ctx, options)
  if (framing === 'ndjson') return codecFor('ndjson', framing, ctx, options)
  let inner: ProtocolCodec | undefined
  return {
    get protocol () {
      return inner?.protocol
    },
    get cutReason () {
      return inner?.cutReason ?? 'content_filter'
    },
    frame (frame) {
      if (inner === undefined) {
        const sniffed = sniffProtocol(frame.event, frame.data)
        if (sniffed === undefined) {
          ctx.malformed(`unrecognised first frame (${frame.data.length} chars)`)
          return
        }
        inner = codecFor(sniffed, framing, ctx, options)
      }
      inner.frame(frame)
    },
    flush () {
      inner?.flush?.()
    },
    end () {
      inner?.end()
    },
    cut (finding) {
      inner?.cut(finding)
    },
    fail (info) {
      // Nothing recognised yet: the OpenAI error shape is the most widely understood.
      (inner ?? codecFor('openai-chat', framing, ctx, options)).fail(info)
    }
  }
}
