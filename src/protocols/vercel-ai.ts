/**
 * @module protocols/vercel-ai
 * The Vercel AI SDK UI message stream (protocol `v1`, announced by the
 * `x-vercel-ai-ui-message-stream: v1` header): SSE whose `data:` is one JSON
 * part, `{ "type": … }`, the last line `data: [DONE]`. Parts, as the AI SDK's
 * stream protocol page lists them: `start`, `start-step`, `text-start` /
 * `text-delta` / `text-end` (`id`, `delta`), `reasoning-start` /
 * `reasoning-delta` / `reasoning-end`, `tool-input-start` /
 * `tool-input-delta` (`toolCallId`, `inputTextDelta`) /
 * `tool-input-available` (the whole `input` object), `tool-output-available`,
 * `source-url`, `file`, `data-*`, `finish-step`, `finish` (`finishReason`),
 * `error` (`errorText`), `abort`.
 *
 * Channels: each text part and each reasoning part (by `id`), each tool
 * call's input text (by `toolCallId`). A part's held text is flushed in an
 * inserted delta right before its `text-end` / `reasoning-end` /
 * `tool-input-available` (the SDK's client rejects a delta for a part that
 * has ended); `finish`, `[DONE]` and the end of input flush what is still
 * open. Every other string (a tool's whole `input` and `output`, data
 * parts, error texts) is left to the generic JSON path.
 *
 * Cut: the SDK's finish reasons include `content-filter` ("content filter
 * violation stopped the model"), carried by the `finish` part. So a cut
 * ends each open text and reasoning part, ends the step, then sends
 * `finish` with `finishReason: "content-filter"` and `[DONE]`. An upstream
 * failure is an `error` part, as the SDK sends one, then `[DONE]`. Emitted
 * parts carry only the fields the SDK's schema allows (it checks each part
 * strictly).
 */
import type { Finding } from '../scanner/types.js'
import { isJsonObject } from '../json/json-object.js'
import type { JsonObject } from '../json/json-object.js'
import { isText, parseJsonObject } from './json-frame.js'
import type { ChannelInfo, CodecContext, EmitFrame, FailureInfo, JsonPath, JsonValue, ProtocolCodec, TextField } from './types.js'

export const kVercelCutReason = 'content-filter'

/** One kind of streamed text: its delta part, the property holding the text, its end part. */
interface Stream {
  readonly prefix: string
  readonly field: TextField
  readonly idProperty: 'id' | 'toolCallId'
  readonly delta: string
  readonly textProperty: 'delta' | 'inputTextDelta'
  readonly end: string
}

const kText: Stream = { prefix: 'text', field: 'text', idProperty: 'id', delta: 'text-delta', textProperty: 'delta', end: 'text-end' }
const kReasoning: Stream = { prefix: 'reasoning', field: 'reasoning', idProperty: 'id', delta: 'reasoning-delta', textProperty: 'delta', end: 'reasoning-end' }
const kToolInput: Stream = { prefix: 'tool', field: 'tool_arguments', idProperty: 'toolCallId', delta: 'tool-input-delta', textProperty: 'inputTextDelta', end: 'tool-input-available' }

const kByDelta: Readonly<Record<string, Stream>> = { 'text-delta': kText, 'reasoning-delta': kReasoning, 'tool-input-delta': kToolInput }
const kByEnd: Readonly<Record<string, Stream>> = { 'text-end': kText, 'reasoning-end': kReasoning, 'tool-input-available': kToolInput, 'tool-input-error': kToolInput }

/** The part types of the UI message stream protocol (for recognising it). */
export const kVercelPartTypes: ReadonlySet<string> = new Set([
  'start', 'start-step', 'text-start', 'text-delta', 'text-end', 'reasoning-start', 'reasoning-delta', 'reasoning-end',
  'tool-input-start', 'tool-input-delta', 'tool-input-available', 'tool-input-error', 'tool-output-available',
  'tool-output-error', 'tool-approval-request', 'tool-output-denied', 'source-url', 'source-document', 'file',
  'finish-step', 'finish', 'abort', 'message-metadata'
])

/** Whether a parsed part belongs to the UI message stream (an `error` part only with its `errorText`). */
export function isVercelPart (value: JsonObject): boolean {
  const type = value.type
  if (typeof type !== 'string') return false
  if (type === 'error') return typeof value.errorText === 'string'
  return kVercelPartTypes.has(type) || (type.startsWith('data-') && 'data' in value)
}

