/**
 * @module protocols/ollama
 * Ollama's native API, streamed as NDJSON (`application/x-ndjson`, one JSON
 * object per line) or, with `"stream": false`, one JSON object:
 * - `/api/chat`: `{ model, created_at, message: { role, content, thinking?,
 *   tool_calls? }, done: false }` lines;
 * - `/api/generate`: `{ model, created_at, response, thinking?, done }`;
 * the last line says `done: true` with a `done_reason` (`stop`, `length`…)
 * and the counters (`total_duration`, `eval_count`…). A failure mid-stream
 * is a line `{ "error": "…" }`.
 *
 * Channels: the message `content`, the message `thinking`, the generate
 * `response` and the generate `thinking`, one scanner each (a response has
 * one answer). `tool_calls[].function.arguments` arrive whole, as a JSON
 * object: every string leaf is scanned as its own whole text. Held text is
 * flushed into the `done: true` line (appended to its `content` /
 * `response`), or into an added line if the stream ends without one.
 *
 * Cut: Ollama has no content filter and documents no closed list of
 * `done_reason` values; its own streams end with a `done: true` line whose
 * `done_reason` says why, and its OpenAI-compatible endpoint passes
 * `done_reason` on as `finish_reason`. So a cut ends the stream the same
 * way, with `done_reason: "content_filter"`: the word OpenAI clients already
 * know for an answer stopped by a filter.
 */
import type { Finding, Scanner } from '../scanner/types.js'
import { isJsonObject } from '../json/json-object.js'
import type { JsonObject } from '../json/json-object.js'
import { createBodyScan, isPosition, scanStringLeaves } from './body-scan.js'
import { parseJsonObject } from './json-frame.js'
import type { ChannelInfo, ChannelScanner, CodecContext, FailureInfo, JsonPath, JsonSanitizeOptions, JsonSanitizeResult, ProtocolCodec } from './types.js'

/** Where a channel's text sits: in `message` (chat) or at the top level (generate). */
interface Slot {
  readonly info: ChannelInfo
  readonly inMessage: boolean
  readonly property: string
}

const kSlots: readonly Slot[] = [
  { info: { key: 'message.thinking', choice: 0, field: 'thinking' }, inMessage: true, property: 'thinking' },
  { info: { key: 'message.content', choice: 0, field: 'content' }, inMessage: true, property: 'content' },
  { info: { key: 'thinking', choice: 0, field: 'thinking' }, inMessage: false, property: 'thinking' },
  { info: { key: 'response', choice: 0, field: 'text' }, inMessage: false, property: 'response' }
]

export const kOllamaCutReason = 'content_filter'

interface OllamaState {
  calls: number
}

function holderOf (obj: JsonObject, slot: Slot, create: boolean): JsonObject | undefined {
  if (!slot.inMessage) return obj
  if (isJsonObject(obj.message)) return obj.message
  if (!create) return undefined
  const message: JsonObject = { role: 'assistant', content: '' }
  obj.message = message
  return message
}

/**
 * Sanitizes one line (or the whole body) in place; `final` flushes every
 * channel into it. Returns whether anything changed.
 */
function sanitizeObject (channels: ChannelScanner, obj: JsonObject, state: OllamaState, final: boolean): boolean {
  let changed = false
  for (const slot of kSlots) {
    const holder = holderOf(obj, slot, false)
    const text = holder?.[slot.property]
    if (holder === undefined || typeof text !== 'string' || text === '') continue
    const released = channels.scan(slot.info, text)
    if (released !== text) {
      holder[slot.property] = released
      changed = true
    }
  }
  const calls = isJsonObject(obj.message) ? obj.message.tool_calls : undefined
  if (Array.isArray(calls)) {
    for (const call of calls) {
      if (!isJsonObject(call) || !isJsonObject(call.function) || call.function.arguments === undefined) continue
      const info: ChannelInfo = { key: `tool:${state.calls}`, choice: 0, field: 'tool_arguments', part: state.calls++ }
      const scanned = scanStringLeaves(call.function.arguments, (text) => channels.scanOnce(info, text))
      call.function.arguments = scanned.value
      if (scanned.changed) changed = true
    }
  }
  if (final) {
    for (const slot of kSlots) {
      const rest = channels.finish(slot.info.key)
      if (rest === '') continue
      const holder = holderOf(obj, slot, true) as JsonObject
      const before = holder[slot.property]
      holder[slot.property] = (typeof before === 'string' ? before : '') + rest
      changed = true
    }
  }
  return changed
}

