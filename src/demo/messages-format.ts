/**
 * @module demo/messages-format
 * Anthropic Messages as the demo upstream writes it: the streamed events of
 * one text block (https://docs.anthropic.com/en/api/messages-streaming), or
 * the `message` whole.
 */
import type { JsonObject } from '../json/json-object.js'
import { countTokens, kSseContentType, sseEvent } from './wire-format.js'
import type { AnswerContext, WireFormat } from './wire-format.js'

export function createMessagesFormat (ctx: AnswerContext): WireFormat {
  const text = ctx.texts[0] ?? ''
  const message = (content: JsonObject[], stopReason: string | null, outputTokens: number): JsonObject => ({
    id: ctx.id,
    type: 'message',
    role: 'assistant',
    model: ctx.model,
    content,
    stop_reason: stopReason,
    stop_sequence: null,
    usage: { input_tokens: ctx.promptTokens, output_tokens: outputTokens }
  })
  return {
    streamContentType: kSseContentType,
    head: () => [
      sseEvent('message_start', { type: 'message_start', message: message([], null, 1) }),
      sseEvent('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
      sseEvent('ping', { type: 'ping' })
    ],
    delta: (_index, delta) =>
      sseEvent('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: delta } }),
    tail: () => [
      sseEvent('content_block_stop', { type: 'content_block_stop', index: 0 }),
      sseEvent('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens: countTokens(text) }
      }),
      sseEvent('message_stop', { type: 'message_stop' })
    ],
    malformed: () => 'event: content_block_delta\ndata: {not json\n\n',
    body: () => message([{ type: 'text', text }], 'end_turn', countTokens(text))
  }
}
