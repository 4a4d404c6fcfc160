/**
 * @module protocols/generic-json
 * Deny by default for JSON frames: every string a client can read in a frame
 * Sluice writes has been scanned. A codec scans the text channels it knows
 * (a choice's content, a block's text…) and says so through `ownsPath`; this
 * guard scans everything else of every frame the codec emits — unknown keys
 * at any depth, unknown event types, error objects, metadata, object keys —
 * and re-serializes the frame from the scanned value, so the upstream's raw
 * bytes never go out (a duplicated key, `{"content":"<secret>","content":"hi"}`,
 * reads as its last value to `JSON.parse` and as its first to other readers).
 *
 * How a string is scanned depends on where it sits:
 * - **Metadata** (`id`, `model`, `type`, `role`, `finish_reason`… given as a
 *   short plain token) and **object keys** are scanned whole, on their own
 *   (the channels remember values found clean: they repeat every frame).
 * - **Snapshots** (a codec's `snapshotPath`: the `response` object of
 *   Responses events, `message_start.message`) are scanned whole too, and
 *   together with the previous value at the same path, so that a value
 *   split over two snapshots is still found.
 * - **Everything else** is a delta until proven otherwise: the strings at one
 *   JSON path (arrays of objects with an integer `index` keyed by that
 *   index, as SDKs accumulate them) are one text channel with the same
 *   holdback as content, so a value spelled one character per frame is
 *   caught as it would be in `delta.content`. A value equal to the path's
 *   previous one is a repeated snapshot, scanned whole instead (else a
 *   repeated field would be read as one text running on). What a channel
 *   still holds at the end is flushed in a frame built from the last one at
 *   that path (`flush`), before the protocol's closing frames.
 * SSE `event:` and `id:` fields go out only as short plain tokens that scan
 * clean; anything else is dropped.
 *
 * Frames the codec marks `scanned` (the OpenAI fast path's template, whose
 * envelope was checked here once) are passed as they are.
 */
import { TextDecoder } from 'node:util'
import { isJsonObject } from '../json/json-object.js'
import type { Scanner } from '../scanner/types.js'
import type { ChannelInfo, ChannelScanner, DataFrame, EmitFrame, JsonPath, JsonValue } from './types.js'

/** Keys whose string values are metadata when they are plain tokens. */
const kMetadataKeys = new Set([
  'id', 'object', 'model', 'type', 'role', 'status', 'event',
  'finish_reason', 'stop_reason', 'done_reason', 'finishReason',
  'system_fingerprint', 'service_tier', 'created_at', 'modelVersion', 'responseId',
  'call_id', 'item_id', 'tool_call_id', 'tool_use_id', 'toolCallId', 'response_id', 'name',
  // OpenAI's per-chunk padding: random letters sized to the chunk's text.
  'obfuscation'
])

/** Frames after which a client reads no more: what generic channels hold goes out before them. */
const kTerminalTypes = new Set(['message_stop', 'response.completed', 'response.incomplete', 'response.failed', 'finish', 'message-end'])

/** A plain token: what ids, model names, enum values and event names look like. */
const kToken = /^[A-Za-z0-9_.:/+=-]{1,128}$/
/**
 * Keys whose string values are JSON text a client parses (tool and function
 * arguments by any provider's name): scanned as decoded strings
 * (json-arguments.ts), wherever they sit.
 */
const kArgumentKeys = new Set(['arguments', 'partial_json', 'args', 'input', 'inputTextDelta', 'input_json', 'parameters'])
/** Integers this long can spell a card, an account or an ID number: scanned as text. */
const kMinScannedDigits = 9

/** Top-level fields that tell apart the independent streams of one event type. */
const kDiscriminators = ['index', 'output_index', 'content_index', 'summary_index', 'item_id'] as const
/** Fields a flush frame must not repeat: they finish what they belong to. */
const kFinishing = new Set(['finish_reason', 'stop_reason', 'finishReason', 'done_reason', 'status', 'done', 'stop_sequence'])
const kDone = '[DONE]'
/** Characters of a snapshot's previous value scanned with the next one. */
const kSnapshotContext = 256

export interface JsonGuardOptions {
  channels: ChannelScanner
  /** Scanners for the closing frames, written after the channels have ended or a cut stopped them. */
  newScanner: () => Scanner
}

/** What the guard asks the codec about one emitted frame. */
export interface LeafOwner {
  ownsPath?(frame: JsonValue, path: JsonPath, event: string | undefined): boolean
  snapshotPath?(frame: JsonValue, path: JsonPath, event: string | undefined): boolean
}

