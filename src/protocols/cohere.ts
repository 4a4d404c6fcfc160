/**
 * @module protocols/cohere
 * Cohere Chat API v2 (`POST /v2/chat`), streamed (`"stream": true`, SSE
 * whose data carry a `type`, repeated as the `event:` name) and not.
 *
 * Stream events, as the v2 reference lists them: `message-start`,
 * `content-start` / `content-delta` / `content-end` (per content `index`,
 * text at `delta.message.content.text`, or `.thinking` for reasoning
 * models), `tool-plan-delta` (`delta.message.tool_plan`), `tool-call-start`
 * / `tool-call-delta` / `tool-call-end` (arguments, as JSON text, at
 * `delta.message.tool_calls.function.arguments`), `citation-start` /
 * `citation-end`, `message-end` (`delta.finish_reason`, `delta.usage`,
 * `delta.error`).
 *
 * Channels: each content index (`c:<index>`), each tool call index
 * (`t:<index>`) and the tool plan. A content's or a tool call's held text
 * is flushed in an inserted delta right before its `content-end` /
 * `tool-call-end` (a client builds each part between its start and its
 * end); the tool plan is flushed before the first tool call starts, and
 * `message-end` and the end of input flush whatever is still open.
 * Citations quote the answer and its sources: not a channel (the generic
 * JSON path scans them as whole strings).
 *
 * Cut: Cohere v2 has no content-filter finish reason (`COMPLETE`,
 * `STOP_SEQUENCE`, `MAX_TOKENS`, `TOOL_CALL`, `ERROR`); the only one that
 * tells a client the answer stopped short for a reason other than length
 * or a tool is `ERROR`, and `message-end` carries an `error` text beside
 * it. So a cut closes open contents and tool calls, then sends
 * `message-end` with `finish_reason: "ERROR"` and an error saying the
 * answer was stopped by a content policy. An upstream failure ends the
 * same way with its own message.
 */
import type { Finding, Scanner } from '../scanner/types.js'
import { isJsonObject } from '../json/json-object.js'
import type { JsonObject } from '../json/json-object.js'
import { createBodyScan } from './body-scan.js'
import { forEachRecord, indexOf, isText, parseTypedEvent } from './json-frame.js'
import type { ChannelInfo, CodecContext, EmitFrame, FailureInfo, JsonPath, JsonSanitizeOptions, JsonSanitizeResult, JsonValue, ProtocolCodec } from './types.js'

export const kCohereCutReason = 'ERROR'

/** The v2 stream's event types (for recognising it: its `event:` names and `type` values). */
export const kCohereEventTypes: ReadonlySet<string> = new Set([
  'message-start', 'content-start', 'content-delta', 'content-end', 'tool-plan-delta', 'tool-call-start',
  'tool-call-delta', 'tool-call-end', 'citation-start', 'citation-end', 'message-end'
])
const kCutMessage = 'The answer was stopped by a content policy.'

type ContentProperty = 'text' | 'thinking'
const kContentProperties: readonly ContentProperty[] = ['thinking', 'text']

function contentChannel (index: number, property: ContentProperty): ChannelInfo {
  return property === 'text'
    ? { key: `c:${index}`, choice: index, field: 'text' }
    : { key: `c:${index}:thinking`, choice: index, field: 'thinking' }
}

function toolChannel (index: number): ChannelInfo {
  return { key: `t:${index}`, choice: index, field: 'tool_arguments', part: index }
}

const kPlanChannel: ChannelInfo = { key: 'plan', choice: 0, field: 'reasoning' }

/** `delta.message`, if the event has one. */
function messageOf (obj: JsonObject): JsonObject | undefined {
  const delta = obj.delta
  return isJsonObject(delta) && isJsonObject(delta.message) ? delta.message : undefined
}

/** The object holding a content event's text (`text`, or `thinking` for a reasoning model). */
function contentOf (obj: JsonObject): JsonObject | undefined {
  const content = messageOf(obj)?.content
  return isJsonObject(content) ? content : undefined
}

