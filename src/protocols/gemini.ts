/**
 * @module protocols/gemini
 * Google Gemini (Generative Language API) answers, streamed and not. Both
 * carry `GenerateContentResponse` objects: `candidates[]` with `index`,
 * `content: { role: "model", parts[] }`, `finishReason`, `safetyRatings`;
 * then `usageMetadata`, `modelVersion`, `responseId`, and `promptFeedback`
 * when the prompt itself was blocked.
 * - `:streamGenerateContent?alt=sse`: one whole response per SSE `data:`
 *   line, no `event:` names and no end marker (the stream just ends; the
 *   last chunk carries `finishReason`);
 * - `:generateContent`: one response as the JSON body;
 * - `:streamGenerateContent` without `alt=sse`: a JSON array of the chunks.
 *
 * Channels, per candidate (`candidates[].index`): its answer text (parts
 * with `text`) and its thought summaries (parts with `thought: true`), kept
 * apart so a thought never completes a match in the answer. A
 * `functionCall` arrives whole in one part with `args` as a JSON object:
 * every string leaf of `args` is scanned as its own whole text, so the
 * arguments stay an object whatever is redacted.
 *
 * A candidate's held text is flushed into the chunk that carries its
 * `finishReason` (appended to its last part of the same kind), and into an
 * added chunk if the stream ends without one. A text part whose released
 * text is empty is dropped, and so is a chunk left with nothing to say.
 *
 * Cut: Gemini's own content filter stops a candidate with `finishReason:
 * "SAFETY"` (FinishReason in the API reference: "the response candidate
 * content was flagged for safety reasons"), so a cut sends one chunk with
 * every candidate seen finished that way, and the stream ends. Errors are
 * told in Google's error shape, `{ error: { code, message, status } }`.
 */
import type { Finding, Scanner } from '../scanner/types.js'
import { isJsonObject } from '../json/json-object.js'
import type { JsonObject } from '../json/json-object.js'
import { createBodyScan, isPosition, scanStringLeaves } from './body-scan.js'
import { indexOf, parseJsonObject } from './json-frame.js'
import type { ChannelInfo, ChannelScanner, CodecContext, FailureInfo, JsonPath, JsonSanitizeOptions, JsonSanitizeResult, ProtocolCodec } from './types.js'

type Kind = 'thought' | 'text'
const kKinds: readonly Kind[] = ['thought', 'text']

function channelOf (index: number, kind: Kind): ChannelInfo {
  return { key: `${index}:${kind}`, choice: index, field: kind === 'text' ? 'text' : 'thinking' }
}

function kindOf (part: JsonObject): Kind {
  return part.thought === true ? 'thought' : 'text'
}

/** A part that is only text (and its `thought` flag): empty, it says nothing. */
function isBareText (part: JsonObject): boolean {
  return Object.keys(part).every((name) => name === 'text' || name === 'thought')
}

interface GeminiState {
  /** Function calls seen: each string leaf of their args gets a channel of its own. */
  calls: number
}

/**
 * Sanitizes one GenerateContentResponse in place. `final` flushes every
 * candidate (no later chunk will come); otherwise a candidate is flushed
 * when it carries a `finishReason`. Returns whether anything changed.
 */
function sanitizeResponse (channels: ChannelScanner, obj: JsonObject, state: GeminiState, final: boolean, onFinish?: (reason: string) => void): boolean {
  const candidates = obj.candidates
  if (!Array.isArray(candidates)) return false
  let changed = false
  candidates.forEach((candidate: unknown, k) => {
    if (!isJsonObject(candidate)) return
    const index = indexOf(candidate.index, k)
    const content = candidate.content
    const parts = isJsonObject(content) && Array.isArray(content.parts) ? content.parts as unknown[] : undefined
    const emptied = new Set<JsonObject>()
    for (const part of parts ?? []) {
      if (!isJsonObject(part)) continue
      if (typeof part.text === 'string' && part.text !== '') {
        const released = channels.scan(channelOf(index, kindOf(part)), part.text)
        if (released !== part.text) {
          part.text = released
          changed = true
          if (released === '') emptied.add(part)
        }
      }
      const call = part.functionCall
      if (isJsonObject(call) && call.args !== undefined) {
        const info: ChannelInfo = { key: `${index}:call:${state.calls}`, choice: index, field: 'tool_arguments', part: state.calls++ }
        const scanned = scanStringLeaves(call.args, (text) => channels.scanOnce(info, text))
        call.args = scanned.value
        if (scanned.changed) changed = true
      }
    }
    const reason = candidate.finishReason
    if (typeof reason === 'string') onFinish?.(reason)
    if (final || typeof reason === 'string') {
      for (const kind of kKinds) {
        const rest = channels.finish(channelOf(index, kind).key)
        if (rest === '') continue
        changed = true
        const holder = isJsonObject(candidate.content) ? candidate.content : (candidate.content = { role: 'model' })
        const list = Array.isArray(holder.parts) ? holder.parts as unknown[] : (holder.parts = [])
        const last = list.findLast((part): part is JsonObject => isJsonObject(part) && typeof part.text === 'string' && kindOf(part) === kind)
        if (last !== undefined) {
          last.text = (last.text as string) + rest
          emptied.delete(last)
        } else if (kind === 'thought') {
          list.unshift({ text: rest, thought: true })
        } else {
          list.push({ text: rest })
        }
      }
    }
    if (emptied.size > 0 && parts !== undefined && isJsonObject(content)) {
      content.parts = parts.filter((part) => !(isJsonObject(part) && emptied.has(part) && isBareText(part)))
    }
  })
  return changed
}

