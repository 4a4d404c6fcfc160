/**
 * @module protocols/openai-responses
 * OpenAI Responses API, streamed (typed events, `event:` = `data.type`) and
 * not (an `object: "response"` body).
 *
 * Text channels, one scanner each:
 * - `response.output_text.delta`      → `out:<output_index>:<content_index>`
 * - `response.refusal.delta`          → `ref:<output_index>:<content_index>`
 * - `response.function_call_arguments.delta` → `fn:<output_index>`
 * - `response.custom_tool_call_input.delta`  → `ctool:<output_index>`
 * - `response.reasoning_summary_text.delta`  → `sum:<output_index>:<summary_index>`
 * - `response.reasoning_text.delta`   → `rsn:<output_index>:<content_index>`
 *
 * The API repeats the full text in `*.done`, `response.content_part.done`,
 * `response.output_item.done` and the final `response.completed` (also
 * `.incomplete`, `.failed`). Those copies are replaced with the channel's
 * accumulated sanitized text, after flushing what the scanner still held
 * in an inserted delta event (so a client that only reads deltas gets the
 * same text). A text that arrives only in a final event, never as deltas,
 * is scanned whole. Snapshots that are not final (`response.created`,
 * `.in_progress`, `output_item.added`, `content_part.added`) get the text
 * released so far, normally none.
 *
 * Every event carries `sequence_number`; inserted and dropped events shift
 * the numbers of the events after them so the client still sees 0, 1, 2…
 * Events with nothing to sanitize (and unchanged numbering) go out as the
 * exact upstream data string.
 *
 * Cut: the delta that tripped it goes out with the text released before the
 * match; then `response.incomplete` with `incomplete_details.reason:
 * "content_filter"` (a reason the API itself uses), whose `response` is the
 * last upstream snapshot with the output items seen so far holding the
 * sanitized text released so far. The Responses API has no `[DONE]`.
 *
 * A non-streamed body (`sanitizeOpenAiResponsesBody`): in each `output[]`
 * item, the `output_text`, `refusal` and `reasoning_text` content parts,
 * the texts of `summary[]` (reasoning items), a function call's `arguments`
 * and a custom tool call's `input`, each scanned whole on the channel its
 * deltas use. A cut ends it as the stream's cut does: `status:
 * "incomplete"`, `incomplete_details.reason: "content_filter"`.
 */
import type { Finding, Scanner } from '../scanner/types.js'
import { isJsonObject } from '../json/json-object.js'
import type { JsonObject } from '../json/json-object.js'
import { createBodyScan } from './body-scan.js'
import { forEachRecord, indexOf, isText, parseTypedEvent } from './json-frame.js'
import { elementAt } from './generic-json.js'
import type {
  ChannelInfo, CodecContext, DataFrame, EmitFrame, FailureInfo, JsonPath, JsonSanitizeOptions, JsonSanitizeResult, JsonValue, ProtocolCodec, TextField
} from './types.js'

interface DeltaKind {
  /** Channel key prefix. */
  readonly prefix: string
  readonly field: TextField
  /** The event field naming the sub-index, if any. */
  readonly sub: 'content_index' | 'summary_index' | undefined
}

const kDeltaKinds: Readonly<Record<string, DeltaKind>> = {
  'response.output_text.delta': { prefix: 'out', field: 'text', sub: 'content_index' },
  'response.refusal.delta': { prefix: 'ref', field: 'refusal', sub: 'content_index' },
  'response.function_call_arguments.delta': { prefix: 'fn', field: 'tool_arguments', sub: undefined },
  'response.custom_tool_call_input.delta': { prefix: 'ctool', field: 'tool_arguments', sub: undefined },
  'response.reasoning_summary_text.delta': { prefix: 'sum', field: 'reasoning', sub: 'summary_index' },
  'response.reasoning_text.delta': { prefix: 'rsn', field: 'reasoning', sub: 'content_index' }
}

