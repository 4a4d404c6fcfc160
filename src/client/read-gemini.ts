/**
 * @module client/read-gemini
 * Gemini `streamGenerateContent?alt=sse` chunks: each a
 * GenerateContentResponse with `candidates[]`. Channels per candidate: its
 * text parts (content) and its thought parts (`thought: true`, reasoning);
 * a `functionCall` part arrives whole, and is told as one tool_arguments
 * delta holding its `args` as JSON text.
 *
 * Finish: the `finishReason` of a candidate (`STOP`, `MAX_TOKENS`; `SAFETY`
 * and the other filter reasons → content_filter, which is how a Sluice cut
 * ends it), or `promptFeedback.blockReason`. The stream has no end marker.
 * Errors: Google's `{ error: { code, message, status } }`.
 */
import { channelRef, indexOf, isObject, parseObject, stringOf } from './reader-sink.js'
import type { FrameReader, ReaderSink } from './reader-sink.js'
import type { FinishReason } from './types.js'

/** Finish reasons that mean a filter stopped the candidate (FinishReason in the API reference). */
const kFiltered = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY', 'LANGUAGE'])

function geminiReason (raw: string, calledTool: boolean): FinishReason {
  if (kFiltered.has(raw)) return 'content_filter'
  if (raw === 'MAX_TOKENS') return 'length'
  return calledTool ? 'tool_calls' : 'stop'
}

/**
 * A reader of Gemini SSE chunks.
 * @example
 * const read = createGeminiReader(sink)
 * read({ data: '{"candidates":[{"index":0,"content":{"parts":[{"text":"Hi"}]},"finishReason":"STOP"}]}' })
 */
export function createGeminiReader (sink: ReaderSink): FrameReader {
  let calls = 0
  const called = new Set<number>()

  return function readGeminiFrame (frame) {
    const obj = parseObject(frame.data)
    if (obj === undefined) return
    if (Array.isArray(obj.candidates)) {
      obj.candidates.forEach((candidate: unknown, k) => {
        if (!isObject(candidate)) return
        const index = indexOf(candidate.index, k)
        const content = isObject(candidate.content) ? candidate.content : {}
        for (const part of Array.isArray(content.parts) ? content.parts : []) {
          if (!isObject(part)) continue
          const text = stringOf(part.text)
          if (text !== undefined && text !== '') {
            sink.text(part.thought === true ? channelRef(`${index}:thought`, 'reasoning', index) : channelRef(`${index}:text`, 'content', index), text)
          }
          if (isObject(part.functionCall)) {
            const n = calls++
            called.add(index)
            sink.text(channelRef(`${index}:call:${n}`, 'tool_arguments', index, n, stringOf(part.functionCall.name)), JSON.stringify(part.functionCall.args ?? {}))
          }
        }
        const raw = stringOf(candidate.finishReason)
        if (raw !== undefined) sink.finish(geminiReason(raw, called.has(index)), raw, obj)
      })
    }
    const feedback = isObject(obj.promptFeedback) ? obj.promptFeedback : {}
    const blocked = stringOf(feedback.blockReason)
    if (blocked !== undefined) sink.finish('content_filter', blocked, obj)
  }
}