function ownsVercelPath (frame: JsonValue, path: JsonPath): boolean {
  if (!isJsonObject(frame) || path.length !== 1 || typeof frame.type !== 'string') return false
  const stream = kByDelta[frame.type]
  // Without a string id the codec scans nothing in the part (see handle).
  return stream !== undefined && path[0] === stream.textProperty && typeof frame[stream.idProperty] === 'string'
}

/** Creates a codec for AI SDK UI message streams. */
export function createVercelAiCodec (ctx: CodecContext): ProtocolCodec {
  const channels = ctx.channels
  /** Open channels by key, with their part id and kind, in order of opening. */
  const open = new Map<string, { id: string, stream: Stream }>()
  /** Channel numbers, one per key, in order of first use (findings name a `choice`). */
  const numbers = new Map<string, number>()
  let stepOpen = false

  function channelOf (stream: Stream, id: string): ChannelInfo {
    const key = `${stream.prefix}:${id}`
    let n = numbers.get(key)
    if (n === undefined) {
      n = numbers.size
      numbers.set(key, n)
    }
    return { key, choice: n, field: stream.field }
  }

  function part (obj: JsonObject): EmitFrame {
    return { value: obj }
  }

  function flush (key: string): void {
    const entry = open.get(key)
    if (entry === undefined) return
    const rest = channels.finish(key)
    // A cut found only now: the part stays open for cut() to end it.
    if (channels.cutFinding() === undefined) open.delete(key)
    if (rest !== '') ctx.emit(part({ type: entry.stream.delta, [entry.stream.idProperty]: entry.id, [entry.stream.textProperty]: rest }))
  }

  function flushAll (): void {
    for (const key of [...open.keys()]) flush(key)
  }

  /** Handles one part; returns 'drop' for a delta that has nothing left to say. */
  function handle (obj: JsonObject): 'drop' | undefined {
    const type = typeof obj.type === 'string' ? obj.type : ''
    const deltaStream = kByDelta[type]
    if (deltaStream !== undefined) {
      const id = obj[deltaStream.idProperty]
      const text = obj[deltaStream.textProperty]
      if (typeof id !== 'string' || !isText(text)) return undefined
      const info = channelOf(deltaStream, id)
      open.set(info.key, { id, stream: deltaStream })
      const released = channels.scan(info, text)
      obj[deltaStream.textProperty] = released
      return released === '' ? 'drop' : undefined
    }
    const endStream = kByEnd[type]
    if (endStream !== undefined) {
      const id = obj[endStream.idProperty]
      if (typeof id === 'string') flush(`${endStream.prefix}:${id}`)
      return undefined
    }
    switch (type) {
      case 'text-start':
      case 'reasoning-start':
      case 'tool-input-start': {
        // Known from its start, so a cut can end it even before its first delta.
        const stream = type === 'text-start' ? kText : type === 'reasoning-start' ? kReasoning : kToolInput
        const id = obj[stream.idProperty]
        if (typeof id === 'string') open.set(channelOf(stream, id).key, { id, stream })
        return undefined
      }
      case 'start-step':
        stepOpen = true
        return undefined
      case 'finish-step':
        stepOpen = false
        return undefined
      case 'finish':
        if (typeof obj.finishReason === 'string') ctx.upstreamFinish(obj.finishReason)
        flushAll()
        return undefined
      default:
        return undefined
    }
  }

  return {
    protocol: 'vercel-ai',
    cutReason: kVercelCutReason,
    frame (frame) {
      if (frame.data === '[DONE]') {
        flushAll()
        ctx.emit({ event: frame.event, id: frame.id, data: '[DONE]' })
        return
      }
      const obj = parseJsonObject(ctx, frame.data)
      if (obj === undefined) return
      if (handle(obj) === 'drop') return
      // Once cut, only the delta that tripped it goes out (with what it released before the match).
      if (channels.cutFinding() !== undefined && kByDelta[obj.type as string] === undefined) return
      ctx.emit({ event: frame.event, id: frame.id, value: obj })
    },
    end () {
      flushAll()
    },
    cut (_finding: Finding) {
      for (const { id, stream } of open.values()) {
        if (stream !== kToolInput) ctx.emit(part({ type: stream === kText ? 'text-end' : 'reasoning-end', id }))
      }
      open.clear()
      if (stepOpen) ctx.emit(part({ type: 'finish-step' }))
      stepOpen = false
      ctx.emit(part({ type: 'finish', finishReason: kVercelCutReason }))
      ctx.emit({ data: '[DONE]' })
    },
    fail (info: FailureInfo) {
      ctx.emit(part({ type: 'error', errorText: info.message }))
      ctx.emit({ data: '[DONE]' })
    },
    ownsPath (frame, path) {
      return ownsVercelPath(frame, path)
    }
  }
}
