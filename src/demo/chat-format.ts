/**
 * @module demo/chat-format
 * OpenAI Chat Completions as the demo upstream writes it: streamed chunks
 * (https://platform.openai.com/docs/api-reference/chat-streaming), or a
 * `chat.completion` body; text, or one call to the request's first tool.
 */
import type { JsonObject } from '../json/json-object.js'
import { openAiFraming, openAiUsage } from './wire-format.js'
import type { AnswerContext, WireFormat } from './wire-format.js'

export function createChatFormat (ctx: AnswerContext): WireFormat {
  const { contentType, frame, done, malformed } = openAiFraming(ctx)
  const envelope = (): JsonObject => ({ id: ctx.id, object: 'chat.completion.chunk', created: ctx.created, model: ctx.model, system_fingerprint: null })
  const chunk = (choices: JsonObject[]): string =>
    // With include_usage every chunk carries `usage: null` except the last one (API reference).
    frame({ ...envelope(), choices, ...(ctx.includeUsage ? { usage: null } : {}) })
  const finishReason = ctx.toolName === undefined ? 'stop' : 'tool_calls'
  const firstDelta = (): JsonObject => ctx.toolName === undefined
    ? { role: 'assistant', content: '', refusal: null }
    : { role: 'assistant', content: null, tool_calls: [{ index: 0, id: ctx.toolCallId, type: 'function', function: { name: ctx.toolName, arguments: '' } }] }
  const message = (text: string): JsonObject => ctx.toolName === undefined
    ? { role: 'assistant', content: text, refusal: null }
    : { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: ctx.toolCallId, type: 'function', function: { name: ctx.toolName, arguments: text } }] }
  return {
    streamContentType: contentType,
    head: () => ctx.texts.map((_, index) => chunk([{ index, delta: firstDelta(), logprobs: null, finish_reason: null }])),
    delta: (index, text) => chunk([{
      index,
      delta: ctx.toolName === undefined ? { content: text } : { tool_calls: [{ index: 0, function: { arguments: text } }] },
      logprobs: null,
      finish_reason: null
    }]),
    tail: () => {
      const frames = ctx.texts.map((_, index) => chunk([{ index, delta: {}, logprobs: null, finish_reason: finishReason }]))
      if (ctx.includeUsage) frames.push(frame({ ...envelope(), choices: [], usage: openAiUsage(ctx) }))
      return [...frames, ...done]
    },
    malformed: () => malformed,
    body: () => ({
      id: ctx.id,
      object: 'chat.completion',
      created: ctx.created,
      model: ctx.model,
      system_fingerprint: null,
      choices: ctx.texts.map((text, index) => ({ index, message: message(text), logprobs: null, finish_reason: finishReason })),
      usage: openAiUsage(ctx)
    })
  }
}
