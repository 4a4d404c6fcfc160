/**
 * @module protocols/types
 * The shapes shared by the protocol layer: wire frames (what SSE and NDJSON
 * framings produce and accept), text channels (one scanner per stream of
 * text inside a response), the codec contract each protocol implements,
 * and what its non-streamed body sanitizer takes and gives back.
 * No I/O here: codecs turn frames into text deltas and back, and the
 * Node Transform (stream/create-sanitize-stream.ts) only wires them up.
 */
import type { Finding } from '../scanner/types.js'
import type { JsonObject } from '../json/json-object.js'

/** The LLM stream protocols Sluice understands. */
export type Protocol =
  | 'openai-chat'
  | 'openai-completions'
  | 'openai-responses'
  | 'anthropic-messages'
  /** `application/x-ndjson`: one OpenAI chat chunk object per line, no `[DONE]`. */
  | 'ndjson'
  /** Google Gemini `streamGenerateContent?alt=sse` (protocols/gemini.ts). */
  | 'gemini'
  /** Ollama `/api/chat` and `/api/generate` NDJSON (protocols/ollama.ts). */
  | 'ollama'
  /** Vercel AI SDK UI message stream (protocols/vercel-ai.ts). */
  | 'vercel-ai'
  /** Cohere v2 chat stream (protocols/cohere.ts). */
  | 'cohere'

/** `auto` picks the protocol from the content type and the first frame. */
export type ProtocolOption = Protocol | 'auto'

/** How frames are delimited on the wire. */
export type Framing = 'sse' | 'ndjson'

/**
 * One data frame: an SSE event (with its optional `event:` and `id:` fields)
 * or one NDJSON line (`data` only).
 */
export interface DataFrame {
  event?: string | undefined
  id?: string | undefined
  data: string
  /**
   * Set by a codec on a frame whose every string it has scanned or checked
   * with the generic JSON path already (the OpenAI fast path's template):
   * the guard passes it as it is.
   */
  scanned?: boolean
}

/**
 * A frame a codec emits: wire data (its own markers like `[DONE]`, the fast
 * path's frames), or the JSON value it parsed and changed, which the generic
 * JSON guard scans in place and serializes once (no second parse).
 */
export type EmitFrame = DataFrame | {
  event?: string | undefined
  id?: string | undefined
  value: JsonObject
}

/** Which text field of a response a channel carries (for findings and audit). */
export type TextField =
  | 'content'
  | 'refusal'
  | 'tool_arguments'
  | 'text'
  | 'reasoning'
  | 'thinking'
  /** A string anywhere else in a JSON frame or body: scanned by the generic JSON path (generic-json.ts). */
  | 'json'

/**
 * One independent stream of text inside a response: a choice's content, a
 * tool call's arguments, an Anthropic content block… Each gets its own
 * scanner, so text of one choice never completes a match in another.
 */
export interface ChannelInfo {
  /** Unique within a stream, e.g. `0:content` or `0:tool:1`. */
  readonly key: string
  /** Choice index (OpenAI chat/completions), output index (Responses) or content block index (Anthropic). */
  readonly choice: number
  readonly field: TextField
  /** Tool call index within the choice (OpenAI chat), content index (Responses). */
  readonly part?: number
}

/** What `onFinding` learns besides the finding itself. */
export interface FindingContext {
  readonly channel: string
  readonly choice: number
  readonly field: TextField
  readonly part?: number
}

/** The text channels as a codec sees them (see protocols/text-channels.ts). */
export interface ChannelScanner {
  /** Scans the next piece of a channel; returns the text safe to release now ('' once cut). */
  scan(info: ChannelInfo, text: string): string
  /**
   * Ends a channel for now: returns everything it still held ('' if unknown,
   * ended or cut). Text written to it later continues it (see text-channels.ts).
   */
  finish(key: string): string
  /**
   * Scans one whole value on its own (write and end at once) and reports
   * its findings like any channel's, without keeping a channel: metadata,
   * object keys, snapshots. Findings that end at or before `skipBefore` are
   * not reported (the caller prepended text already scanned, for context).
   */
  scanOnce(info: ChannelInfo, text: string, skipBefore?: number): string
  /** Whether `text` is known to scan clean whole (a `scanOnce` remembered it). */
  knownClean(text: string): boolean
  /** Channels written and not yet finished, in the order they were opened. */
  openChannels(): ChannelInfo[]
  /** Whether the channel was ever written. */
  has(key: string): boolean
  /** All text released so far on a channel (only when channels accumulate). */
  released(key: string): string | undefined
  /**
   * The finding of the `cut` rule any channel hit, once one did. (A method,
   * not a getter: see createScanner on getters in object literals.)
   */
  cutFinding(): Finding | undefined
}

