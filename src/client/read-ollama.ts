/**
 * @module client/read-ollama
 * Ollama `/api/chat` and `/api/generate` NDJSON lines. Channels: the
 * message `content` and the generate `response` (content), `thinking`
 * (reasoning), and each `message.tool_calls[].function.arguments` (an
 * object, told as one tool_arguments delta of JSON text).
 *
 * Finish: the `done: true` line's `done_reason` (`stop`, `length`;
 * `content_filter` is how a Sluice cut ends it). Errors: `{ "error": "…" }`.
 */
import { channelRef, isObject, parseObject, stringOf } from './reader-sink.js'
import type { FrameReader, Json, ReaderSink } from './reader-sink.js'
import type { FinishReason } from './types.js'

function ollamaReason (raw: string, calledTool: boolean): FinishReason {
  if (raw === 'length') return 'length'
  if (raw === 'content_filter') return 'content_filter'
  return calledTool ? 'tool_calls' : 'stop'
}

/**
 * A reader of Ollama NDJSON lines.
 * @example
 * const read = createOllamaReader(sink)
 * read({ data: '{"message":{"role":"assistant","content":"Hi"},"done":false}' })
 */
export function createOllamaReader (sink: ReaderSink): FrameReader {
  let calls = 0

  function texts (holder: Json, contentKey: string, thinkingKey: string, property: string): void {
    const thinking = stringOf(holder.thinking)
    if (thinking !== undefined && thinking !== '') sink.text(channelRef(thinkingKey, 'reasoning', 0), thinking)
    const content = stringOf(holder[property])
    if (content !== undefined && content !== '') sink.text(channelRef(contentKey, 'content', 0), content)
  }

  return function readOllamaFrame (frame) {
    const obj = parseObject(frame.data)
    if (obj === undefined) return
    if (isObject(obj.message)) {
      texts(obj.message, 'message.content', 'message.thinking', 'content')
      for (const call of Array.isArray(obj.message.tool_calls) ? obj.message.tool_calls : []) {
        if (!isObject(call) || !isObject(call.function)) continue
        const n = calls++
        sink.text(channelRef(`tool:${n}`, 'tool_arguments', 0, n, stringOf(call.function.name)), JSON.stringify(call.function.arguments ?? {}))
      }
    } else {
      texts(obj, 'response', 'thinking', 'response')
    }
    if (obj.done === true) {
      const raw = stringOf(obj.done_reason)
      sink.finish(raw === undefined ? 'stop' : ollamaReason(raw, calls > 0), raw, obj)
      sink.terminal()
    }
  }
}
