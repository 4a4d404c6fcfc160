/**
 * @module demo/completions-format
 * OpenAI legacy Completions as the demo upstream writes it
 * (https://platform.openai.com/docs/api-reference/completions): streamed
 * `text_completion` chunks, or the same object whole.
 */
import type { JsonObject } from '../json/json-object.js'
import { openAiFraming, openAiUsage } from './wire-format.js'
import type { AnswerContext, WireFormat } from './wire-format.js'

export function createCompletionsFormat (ctx: AnswerContext): WireFormat {
  const { contentType, frame, done, malformed } = openAiFraming(ctx)
  const completion = (choices: JsonObject[], usage?: JsonObject): JsonObject =>
    ({ id: ctx.id, object: 'text_completion', created: ctx.created, model: ctx.model, choices, ...(usage === undefined ? {} : { usage }) })
  return {
    streamContentType: contentType,
    head: () => [],
    delta: (index, text) => frame(completion([{ text, index, logprobs: null, finish_reason: null }])),
    tail: () => {
      const frames = ctx.texts.map((_, index) => frame(completion([{ text: '', index, logprobs: null, finish_reason: 'stop' }])))
      if (ctx.includeUsage) frames.push(frame(completion([], openAiUsage(ctx))))
      return [...frames, ...done]
    },
    malformed: () => malformed,
    body: () => completion(ctx.texts.map((text, index) => ({ text, index, logprobs: null, finish_reason: 'stop' })), openAiUsage(ctx))
  }
}
