/**
 * @module protocols/openai-chat
 * OpenAI Chat Completions, streamed (`chat.completion.chunk`) and not
 * (`chat.completion`). Scanned text, each with its own scanner:
 * - `choices[i].delta.content` (channel `i:content`), one per choice so
 *   n > 1 choices never mix;
 * - `choices[i].delta.refusal` (`i:refusal`);
 * - `choices[i].delta.tool_calls[j].function.arguments` (`i:tool:j`): JSON
 *   text written by the model, where a secret is as likely as in prose.
 * Tool call ids, names and types, roles, usage chunks and `{"error":…}`
 * objects pass through untouched. The streaming rules are in
 * openai-choices.ts; the same codec reads NDJSON (no `[DONE]`).
 *
 * A non-streamed body has the same texts under `choices[i].message`
 * (`content`, `refusal`, `tool_calls[j].function.arguments`), each scanned
 * whole on the same channel (`sanitizeOpenAiChatBody`, also for NDJSON
 * bodies).
 */
import type { Scanner } from '../scanner/types.js'
import { isJsonObject } from '../json/json-object.js'
import type { JsonObject } from '../json/json-object.js'
import { isPosition } from './body-scan.js'
import { forEachRecord, indexOf, isText } from './json-frame.js'
import { choiceTextInfo, createChoiceCodec, sanitizeChoicesBody, soleChoice } from './openai-choices.js'
import type { ChoiceFlavor } from './openai-choices.js'
import type { ChannelInfo, CodecContext, JsonSanitizeOptions, JsonSanitizeResult, ProtocolCodec } from './types.js'

function scanField (ctx: CodecContext, holder: JsonObject, name: 'content' | 'refusal', info: ChannelInfo): boolean {
  const text = holder[name]
  if (!isText(text)) return false
  const released = ctx.channels.scan(info, text)
  if (released === text) return false
  holder[name] = released
  return true
}

function refusalInfo (i: number): ChannelInfo {
  return { key: `${i}:refusal`, choice: i, field: 'refusal' }
}

function toolInfo (i: number, j: number): ChannelInfo {
  return { key: `${i}:tool:${j}`, choice: i, field: 'tool_arguments', part: j }
}

function toolCallsOf (delta: JsonObject): JsonObject[] {
  return Array.isArray(delta.tool_calls) ? delta.tool_calls.filter(isJsonObject) : []
}

function isEmptyToolCall (call: JsonObject): boolean {
  for (const [key, value] of Object.entries(call)) {
    if (key === 'index') continue
    if (key !== 'function' || !isJsonObject(value)) return false
    for (const [name, inner] of Object.entries(value)) {
      if (name !== 'arguments' || inner !== '') return false
    }
  }
  return true
}

const kSimpleChoiceKeys = new Set(['index', 'delta', 'logprobs', 'finish_reason'])

