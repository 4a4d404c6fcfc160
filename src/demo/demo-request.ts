/**
 * @module demo/demo-request
 * What the demo upstream reads from a generation request, checked the way
 * each API checks it: the prompt, the answer to stream, the pacing headers.
 * A request it cannot answer throws `DemoRequestError`, which the routes
 * send as a 4xx in the API's own error shape (`errorBody`).
 */
import type http from 'node:http'
import { openAiErrorBody } from '../http/openai-error.js'
import { isJsonObject } from '../json/json-object.js'
import type { JsonObject } from '../json/json-object.js'
import { findAnswer, pickAnswer } from './canned-answers.js'
import type { CannedAnswer } from './canned-answers.js'
import type { RouteName } from './wire-format.js'

export const demoModels = ['sluice-demo-1', 'sluice-demo-mini'] as const

/**
 * Request headers that steer the demo upstream (answer, pace, faults). A
 * proxy forwards them only when told to (`forwardHeaders`), like any header
 * that is not the provider's.
 */
export const demoControlHeaders = ['x-demo-text', 'x-demo-answer', 'x-demo-rate', 'x-demo-chunk', 'x-fault', 'x-fault-count', 'x-fault-delay', 'x-fault-retry-after'] as const

/** A request the route cannot answer; becomes a 4xx in the API's error shape. */
export class DemoRequestError extends Error {
  constructor (
    message: string,
    readonly status: number = 400,
    readonly param: string | null = null,
    readonly code: string | null = null
  ) {
    super(message)
  }
}

/** The error body each API family sends: Anthropic `{type:'error', error:{...}}` on `messages`, else OpenAI's (http/openai-error.ts). */
export function errorBody (route: RouteName | null, status: number, message: string, param: string | null = null, code: string | null = null): object {
  if (route !== 'messages') return openAiErrorBody(status, message, code, param)
  const type =
    status === 429
      ? 'rate_limit_error'
      : status === 404
        ? 'not_found_error'
        : status === 413
          ? 'request_too_large'
          : status >= 500
            ? 'api_error'
            : 'invalid_request_error'
  return { type: 'error', error: { type, message } }
}

/** The first value of a request header. */
export function header (req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name]
  return Array.isArray(value) ? value[0] : value
}

/** A non-negative number from a header (else the body's value, else `fallback`). */
export function numberHeader (req: http.IncomingMessage, name: string, bodyValue: unknown, fallback: number): number {
  const text = header(req, name) ?? (bodyValue === undefined ? undefined : String(bodyValue))
  if (text === undefined) return fallback
  const value = Number(text)
  if (!Number.isFinite(value) || value < 0) throw new DemoRequestError(`Invalid ${name} "${text}".`, 400, null, 'invalid_header')
  return value
}

/** `x-demo-chunk: MIN-MAX`, else `fallback`. */
export function chunkSizeOf (req: http.IncomingMessage, fallback: readonly [number, number]): readonly [number, number] {
  const text = header(req, 'x-demo-chunk')
  if (text === undefined) return fallback
  const m = /^(\d+)-(\d+)$/.exec(text.trim())
  const min = Number(m?.[1])
  const max = Number(m?.[2])
  if (m === null || !(min >= 1 && max >= min)) throw new DemoRequestError(`Invalid x-demo-chunk "${text}"; expected MIN-MAX.`, 400, null, 'invalid_header')
  return [min, max]
}

/** The text of a message `content`: a string, or parts with `text` (OpenAI `text`/`input_text`, Anthropic `text` blocks). */
function contentText (content: unknown): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content
    .map((part) => (isJsonObject(part) && typeof part.text === 'string' ? part.text : ''))
    .filter((text) => text.length > 0)
    .join('\n')
}

/** The last message with role `user` (or the last message) of a chat/messages/responses input list. */
function lastUserText (messages: readonly unknown[]): string {
  const objects = messages.filter(isJsonObject)
  const user = [...objects].reverse().find((m) => m.role === 'user') ?? objects[objects.length - 1]
  return user === undefined ? '' : contentText(user.content)
}

/** The prompt the answer is chosen from, checking the shape each API requires. */
export function promptOf (route: RouteName, body: JsonObject): string {
  switch (route) {
    case 'chat':
    case 'messages': {
      const messages = body.messages
      if (messages === undefined) throw new DemoRequestError("Missing required parameter: 'messages'.", 400, 'messages', 'missing_required_parameter')
      if (!Array.isArray(messages) || messages.length === 0) {
        throw new DemoRequestError("Invalid 'messages': expected a non-empty array.", 400, 'messages', 'invalid_type')
      }
      return lastUserText(messages)
    }
    case 'completions': {
      const prompt = body.prompt
      if (prompt === undefined) throw new DemoRequestError("Missing required parameter: 'prompt'.", 400, 'prompt', 'missing_required_parameter')
      if (typeof prompt === 'string') return prompt
      if (Array.isArray(prompt)) return prompt.filter((p): p is string => typeof p === 'string').join('\n')
      throw new DemoRequestError("Invalid 'prompt': expected a string or an array of strings.", 400, 'prompt', 'invalid_type')
    }
    case 'responses': {
      const input = body.input
      if (input === undefined) throw new DemoRequestError("Missing required parameter: 'input'.", 400, 'input', 'missing_required_parameter')
      if (typeof input === 'string') return input
      if (Array.isArray(input)) return lastUserText(input)
      throw new DemoRequestError("Invalid 'input': expected a string or an array.", 400, 'input', 'invalid_type')
    }
  }
}

/** `n` choices (chat and completions; 1 elsewhere), from 1 to 16. */
export function choicesOf (route: RouteName, body: JsonObject): number {
  const n = route === 'chat' || route === 'completions' ? (body.n ?? 1) : 1
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 16) {
    throw new DemoRequestError("Invalid 'n': expected an integer from 1 to 16.", 400, 'n', 'invalid_value')
  }
  return n
}

/**
 * The text to stream: exact text, then a named answer, then keywords, then
 * round-robin (`nextTurn` counts the turns).
 */
export function answerTextOf (req: http.IncomingMessage, body: JsonObject, prompt: string, answers: readonly CannedAnswer[], nextTurn: () => number): string {
  const demoText = header(req, 'x-demo-text')
  if (demoText !== undefined) return Buffer.from(demoText, 'base64').toString('utf8')
  if (body.demo_text !== undefined) {
    if (typeof body.demo_text !== 'string') throw new DemoRequestError("Invalid 'demo_text': expected a string.", 400, 'demo_text', 'invalid_type')
    return body.demo_text
  }
  const named = header(req, 'x-demo-answer')
  if (named !== undefined) {
    const answer = findAnswer(answers, named)
    if (answer === undefined) {
      throw new DemoRequestError(`Unknown demo answer "${named}"; known: ${answers.map((a) => a.name).join(', ')}.`, 400, null, 'unknown_answer')
    }
    return answer.text
  }
  const picked = pickAnswer(answers, prompt)
  if (picked !== undefined) return picked.text
  const next = answers[nextTurn() % answers.length]
  return next === undefined ? '' : next.text
}

/** The name of the request's first tool, when the chat request offers tools and does not turn them off. */
export function toolNameOf (route: RouteName, body: JsonObject): string | undefined {
  const tools = route === 'chat' && Array.isArray(body.tools) && body.tool_choice !== 'none' ? body.tools : []
  const firstTool = tools.find(isJsonObject)
  const toolFunction = firstTool !== undefined && isJsonObject(firstTool.function) ? firstTool.function : undefined
  return toolFunction !== undefined && typeof toolFunction.name === 'string' ? toolFunction.name : undefined
}