/** What a codec may do while handling a frame. */
export interface CodecContext {
  readonly channels: ChannelScanner
  /** Queues a frame for output, in order. */
  emit(frame: EmitFrame): void
  /** Reports a frame that could not be understood; it is dropped, never passed on. */
  malformed(reason: string): void
  /** Records the upstream's own finish reason (`finish_reason`, `stop_reason`, status). */
  upstreamFinish(reason: string): void
  /** Whether upstream frames carried `event:` fields (inserted frames copy the habit). */
  namedEvents(): boolean
}

/** What an upstream failure looks like when told to the client in-band. */
export interface FailureInfo {
  /** Human-readable and free of upstream content (never a frame's text). */
  message: string
  /** Sluice error code, e.g. `SLUICE_UPSTREAM`. */
  code: string
}

/**
 * One protocol's decoder and encoder. The codec parses a data frame, passes
 * its text through the channels and emits the frames to write back.
 */
export interface ProtocolCodec {
  /** The protocol this codec speaks; undefined while `auto` has not decided yet. */
  readonly protocol: Protocol | undefined
  /** Handles one upstream data frame. */
  frame(frame: DataFrame): void
  /**
   * Handles the frame only if it is one the codec's fast path takes as it
   * is (the OpenAI chunk template): true when it did. Lets `auto` skip
   * recognising the frames of a stream it has recognised already.
   */
  takeFast?(frame: DataFrame): boolean
  /**
   * The frames of one read have all been handed over: emit what the codec
   * coalesced meanwhile (see openai-choices.ts). Codecs that emit every
   * frame at once need not implement it.
   */
  flush?(): void
  /** Upstream ended: flush what channels still hold, before any finishing frame. */
  end(): void
  /** A channel hit a cut rule: emit the protocol's closing frames. */
  cut(finding: Finding): void
  /** Upstream failed: emit a protocol-shaped error frame. */
  fail(info: FailureInfo): void
  /** The reason we tell the client on a cut (`content_filter`, `refusal`). */
  readonly cutReason: string
  /**
   * Whether the string at `path` of an emitted frame's JSON value is text this
   * codec scanned itself through `ctx.channels` (a known text channel).
   * Every other string leaf and key of every emitted frame is scanned by the
   * generic JSON path (protocols/generic-json.ts): deny by default, so a
   * codec only ever narrows what the generic path does, never widens what
   * passes unscanned. `frame` is the parsed data of the emitted frame,
   * `event` its SSE `event:` field.
   */
  ownsPath?(frame: JsonValue, path: JsonPath, event: string | undefined): boolean
  /**
   * Whether the string at `path` belongs to a snapshot (a whole object the
   * protocol sends again as it grows, like the Responses API's `response`):
   * the generic path scans such values whole instead of as deltas.
   */
  snapshotPath?(frame: JsonValue, path: JsonPath, event: string | undefined): boolean
}

/** A parsed JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

/** Where a leaf sits in a JSON value: object keys and array positions, outermost first. */
export type JsonPath = ReadonlyArray<string | number>

/**
 * How a non-streamed (`stream: false`) body is sanitized: by
 * `sanitizeJsonBody`, or by a protocol's own body sanitizer (beside its
 * codec, in the protocol's module).
 */
export interface JsonSanitizeOptions {
  /** Default `auto`: recognised from `object` / `type`. */
  protocol?: ProtocolOption
  onFinding?: (finding: Finding, context: FindingContext) => void
  onCut?: (finding: Finding, context: FindingContext) => void
  /**
   * The caller owns `input` (say, it comes straight from `JSON.parse`) and
   * lets it be changed in place: no copy is made. The copy (a
   * `structuredClone`) cost more than scanning a small chat completion.
   */
  inPlace?: boolean
}

/** What a body sanitizer gives back. */
export interface JsonSanitizeResult {
  /** The sanitized copy (the input itself when nothing changed, or changed in place with `inPlace`). */
  body: unknown
  changed: boolean
  findings: Finding[]
  cut: Finding | undefined
  /** The protocol recognised; undefined when the body is none Sluice knows (left as is). */
  protocol: Protocol | undefined
}