/** `*.done` events: which delta kind they close, and the field holding the full text. */
const kDoneKinds: Readonly<Record<string, { delta: string, textField: string }>> = {
  'response.output_text.done': { delta: 'response.output_text.delta', textField: 'text' },
  'response.refusal.done': { delta: 'response.refusal.delta', textField: 'refusal' },
  'response.function_call_arguments.done': { delta: 'response.function_call_arguments.delta', textField: 'arguments' },
  'response.custom_tool_call_input.done': { delta: 'response.custom_tool_call_input.delta', textField: 'input' },
  'response.reasoning_summary_text.done': { delta: 'response.reasoning_summary_text.delta', textField: 'text' },
  'response.reasoning_text.done': { delta: 'response.reasoning_text.delta', textField: 'text' }
}

const kFinalEvents = new Set(['response.completed', 'response.incomplete', 'response.failed'])
const kSnapshotEvents = new Set(['response.created', 'response.in_progress', 'response.queued'])
const kPartEvents = new Set(['response.content_part.added', 'response.content_part.done', 'response.reasoning_summary_part.added', 'response.reasoning_summary_part.done'])
const kItemEvents = new Set(['response.output_item.added', 'response.output_item.done'])

/** Whether `name` of a content or summary part is the text `sanitizePart` scans. */
function ownsPartField (part: unknown, name: unknown, summary: boolean): boolean {
  if (!isJsonObject(part)) return false
  if (part.type === 'output_text') return name === 'text'
  if (part.type === 'refusal') return name === 'refusal'
  if (part.type === 'summary_text' || part.type === 'reasoning_text' || summary) return name === 'text'
  return false
}

/** Whether the path inside an output item is a text `sanitizeItem` scans. */
function ownsItemPath (item: unknown, rest: JsonPath): boolean {
  if (!isJsonObject(item)) return false
  if (rest.length === 1) return (item.type === 'function_call' && rest[0] === 'arguments') || (item.type === 'custom_tool_call' && rest[0] === 'input')
  if (rest.length !== 3 || (rest[0] !== 'content' && rest[0] !== 'summary')) return false
  return ownsPartField(elementAt(item[rest[0]], rest[1]), rest[2], rest[0] === 'summary')
}

/**
 * The strings this codec scans itself (see generic-json.ts): delta texts,
 * the full texts of `*.done` events, and the texts inside parts, items and
 * response snapshots.
 */
function ownsPath (frame: JsonValue, path: JsonPath): boolean {
  if (!isJsonObject(frame) || typeof frame.type !== 'string') return false
  const type = frame.type
  if (kDeltaKinds[type] !== undefined) return path.length === 1 && path[0] === 'delta'
  const done = kDoneKinds[type]
  if (done !== undefined) return path.length === 1 && path[0] === done.textField
  // Only in the events `handle` sanitizes: the same field in an event of
  // another type was never scanned by the codec.
  if (path[0] === 'part') return kPartEvents.has(type) && path.length === 2 && ownsPartField(frame.part, path[1], type.startsWith('response.reasoning_summary_part.'))
  if (path[0] === 'item') return kItemEvents.has(type) && ownsItemPath(frame.item, path.slice(1))
  if (path[0] === 'response' && path[1] === 'output' && (kFinalEvents.has(type) || kSnapshotEvents.has(type)) && isJsonObject(frame.response)) {
    return ownsItemPath(elementAt(frame.response.output, path[2]), path.slice(3))
  }
  return false
}

/** Responses events carry snapshots (`response`, `item`, `part`) that grow and are sent again. */
function snapshotPath (_frame: JsonValue, path: JsonPath): boolean {
  return path[0] === 'response' || path[0] === 'item' || path[0] === 'part'
}

