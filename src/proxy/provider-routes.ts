/**
 * @module proxy/provider-routes
 * The native routes of providers other than OpenAI and Anthropic, as a
 * table create-proxy.ts registers beside its own: each with the checks that
 * provider makes first and, where the input stage does not know its request
 * shape, a view of its prompt texts in a shape it knows.
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
import { BadRequestError } from '../errors.js'
import type { InputRoute } from './input-stage.js'
import type { AuthStyle } from './forward.js'

type JsonObject = Record<string, unknown>

/**
 * The input stage's view of a request body in a shape it does not know:
 * the body's prompt texts as a `completions` body (`{ prompt: [..] }`), and
 * the way back.
 */
export interface InputView {
  read: (body: JsonObject) => JsonObject
  /** The body to send upstream, given what the input stage made of the view (the same view when nothing changed). */
  write: (body: JsonObject, scanned: JsonObject) => JsonObject
}

export interface GenerationRoute {
  /** Fastify route path. */
  url: string
  /** The request shape the input stage scans (of the view, when there is one). */
  input: InputRoute
  /** How the provider expects its key. */
  authStyle: AuthStyle
  /** The provider's first checks, in place of the OpenAI-shaped ones; returns the body. */
  validate?: (body: unknown, params: unknown) => JsonObject
  inputView?: InputView
}

function isObject (value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function badRequest (message: string, param: string | null): Error {
  const err = new BadRequestError(message)
  ;(err as Error & { param?: string | null }).param = param
  return err
}

function requireObject (body: unknown): JsonObject {
  if (!isObject(body)) throw badRequest('The request body must be a JSON object.', null)
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
  if (!Array.isArray(body.messages) || !body.messages.every(isObject)) {
    throw badRequest(body.messages === undefined ? "Missing required parameter: 'messages'." : "Invalid type for 'messages': expected an array of message objects.", 'messages')
  }
}

/** A prompt text in a body: read it, and write its scanned version back. */
interface TextSlot {
  text: string
  write: (text: string) => void
}

/** An input view over the text slots `slotsOf` finds (on the body, and on a copy of it to write back). */
function slotView (slotsOf: (body: JsonObject) => TextSlot[]): InputView {
  return {
    read (body) {
      return { prompt: slotsOf(body).map((slot) => slot.text) }
    },
    write (body, scanned) {
      const prompt = scanned.prompt
      if (!Array.isArray(prompt)) return body
      const original = slotsOf(body)
      if (original.every((slot, i) => prompt[i] === slot.text)) return body
      // A copy with the same slots in the same order: the client's body stays as it came.
      const copy = structuredClone(body)
      slotsOf(copy).forEach((slot, i) => {
        const text = prompt[i]
        if (typeof text === 'string') slot.write(text)
      })
      return copy
    }
  }
}

/** Gemini `Content` objects: the `text` of each part. */
function partSlots (content: unknown, out: TextSlot[]): void {
  if (!isObject(content) || !Array.isArray(content.parts)) return
  for (const part of content.parts) {
    if (isObject(part) && typeof part.text === 'string') out.push({ text: part.text, write: (text) => { part.text = text } })
  }
}

const geminiView = slotView((body) => {
  const out: TextSlot[] = []
  partSlots(body.systemInstruction, out)
  if (Array.isArray(body.contents)) for (const content of body.contents) partSlots(content, out)
  return out
})

const ollamaGenerateView = slotView((body) => {
  const out: TextSlot[] = []
  for (const name of ['system', 'prompt', 'suffix']) {
    const text = body[name]
    if (typeof text === 'string') out.push({ text, write: (next) => { body[name] = next } })
  }
  return out
})

/** `{model}:generateContent` or `{model}:streamGenerateContent`; other methods (countTokens, embedContent…) are not served. */
const kGeminiAction = /^[A-Za-z0-9._-]+:(?:generateContent|streamGenerateContent)$/

function validateGemini (input: unknown, params: unknown): JsonObject {
  const action = isObject(params) ? params.modelAction : undefined
  if (typeof action !== 'string' || !kGeminiAction.test(action)) {
    throw badRequest('Expected models/{model}:generateContent or models/{model}:streamGenerateContent.', null)
  }
  const body = requireObject(input)
  if (!Array.isArray(body.contents) || !body.contents.every(isObject)) {
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
  { url: '/v1beta/models/:modelAction', input: 'completions', authStyle: 'x-goog-api-key', validate: validateGemini, inputView: geminiView },
  { url: '/api/chat', input: 'chat', authStyle: 'bearer', validate: validateChat },
  { url: '/api/generate', input: 'completions', authStyle: 'bearer', validate: validateOllamaGenerate, inputView: ollamaGenerateView },
  { url: '/v2/chat', input: 'chat', authStyle: 'bearer', validate: validateChat }
]