export interface JsonGuard {
  /**
   * Scans a frame the codec emitted; returns the frames to write: none (a
   * frame left with nothing), the frame, or — before a frame that ends the
   * stream for its readers (`[DONE]`, `message_stop`…) — what generic
   * channels still held, then the frame.
   */
  frame(frame: EmitFrame, owner: LeafOwner | undefined): DataFrame[]
  /** Frames carrying what generic channels still hold (end of stream). */
  flush(): DataFrame[]
  /**
   * From now on every string is scanned whole on its own, detached from the
   * channels (the closing frames of an end, a cut or a failure: after a cut
   * the channels release nothing, yet a closing frame copies the envelope).
   */
  close(): void
}

interface PathState {
  /** The previous raw value at this path. */
  last: string
  /** The last frame written with this path, and the event it had (the flush frame copies its envelope). */
  frame: JsonValue
  event: string | undefined
  path: Array<string | number>
  info: ChannelInfo
  /** Whether text at this path was scanned as a stream (its channel may hold some). */
  streamed: boolean
  /**
   * For a path that carries byte values (`logprobs[].bytes`): the UTF-8
   * decoder of its stream (a character may be split between two frames'
   * arrays), and the held text goes out as bytes too.
   */
  bytes?: TextDecoder | undefined
}

/** An integer long enough to spell a card, an account or an ID number: scanned as text. */
function isLongInteger (value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && Math.abs(value) >= 10 ** (kMinScannedDigits - 1)
}

/**
 * An array of at least `min` byte values. Under a `bytes` key
 * (`logprobs[].bytes`, which clients decode) it spells text one byte per
 * frame if need be, so one element counts; elsewhere (`text_offset: [12]`)
 * two or more.
 */
function isByteArray (value: JsonValue[], min = 2): value is number[] {
  return value.length >= min && value.every((e) => typeof e === 'number' && Number.isInteger(e) && e >= 0 && e < 256)
}

/** Text as the byte values a client decodes. */
function toBytes (text: string): number[] {
  return Array.from(Buffer.from(text, 'utf8'))
}

/** The element of `list` a path segment names (see segmentOf). */
export function elementAt (list: unknown, segment: string | number | undefined): unknown {
  if (!Array.isArray(list)) return undefined
  if (typeof segment === 'number') return list[segment]
  if (typeof segment !== 'string' || !segment.startsWith('#')) return undefined
  const index = Number(segment.slice(1))
  return list.find((e: unknown) => isJsonObject(e) && e.index === index)
}

/**
 * The path segment of object key `key`. Array elements are named by a
 * number or `#<index>` (segmentOf), so a key that starts with `#` is
 * prefixed with a NUL: an object cannot pose as an array at a path a codec
 * reads as positions (`{"choices":{"#0":…}}` is not `"choices":[{"index":0,…}]`).
 */
export function keySegment (key: string): string {
  return key.startsWith('#') ? `\0${key}` : key
}

function keyOfSegment (segment: string): string {
  return segment.startsWith('\0#') ? segment.slice(1) : segment
}

/** The path segment of array element `k`: its integer `index` when it has one. */
export function segmentOf (element: JsonValue, k: number): string | number {
  if (isJsonObject(element) && typeof element.index === 'number' && Number.isInteger(element.index)) return `#${element.index}`
  return k
}

/** The envelope of `frame` along `path`, with `text` at its end: ids, types and indexes kept, nothing else. */
function skeleton (frame: JsonValue, path: ReadonlyArray<string | number>, text: JsonValue): JsonValue {
  if (path.length === 0) return text
  const [head, ...rest] = path
  if (Array.isArray(frame)) {
    const at = typeof head === 'number' ? head : frame.findIndex((e, k) => segmentOf(e, k) === head)
    return [skeleton(frame[at] ?? null, rest, text)]
  }
  if (!isJsonObject(frame)) return skeleton(typeof head === 'number' ? [] : {}, path, text)
  const out: Record<string, JsonValue> = {}
  const at = keyOfSegment(String(head))
  for (const [key, value] of Object.entries(frame)) {
    if (key === at || kFinishing.has(key)) continue
    if (typeof value === 'number' || (typeof value === 'string' && kMetadataKeys.has(key) && kToken.test(value))) out[key] = value
  }
  out[at] = skeleton(frame[at] ?? null, rest, text)
  return out
}

/**
 * Whether every string of `value` but the one at `slot` is a metadata token
 * (or key) that scans clean: the check a fast path makes once on a frame
 * before writing later frames of the same envelope without the guard.
 */