function channelOf (type: string, outputIndex: number, sub: number): ChannelInfo {
  const kind = kDeltaKinds[type] as DeltaKind
  const key = kind.sub === undefined ? `${kind.prefix}:${outputIndex}` : `${kind.prefix}:${outputIndex}:${sub}`
  return kind.sub === undefined
    ? { key, choice: outputIndex, field: kind.field }
    : { key, choice: outputIndex, field: kind.field, part: sub }
}

/** Creates a codec for Responses API event streams. */
export function createOpenAiResponsesCodec (ctx: CodecContext): ProtocolCodec {
  const channels = ctx.channels
  /** Last delta event of each channel: the template of inserted flush deltas. */
  const templates = new Map<string, JsonObject>()
  /** Output items as the client has them, for the snapshot in a cut. */
  const items = new Map<number, JsonObject>()
  let snapshot: JsonObject = {}
  let seqOffset = 0
  let lastSeq = -1
  /** Frames to write before the current event (flushes it caused). */
  let pending: EmitFrame[] = []

  function frameOf (obj: JsonObject, like?: DataFrame): EmitFrame {
    const type = typeof obj.type === 'string' ? obj.type : undefined
    const event = like?.event ?? (ctx.namedEvents() ? type : undefined)
    return { event, id: like?.id, value: obj }
  }

  /** The sequence number for an inserted event placed before `current` (or at the end). */
  function insertedSeq (current: JsonObject | undefined): number {
    const inSeq = current?.sequence_number
    if (typeof inSeq === 'number') {
      const n = inSeq + seqOffset
      seqOffset++
      lastSeq = n
      return n
    }
    lastSeq++
    return lastSeq
  }

  /** Inserts a delta carrying text a scanner released at a flush. */
  function insertFlush (key: string, text: string, current: JsonObject | undefined): void {
    const template = templates.get(key)
    if (template === undefined) return
    const obj: JsonObject = {}
    for (const [name, value] of Object.entries(template)) {
      if (name === 'sequence_number') obj[name] = insertedSeq(current)
      else if (name === 'delta') obj[name] = text
      else if (name === 'logprobs') obj[name] = []
      else if (name !== 'obfuscation') obj[name] = value
    }
    pending.push(frameOf(obj))
  }

  function flushChannel (key: string, current: JsonObject | undefined): void {
    const rest = channels.finish(key)
    if (rest !== '') insertFlush(key, rest, current)
  }

  /**
   * The sanitized full text of a channel, for a final copy. Flushes the
   * channel; scans `upstream` whole when the channel never streamed.
   */
  function finalText (info: ChannelInfo, upstream: unknown, current: JsonObject | undefined): unknown {
    if (channels.has(info.key)) {
      flushChannel(info.key, current)
      return channels.released(info.key)
    }
    if (!isText(upstream)) return upstream
    channels.scan(info, upstream)
    channels.finish(info.key)
    return channels.released(info.key)
  }

  /** Text released so far, for a snapshot that is not final (none if the channel never streamed). */
  function snapshotText (info: ChannelInfo, upstream: unknown): unknown {
    const released = channels.released(info.key)
    if (released !== undefined) return released
    return isText(upstream) ? '' : upstream
  }

  type TextOf = (info: ChannelInfo, upstream: unknown) => unknown

  /** Replaces one text field; returns whether it changed. */
  function replace (holder: JsonObject, name: string, info: ChannelInfo, textOf: TextOf): boolean {
    if (!(name in holder)) return false
    const next = textOf(info, holder[name])
    if (next === holder[name]) return false
    holder[name] = next
    return true
  }

  function sanitizePart (part: JsonObject, oi: number, ci: number, textOf: TextOf, summary = false): boolean {
    if (part.type === 'output_text') return replace(part, 'text', channelOf('response.output_text.delta', oi, ci), textOf)
    if (part.type === 'refusal') return replace(part, 'refusal', channelOf('response.refusal.delta', oi, ci), textOf)
    if (part.type === 'summary_text' || summary) return replace(part, 'text', channelOf('response.reasoning_summary_text.delta', oi, ci), textOf)
    if (part.type === 'reasoning_text') return replace(part, 'text', channelOf('response.reasoning_text.delta', oi, ci), textOf)
    return false
  }

  function sanitizeItem (item: JsonObject, oi: number, textOf: TextOf): boolean {
    let changed = false
    if (Array.isArray(item.content)) {
      item.content.forEach((part, ci) => {
        if (isJsonObject(part) && sanitizePart(part, oi, ci, textOf)) changed = true
      })
    }
    if (Array.isArray(item.summary)) {
      item.summary.forEach((part, si) => {
        if (isJsonObject(part) && sanitizePart(part, oi, si, textOf, true)) changed = true
      })
    }
    if (item.type === 'function_call' && replace(item, 'arguments', channelOf('response.function_call_arguments.delta', oi, 0), textOf)) changed = true
    if (item.type === 'custom_tool_call' && replace(item, 'input', channelOf('response.custom_tool_call_input.delta', oi, 0), textOf)) changed = true
    return changed
  }

  function sanitizeOutput (response: JsonObject, textOf: TextOf): boolean {
    if (!Array.isArray(response.output)) return false
    let changed = false
    response.output.forEach((item, oi) => {
      if (isJsonObject(item) && sanitizeItem(item, oi, textOf)) changed = true
    })
    return changed
  }

  /** Handles one event; returns whether it changed, or 'drop'. */
  function handle (type: string, obj: JsonObject): boolean | 'drop' {
    const oi = indexOf(obj.output_index, 0)
    const kind = kDeltaKinds[type]
    if (kind !== undefined) {
      const text = obj.delta
      if (!isText(text)) return false
      const info = channelOf(type, oi, kind.sub === undefined ? 0 : indexOf(obj[kind.sub], 0))
      templates.set(info.key, obj)
      const released = channels.scan(info, text)
      if (released === text) return false
      if (released === '') return 'drop'
      obj.delta = released
      if (Array.isArray(obj.logprobs) && obj.logprobs.length > 0) obj.logprobs = []
      return true
    }
    if (channels.cutFinding() !== undefined) return false
    const done = kDoneKinds[type]
    if (done !== undefined) {
      const deltaKind = kDeltaKinds[done.delta] as DeltaKind
      const info = channelOf(done.delta, oi, deltaKind.sub === undefined ? 0 : indexOf(obj[deltaKind.sub], 0))
      return replace(obj, done.textField, info, (i, t) => finalText(i, t, obj))
    }
    if (type === 'response.content_part.done' || type === 'response.reasoning_summary_part.done') {
      const part = obj.part
      const sub = type === 'response.content_part.done' ? obj.content_index : obj.summary_index
      return isJsonObject(part) && sanitizePart(part, oi, indexOf(sub, 0), (i, t) => finalText(i, t, obj), type !== 'response.content_part.done')
    }
    if (type === 'response.content_part.added' || type === 'response.reasoning_summary_part.added') {
      const part = obj.part
      if (!isJsonObject(part)) return false
      const sub = indexOf(type === 'response.content_part.added' ? obj.content_index : obj.summary_index, 0)
      const changed = sanitizePart(part, oi, sub, snapshotText, type !== 'response.content_part.added')
      const item = items.get(oi)
      const list = item?.[type === 'response.content_part.added' ? 'content' : 'summary']
      if (Array.isArray(list)) list[sub] = structuredClone(part)
      return changed
    }
    if (type === 'response.output_item.added' || type === 'response.output_item.done') {
      const item = obj.item
      if (!isJsonObject(item)) return false
      const changed = sanitizeItem(item, oi, type === 'response.output_item.done' ? (i, t) => finalText(i, t, obj) : snapshotText)
      items.set(oi, structuredClone(item))
      return changed
    }
    if (kFinalEvents.has(type) || kSnapshotEvents.has(type)) {
      const response = obj.response
      if (!isJsonObject(response)) return false
      if (kFinalEvents.has(type)) {
        for (const info of channels.openChannels()) flushChannel(info.key, obj)
        const details = response.incomplete_details
        const reason = type === 'response.incomplete' && isJsonObject(details) && typeof details.reason === 'string'
          ? details.reason
          : response.status
        if (typeof reason === 'string') ctx.upstreamFinish(reason)
        if (channels.cutFinding() !== undefined) return false
        return sanitizeOutput(response, (i, t) => finalText(i, t, obj))
      }
      const changed = sanitizeOutput(response, snapshotText)
      snapshot = structuredClone(response)
      return changed
    }
    return false
  }

  function emitPending (): void {
    for (const frame of pending) ctx.emit(frame)
    pending = []
  }

  return {
    protocol: 'openai-responses',
    cutReason: 'content_filter',
    ownsPath,
    snapshotPath,
    frame (frame) {
      const event = parseTypedEvent(ctx, frame)
      if (event === undefined) return
      const { obj, type } = event
      const result = handle(type, obj)
      emitPending()
      if (result === 'drop') {
        seqOffset--
        return
      }
      if (channels.cutFinding() !== undefined && kDeltaKinds[type] === undefined) {
        // Only the released part of the delta that tripped the cut goes out.
        return
      }
      let changed = result
      if (typeof obj.sequence_number === 'number') {
        if (seqOffset !== 0) {
          obj.sequence_number += seqOffset
          changed = true
        }
        lastSeq = obj.sequence_number
      }
      if (changed) delete obj.obfuscation
      ctx.emit(frameOf(obj, frame))
    },
    end () {
      for (const info of channels.openChannels()) flushChannel(info.key, undefined)
      emitPending()
    },
    cut (_finding: Finding) {
      const output = [...items.entries()].sort((a, b) => a[0] - b[0]).map(([oi, item]) => {
        const copy = structuredClone(item)
        sanitizeItem(copy, oi, snapshotText)
        if ('status' in copy) copy.status = 'incomplete'
        return copy
      })
      const response: JsonObject = {
        ...snapshot,
        status: 'incomplete',
        incomplete_details: { reason: 'content_filter' },
        output
      }
      ctx.emit(frameOf({ type: 'response.incomplete', sequence_number: insertedSeq(undefined), response }))
    },
    fail (info: FailureInfo) {
      ctx.emit(frameOf({ type: 'error', sequence_number: insertedSeq(undefined), code: info.code, message: info.message, param: null }))
    }
  }
}

