/**
 * @module pseudonym/conversation-id
 * Which conversation a request belongs to, so that turn N+1 finds the
 * placeholders of turn N. A client that knows names it (a header); else it
 * is derived from the history every chat API resends: the first message of
 * the conversation, as the client wrote it, does not change between turns.
 * A request with no history (a single prompt) is a conversation of its own.
 */
import { createHash } from 'node:crypto'
import { isJsonObject } from '../json/json-object.js'

/** Where each API keeps the turns: chat and messages `messages`, Responses `input`, Gemini `contents`. */
const kHistoryFields = ['messages', 'input', 'contents'] as const
/** Roles that are no turn of the conversation (instructions can change between turns). */
const kNotTurns = new Set(['system', 'developer'])

function firstTurn (body: Record<string, unknown>): unknown {
  for (const field of kHistoryFields) {
    const history = body[field]
    if (Array.isArray(history)) {
      const turn = history.find((item) => !(isJsonObject(item) && typeof item.role === 'string' && kNotTurns.has(item.role)))
      if (turn !== undefined) return turn
    } else if (typeof history === 'string') {
      return history
    }
  }
  return body.prompt
}

/**
 * The conversation id of a request: `header` when the client sent one,
 * else a digest of its first turn (undefined when the body has none).
 */
export function conversationIdOf (body: Record<string, unknown>, header: string | undefined): string | undefined {
  if (header !== undefined && header !== '') return `header:${header}`
  const turn = firstTurn(body)
  if (turn === undefined) return undefined
  return `history:${createHash('sha256').update(JSON.stringify(turn)).digest('base64url')}`
}