/** The `function` object of a tool call event. */
function toolFunctionOf (obj: JsonObject): JsonObject | undefined {
  const calls = messageOf(obj)?.tool_calls
  return isJsonObject(calls) && isJsonObject(calls.function) ? calls.function : undefined
}

function ownsCoherePath (frame: JsonValue, path: JsonPath): boolean {
  if (!isJsonObject(frame) || path[0] !== 'delta' || path[1] !== 'message') return false
  switch (frame.type) {
    case 'content-start':
    case 'content-delta':
      return path.length === 4 && path[2] === 'content' && (path[3] === 'text' || path[3] === 'thinking')
    case 'tool-plan-delta':
      return path.length === 3 && path[2] === 'tool_plan'
    case 'tool-call-start':
    case 'tool-call-delta':
      return path.length === 5 && path[2] === 'tool_calls' && path[3] === 'function' && path[4] === 'arguments'
    default:
      return false
  }
}

/** Creates a codec for Cohere v2 chat streams. */
export function createCohereCodec (ctx: CodecContext): ProtocolCodec {
  const channels = ctx.channels
  /** Open contents, with the properties their text came in. */
  const contents = new Map<number, Set<ContentProperty>>()
  const tools = new Set<number>()
  let planOpen = false

  function eventOf (obj: JsonObject): EmitFrame {
    const data = JSON.stringify(obj)
    return ctx.namedEvents() ? { event: obj.type as string, data } : { data }
  }

  function flushContent (index: number): void {
    for (const property of kContentProperties) {
      if (contents.get(index)?.has(property) !== true) continue
      const rest = channels.finish(contentChannel(index, property).key)
      if (rest !== '') ctx.emit(eventOf({ type: 'content-delta', index, delta: { message: { content: { [property]: rest } } } }))
    }
  }

  function flushTool (index: number): void {
    if (!tools.has(index)) return
    const rest = channels.finish(toolChannel(index).key)
    if (rest !== '') ctx.emit(eventOf({ type: 'tool-call-delta', index, delta: { message: { tool_calls: { function: { arguments: rest } } } } }))
  }

  function flushPlan (): void {
    if (!planOpen) return
    planOpen = false
    const rest = channels.finish(kPlanChannel.key)
    if (rest !== '') ctx.emit(eventOf({ type: 'tool-plan-delta', delta: { message: { tool_plan: rest } } }))
  }

  function flushAll (): void {
    flushPlan()
    for (const index of [...contents.keys()].sort((a, b) => a - b)) flushContent(index)
    for (const index of [...tools].sort((a, b) => a - b)) flushTool(index)
  }

  /** Scans `holder[property]`; returns 'drop' when a delta released nothing. */
  function scanInto (holder: JsonObject, property: string, info: ChannelInfo): 'drop' | undefined {
    const text = holder[property]
    if (!isText(text)) return undefined
    const released = channels.scan(info, text)
    holder[property] = released
    return released === '' ? 'drop' : undefined
  }

  /** Handles one event; returns 'drop' for a delta that has nothing left to say. */
  function handle (type: string, obj: JsonObject): 'drop' | undefined {
    const index = indexOf(obj.index, 0)
    switch (type) {
      case 'content-start':
      case 'content-delta': {
        const content = contentOf(obj)
        if (content === undefined) return undefined
        const seen = contents.get(index) ?? new Set<ContentProperty>()
        contents.set(index, seen)
        // Both properties, whichever the content's type: every string the codec claims is scanned.
        let drop = true
        for (const property of kContentProperties) {
          if (!isText(content[property])) continue
          seen.add(property)
          if (scanInto(content, property, contentChannel(index, property)) !== 'drop') drop = false
        }
        return type === 'content-delta' && drop ? 'drop' : undefined
      }
      case 'content-end':
        flushContent(index)
        // A cut found only now: the content stays open for cut() to end it.
        if (channels.cutFinding() === undefined) contents.delete(index)
        return undefined
      case 'tool-plan-delta': {
        const message = messageOf(obj)
        if (message === undefined) return undefined
        planOpen = true
        return scanInto(message, 'tool_plan', kPlanChannel)
      }
      case 'tool-call-start':
      case 'tool-call-delta': {
        if (type === 'tool-call-start') flushPlan()
        const fn = toolFunctionOf(obj)
        if (fn === undefined) return undefined
        tools.add(index)
        const result = scanInto(fn, 'arguments', toolChannel(index))
        return type === 'tool-call-delta' ? result : undefined
      }
      case 'tool-call-end':
        flushTool(index)
        if (channels.cutFinding() === undefined) tools.delete(index)
        return undefined
      case 'message-end': {
        const delta = obj.delta
        if (isJsonObject(delta) && typeof delta.finish_reason === 'string') ctx.upstreamFinish(delta.finish_reason)
        flushAll()
        return undefined
      }
      default:
        return undefined
    }
  }

  return {
    protocol: 'cohere',
    cutReason: kCohereCutReason,
    frame (frame) {
      const event = parseTypedEvent(ctx, frame)
      if (event === undefined) return
      const { obj, type } = event
      if (handle(type, obj) === 'drop') return
      // Once cut, only the event that tripped it goes out (with what it released before the match).
      if (channels.cutFinding() !== undefined && type !== 'content-delta' && type !== 'tool-plan-delta' && type !== 'tool-call-delta') return
      ctx.emit({ event: frame.event, id: frame.id, value: obj })
    },
    end () {
      flushAll()
    },
    cut (_finding: Finding) {
      for (const index of [...contents.keys()].sort((a, b) => a - b)) ctx.emit(eventOf({ type: 'content-end', index }))
      for (const index of [...tools].sort((a, b) => a - b)) ctx.emit(eventOf({ type: 'tool-call-end', index }))
      contents.clear()
      tools.clear()
      ctx.emit(eventOf({ type: 'message-end', delta: { finish_reason: kCohereCutReason, error: kCutMessage } }))
    },
    fail (info: FailureInfo) {
      ctx.emit(eventOf({ type: 'message-end', delta: { finish_reason: 'ERROR', error: info.message } }))
    },
    ownsPath (frame, path) {
      return ownsCoherePath(frame, path)
    }
  }
}