export function isCleanEnvelope (value: JsonValue, slot: JsonPath, channels: ChannelScanner): boolean {
  const info: ChannelInfo = { key: 'json:meta', choice: 0, field: 'json' }
  const clean = (text: string): boolean => kToken.test(text) && channels.scanOnce(info, text) === text
  const path: Array<string | number> = []
  const atSlot = (): boolean => path.length === slot.length && path.every((p, i) => p === slot[i])
  function check (v: JsonValue, key: string | number): boolean {
    if (typeof v === 'string') return atSlot() || (typeof key === 'string' && kMetadataKeys.has(key) && clean(v))
    // What the guard would scan as text (see walk) must be clean too.
    if (isLongInteger(v)) return channels.scanOnce(info, String(v)) === String(v)
    if (Array.isArray(v)) {
      if (isByteArray(v)) return channels.scanOnce(info, Buffer.from(v).toString('utf8')) === Buffer.from(v).toString('utf8')
      for (let k = 0; k < v.length; k++) {
        path.push(segmentOf(v[k] as JsonValue, k))
        const ok = check(v[k] as JsonValue, k)
        path.pop()
        if (!ok) return false
      }
      return true
    }
    if (!isJsonObject(v)) return true
    for (const [name, child] of Object.entries(v)) {
      if (!clean(name)) return false
      path.push(keySegment(name))
      const ok = check(child, name)
      path.pop()
      if (!ok) return false
    }
    return true
  }
  return check(value, '')
}

/**
 * Creates the guard of one stream.
 * @example
 * const guard = createJsonGuard({ channels })
 * const safe = guard.frame({ data: '{"choices":[{"delta":{"reasoning_content":"…"}}]}' }, codec)
 */
