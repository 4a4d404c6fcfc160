/**
 * @module client/select-reader
 * The framing of a response (from its content type, else the protocol's
 * own) and the reader of each protocol. With `auto`, the protocol is
 * recognised from the first frame that shows one, by the tests the proxy
 * uses (protocols/select-codec.ts): SSE event names and `type` values
 * (`response.*`, Anthropic's and Cohere's event vocabularies), `object:
 * "text_completion"`, a `candidates` array (Gemini), a `choices` array
 * (Chat Completions); over NDJSON, Ollama's line shape, else chat chunks.
 */
import { createAnthropicReader } from './read-anthropic.js'
import { createCohereReader } from './read-cohere.js'
import { createGeminiReader } from './read-gemini.js'
import { createOllamaReader } from './read-ollama.js'
import { createOpenAiReader } from './read-openai.js'
import { createOpenAiResponsesReader } from './read-openai-responses.js'
import { parseObject, stringOf } from './reader-sink.js'
import type { FrameReader, Json, ReaderSink, WireFrame } from './reader-sink.js'
import type { ClientProtocol } from './types.js'

export type Framing = 'sse' | 'ndjson'
export type KnownProtocol = Exclude<ClientProtocol, 'auto'>

/** Every NDJSON / JSON-lines media type in use (as src/http/media-types.ts lists them). */
const kNdjsonTypes = new Set(['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines', 'application/jsonlines', 'application/json-seq'])

/** The media type alone, lower-cased. */
export function mediaTypeOf (contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase()
}

/**
 * How the body is framed: as the content type says, else as the protocol
 * is framed (NDJSON for `ndjson` and `ollama`); undefined when the content
 * type names something that is no stream (JSON, HTML…).
 */
export function framingOf (protocol: ClientProtocol, contentType: string | undefined): Framing | undefined {
  const type = contentType === undefined ? '' : mediaTypeOf(contentType)
  if (type === 'text/event-stream') return 'sse'
  if (kNdjsonTypes.has(type)) return 'ndjson'
  if (type !== '' && type !== 'application/octet-stream') return undefined
  return protocol === 'ndjson' || protocol === 'ollama' ? 'ndjson' : 'sse'
}

/** The `Accept` header a request for this protocol's stream sends. */
export function acceptOf (protocol: ClientProtocol): string {
  return protocol === 'ndjson' || protocol === 'ollama' ? 'application/x-ndjson' : 'text/event-stream'
}

const kAnthropicTypes = new Set(['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop', 'ping'])
const kCohereTypes = new Set(['message-start', 'content-start', 'content-delta', 'content-end', 'tool-plan-delta', 'tool-call-start', 'tool-call-delta', 'tool-call-end', 'citation-start', 'citation-end', 'message-end'])

function protocolOfType (type: string | undefined): KnownProtocol | undefined {
  if (type === undefined) return undefined
  if (type.startsWith('response.')) return 'openai-responses'
  if (kAnthropicTypes.has(type)) return 'anthropic-messages'
  if (kCohereTypes.has(type)) return 'cohere'
  return undefined
}

/** The protocol one frame clearly belongs to, if any. */
export function recogniseProtocol (framing: Framing, frame: WireFrame): KnownProtocol | undefined {
  if (framing === 'sse') {
    if (frame.data === '[DONE]') return 'openai-chat'
    const byEvent = protocolOfType(frame.event)
    if (byEvent !== undefined) return byEvent
  }
  const obj: Json | undefined = parseObject(frame.data)
  if (obj === undefined) return undefined
  if (framing === 'ndjson') {
    if (typeof obj.done === 'boolean' && typeof obj.created_at === 'string') return 'ollama'
    return Array.isArray(obj.choices) ? 'ndjson' : undefined
  }
  const byType = protocolOfType(stringOf(obj.type))
  if (byType !== undefined) return byType
  if (obj.object === 'text_completion') return 'openai-completions'
  if (Array.isArray(obj.candidates) || (typeof obj.promptFeedback === 'object' && obj.object === undefined)) return 'gemini'
  if (Array.isArray(obj.choices) || obj.object === 'chat.completion.chunk') return 'openai-chat'
  return undefined
}

/** The reader of a protocol. */
export function createReader (protocol: KnownProtocol, sink: ReaderSink): FrameReader {
  switch (protocol) {
    case 'openai-chat':
    case 'openai-completions':
    case 'ndjson':
      return createOpenAiReader(sink)
    case 'openai-responses':
      return createOpenAiResponsesReader(sink)
    case 'anthropic-messages':
      return createAnthropicReader(sink)
    case 'gemini':
      return createGeminiReader(sink)
    case 'ollama':
      return createOllamaReader(sink)
    case 'cohere':
      return createCohereReader(sink)
  }
}