/** Sanitizes a non-streamed Responses body (see the module header). */
export function sanitizeOpenAiResponsesBody (input: unknown, newScanner: () => Scanner, options: JsonSanitizeOptions = {}): JsonSanitizeResult {
  const scan = createBodyScan(input, newScanner, options)
  const body = scan.body
  if (!isJsonObject(body)) return scan.result(undefined)
  forEachRecord(body.output, (item, oi) => {
    forEachRecord(item.content, (part, ci) => {
      if (part.type === 'output_text') scan.scanField(part, 'text', channelOf('response.output_text.delta', oi, ci))
      else if (part.type === 'refusal') scan.scanField(part, 'refusal', channelOf('response.refusal.delta', oi, ci))
      else if (part.type === 'reasoning_text') scan.scanField(part, 'text', channelOf('response.reasoning_text.delta', oi, ci))
    })
    forEachRecord(item.summary, (part, si) => scan.scanField(part, 'text', channelOf('response.reasoning_summary_text.delta', oi, si)))
    if (item.type === 'function_call') scan.scanField(item, 'arguments', channelOf('response.function_call_arguments.delta', oi, 0))
    if (item.type === 'custom_tool_call') scan.scanField(item, 'input', channelOf('response.custom_tool_call_input.delta', oi, 0))
  })
  return scan.result('openai-responses', () => {
    body.status = 'incomplete'
    body.incomplete_details = { reason: 'content_filter' }
  })
}
