/**
 * @module client/read-openai-responses
 * OpenAI Responses API events (`event:` = `data.type`). Channels:
 * `response.output_text.delta` (content), `response.refusal.delta`
 * (refusal), `response.reasoning_text.delta` and
 * `response.reasoning_summary_text.delta` (reasoning),
 * `response.function_call_arguments.delta` and
 * `response.custom_tool_call_input.delta` (tool_arguments, named from
 * `response.output_item.added`). The full-text copies in `*.done` and
 * snapshots are not read: the deltas already said it all (the proxy makes
 * both agree).
 *
 * Finish: `response.completed` (`tool_calls` when the output has a tool
 * call), `response.incomplete` with `incomplete_details.reason`
 * (`max_output_tokens` → length; `content_filter`, how a Sluice cut ends
 * it), `response.failed` and `event: error` (in-band errors, with `code`).
 */
import { channelRef, indexOf, isObject, parseObject, stringOf } from './reader-sink.js'
import type { FrameReader, Json, ReaderSink } from './reader-sink.js'
import type { TextChannel } from './types.js'

interface DeltaKind {
  prefix: string
  channel: TextChannel
  sub: 'content_index' | 'summary_index' | undefined
}

const kDeltaKinds: Readonly<Record<string, DeltaKind>> = {
  'response.output_text.delta': { prefix: 'out', channel: 'content', sub: 'content_index' },
  'response.refusal.delta': { prefix: 'ref', channel: 'refusal', sub: 'content_index' },
  'response.reasoning_text.delta': { prefix: 'rsn', channel: 'reasoning', sub: 'content_index' },
  'response.reasoning_summary_text.delta': { prefix: 'sum', channel: 'reasoning', sub: 'summary_index' },
  'response.function_call_arguments.delta': { prefix: 'fn', channel: 'tool_arguments', sub: undefined },
  'response.custom_tool_call_input.delta': { prefix: 'ctool', channel: 'tool_arguments', sub: undefined }
}

const kToolItems = new Set(['function_call', 'custom_tool_call', 'mcp_call'])

function hasToolCall (response: Json): boolean {
  return Array.isArray(response.output) && response.output.some((item: unknown) => isObject(item) && typeof item.type === 'string' && kToolItems.has(item.type))
}

/**
 * A reader of Responses API events.
 * @example
 * const read = createOpenAiResponsesReader(sink)
 * read({ event: 'response.output_text.delta', data: '{"type":"response.output_text.delta","output_index":0,"content_index":0,"delta":"Hi"}' })
 */
export function createOpenAiResponsesReader (sink: ReaderSink): FrameReader {
  const toolNames = new Map<number, string>()

  return function readResponsesFrame (frame) {
    const obj = parseObject(frame.data)
    if (obj === undefined) return
    const type = stringOf(obj.type) ?? frame.event
    if (type === undefined) return
    const kind = kDeltaKinds[type]
    if (kind !== undefined) {
      const delta = stringOf(obj.delta)
      if (delta === undefined || delta === '') return
      const oi = indexOf(obj.output_index, 0)
      if (kind.sub === undefined) {
        sink.text(channelRef(`${kind.prefix}:${oi}`, kind.channel, oi, undefined, toolNames.get(oi)), delta)
      } else {
        const sub = indexOf(obj[kind.sub], 0)
        sink.text(channelRef(`${kind.prefix}:${oi}:${sub}`, kind.channel, oi, sub), delta)
      }
      return
    }
    switch (type) {
      case 'response.output_item.added': {
        const item = obj.item
        const name = isObject(item) ? stringOf(item.name) : undefined
        if (name !== undefined) toolNames.set(indexOf(obj.output_index, 0), name)
        return
      }
      case 'response.completed': {
        const response = isObject(obj.response) ? obj.response : {}
        sink.finish(hasToolCall(response) ? 'tool_calls' : 'stop', stringOf(response.status) ?? 'completed', obj)
        sink.terminal()
        return
      }
      case 'response.incomplete': {
        const response = isObject(obj.response) ? obj.response : {}
        const details = isObject(response.incomplete_details) ? response.incomplete_details : {}
        const raw = stringOf(details.reason) ?? 'incomplete'
        sink.finish(raw === 'content_filter' ? 'content_filter' : raw === 'max_output_tokens' ? 'length' : 'stop', raw, obj)
        sink.terminal()
        return
      }
      case 'response.failed': {
        const response = isObject(obj.response) ? obj.response : {}
        const error = isObject(response.error) ? response.error : {}
        sink.error({ message: stringOf(error.message) ?? 'The response failed.', code: stringOf(error.code) }, obj)
        sink.terminal()
        return
      }
      case 'error':
        // Sluice's in-band error (protocols/openai-responses.ts), as the API's own: `code`, `message` at the top.
        sink.error({ message: stringOf(obj.message) ?? 'The stream reported an error.', code: stringOf(obj.code), type: 'error' }, obj)
    }
  }
}
