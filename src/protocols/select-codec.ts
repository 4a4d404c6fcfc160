/**
 * @module protocols/select-codec
 * Picks the framing from the content type and the codec from the protocol
 * option.
 *
 * With `auto`, every frame is recognised on its own (recogniseFrame): SSE
 * Responses API events are named `response.*`, Anthropic's `message_start`…,
 * Cohere v2 events and AI SDK UI message parts have a `type` of their own
 * vocabulary, legacy Completions chunks say `"object": "text_completion"`,
 * Gemini chunks carry a `candidates` array (or only `promptFeedback`), and
 * Chat Completions chunks a `choices` array (or `"object":
 * "chat.completion.chunk"` and no `choices`). An NDJSON line is Ollama's
 * when it has Ollama's shape (`created_at`, `done`, `message` or
 * `response`), a Chat Completions chunk by the same test as over SSE.
 *
 * The first protocol recognised is the stream's primary: it names the
 * protocol, its codec ends the stream (`end` last, `cut`, `fail`). A later
 * frame of another protocol goes to a secondary codec of that protocol,
 * made when first needed and kept for the stream, so a stream that mixes
 * protocols (a gateway concatenating answers) has each frame read by the
 * codec that knows its shape. A JSON object of no known shape — before or
 * after the primary is decided — takes the generic path: it goes out as
 * its parsed value and the generic JSON guard scans every string of it.
 * Data that is no JSON object is for the primary to read (`[DONE]`) or to
 * report malformed; before a primary exists it is reported and dropped,
 * except `[DONE]`, which makes Chat Completions the primary.
 *
 * Why Chat Completions needs a strict test: it used to be what any JSON
 * object was read as, and its codec claims the strings at
 * `choices.*.delta.content` of every frame it emits (ownsPath). A frame
 * whose `choices` is an object keyed like positions, read as a chunk, would
 * have those strings claimed yet never scanned; read as unknown, they are
 * scanned like every other string.
 *
 * Keeping each codec's claims its own: the guard asks the auto codec which
 * paths of an emitted frame are owned; the answer comes from the inner
 * codec whose `emit` is running (the guard scans a frame synchronously
 * inside `emit`). Keyed by the codec rather than by the emitted value,
 * because unchanged events go out as the upstream's data string, which the
 * guard parses anew. A frame the auto codec emits itself (the generic path)
 * has no owner: nothing is claimed. Secondaries see their channel keys
 * prefixed with their protocol (`anthropic-messages/0`), so a block of one
 * protocol never continues a choice of another; the primary keeps its keys.
 */
import { UnsupportedProtocolError } from '../errors.js'
import { kNdjsonTypes, mediaTypeOf } from '../http/media-types.js'
import { isJsonObject } from '../json/json-object.js'
import type { JsonObject } from '../json/json-object.js'
import { createAnthropicMessagesCodec } from './anthropic-messages.js'
import { createCohereCodec, kCohereEventTypes } from './cohere.js'
import { createGeminiCodec, isGeminiChunk } from './gemini.js'
import { createOpenAiChatCodec } from './openai-chat.js'
import { createOpenAiCompletionsCodec } from './openai-completions.js'
import { createOllamaCodec, isOllamaBody } from './ollama.js'
import { createOpenAiResponsesCodec } from './openai-responses.js'
import { createVercelAiCodec, isVercelPart } from './vercel-ai.js'
import type { ChannelInfo, ChannelScanner, CodecContext, DataFrame, Framing, Protocol, ProtocolCodec, ProtocolOption } from './types.js'

const kAnthropicEvents = new Set([
  'message_start',
  'content_block_start',
  'content_block_delta',
  'content_block_stop',
  'message_delta',
  'message_stop',
  'ping'
])

const kProtocols = new Set<ProtocolOption>([
  'openai-chat',
  'openai-completions',
  'openai-responses',
  'anthropic-messages',
  'ndjson',
  'gemini',
  'ollama',
  'vercel-ai',
  'cohere',
  'auto'
])

const kDone = '[DONE]'

/**
 * Frames after which a client reads no more (the same list as the generic
 * JSON guard's): secondaries flush what they hold before the primary's.
 */
const kTerminalTypes = new Set(['message_stop', 'response.completed', 'response.incomplete', 'response.failed', 'finish', 'message-end'])

// One media-type parser for the whole project (the plugin and the proxy use it too).
export { isStreamContentType, mediaTypeOf } from '../http/media-types.js'

/**
 * The framing for a stream: from the content type when given (it says what
 * the bytes are), else from the protocol (`ndjson` or SSE). Throws
 * UnsupportedProtocolError for an unknown protocol or a content type that
 * is not a stream (use `sanitizeJsonResponse` for `application/json`).
 */