export function createJsonGuard (options: JsonGuardOptions): JsonGuard {
  const { channels, newScanner } = options
  const paths = new Map<string, PathState>()
  let closing = false

  const metaInfo: ChannelInfo = { key: 'json:meta', choice: 0, field: 'json' }

  function scanDetached (text: string): string {
    const scanner = newScanner()
    const first = scanner.write(text).text
    return scanner.cut === undefined ? first + scanner.end().text : first
  }

  /** A key or token scanned whole (the channels remember clean ones, see text-channels.ts). */
  function scanToken (text: string): string {
    if (text.length === 0) return text
    if (!closing) return channels.scanOnce(metaInfo, text)
    return channels.knownClean(text) ? text : scanDetached(text)
  }

  function pathKey (disc: string, path: ReadonlyArray<string | number>): string {
    return `json:${disc}:${path.join('.')}`
  }

  function choiceOf (path: ReadonlyArray<string | number>): number {
    for (const segment of path) {
      if (typeof segment === 'string' && segment.startsWith('#')) return Number(segment.slice(1))
    }
    return 0
  }

  function scanSnapshot (state: PathState | undefined, info: ChannelInfo, text: string): string {
    const previous = state?.last
    if (previous === undefined || previous === text) return channels.scanOnce(info, text)
    // The previous value and this one, read as one text: a match that spans
    // them redacts this value from its start on.
    const context = previous.slice(-kSnapshotContext)
    const joined = channels.scanOnce(info, context + text, context.length)
    return joined.startsWith(context) ? joined.slice(context.length) : channels.scanOnce(info, text)
  }

  function scanLeaf (text: string, path: Array<string | number>, frame: JsonValue, event: string | undefined, disc: string, owner: LeafOwner | undefined, key: string | number, bytes?: TextDecoder): string {
    if (owner?.ownsPath?.(frame, path, event) === true) return text
    if (typeof key === 'string' && kMetadataKeys.has(key) && kToken.test(text)) return scanToken(text)
    const k = pathKey(disc, path)
    const state = paths.get(k)
    const info: ChannelInfo = state?.info ?? { key: k, choice: choiceOf(path), field: typeof key === 'string' && kArgumentKeys.has(key) ? 'tool_arguments' : 'json' }
    let out: string
    let streamed = state?.streamed ?? false
    if (closing) {
      out = channels.knownClean(text) ? text : scanDetached(text)
    } else if (path.includes('error') || owner?.snapshotPath?.(frame, path, event) === true) {
      // An error object is read whole, once: a snapshot, never a delta.
      out = scanSnapshot(state, info, text)
    } else if (state !== undefined && state.last === text) {
      // A repeated value is a snapshot sent again, not more of a text.
      out = channels.scanOnce(info, text)
    } else {
      out = channels.scan(info, text)
      streamed = true
    }
    paths.set(k, { last: text, frame, event, path: [...path], info, streamed, bytes })
    return out
  }

  /** A long integer is scanned whole as text; one that a rule would redact goes out redacted, as a string. */
  function scanNumber (value: number): JsonValue {
    if (!isLongInteger(value)) return value
    const text = String(value)
    const out = scanToken(text)
    return out === text ? value : out
  }

  /** An array of small integers not under `bytes` may still spell text: scanned whole, dropped when it is not clean. */
  function scanByteLike (value: number[]): JsonValue {
    const text = Buffer.from(value).toString('utf8')
    return scanToken(text) === text ? value : null
  }

  /**
   * The `bytes` of a token (`logprobs[].bytes`) spell text a client
   * decodes: decoded as a stream per path and scanned like a string leaf
   * there (a value spelled over many frames' arrays is caught), then written
   * as the released text's bytes.
   */
  function scanBytes (value: number[], path: Array<string | number>, frame: JsonValue, event: string | undefined, disc: string, owner: LeafOwner | undefined): JsonValue {
    const decoder = paths.get(pathKey(disc, path))?.bytes ?? new TextDecoder('utf-8')
    const text = decoder.decode(Uint8Array.from(value), { stream: !closing })
    return toBytes(scanLeaf(text, path, frame, event, disc, owner, path[path.length - 1] ?? '', decoder))
  }

  function walk (value: JsonValue, path: Array<string | number>, root: { frame: JsonValue }, event: string | undefined, disc: string, owner: LeafOwner | undefined): JsonValue {
    if (Array.isArray(value)) {
      if (path[path.length - 1] === 'bytes' && isByteArray(value, 1)) return scanBytes(value, path, root.frame, event, disc, owner)
      if (isByteArray(value)) return scanByteLike(value)
      for (let k = 0; k < value.length; k++) {
        const element = value[k] as JsonValue
        path.push(segmentOf(element, k))
        value[k] = typeof element === 'string'
          ? scanLeaf(element, path, root.frame, event, disc, owner, k)
          : walk(element, path, root, event, disc, owner)
        path.pop()
      }
      return value
    }
    if (typeof value === 'number') return scanNumber(value)
    if (!isJsonObject(value)) return value
    let renamed: Array<[string, JsonValue]> | undefined
    for (const key of Object.keys(value)) {
      const child = value[key] as JsonValue
      path.push(keySegment(key))
      const next = typeof child === 'string'
        ? scanLeaf(child, path, root.frame, event, disc, owner, key)
        : walk(child, path, root, event, disc, owner)
      path.pop()
      const safeKey = scanToken(key)
      if (safeKey !== key && renamed === undefined) renamed = []
      value[key] = next
      if (renamed !== undefined) renamed.push([safeKey, next])
    }
    if (renamed === undefined) return value
    // A key that had to be redacted: rebuild the object with the safe keys, in order.
    const out: Record<string, JsonValue> = {}
    const keys = Object.keys(value)
    for (const key of keys.slice(0, keys.length - renamed.length)) out[key] = value[key] as JsonValue
    for (const [key, child] of renamed) if (key !== '') out[key] = child
    return out
  }

  function discriminator (value: JsonValue, event: string | undefined): string {
    if (!isJsonObject(value)) return event ?? ''
    const type = value.type
    let disc = typeof type === 'string' && kToken.test(type) ? type : (event ?? '')
    for (const name of kDiscriminators) {
      const v = value[name]
      if ((typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && kToken.test(v))) disc += `|${name}=${String(v)}`
    }
    return disc
  }

  /** An SSE field value that may go out: a short plain token that scans clean. */
  function safeField (value: string | undefined): string | undefined {
    if (value === undefined || !kToken.test(value)) return undefined
    return scanToken(value) === value ? value : undefined
  }

  function flush (): DataFrame[] {
    const frames: DataFrame[] = []
    for (const state of paths.values()) {
      if (!state.streamed || !channels.has(state.info.key)) continue
      const text = channels.finish(state.info.key) + (state.bytes?.decode() ?? '')
      if (text === '') continue
      frames.push({ event: state.event, data: JSON.stringify(skeleton(state.frame, state.path, state.bytes === undefined ? text : toBytes(text))) })
    }
    return frames
  }

  return {
    frame (frame, owner) {
      const event = safeField(frame.event)
      const id = safeField(frame.id)
      let value: JsonValue
      if ('value' in frame) {
        value = frame.value as JsonValue
      } else {
        if (frame.scanned === true) return [frame]
        if (frame.data === kDone) return [...flush(), frame]
        try {
          value = JSON.parse(frame.data) as JsonValue
        } catch {
          // A codec only emits JSON or its own markers: anything else is
          // scanned whole, as text.
          const text = closing ? scanDetached(frame.data) : channels.scanOnce(metaInfo, frame.data)
          return text === '' ? [] : [{ event, id, data: text }]
        }
        if (typeof value === 'string') {
          const text = scanLeaf(value, [], value, event, event ?? '', owner, '')
          return [{ event, id, data: JSON.stringify(text) }]
        }
      }
      const disc = discriminator(value, event)
      const scanned = walk(value, [], { frame: value }, event, disc, owner)
      const out = { event, id, data: JSON.stringify(scanned) }
      const terminal = isJsonObject(value) && ((typeof value.type === 'string' && kTerminalTypes.has(value.type)) || value.done === true)
      return terminal ? [...flush(), out] : [out]
    },
    flush,
    close () {
      closing = true
    }
  }
}