/** Whether a chunk was left with no part, no finish reason and no prompt feedback. */
function isEmptyChunk (obj: JsonObject): boolean {
  if (obj.promptFeedback !== undefined || !Array.isArray(obj.candidates)) return false
  return obj.candidates.every((candidate: unknown) => isJsonObject(candidate) &&
    candidate.finishReason === undefined &&
    isJsonObject(candidate.content) && Array.isArray(candidate.content.parts) && candidate.content.parts.length === 0)
}

/** Whether `path` is a text part or a string leaf of function call args (what the codec scans). */
function ownsGeminiPath (path: JsonPath): boolean {
  if (path[0] !== 'candidates' || !isPosition(path[1]) || path[2] !== 'content' || path[3] !== 'parts' || !isPosition(path[4])) return false
  if (path[5] === 'text') return path.length === 6
  return path[5] === 'functionCall' && path[6] === 'args' && path.length > 7
}

/** Creates a codec for Gemini `streamGenerateContent?alt=sse` streams. */
export function createGeminiCodec (ctx: CodecContext): ProtocolCodec {
  const channels = ctx.channels
  const state: GeminiState = { calls: 0 }
  /** Candidate indexes seen, in order. */
  const seen = new Set<number>()
  /** Echoed on inserted chunks, as every Gemini chunk carries them. */
  let modelVersion: unknown
  let responseId: unknown

  function envelope (candidates: JsonObject[]): JsonObject {
    const obj: JsonObject = { candidates }
    if (typeof modelVersion === 'string') obj.modelVersion = modelVersion
    if (typeof responseId === 'string') obj.responseId = responseId
    return obj
  }

  return {
    protocol: 'gemini',
    cutReason: 'SAFETY',
    frame (frame) {
      const obj = parseJsonObject(ctx, frame.data)
      if (obj === undefined) return
      if (typeof obj.modelVersion === 'string') modelVersion = obj.modelVersion
      if (typeof obj.responseId === 'string') responseId = obj.responseId
      if (Array.isArray(obj.candidates)) {
        obj.candidates.forEach((candidate: unknown, k) => { if (isJsonObject(candidate)) seen.add(indexOf(candidate.index, k)) })
      }
      const changed = sanitizeResponse(channels, obj, state, false, (reason) => { ctx.upstreamFinish(reason) })
      // After a cut the stream ends with the cut's chunk; what this chunk released before the match still goes out.
      if (changed && isEmptyChunk(obj)) return
      ctx.emit({ event: frame.event, id: frame.id, value: obj })
    },
    end () {
      const byCandidate = new Map<number, JsonObject[]>()
      for (const info of channels.openChannels()) {
        const rest = channels.finish(info.key)
        if (rest === '') continue
        const parts = byCandidate.get(info.choice) ?? []
        if (info.field === 'thinking') parts.unshift({ text: rest, thought: true })
        else parts.push({ text: rest })
        byCandidate.set(info.choice, parts)
      }
      const candidates = [...byCandidate].map(([index, parts]) => ({ content: { role: 'model', parts }, index }))
      if (candidates.length > 0) ctx.emit({ value: envelope(candidates) })
    },
    cut (_finding: Finding) {
      const indexes = seen.size === 0 ? [0] : [...seen].sort((a, b) => a - b)
      ctx.emit({ value: envelope(indexes.map((index) => ({ content: { role: 'model', parts: [] }, finishReason: 'SAFETY', index }))) })
    },
    fail (info: FailureInfo) {
      ctx.emit({ value: { error: { code: 500, message: info.message, status: 'INTERNAL' } } })
    },
    ownsPath (_frame, path) {
      return ownsGeminiPath(path)
    }
  }
}

/** Whether a parsed frame is a GenerateContentResponse chunk. */
export function isGeminiChunk (value: JsonObject): boolean {
  return Array.isArray(value.candidates) || (isJsonObject(value.promptFeedback) && value.object === undefined)
}

/** Whether a JSON body is a GenerateContentResponse, or the array `streamGenerateContent` answers without `alt=sse`. */
export function isGeminiBody (body: unknown): boolean {
  if (Array.isArray(body)) return body.length > 0 && body.every((item) => isJsonObject(item) && (Array.isArray(item.candidates) || isJsonObject(item.promptFeedback)))
  return isJsonObject(body) && (Array.isArray(body.candidates) || (isJsonObject(body.promptFeedback) && body.usageMetadata !== undefined))
}

/**
 * Sanitizes a `generateContent` body, or the chunk array of a
 * `streamGenerateContent` answered without `alt=sse` (scanned as the stream
 * it is: a candidate's text runs on from one chunk to the next). Cut: the
 * chunk that tripped it ends the array, its candidates finished `SAFETY`.
 */
export function sanitizeGeminiBody (input: unknown, newScanner: () => Scanner, options: JsonSanitizeOptions = {}): JsonSanitizeResult {
  const scan = createBodyScan(input, newScanner, options)
  const state: GeminiState = { calls: 0 }
  const chunks: unknown[] = Array.isArray(scan.body) ? scan.body : [scan.body]
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i]
    if (!isJsonObject(chunk)) continue
    if (sanitizeResponse(scan.channels, chunk, state, i === chunks.length - 1)) scan.changed = true
    if (scan.channels.cutFinding() !== undefined) {
      if (Array.isArray(chunk.candidates)) for (const candidate of chunk.candidates) if (isJsonObject(candidate)) candidate.finishReason = 'SAFETY'
      chunks.length = i + 1
      break
    }
  }
  return scan.result('gemini')
}
