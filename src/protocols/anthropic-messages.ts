/**
 * @module protocols/anthropic-messages
 * Anthropic Messages streams (`message_start`, `content_block_start`,
 * `content_block_delta`, `content_block_stop`, `message_delta`,
 * `message_stop`, `ping`, `error`; the `event:` name equals `data.type`,
 * and Anthropic's SDKs dispatch on it, so inserted events carry it).
 *
 * One channel per content block (`<index>`), by block type:
 * - `text` blocks: `text_delta.text`;
 * - `tool_use` (and `server_tool_use`, `mcp_tool_use`) blocks:
 *   `input_json_delta.partial_json`, the tool input as JSON text;
 * - `thinking` blocks: `thinking_delta.thinking`. Redacting thinking text
 *   invalidates its `signature` if the client sends the block back; the
 *   compliance rules win.
 * `citations_delta` (quotes of the user's own documents), `signature_delta`
 * and `redacted_thinking` pass through.
 *
 * A block's held-back text is flushed in an inserted `content_block_delta`
 * right before its `content_block_stop`; `message_delta` with a
 * `stop_reason`, `message_stop` and the end of input flush any block left
 * open. A delta whose released text is empty is dropped. Unchanged events
 * go out as the exact upstream data string.
 *
 * Cut: Anthropic has no `content_filter`; the nearest is `stop_reason:
 * "refusal"`, which its API sends when its own classifiers stop a response
 * mid-stream. So: the delta that tripped the cut with the text released
 * before the match, `content_block_stop` for each open block, then
 * `message_delta` with `stop_reason: "refusal"` and the last known usage,
 * then `message_stop`.
 *
 * A non-streamed body (`type: "message"`, `sanitizeAnthropicMessagesBody`):
 * `content[]` `text` and `thinking` blocks, each scanned whole on its
 * block's channel, and every string in the `input` object of any other
 * block (`tool_use` and its kin), each its own whole text, so the input
 * stays the object it was whatever is redacted; their findings name the
 * block's channel, as the stream's do. Cut: `stop_reason: "refusal"` and
 * `stop_sequence: null`, as the stream's cut ends.
 */
import type { Finding, Scanner } from '../scanner/types.js'
import { isJsonObject } from '../json/json-object.js'
import type { JsonObject } from '../json/json-object.js'
import { createBodyScan, scanStringLeaves } from './body-scan.js'
import { forEachRecord, indexOf, isText, parseTypedEvent } from './json-frame.js'
import type {
  ChannelInfo, CodecContext, EmitFrame, FailureInfo, JsonPath, JsonSanitizeOptions, JsonSanitizeResult, JsonValue, ProtocolCodec, TextField
} from './types.js'

interface BlockKind {
  readonly field: TextField
  /** The delta type that carries this block's text, and its text property. */
  readonly deltaType: string
  readonly property: string
}

const kTextBlock: BlockKind = { field: 'text', deltaType: 'text_delta', property: 'text' }
const kToolBlock: BlockKind = { field: 'tool_arguments', deltaType: 'input_json_delta', property: 'partial_json' }
const kThinkingBlock: BlockKind = { field: 'thinking', deltaType: 'thinking_delta', property: 'thinking' }

const kBlockKinds: Readonly<Record<string, BlockKind>> = {
  text: kTextBlock,
  tool_use: kToolBlock,
  server_tool_use: kToolBlock,
  mcp_tool_use: kToolBlock,
  thinking: kThinkingBlock
}

const kDeltaKinds: Readonly<Record<string, BlockKind>> = {
  text_delta: kTextBlock,
  input_json_delta: kToolBlock,
  thinking_delta: kThinkingBlock
}

/**
 * The strings this codec scans itself: a known delta's text property and a
 * text or thinking block's starting text. The generic JSON path scans the
 * rest (see generic-json.ts).
 */
function ownsPath (frame: JsonValue, path: JsonPath): boolean {
  if (path.length !== 2 || !isJsonObject(frame)) return false
  if (frame.type === 'content_block_delta' && path[0] === 'delta') {
    const delta = frame.delta
    const kind = isJsonObject(delta) && typeof delta.type === 'string' ? kDeltaKinds[delta.type] : undefined
    return kind !== undefined && kind.property === path[1]
  }
  if (frame.type === 'content_block_start' && path[0] === 'content_block') {
    const block = frame.content_block
    const kind = isJsonObject(block) && typeof block.type === 'string' ? kBlockKinds[block.type] : undefined
    return kind !== undefined && kind !== kToolBlock && kind.property === path[1]
  }
  return false
}

/** `message_start` carries a snapshot of the message: its strings are values, not deltas. */
function snapshotPath (frame: JsonValue, path: JsonPath): boolean {
  return isJsonObject(frame) && frame.type === 'message_start' && path[0] === 'message'
}

function channelOf (index: number, kind: BlockKind): ChannelInfo {
  return { key: String(index), choice: index, field: kind.field }
}