export function selectFraming (protocol: ProtocolOption, contentType?: string): Framing {
  if (!kProtocols.has(protocol)) throw new UnsupportedProtocolError(String(protocol))
  if (contentType === undefined || contentType === '') return protocol === 'ndjson' || protocol === 'ollama' ? 'ndjson' : 'sse'
  const type = mediaTypeOf(contentType)
  if (type === 'text/event-stream') return 'sse'
  if (kNdjsonTypes.has(type)) return 'ndjson'
  throw new UnsupportedProtocolError(type)
}

/** What `auto` can tell of one frame from the frame alone. */
export interface RecognisedFrame {
  /** The protocol the frame clearly belongs to; undefined for `[DONE]`, unknown shapes and unreadable data. */
  protocol: Protocol | undefined
  /** The frame's data when it is a JSON object (not parsed when the SSE event name decided). */
  value: JsonObject | undefined
}

function parseObject (data: string): JsonObject | undefined {
  // `[DONE]` and other text are common: no exception thrown and caught for them.
  if (data.charCodeAt(0) !== 0x7b /* { */ && data.trimStart()[0] !== '{') return undefined
  try {
    const value: unknown = JSON.parse(data)
    return isJsonObject(value) ? value : undefined
  } catch {
    return undefined
  }
}

/** A field a choices codec reads as an array: absent, or an array (anything else is no chunk it can read). */
function absentOrArray (value: unknown): boolean {
  return value === undefined || Array.isArray(value)
}

/**
 * A Chat Completions chunk: a `choices` array, or `"object":
 * "chat.completion.chunk"` with no `choices` (a usage-only chunk some
 * servers send without one). See the module header for why this is strict.
 */
export function isChatChunk (value: JsonObject): boolean {
  return Array.isArray(value.choices) || (value.choices === undefined && value.object === 'chat.completion.chunk')
}

/** The protocol of a JSON object seen over SSE, by its data alone; undefined when it has no known shape. */
function protocolOfObject (value: JsonObject): Protocol | undefined {
  const type = value.type
  if (typeof type === 'string') {
    if (type.startsWith('response.')) return 'openai-responses'
    if (kAnthropicEvents.has(type)) return 'anthropic-messages'
    if (kCohereEventTypes.has(type)) return 'cohere'
    if (isVercelPart(value)) return 'vercel-ai'
  }
  if (value.object === 'text_completion' && absentOrArray(value.choices)) return 'openai-completions'
  if (isGeminiChunk(value) && absentOrArray(value.candidates)) return 'gemini'
  if (isChatChunk(value)) return 'openai-chat'
  return undefined
}

function protocolOfEvent (event: string | undefined): Protocol | undefined {
  if (event === undefined) return undefined
  if (event.startsWith('response.')) return 'openai-responses'
  if (kAnthropicEvents.has(event)) return 'anthropic-messages'
  if (kCohereEventTypes.has(event)) return 'cohere'
  return undefined
}

/**
 * Recognises one frame (see the module header): the protocol it clearly
 * belongs to, and its parsed data when that is a JSON object.
 */
export function recogniseFrame (framing: Framing, frame: DataFrame): RecognisedFrame {
  if (framing === 'sse') {
    const byEvent = protocolOfEvent(frame.event)
    if (byEvent !== undefined) return { protocol: byEvent, value: undefined }
  }
  const value = parseObject(frame.data)
  if (value === undefined) return { protocol: undefined, value }
  if (framing === 'ndjson') return { protocol: isOllamaBody(value) ? 'ollama' : isChatChunk(value) ? 'ndjson' : undefined, value }
  return { protocol: protocolOfObject(value), value }
}

/**
 * Recognises the protocol of an SSE stream from a data frame, if it can;
 * `[DONE]` and any JSON object of no known shape read as Chat Completions
 * (`auto` itself is stricter, see recogniseFrame).
 */
export function sniffProtocol (event: string | undefined, data: string): Protocol | undefined {
  if (data === kDone && protocolOfEvent(event) === undefined) return 'openai-chat'
  const { protocol, value } = recogniseFrame('sse', { event, data })
  return protocol ?? (value === undefined ? undefined : 'openai-chat')
}

/** Recognises the protocol of an NDJSON stream from a line: Ollama's shape, else Chat Completions chunks. */
export function sniffNdjsonProtocol (data: string): Protocol {
  return recogniseFrame('ndjson', { data }).protocol === 'ollama' ? 'ollama' : 'ndjson'
}

/** What every codec is made with. */
export interface CodecOptions {
  /** Merge consecutive text-only chunks of one read (OpenAI chat and completions; default true). */
  coalesce?: boolean
}

