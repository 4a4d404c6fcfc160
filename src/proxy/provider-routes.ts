/**
 * @module proxy/provider-routes
 * The native routes of providers other than OpenAI and Anthropic, as a
 * table forwarding-routes.ts registers beside its own: each with the
 * checks that provider makes first. The input stage needs nothing here: it
 * reads every string of any request body (proxy/input-stage.ts).
 *
 * - Gemini: `POST /v1beta/models/{model}:generateContent` and
 *   `…:streamGenerateContent` (the query, `alt=sse`, goes upstream as it
 *   came). The model is in the path; the prompt is `contents[].parts[].text`
 *   and `systemInstruction.parts[].text`.
 * - Ollama: `POST /api/chat` (`messages[].content`, the chat shape) and
 *   `POST /api/generate` (`prompt`, `system`).
 * - Cohere: `POST /v2/chat` (`messages[].content`, a string or text parts:
 *   the chat shape).
 *
 * The answers need nothing here: the plugin recognises each protocol from
 * the stream or body (protocols/select-codec.ts, sanitize-json-body.ts).
 */
import { isJsonObject } from '../json/json-object.js'
import type { JsonObject } from '../json/json-object.js'
import { badRequest } from './error-replies.js'
import type { InputRoute } from './input-stage.js'
import type { AuthStyle } from './forward.js'

export interface GenerationRoute {
  /** Fastify route path. */
  url: string
  /** The request shape the OpenAI-shaped checks expect (when there is no `validate`). */
  input: InputRoute
  /** How the provider expects its key. */
  authStyle: AuthStyle
  /** The provider's first checks, in place of the OpenAI-shaped ones; returns the body. */
  validate?: (body: unknown, params: unknown) => JsonObject
  /** Query parameters the provider's API takes on this route; the others are not forwarded. */
  query?: readonly string[]
}

function requireObject (body: unknown): JsonObject {
  if (!isJsonObject(body)) throw badRequest('The request body must be a JSON object.', null)
  return body
}

function checkStream (body: JsonObject): void {
  if (body.stream !== undefined && typeof body.stream !== 'boolean') throw badRequest("Invalid type for 'stream': expected a boolean.", 'stream')
}

function checkModel (body: JsonObject): void {
  if (typeof body.model !== 'string' || body.model.length === 0) {
    throw badRequest(body.model === undefined ? "Missing required parameter: 'model'." : "Invalid type for 'model': expected a non-empty string.", 'model')
  }
}

function checkMessages (body: JsonObject): void {
  if (!Array.isArray(body.messages) || !body.messages.every(isJsonObject)) {
    throw badRequest(body.messages === undefined ? "Missing required parameter: 'messages'." : "Invalid type for 'messages': expected an array of message objects.", 'messages')
  }
}

/** `{model}:generateContent` or `{model}:streamGenerateContent`; other methods (countTokens, embedContent…) are not served. */
const kGeminiAction = /^[A-Za-z0-9._-]+:(?:generateContent|streamGenerateContent)$/

function validateGemini (input: unknown, params: unknown): JsonObject {
  const action = isJsonObject(params) ? params.modelAction : undefined
  if (typeof action !== 'string' || !kGeminiAction.test(action)) {
    throw badRequest('Expected models/{model}:generateContent or models/{model}:streamGenerateContent.', null)
  }
  const body = requireObject(input)
  if (!Array.isArray(body.contents) || !body.contents.every(isJsonObject)) {
    throw badRequest(body.contents === undefined ? "Missing required parameter: 'contents'." : "Invalid type for 'contents': expected an array of Content objects.", 'contents')
  }
  return body
}

function validateChat (input: unknown): JsonObject {
  const body = requireObject(input)
  checkModel(body)
  checkStream(body)
  checkMessages(body)
  return body
}

function validateOllamaGenerate (input: unknown): JsonObject {
  const body = requireObject(input)
  checkModel(body)
  checkStream(body)
  if (body.prompt !== undefined && typeof body.prompt !== 'string') throw badRequest("Invalid type for 'prompt': expected a string.", 'prompt')
  return body
}

/** The routes of providers other than OpenAI and Anthropic. */
export const kProviderRoutes: readonly GenerationRoute[] = [
  { url: '/v1beta/models/:modelAction', input: 'completions', authStyle: 'x-goog-api-key', validate: validateGemini, query: ['alt'] },
  { url: '/api/chat', input: 'chat', authStyle: 'bearer', validate: validateChat },
  { url: '/api/generate', input: 'completions', authStyle: 'bearer', validate: validateOllamaGenerate },
  { url: '/v2/chat', input: 'chat', authStyle: 'bearer', validate: validateChat }
]
