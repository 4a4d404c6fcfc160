/**
 * @module demo/wire-format
 * What every API the demo upstream speaks needs to render one answer: the
 * answer's context, the shape of a wire format (streamed frames and the
 * non-streamed body), and the framing helpers they share. One module per
 * API renders it: chat-format.ts, completions-format.ts,
 * responses-format.ts, messages-format.ts.
 */
import type { JsonObject } from '../json/json-object.js'

/** The generation routes, one per API. */
export type RouteName = 'chat' | 'completions' | 'responses' | 'messages'

/** Everything a wire format needs to render one answer. */
export interface AnswerContext {
  id: string
  created: number
  model: string
  /** One text per choice; `n` choices. */
  texts: readonly string[]
  promptTokens: number
  includeUsage: boolean
  /** Chat only: stream a call to this function instead of text. */
  toolName: string | undefined
  toolCallId: string
  /** NDJSON framing instead of SSE (chat and completions). */
  ndjson: boolean
  /** The `instructions` of a Responses request, echoed as the API does. */
  instructions: unknown
}

/** How one API frames a streamed answer; frames are complete (`data: ...\n\n`). */
export interface WireFormat {
  readonly streamContentType: string
  head(): string[]
  delta(index: number, text: string): string
  tail(): string[]
  /** A frame whose payload is not JSON, framed as this format frames events. */
  malformed(): string
  /** The non-streaming body. */
  body(): JsonObject
}

export const kSseContentType = 'text/event-stream; charset=utf-8'

export function sseData (json: unknown): string {
  return `data: ${JSON.stringify(json)}\n\n`
}

export function sseEvent (name: string, json: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(json)}\n\n`
}

/** A rough token count (about four characters a token), enough for plausible `usage` fields. */
export function countTokens (text: string): number {
  return Math.max(1, Math.ceil(text.length / 4))
}

/** The `usage` of an OpenAI chat or completions answer. */
export function openAiUsage (ctx: AnswerContext): JsonObject {
  const completion = ctx.texts.reduce((sum, text) => sum + countTokens(text), 0)
  return { prompt_tokens: ctx.promptTokens, completion_tokens: completion, total_tokens: ctx.promptTokens + completion }
}

/** Chat and completions frames: SSE `data:` events, or NDJSON lines (`ndjson`). */
export function openAiFraming (ctx: AnswerContext): { contentType: string, frame: (json: JsonObject) => string, done: string[], malformed: string } {
  return ctx.ndjson
    ? { contentType: 'application/x-ndjson', frame: (json) => JSON.stringify(json) + '\n', done: [], malformed: '{not json\n' }
    : { contentType: kSseContentType, frame: sseData, done: ['data: [DONE]\n\n'], malformed: 'data: {not json\n\n' }
}
