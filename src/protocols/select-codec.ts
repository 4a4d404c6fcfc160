/**
 * @module protocols/select-codec
 * Picks the framing from the content type and the codec from the protocol
 * option. With `auto`, an SSE stream's protocol is recognised from its
 * first frame: Responses API events are named `response.*`, Anthropic's
 * `message_start`…, legacy Completions chunks say `"object":
 * "text_completion"`, Gemini chunks carry `candidates`, Cohere v2 events
 * and AI SDK UI message parts have a `type` of their own vocabulary, and
 * anything else is read as Chat Completions. An NDJSON stream is Ollama's
 * when its first line has Ollama's shape (`created_at`, `done`, `message`
 * or `response`), else Chat Completions chunks.
 */
import { UnsupportedProtocolError } from '../errors.js'
import { kNdjsonTypes, mediaTypeOf } from '../http/media-types.js'
import { createAnthropicMessagesCodec } from './anthropic-messages.js'
import { createCohereCodec, kCohereEventTypes } from './cohere.js'
import { createGeminiCodec, isGeminiChunk } from './gemini.js'
import { isRecord } from './json-frame.js'
import { createOpenAiChatCodec } from './openai-chat.js'
import { createOpenAiCompletionsCodec } from './openai-completions.js'
import { createOllamaCodec, isOllamaBody } from './ollama.js'
import { createOpenAiResponsesCodec } from './openai-responses.js'
import { createVercelAiCodec, isVercelPart } from './vercel-ai.js'
import type { CodecContext, Framing, Protocol, ProtocolCodec, ProtocolOption } from './types.js'

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
  'gemini',
  'ollama',
  'vercel-ai',
  'cohere',
  'auto'
])

// One media-type parser for the whole project (the plugin and the proxy use it too).
export { isStreamContentType, mediaTypeOf } from '../http/media-types.js'

/**
 * The framing for a stream: from the content type when given (it says what
 * the bytes are), else from the protocol (`ndjson` or SSE). Throws
 * UnsupportedProtocolError for an unknown protocol or a content type that
 * is not a stream (use `sanitizeJsonResponse` for `application/json`).
 */
export function selectFraming (protocol: ProtocolOption, contentType?: string): Framing {
  if (!kProtocols.has(protocol)) throw new UnsupportedProtocolError(String(protocol))
  if (contentType === undefined || contentType === '') return protocol === 'ndjson' || protocol === 'ollama' ? 'ndjson' : 'sse'
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
    if (kCohereEventTypes.has(event)) return 'cohere'
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
    if (kCohereEventTypes.has(type)) return 'cohere'
    if (isVercelPart(value)) return 'vercel-ai'
  }
  if (value.object === 'text_completion') return 'openai-completions'
  if (isGeminiChunk(value)) return 'gemini'
  return 'openai-chat'
}

/** Recognises the protocol of an NDJSON stream from its first line: Ollama's shape, else Chat Completions chunks. */
export function sniffNdjsonProtocol (data: string): Protocol {
  let value: unknown
  try {
    value = JSON.parse(data)
  } catch {
    return 'ndjson'
  }
  return isOllamaBody(value) ? 'ollama' : 'ndjson'
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
    case 'gemini':
      return createGeminiCodec(ctx)
    case 'ollama':
      return createOllamaCodec(ctx)
    case 'vercel-ai':
      return createVercelAiCodec(ctx)
    case 'cohere':
      return createCohereCodec(ctx)
  }
}

/**
 * The codec for a protocol option. `auto` decides at the first frame it
 * recognises (frames before that cannot be read by any codec, so they are
 * reported malformed and dropped; an NDJSON line always decides).
 */
export function createCodec (protocol: ProtocolOption, framing: Framing, ctx: CodecContext, options: CodecOptions = {}): ProtocolCodec {
  if (protocol !== 'auto') return codecFor(protocol, framing, ctx, options)
  let inner: ProtocolCodec | undefined
  return {
    get protocol () {
      return inner?.protocol
    },
    get cutReason () {
      return inner?.cutReason ?? 'content_filter'
    },
    ownsPath (frame, path, event) {
      return inner?.ownsPath?.(frame, path, event) ?? false
    },
    snapshotPath (frame, path, event) {
      return inner?.snapshotPath?.(frame, path, event) ?? false
    },
    frame (frame) {
      if (inner === undefined) {
        const sniffed = framing === 'ndjson' ? sniffNdjsonProtocol(frame.data) : sniffProtocol(frame.event, frame.data)
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
