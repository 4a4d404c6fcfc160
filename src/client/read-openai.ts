/**
 * @module client/read-openai
 * OpenAI Chat Completions and legacy Completions chunks, over SSE (ending
 * with `data: [DONE]`) or NDJSON (no end marker). Channels per choice:
 * `delta.content` (content), `delta.refusal` (refusal),
 * `delta.reasoning_content` / `delta.reasoning` (reasoning, as compatible
 * servers send it), `delta.tool_calls[j].function.arguments`
 * (tool_arguments, part `j`), and a completion's `text` (content).
 *
 * A Sluice cut ends the stream with one chunk giving every open choice
 * `finish_reason: "content_filter"`, then `[DONE]`; an upstream failure
 * with `{"error":{…,"code":"SLUICE_UPSTREAM"}}` (protocols/openai-choices.ts).
 */
import { channelRef, indexOf, isObject, parseObject, stringOf } from './reader-sink.js'
import type { FrameReader, Json, ReaderSink } from './reader-sink.js'
import type { FinishReason } from './types.js'

/** OpenAI's finish reasons; anything else reads as `stop` (the wire word stays in `raw`). */
export function openAiReason (raw: string): FinishReason {
  switch (raw) {
    case 'length': return 'length'
    case 'content_filter': return 'content_filter'
    case 'tool_calls':
    case 'function_call': return 'tool_calls'
    default: return 'stop'
  }
}

/**
 * A reader of choices chunks (chat, completions, NDJSON chat).
 * @example
 * const read = createOpenAiReader(sink)
 * read({ data: '{"choices":[{"index":0,"delta":{"content":"Hi"}}]}' })
 */
export function createOpenAiReader (sink: ReaderSink): FrameReader {
  /** Tool names by `choice:tool`, said once in the call's first delta. */
  const toolNames = new Map<string, string>()

  function readDelta (delta: Json, i: number): void {
    const content = stringOf(delta.content)
    if (content !== undefined && content !== '') sink.text(channelRef(`${i}:content`, 'content', i), content)
    const refusal = stringOf(delta.refusal)
    if (refusal !== undefined && refusal !== '') sink.text(channelRef(`${i}:refusal`, 'refusal', i), refusal)
    const reasoning = stringOf(delta.reasoning_content) ?? stringOf(delta.reasoning)
    if (reasoning !== undefined && reasoning !== '') sink.text(channelRef(`${i}:reasoning`, 'reasoning', i), reasoning)
    if (!Array.isArray(delta.tool_calls)) return
    delta.tool_calls.forEach((call: unknown, k) => {
      if (!isObject(call) || !isObject(call.function)) return
      const j = indexOf(call.index, k)
      const key = `${i}:tool:${j}`
      const name = stringOf(call.function.name)
      if (name !== undefined) toolNames.set(key, name)
      const args = stringOf(call.function.arguments)
      if (args !== undefined && args !== '') sink.text(channelRef(key, 'tool_arguments', i, j, toolNames.get(key)), args)
    })
  }

  return function readOpenAiFrame (frame) {
    if (frame.data === '[DONE]') {
      sink.terminal()
      return
    }
    const obj = parseObject(frame.data)
    if (obj === undefined || !Array.isArray(obj.choices)) return
    obj.choices.forEach((choice: unknown, k) => {
      if (!isObject(choice)) return
      const i = indexOf(choice.index, k)
      if (isObject(choice.delta)) readDelta(choice.delta, i)
      const text = stringOf(choice.text)
      if (text !== undefined && text !== '') sink.text(channelRef(`${i}:content`, 'content', i), text)
      const reason = stringOf(choice.finish_reason)
      if (reason !== undefined) sink.finish(openAiReason(reason), reason, obj)
    })
  }
}
