/**
 * @module protocols/sanitize-json-body
 * Non-streaming (`stream: false`) response bodies: recognises the protocol
 * of a body and hands it to that protocol's body sanitizer, which lives
 * beside its stream codec (openai-chat.ts, openai-completions.ts,
 * openai-responses.ts, anthropic-messages.ts, gemini.ts, ollama.ts,
 * cohere.ts) and says there which fields it scans.
 *
 * Every sanitizer works the same way (body-scan.ts): on a copy of the body
 * (the input is never modified) unless the caller owns the body and says so
 * (`inPlace`), it scans the protocol's text fields, each whole with its own
 * scanner; then every other string, key and long number of the body is
 * scanned whole too. A body of no protocol Sluice knows gets that generic
 * pass alone.
 *
 * Cut: the field that tripped it keeps the text before the match, every
 * later text field becomes '' and the response says why it stopped, the
 * protocol's way (each sanitizer's doc says how).
 */
import type { Scanner } from '../scanner/types.js'
import { isJsonObject } from '../json/json-object.js'
import { sanitizeAnthropicMessagesBody } from './anthropic-messages.js'
import { createBodyScan } from './body-scan.js'
import { isCohereBody, sanitizeCohereBody } from './cohere.js'
import { isGeminiBody, sanitizeGeminiBody } from './gemini.js'
import { isOllamaBody, sanitizeOllamaBody } from './ollama.js'
import { sanitizeOpenAiChatBody } from './openai-chat.js'
import { sanitizeOpenAiCompletionsBody } from './openai-completions.js'
import { sanitizeOpenAiResponsesBody } from './openai-responses.js'
import type { JsonSanitizeOptions, JsonSanitizeResult, Protocol } from './types.js'

/** Recognises a non-streaming response body. */
export function sniffJsonProtocol (body: unknown): Protocol | undefined {
  // Gemini's `streamGenerateContent` without `alt=sse` answers a JSON array.
  if (isGeminiBody(body)) return 'gemini'
  if (!isJsonObject(body)) return undefined
  if (body.object === 'chat.completion') return 'openai-chat'
  if (body.object === 'text_completion') return 'openai-completions'
  if (body.object === 'response') return 'openai-responses'
  if (body.type === 'message' && Array.isArray(body.content)) return 'anthropic-messages'
  if (isOllamaBody(body)) return 'ollama'
  if (isCohereBody(body)) return 'cohere'
  if (Array.isArray(body.choices)) return 'openai-chat'
  return undefined
}

/** One protocol's body sanitizer, beside its codec in the protocol's module. */
type BodySanitizer = (input: unknown, newScanner: () => Scanner, options: JsonSanitizeOptions) => JsonSanitizeResult

/**
 * Each protocol's body sanitizer (NDJSON bodies are chat completions; the
 * AI SDK UI stream has no body form). A Map, so that a protocol named by
 * a caller from plain JavaScript and known to none of them finds nothing
 * rather than an `Object.prototype` member.
 */
const kBodySanitizers: ReadonlyMap<string, BodySanitizer> = new Map(Object.entries({
  'openai-chat': sanitizeOpenAiChatBody,
  ndjson: sanitizeOpenAiChatBody,
  'openai-completions': sanitizeOpenAiCompletionsBody,
  'openai-responses': sanitizeOpenAiResponsesBody,
  'anthropic-messages': sanitizeAnthropicMessagesBody,
  gemini: sanitizeGeminiBody,
  ollama: sanitizeOllamaBody,
  cohere: sanitizeCohereBody
} satisfies Record<Exclude<Protocol, 'vercel-ai'>, BodySanitizer>))

/** A body of no protocol Sluice knows: the generic pass (body-scan.ts) alone. */
function sanitizeUnknownBody (input: unknown, newScanner: () => Scanner, options: JsonSanitizeOptions): JsonSanitizeResult {
  return createBodyScan(input, newScanner, options).result(undefined)
}

/**
 * Sanitizes one JSON response body.
 * @example
 * const { body, changed } = sanitizeJsonBody(JSON.parse(text), () => createScanner(ruleSet))
 */
export function sanitizeJsonBody (input: unknown, newScanner: () => Scanner, options: JsonSanitizeOptions = {}): JsonSanitizeResult {
  const requested = options.protocol ?? 'auto'
  const protocol = requested === 'auto' ? sniffJsonProtocol(input) : requested
  const sanitize = protocol === undefined ? undefined : kBodySanitizers.get(protocol)
  return (sanitize ?? sanitizeUnknownBody)(input, newScanner, options)
}