const chatFlavor: ChoiceFlavor = {
  protocol: 'openai-chat',
  object: 'chat.completion.chunk',
  textPath: ['delta', 'content'],
  ownsChoicePath (rest) {
    if (rest[0] !== 'delta') return false
    if (rest.length === 2) return rest[1] === 'content' || rest[1] === 'refusal'
    return rest.length === 5 && rest[1] === 'tool_calls' && isPosition(rest[2]) && rest[3] === 'function' && rest[4] === 'arguments'
  },
  scanChoice (choice, i, ctx) {
    const delta = choice.delta
    if (!isJsonObject(delta)) return false
    let changed = scanField(ctx, delta, 'content', choiceTextInfo('content', i))
    if (scanField(ctx, delta, 'refusal', refusalInfo(i))) changed = true
    const calls = toolCallsOf(delta)
    for (let k = 0; k < calls.length; k++) {
      const call = calls[k] as JsonObject
      const fn = call.function
      if (!isJsonObject(fn) || !isText(fn.arguments)) continue
      const j = indexOf(call.index, k)
      const text = fn.arguments
      const released = ctx.channels.scan(toolInfo(i, j), text)
      if (released !== text) {
        fn.arguments = released
        changed = true
      }
    }
    return changed
  },
  appendFlush (choice, info, text) {
    const delta = choice.delta
    if (!isJsonObject(delta)) return false
    if (info.field === 'content' || info.field === 'refusal') {
      const current = delta[info.field]
      if (typeof current !== 'string') return false
      delta[info.field] = current + text
      return true
    }
    const calls = toolCallsOf(delta)
    for (let k = 0; k < calls.length; k++) {
      const call = calls[k] as JsonObject
      const fn = call.function
      if (indexOf(call.index, k) === info.part && isJsonObject(fn) && typeof fn.arguments === 'string') {
        fn.arguments += text
        return true
      }
    }
    return false
  },
  flushChoice (index, parts) {
    const delta: JsonObject = {}
    const calls: JsonObject[] = []
    for (const { info, text } of parts) {
      if (info.field === 'tool_arguments') calls.push({ index: info.part ?? 0, function: { arguments: text } })
      else delta[info.field] = (typeof delta[info.field] === 'string' ? delta[info.field] as string : '') + text
    }
    if (calls.length > 0) delta.tool_calls = calls
    return { index, delta, logprobs: null, finish_reason: null }
  },
  cutChoice (index) {
    return { index, delta: {}, logprobs: null, finish_reason: 'content_filter' }
  },
  simpleText (chunk) {
    const choice = soleChoice(chunk, kSimpleChoiceKeys)
    if (choice === undefined) return undefined
    const delta = choice.delta
    if (!isJsonObject(delta)) return undefined
    const text = delta.content
    if (!isText(text)) return undefined
    for (const key in delta) if (key !== 'content') return undefined
    const i = indexOf(choice.index, 0)
    return { info: choiceTextInfo('content', i), text }
  },
  isEmptyChoice (choice) {
    if (choice.finish_reason !== null && choice.finish_reason !== undefined) return false
    const delta = choice.delta
    if (!isJsonObject(delta)) return true
    for (const [key, value] of Object.entries(delta)) {
      if (key === 'content' || key === 'refusal') {
        if (value !== '' && value !== null) return false
      } else if (key === 'tool_calls') {
        if (!Array.isArray(value) || !value.every((call) => isJsonObject(call) && isEmptyToolCall(call))) return false
      } else if (value !== null && value !== undefined) {
        return false
      }
    }
    return true
  }
}

/** A codec for Chat Completions chunks; `doneMarker: false` for NDJSON. */
export function createOpenAiChatCodec (ctx: CodecContext, options: { doneMarker?: boolean, coalesce?: boolean } = {}): ProtocolCodec {
  const doneMarker = options.doneMarker ?? true
  return createChoiceCodec(ctx, doneMarker ? chatFlavor : { ...chatFlavor, protocol: 'ndjson' }, { doneMarker, coalesce: options.coalesce ?? true })
}

/**
 * Sanitizes a non-streamed `chat.completion` body (or one NDJSON chat
 * answer). Cut: `finish_reason: "content_filter"` on every choice.
 */
export function sanitizeOpenAiChatBody (input: unknown, newScanner: () => Scanner, options: JsonSanitizeOptions = {}): JsonSanitizeResult {
  return sanitizeChoicesBody(input, newScanner, options, 'openai-chat', (scan, choice, i) => {
    const message = choice.message
    if (!isJsonObject(message)) return false
    let changed = scan.scanField(message, 'content', choiceTextInfo('content', i))
    if (scan.scanField(message, 'refusal', refusalInfo(i))) changed = true
    forEachRecord(message.tool_calls, (call, j) => {
      if (isJsonObject(call.function) && scan.scanField(call.function, 'arguments', toolInfo(i, j))) changed = true
    })
    return changed
  })
}
