/**
 * @module client/read-cohere
 * Cohere v2 chat events (`type`, repeated as the `event:` name). Channels:
 * `content-delta` text per content index (content) and its `thinking`
 * (reasoning), `tool-plan-delta` (reasoning), `tool-call-start` /
 * `tool-call-delta` arguments per tool call index (tool_arguments).
 *
 * Finish: `message-end` with `delta.finish_reason` (`COMPLETE`,
 * `STOP_SEQUENCE` → stop; `MAX_TOKENS` → length; `TOOL_CALL` → tool_calls;
 * `ERROR` → error). Cohere v2 has no content-filter reason: a Sluice cut
 * ends with `ERROR` and the error text "The answer was stopped by a content
 * policy." (protocols/cohere.ts), which the client reads as
 * content_filter; any other `ERROR` is an in-band error.
 */
import { channelRef, indexOf, isObject, parseObject, stringOf } from './reader-sink.js'
import type { FrameReader, Json, ReaderSink } from './reader-sink.js'

/** The error text of a Sluice cut in a Cohere stream. */
export const kCohereCutMessage = 'The answer was stopped by a content policy.'

function messageOf (obj: Json): Json {
  const delta = isObject(obj.delta) ? obj.delta : {}
  return isObject(delta.message) ? delta.message : {}
}

/**
 * A reader of Cohere v2 chat events.
 * @example
 * const read = createCohereReader(sink)
 * read({ event: 'content-delta', data: '{"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"Hi"}}}}' })
 */
export function createCohereReader (sink: ReaderSink): FrameReader {
  const toolNames = new Map<number, string>()

  return function readCohereFrame (frame) {
    const obj = parseObject(frame.data)
    if (obj === undefined) return
    const index = indexOf(obj.index, 0)
    switch (stringOf(obj.type) ?? frame.event) {
      case 'content-start':
      case 'content-delta': {
        const content = messageOf(obj).content
        if (!isObject(content)) return
        const thinking = stringOf(content.thinking)
        if (thinking !== undefined && thinking !== '') sink.text(channelRef(`c:${index}:thinking`, 'reasoning', index), thinking)
        const text = stringOf(content.text)
        if (text !== undefined && text !== '') sink.text(channelRef(`c:${index}`, 'content', index), text)
        return
      }
      case 'tool-plan-delta': {
        const plan = stringOf(messageOf(obj).tool_plan)
        if (plan !== undefined && plan !== '') sink.text(channelRef('plan', 'reasoning', 0), plan)
        return
      }
      case 'tool-call-start':
      case 'tool-call-delta': {
        const calls = messageOf(obj).tool_calls
        const fn = isObject(calls) && isObject(calls.function) ? calls.function : {}
        const name = stringOf(fn.name)
        if (name !== undefined) toolNames.set(index, name)
        const args = stringOf(fn.arguments)
        if (args !== undefined && args !== '') sink.text(channelRef(`t:${index}`, 'tool_arguments', index, index, toolNames.get(index)), args)
        return
      }
      case 'message-end': {
        const delta = isObject(obj.delta) ? obj.delta : {}
        const raw = stringOf(delta.finish_reason)
        const error = stringOf(delta.error)
        if (raw === 'ERROR' && error === kCohereCutMessage) sink.finish('content_filter', raw, obj)
        else if (raw === 'ERROR' || raw === 'ERROR_TOXIC' || raw === 'ERROR_LIMIT') sink.error({ message: error ?? `The answer ended with ${raw}.`, type: raw }, obj)
        else if (raw !== undefined) sink.finish(raw === 'MAX_TOKENS' ? 'length' : raw === 'TOOL_CALL' ? 'tool_calls' : 'stop', raw, obj)
        sink.terminal()
      }
    }
  }
}