function codecFor (protocol: Protocol, framing: Framing, ctx: CodecContext, options: CodecOptions): ProtocolCodec {
  const coalesce = options.coalesce ?? true
  switch (protocol) {
    case 'openai-chat':
    case 'ndjson':
      return createOpenAiChatCodec(ctx, { doneMarker: framing === 'sse', coalesce })
    case 'openai-completions':
      return createOpenAiCompletionsCodec(ctx, { coalesce })
    case 'openai-responses':
      return createOpenAiResponsesCodec(ctx)
    case 'anthropic-messages':
      return createAnthropicMessagesCodec(ctx)
    case 'gemini':
      return createGeminiCodec(ctx)
    case 'ollama':
      return createOllamaCodec(ctx)
    case 'vercel-ai':
      return createVercelAiCodec(ctx)
    case 'cohere':
      return createCohereCodec(ctx)
  }
}

/**
 * The channels as a secondary codec sees them: its keys prefixed, so they
 * never meet another codec's. A Responses secondary keeps its released
 * text itself: the stream's channels keep it only when Responses is the
 * primary, and the codec repeats it in its `*.done` events.
 */
function createPrefixedChannels (base: ChannelScanner, prefix: string, accumulate: boolean): ChannelScanner {
  const kept = new Map<string, string[]>()
  const wrap = (info: ChannelInfo): ChannelInfo => ({ ...info, key: prefix + info.key })
  function keep (key: string, text: string): string {
    if (accumulate && text !== '') {
      const list = kept.get(key)
      if (list === undefined) kept.set(key, [text])
      else list.push(text)
    }
    return text
  }
  return {
    scan (info, text) {
      return keep(prefix + info.key, base.scan(wrap(info), text))
    },
    finish (key) {
      return keep(prefix + key, base.finish(prefix + key))
    },
    scanOnce (info, text, skipBefore) {
      return base.scanOnce(wrap(info), text, skipBefore)
    },
    knownClean (text) {
      return base.knownClean(text)
    },
    openChannels () {
      const open: ChannelInfo[] = []
      for (const info of base.openChannels()) if (info.key.startsWith(prefix)) open.push({ ...info, key: info.key.slice(prefix.length) })
      return open
    },
    has (key) {
      return base.has(prefix + key)
    },
    released (key) {
      const full = prefix + key
      const own = base.released(full)
      if (own !== undefined || !accumulate || !base.has(full)) return own
      const list = kept.get(full)
      if (list === undefined) return ''
      if (list.length > 1) list.splice(0, list.length, list.join(''))
      return list[0] ?? ''
    },
    cutFinding: () => base.cutFinding()
  }
}

/** One codec inside `auto`. */
interface Inner {
  readonly protocol: Protocol
  readonly codec: ProtocolCodec
}

/**
 * The `auto` codec: recognises every frame and hands it to the codec of
 * its protocol, or to the generic path (see the module header).
 */