/** Whether a JSON body is a Cohere v2 chat answer (`id`, `finish_reason`, `message` with `role`). */
export function isCohereBody (body: unknown): boolean {
  return isJsonObject(body) && typeof body.finish_reason === 'string' && isJsonObject(body.message) &&
    typeof body.message.role === 'string' && body.done === undefined && body.choices === undefined
}

/**
 * Sanitizes a non-streamed `/v2/chat` answer: `message.content[]` `text` and
 * `thinking`, `message.tool_plan`, `message.tool_calls[].function.arguments`,
 * each scanned whole. Cut: `finish_reason: "ERROR"`.
 */
export function sanitizeCohereBody (input: unknown, newScanner: () => Scanner, options: JsonSanitizeOptions = {}): JsonSanitizeResult {
  const scan = createBodyScan(input, newScanner, options)
  const body = scan.body
  if (isJsonObject(body) && isJsonObject(body.message)) {
    const message = body.message
    scan.scanField(message, 'tool_plan', kPlanChannel, scan.whole)
    forEachRecord(message.content, (part, i) => {
      scan.scanField(part, 'thinking', contentChannel(i, 'thinking'), scan.whole)
      scan.scanField(part, 'text', contentChannel(i, 'text'), scan.whole)
    })
    forEachRecord(message.tool_calls, (call, i) => {
      if (isJsonObject(call.function)) scan.scanField(call.function, 'arguments', toolChannel(i))
    })
    if (scan.channels.cutFinding() !== undefined) body.finish_reason = kCohereCutReason
  }
  return scan.result('cohere')
}