function ownsOllamaPath (path: JsonPath): boolean {
  if (path.length === 1) return path[0] === 'response' || path[0] === 'thinking'
  if (path[0] !== 'message') return false
  if (path.length === 2) return path[1] === 'content' || path[1] === 'thinking'
  return path[1] === 'tool_calls' && isPosition(path[2]) && path[3] === 'function' && path[4] === 'arguments' && path.length > 5
}

/** Creates a codec for Ollama `/api/chat` and `/api/generate` NDJSON streams. */
export function createOllamaCodec (ctx: CodecContext): ProtocolCodec {
  const channels = ctx.channels
  const state: OllamaState = { calls: 0 }
  let model: unknown
  let createdAt: unknown
  /** Chat (`message`) or generate (`response`): what inserted lines look like. */
  let chat = true

  /** A line in the stream's own shape, with the last known model and time. */
  function line (fields: JsonObject, done: boolean): JsonObject {
    const obj: JsonObject = {}
    if (typeof model === 'string') obj.model = model
    if (typeof createdAt === 'string') obj.created_at = createdAt
    if (chat) obj.message = { role: 'assistant', content: '' }
    else obj.response = ''
    Object.assign(obj, fields, { done })
    return obj
  }

  return {
    protocol: 'ollama',
    cutReason: kOllamaCutReason,
    frame (frame) {
      const obj = parseJsonObject(ctx, frame.data)
      if (obj === undefined) return
      if (typeof obj.model === 'string') model = obj.model
      if (typeof obj.created_at === 'string') createdAt = obj.created_at
      if (isJsonObject(obj.message)) chat = true
      else if (typeof obj.response === 'string') chat = false
      const done = obj.done === true
      if (done && typeof obj.done_reason === 'string') ctx.upstreamFinish(obj.done_reason)
      sanitizeObject(channels, obj, state, done)
      ctx.emit({ value: obj })
    },
    end () {
      if (channels.openChannels().length === 0) return
      const obj = line({}, false)
      if (sanitizeObject(channels, obj, state, true)) ctx.emit({ value: obj })
    },
    cut (_finding: Finding) {
      ctx.emit({ value: line({ done_reason: kOllamaCutReason }, true) })
    },
    fail (info: FailureInfo) {
      ctx.emit({ value: { error: info.message } })
    },
    ownsPath (_frame, path) {
      return ownsOllamaPath(path)
    }
  }
}

/** Whether a JSON value is an Ollama chat or generate line or answer (`created_at`, `done`, and `message` or `response`). */
export function isOllamaBody (body: unknown): boolean {
  return isJsonObject(body) && typeof body.done === 'boolean' && typeof body.created_at === 'string' &&
    (isJsonObject(body.message) || typeof body.response === 'string')
}

/** Sanitizes a non-streamed (`"stream": false`) Ollama answer. Cut: `done_reason: "content_filter"`. */
export function sanitizeOllamaBody (input: unknown, newScanner: () => Scanner, options: JsonSanitizeOptions = {}): JsonSanitizeResult {
  const scan = createBodyScan(input, newScanner, options)
  const body = scan.body
  if (isJsonObject(body)) {
    scan.changed = sanitizeObject(scan.channels, body, { calls: 0 }, true)
    if (scan.channels.cutFinding() !== undefined) {
      body.done = true
      body.done_reason = kOllamaCutReason
    }
  }
  return scan.result('ollama')
}