function createAutoCodec (framing: Framing, ctx: CodecContext, options: CodecOptions): ProtocolCodec {
  let primary: Inner | undefined
  /** By protocol, in order of creation. */
  const secondaries = new Map<Protocol, Inner>()
  /** Prefixes of the secondaries' channel keys. */
  const prefixes: string[] = []
  /** The inner codec whose `emit` is running: the owner of the frame the guard is scanning. */
  let emitting: ProtocolCodec | undefined
  /** Where the previous frame went (undefined: the generic path, or none yet). */
  let last: Inner | undefined

  /** The primary's channels: its own keys, without the secondaries'. */
  const primaryChannels: ChannelScanner = {
    scan: (info, text) => ctx.channels.scan(info, text),
    finish: (key) => ctx.channels.finish(key),
    scanOnce: (info, text, skipBefore) => ctx.channels.scanOnce(info, text, skipBefore),
    knownClean: (text) => ctx.channels.knownClean(text),
    openChannels () {
      const open = ctx.channels.openChannels()
      return prefixes.length === 0 ? open : open.filter((info) => !prefixes.some((p) => info.key.startsWith(p)))
    },
    has: (key) => ctx.channels.has(key),
    released: (key) => ctx.channels.released(key),
    cutFinding: () => ctx.channels.cutFinding()
  }

  function createInner (protocol: Protocol, secondary: boolean): Inner {
    // eslint-disable-next-line prefer-const -- the context built before it refers to it
    let codec: ProtocolCodec | undefined
    const prefix = `${protocol}/`
    if (secondary) prefixes.push(prefix)
    const innerCtx: CodecContext = {
      channels: secondary ? createPrefixedChannels(ctx.channels, prefix, protocol === 'openai-responses') : primaryChannels,
      emit (frame) {
        const previous = emitting
        emitting = codec
        try {
          ctx.emit(frame)
        } finally {
          emitting = previous
        }
      },
      malformed: (reason) => { ctx.malformed(reason) },
      // The stream's finish is the primary's, as its closing frames are.
      upstreamFinish: (reason) => { if (!secondary) ctx.upstreamFinish(reason) },
      namedEvents: () => ctx.namedEvents()
    }
    codec = codecFor(protocol, framing, innerCtx, options)
    return { protocol, codec }
  }

  function innerFor (protocol: Protocol): Inner {
    if (primary === undefined) {
      primary = createInner(protocol, false)
      self.protocol = primary.codec.protocol
      self.cutReason = primary.codec.cutReason
      return primary
    }
    if (protocol === primary.protocol) return primary
    let inner = secondaries.get(protocol)
    if (inner === undefined) {
      inner = createInner(protocol, true)
      secondaries.set(protocol, inner)
    }
    return inner
  }

  /** Whether the frame ends the stream for its readers (then what secondaries hold goes out first). */
  function isTerminal (frame: DataFrame, value: JsonObject | undefined): boolean {
    if (frame.data === kDone || (frame.event !== undefined && kTerminalTypes.has(frame.event))) return true
    return value !== undefined && ((typeof value.type === 'string' && kTerminalTypes.has(value.type)) || value.done === true)
  }

  /** Ends every secondary (creation order); false once a cut stopped the stream. */
  function endSecondaries (): boolean {
    for (const inner of secondaries.values()) {
      if (ctx.channels.cutFinding() !== undefined) return false
      inner.codec.end()
    }
    return ctx.channels.cutFinding() === undefined
  }

  /**
   * The next frame goes to `target` (undefined: the generic path). A codec
   * may hold frames of this read back (coalescing): they go out before a
   * frame another path writes. False once that tripped a cut.
   */
  function switchTo (target: Inner | undefined): boolean {
    if (last !== undefined && last !== target) last.codec.flush?.()
    last = target
    return ctx.channels.cutFinding() === undefined
  }

  // Plain fields, set when the primary is chosen (see createScanner on
  // getters in object literals).
  const self: { -readonly [K in keyof ProtocolCodec]: ProtocolCodec[K] } = {
    protocol: undefined,
    cutReason: 'content_filter',
    ownsPath (frame, path, event) {
      return emitting?.ownsPath?.(frame, path, event) ?? false
    },
    snapshotPath (frame, path, event) {
      return emitting?.snapshotPath?.(frame, path, event) ?? false
    },
    frame (frame) {
      // A frame of the envelope the primary's fast path knows (same id,
      // model and shape as a chunk it parsed and checked) is the primary's.
      if (last !== undefined && last === primary && primary.codec.takeFast?.(frame) === true) return
      const { protocol, value } = recogniseFrame(framing, frame)
      if (protocol === undefined && value !== undefined) {
        // A JSON object of no known shape: the generic path, nothing owned.
        if (switchTo(undefined)) ctx.emit({ event: frame.event, id: frame.id, value })
        return
      }
      let target: Inner
      if (protocol !== undefined) {
        target = innerFor(protocol)
      } else if (primary !== undefined) {
        // `[DONE]`, or data no codec reads: the primary's (it reports what it cannot read).
        target = primary
      } else if (frame.data === kDone) {
        target = innerFor(framing === 'sse' ? 'openai-chat' : 'ndjson')
      } else {
        ctx.malformed(`frame of no known protocol (${frame.data.length} chars)`)
        return
      }
      if (!switchTo(target)) return
      if (target === primary && secondaries.size > 0 && isTerminal(frame, value) && !endSecondaries()) return
      target.codec.frame(frame)
    },
    flush () {
      primary?.codec.flush?.()
      for (const inner of secondaries.values()) {
        if (ctx.channels.cutFinding() !== undefined) return
        inner.codec.flush?.()
      }
    },
    end () {
      // The primary's closing frames come last.
      if (endSecondaries()) primary?.codec.end()
    },
    cut (finding) {
      // Nothing recognised yet: no protocol to close, the stream just ends.
      primary?.codec.cut(finding)
    },
    fail (info) {
      // Nothing recognised yet: the OpenAI error shape is the most widely understood.
      (primary?.codec ?? codecFor(framing === 'sse' ? 'openai-chat' : 'ndjson', framing, ctx, options)).fail(info)
    }
  }
  return self
}

/**
 * The codec for a protocol option; with `auto`, one that recognises every
 * frame and hands it to the codec of its protocol (see the module header).
 * @example
 * const codec = createCodec('auto', 'sse', ctx)
 * codec.frame({ event: 'message_start', data: '{"type":"message_start",…}' })
 */
export function createCodec (protocol: ProtocolOption, framing: Framing, ctx: CodecContext, options: CodecOptions = {}): ProtocolCodec {
  if (protocol !== 'auto') return codecFor(protocol, framing, ctx, options)
  return createAutoCodec(framing, ctx, options)
}
