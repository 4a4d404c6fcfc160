/**
 * @module client
 * `sluice/client`: a small client for streams sanitized by Sluice, for
 * browsers and Node, with no dependency. It reads the protocols Sluice
 * proxies (OpenAI Chat Completions, Completions and Responses, Anthropic
 * Messages, Gemini, Ollama, Cohere, NDJSON), hands a UI text per channel
 * with its redaction markers as spans, tells a cut apart from a normal end
 * and from a stream that ended with no finish reason, retries only before
 * the first byte, and can decode in a Web Worker.
 *
 * Named exports only, no effect at import: a bundler keeps what is used.
 * @example
 * import { createStreamClient } from 'sluice/client'
 * const client = createStreamClient({ url: '/v1/messages', protocol: 'anthropic-messages' })
 * await client.generate({ model: 'claude-sonnet-4-5', max_tokens: 512, stream: true, messages }, {
 *   onText: (delta, { spans }) => render(delta, spans),
 *   onFinish: ({ reason }) => { if (reason === 'refusal') showCutNotice() }
 * })
 */
export { createStreamClient } from './create-stream-client.js'
export type { FetchLike, GenerateHandlers, ResponseLike, StreamClient, StreamClientOptions } from './create-stream-client.js'
export { StreamClientError } from './client-error.js'
export type { ClientErrorCode, ClientErrorInit } from './client-error.js'
export { defaultRedactionMarkers, findRedactions } from './redaction-markers.js'
export type { RedactionMarker } from './redaction-markers.js'
export { createDecoder } from './create-decoder.js'
export type { DecodedEvent, Decoder, DecoderOptions } from './create-decoder.js'
export { createSseDecoder } from './sse-decoder.js'
export type { SseDecoder, SseDecoderOptions, SseEvent } from './sse-decoder.js'
export { createNdjsonDecoder } from './ndjson-decoder.js'
export type { NdjsonDecoder, NdjsonDecoderOptions } from './ndjson-decoder.js'
export { serveDecoder } from './decoder-host.js'
export type { MessageEndpoint, MessageEventLike, WorkerLike } from './worker-messages.js'
export type { FlushScheduler } from './text-batcher.js'
export type {
  ChannelRef, ClientFinding, ClientProtocol, FinishInfo, FinishReason, RedactionSpan, TextChannel, TextInfo
} from './types.js'
