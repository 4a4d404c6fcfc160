/**
 * @module client/read-anthropic
 * Anthropic Messages events. One channel per content block, by the block
 * type `content_block_start` names: `text` (content, `text_delta`),
 * `thinking` (reasoning, `thinking_delta`), `tool_use` and its kin
 * (tool_arguments, `input_json_delta`, named after the tool).
 *
 * Finish: `message_delta.delta.stop_reason` (`end_turn`, `stop_sequence`,
 * `pause_turn` → stop; `max_tokens` → length; `tool_use` → tool_calls;
 * `refusal` → refusal, which is how a Sluice cut ends it, as Anthropic's
 * own classifiers do), then `message_stop`. Errors: `event: error`.
 */
import { channelRef, indexOf, isObject, parseObject, stringOf } from './reader-sink.js'
import type { FrameReader, ReaderSink } from './reader-sink.js'
import type { FinishReason, TextChannel } from './types.js'

interface Block {
  channel: TextChannel
  name?: string | undefined
}

const kBlockChannels: Readonly<Record<string, TextChannel>> = {
  text: 'content',
  thinking: 'reasoning',
  tool_use: 'tool_arguments',
  server_tool_use: 'tool_arguments',
  mcp_tool_use: 'tool_arguments'
}

const kDeltas: Readonly<Record<string, { channel: TextChannel, property: string }>> = {
  text_delta: { channel: 'content', property: 'text' },
  thinking_delta: { channel: 'reasoning', property: 'thinking' },
  input_json_delta: { channel: 'tool_arguments', property: 'partial_json' }
}

function anthropicReason (raw: string): FinishReason {
  switch (raw) {
    case 'max_tokens':
    case 'model_context_window_exceeded': return 'length'
    case 'tool_use': return 'tool_calls'
    case 'refusal': return 'refusal'
    default: return 'stop'
  }
}

/**
 * A reader of Anthropic Messages events.
 * @example
 * const read = createAnthropicReader(sink)
 * read({ event: 'content_block_delta', data: '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}' })
 */
export function createAnthropicReader (sink: ReaderSink): FrameReader {
  const blocks = new Map<number, Block>()

  function text (index: number, block: Block, value: string): void {
    if (value !== '') sink.text(channelRef(String(index), block.channel, 0, index, block.channel === 'tool_arguments' ? block.name : undefined), value)
  }

  return function readAnthropicFrame (frame) {
    const obj = parseObject(frame.data)
    if (obj === undefined) return
    switch (stringOf(obj.type) ?? frame.event) {
      case 'content_block_start': {
        const index = indexOf(obj.index, 0)
        const start = isObject(obj.content_block) ? obj.content_block : {}
        const channel = kBlockChannels[stringOf(start.type) ?? '']
        if (channel === undefined) return
        const block: Block = { channel, name: stringOf(start.name) }
        blocks.set(index, block)
        // A text or thinking block may start with text of its own.
        const first = stringOf(channel === 'content' ? start.text : channel === 'reasoning' ? start.thinking : undefined)
        if (first !== undefined) text(index, block, first)
        return
      }
      case 'content_block_delta': {
        const index = indexOf(obj.index, 0)
        const delta = isObject(obj.delta) ? obj.delta : {}
        const kind = kDeltas[stringOf(delta.type) ?? '']
        if (kind === undefined) return
        const value = stringOf(delta[kind.property])
        if (value === undefined) return
        let block = blocks.get(index)
        if (block === undefined || block.channel !== kind.channel) blocks.set(index, (block = { channel: kind.channel, name: block?.name }))
        text(index, block, value)
        return
      }
      case 'message_delta': {
        const delta = isObject(obj.delta) ? obj.delta : {}
        const raw = stringOf(delta.stop_reason)
        if (raw !== undefined) sink.finish(anthropicReason(raw), raw, obj)
        return
      }
      case 'message_stop':
        sink.terminal()
    }
  }
}