/** Creates a codec for Anthropic Messages event streams. */
export function createAnthropicMessagesCodec (ctx: CodecContext): ProtocolCodec {
  const channels = ctx.channels
  /** Blocks started and not yet stopped, with the kind of text they carry. */
  const openBlocks = new Map<number, BlockKind | undefined>()
  let outputTokens = 0

  function eventOf (obj: JsonObject): EmitFrame {
    return { event: obj.type as string, value: obj }
  }

  function flushBlock (index: number): void {
    const kind = openBlocks.get(index)
    if (kind === undefined) return
    const rest = channels.finish(String(index))
    if (rest === '') return
    ctx.emit(eventOf({ type: 'content_block_delta', index, delta: { type: kind.deltaType, [kind.property]: rest } }))
  }

  function flushAll (): void {
    for (const index of [...openBlocks.keys()].sort((a, b) => a - b)) flushBlock(index)
  }

  function noteUsage (usage: unknown): void {
    if (isJsonObject(usage) && typeof usage.output_tokens === 'number') outputTokens = usage.output_tokens
  }

  /** Handles one event; returns whether it changed, or 'drop'. */
  function handle (type: string, obj: JsonObject): boolean | 'drop' {
    switch (type) {
      case 'message_start': {
        if (isJsonObject(obj.message)) noteUsage(obj.message.usage)
        return false
      }
      case 'content_block_start': {
        const index = indexOf(obj.index, 0)
        const block = obj.content_block
        const kind = isJsonObject(block) && typeof block.type === 'string' ? kBlockKinds[block.type] : undefined
        openBlocks.set(index, kind)
        // Tool input starts as an (empty) object, not text; text and
        // thinking blocks start empty, but scan them if they do not.
        if (kind === undefined || kind === kToolBlock || !isJsonObject(block)) return false
        const text = block[kind.property]
        if (!isText(text)) return false
        const released = channels.scan(channelOf(index, kind), text)
        if (released === text) return false
        block[kind.property] = released
        return true
      }
      case 'content_block_delta': {
        const index = indexOf(obj.index, 0)
        const delta = obj.delta
        if (!isJsonObject(delta) || typeof delta.type !== 'string') return false
        const kind = kDeltaKinds[delta.type]
        if (kind === undefined) return false
        if (!openBlocks.has(index) || openBlocks.get(index) === undefined) openBlocks.set(index, kind)
        const text = delta[kind.property]
        if (!isText(text)) return false
        const released = channels.scan(channelOf(index, kind), text)
        if (released === text) return false
        if (released === '') return 'drop'
        delta[kind.property] = released
        return true
      }
      case 'content_block_stop': {
        const index = indexOf(obj.index, 0)
        flushBlock(index)
        openBlocks.delete(index)
        return false
      }
      case 'message_delta': {
        noteUsage(obj.usage)
        const delta = obj.delta
        if (isJsonObject(delta) && typeof delta.stop_reason === 'string') {
          ctx.upstreamFinish(delta.stop_reason)
          flushAll()
        }
        return false
      }
      case 'message_stop':
        flushAll()
        return false
      default:
        return false
    }
  }

  return {
    protocol: 'anthropic-messages',
    cutReason: 'refusal',
    ownsPath,
    snapshotPath,
    frame (frame) {
      const event = parseTypedEvent(ctx, frame)
      if (event === undefined) return
      const { obj, type } = event
      const result = handle(type, obj)
      if (result === 'drop') return
      if (channels.cutFinding() !== undefined && type !== 'content_block_delta' && type !== 'content_block_start') return
      ctx.emit({ event: frame.event, id: frame.id, value: obj })
    },
    end () {
      flushAll()
    },
    cut (_finding: Finding) {
      for (const index of [...openBlocks.keys()].sort((a, b) => a - b)) {
        ctx.emit(eventOf({ type: 'content_block_stop', index }))
      }
      openBlocks.clear()
      ctx.emit(eventOf({ type: 'message_delta', delta: { stop_reason: 'refusal', stop_sequence: null }, usage: { output_tokens: outputTokens } }))
      ctx.emit(eventOf({ type: 'message_stop' }))
    },
    fail (info: FailureInfo) {
      ctx.emit(eventOf({ type: 'error', error: { type: 'api_error', message: info.message } }))
    }
  }
}

/** Sanitizes a non-streamed Messages body (see the module header). */
export function sanitizeAnthropicMessagesBody (input: unknown, newScanner: () => Scanner, options: JsonSanitizeOptions = {}): JsonSanitizeResult {
  const scan = createBodyScan(input, newScanner, options)
  const body = scan.body
  if (!isJsonObject(body)) return scan.result(undefined)
  forEachRecord(body.content, (block, i) => {
    if (block.type === 'text') scan.scanField(block, 'text', channelOf(i, kTextBlock))
    else if (block.type === 'thinking') scan.scanField(block, 'thinking', channelOf(i, kThinkingBlock))
    else if (isJsonObject(block.input)) {
      const info = channelOf(i, kToolBlock)
      if (scanStringLeaves(block.input, (text) => scan.whole(info, text)).changed) scan.changed = true
    }
  })
  return scan.result('anthropic-messages', () => {
    body.stop_reason = 'refusal'
    body.stop_sequence = null
  })
}
