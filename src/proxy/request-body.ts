/**
 * @module proxy/request-body
 * The request body before the input stage reads it: parsed with fastify's
 * JSON parser behind a nesting limit, then given the shape checks a
 * provider would make first (the provider still has the last word).
 */
import type { FastifyInstance } from 'fastify'
import { exceedsJsonDepth } from '../http/json-depth.js'
import { isJsonObject } from '../json/json-object.js'
import type { JsonObject } from '../json/json-object.js'
import { badRequest } from './error-replies.js'
import type { InputRoute } from './input-stage.js'

/**
 * Replaces the app's JSON parser by fastify's own (with its
 * prototype-poisoning checks) behind a nesting limit: a deeply nested body
 * is a 400, not a stack overflow.
 */
export function useBoundedJsonParser (app: FastifyInstance, maxDepth: number): void {
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, function parseBoundedJson (request, body, done) {
    const text = String(body)
    if (exceedsJsonDepth(text, maxDepth)) {
      done(badRequest(`The request body nests deeper than ${maxDepth} levels.`, null), undefined)
      return
    }
    parseJson(request, text, done)
  })
}

function checkMessages (body: JsonObject): void {
  if (body.messages === undefined) throw badRequest("Missing required parameter: 'messages'.", 'messages')
  if (!Array.isArray(body.messages) || body.messages.length === 0 || !body.messages.every(isJsonObject)) {
    throw badRequest("Invalid type for 'messages': expected a non-empty array of message objects.", 'messages')
  }
  body.messages.forEach((m, i) => {
    if (isJsonObject(m) && typeof m.role !== 'string') throw badRequest(`Missing required parameter: 'messages[${i}].role'.`, `messages[${i}].role`)
  })
}

/** The OpenAI- and Anthropic-shaped checks of a route's body (other providers' routes bring their own: provider-routes.ts). */
export function validateBody (route: InputRoute, body: unknown): JsonObject {
  if (!isJsonObject(body)) throw badRequest('The request body must be a JSON object.', null)
  if (typeof body.model !== 'string' || body.model.length === 0) {
    throw badRequest(body.model === undefined ? "Missing required parameter: 'model'." : "Invalid type for 'model': expected a non-empty string.", 'model')
  }
  if (body.stream !== undefined && typeof body.stream !== 'boolean') {
    throw badRequest("Invalid type for 'stream': expected a boolean.", 'stream')
  }
  switch (route) {
    case 'chat':
    case 'messages':
      checkMessages(body)
      break
    case 'completions':
      if (typeof body.prompt !== 'string' && !Array.isArray(body.prompt)) {
        throw badRequest(body.prompt === undefined ? "Missing required parameter: 'prompt'." : "Invalid type for 'prompt': expected a string or an array.", 'prompt')
      }
      break
    case 'responses':
      if (body.input !== undefined && typeof body.input !== 'string' && !Array.isArray(body.input)) {
        throw badRequest("Invalid type for 'input': expected a string or an array.", 'input')
      }
      break
  }
  return body
}
