/**
 * @module demo/responses-format
 * The OpenAI Responses API as the demo upstream writes it: the streamed
 * events of one message item with one `output_text` part
 * (https://platform.openai.com/docs/api-reference/responses-streaming), or
 * the `response` object whole.
 */
import type { JsonObject } from '../json/json-object.js'
import { countTokens, kSseContentType, sseEvent } from './wire-format.js'
import type { AnswerContext, WireFormat } from './wire-format.js'

export function createResponsesFormat (ctx: AnswerContext): WireFormat {
  const text = ctx.texts[0] ?? ''
  const itemId = ctx.id.replace(/^resp_/, 'msg_')
  let sequence = 0
  const event = (type: string, fields: JsonObject): string => sseEvent(type, { type, sequence_number: sequence++, ...fields })
  const outputTokens = countTokens(text)
  const part = (t: string): JsonObject => ({ type: 'output_text', annotations: [], logprobs: [], text: t })
  const item = (status: string, content: JsonObject[]): JsonObject => ({ id: itemId, type: 'message', status, content, role: 'assistant' })
  const response = (status: string, output: JsonObject[], withUsage: boolean): JsonObject => ({
    id: ctx.id,
    object: 'response',
    created_at: ctx.created,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: ctx.instructions ?? null,
    max_output_tokens: null,
    model: ctx.model,
    output,
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: false,
    temperature: 1,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    truncation: 'disabled',
    usage: withUsage
      ? {
          input_tokens: ctx.promptTokens,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: outputTokens,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: ctx.promptTokens + outputTokens
        }
      : null,
    user: null,
    metadata: {}
  })
  const where = { item_id: itemId, output_index: 0, content_index: 0 }
  return {
    streamContentType: kSseContentType,
    head: () => [
      event('response.created', { response: response('in_progress', [], false) }),
      event('response.in_progress', { response: response('in_progress', [], false) }),
      event('response.output_item.added', { output_index: 0, item: item('in_progress', []) }),
      event('response.content_part.added', { ...where, part: part('') })
    ],
    delta: (_index, delta) => event('response.output_text.delta', { ...where, delta, logprobs: [] }),
    tail: () => [
      event('response.output_text.done', { ...where, text, logprobs: [] }),
      event('response.content_part.done', { ...where, part: part(text) }),
      event('response.output_item.done', { output_index: 0, item: item('completed', [part(text)]) }),
      event('response.completed', { response: response('completed', [item('completed', [part(text)])], true) })
    ],
    malformed: () => 'event: response.output_text.delta\ndata: {not json\n\n',
    // No `output_text` here: the API does not send it, the SDKs compute it from `output`.
    body: () => response('completed', [item('completed', [part(text)])], true)
  }
}
