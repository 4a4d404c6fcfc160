/**
 * @module protocols/openai-choices
 * The engine shared by OpenAI Chat Completions and legacy Completions
 * streams: chunks carry a `choices` array, each choice streams its own
 * text, finishes with a non-null `finish_reason`, and an SSE stream ends
 * with `data: [DONE]`. The two protocols differ only in where a choice's
 * text lives (see openai-chat.ts and openai-completions.ts).
 *
 * What it guarantees, per choice and field: the text written back equals
 * the scanner's whole-text output, however the upstream split it. Text a
 * scanner holds back goes out with a later chunk of the same choice; when
 * the choice finishes (or at `[DONE]`, or at the end of input) what is left
 * is flushed BEFORE the finishing frame — appended to the finishing chunk's
 * own field when it has one (the text still comes first in that delta),
 * else in an inserted chunk that copies the upstream's envelope (id,
 * object, created, model, system_fingerprint…).
 *
 * Byte identity: a chunk whose every text was released unchanged is
 * written back as the exact upstream data string. A changed chunk is
 * re-serialized with JSON.stringify (same keys, same order; escapes may
 * differ), minus `obfuscation` (padding sized to the original text) and
 * with `logprobs: null` on the changed choices, since token logprobs spell
 * out the original text. A changed chunk left with no text, no role, no
 * tool call ids and no finish reason is dropped.
 *
 * Cut (the provider's way: a final chunk with `finish_reason: "content_filter"`): the
 * chunk that tripped it goes out with the text released before the match
 * and no finish reasons, then one chunk with the same envelope giving every
 * unfinished choice `finish_reason: "content_filter"` and an empty delta,
 * then `data: [DONE]` (SSE only).
 *
 * The fast path (profiling showed the per-chunk path decides the cost). Nearly
 * every chunk of a stream is the same envelope around one choice's text
 * delta. The first such chunk is parsed and becomes a template: its data
 * split around the text's JSON string into a prefix and a suffix, verified
 * by parsing the template with a probe string in the slot. A later chunk
 * whose data starts with the prefix and ends with the suffix IS that
 * envelope with a new text (only the string body in between is decoded, and
 * it must be one valid JSON string body), so it is neither parsed whole
 * nor re-serialized: the released text is written back into the template.
 * OpenAI's per-chunk `obfuscation` padding (the chunk's last key, a new
 * value each chunk) is a variable part of the template, dropped whenever
 * the text changed or chunks were merged (it is sized to the original).
 * With `coalesce`, consecutive such chunks that arrived in the same read
 * (between two `flush` calls) are scanned as one text and written as one
 * chunk: the same text reaches the client in fewer frames, and the scanner,
 * the serializer and the socket each run once per read instead of once per
 * token. Any other frame first flushes the run, so frame order is kept.
 *
 * Non-streamed bodies (`chat.completion`, `text_completion`) share the same
 * rules, each choice's text fields scanned whole (`sanitizeChoicesBody`):
 * a changed choice gets `logprobs: null`, and a cut gives every choice
 * `finish_reason: "content_filter"`.
 */
import type { Finding, Scanner } from '../scanner/types.js'
import { isJsonObject } from '../json/json-object.js'
import type { JsonObject } from '../json/json-object.js'
import { createBodyScan, isPosition } from './body-scan.js'
import type { BodyScan } from './body-scan.js'
import { forEachRecord, indexOf, parseJsonObject } from './json-frame.js'
import { isCleanEnvelope, segmentOf } from './generic-json.js'
import type {
  ChannelInfo, ChannelScanner, CodecContext, DataFrame, EmitFrame, FailureInfo, JsonPath, JsonSanitizeOptions, JsonSanitizeResult, JsonValue, Protocol, ProtocolCodec
} from './types.js'

/** What differs between chat and completions chunks. */
export interface ChoiceFlavor {
  readonly protocol: Protocol
  /** `object` of inserted chunks when upstream had none. */
  readonly object: string
  /** Scans one choice's text fields in place; returns whether any changed. */
  scanChoice(choice: JsonObject, index: number, ctx: CodecContext): boolean
  /** Appends flushed text to the choice's own field when it has one; false when absent. */
  appendFlush(choice: JsonObject, info: ChannelInfo, text: string): boolean
  /** A choice carrying only flushed text. */
  flushChoice(index: number, parts: ReadonlyArray<{ info: ChannelInfo, text: string }>): JsonObject
  /** A choice ending with `content_filter`. */
  cutChoice(index: number): JsonObject
  /** Whether a changed choice has nothing left worth sending. */
  isEmptyChoice(choice: JsonObject): boolean
  /**
   * The text of a chunk that carries nothing but one choice's non-empty
   * text (no role, finish reason, logprobs or tool call; `obfuscation`
   * padding allowed): the shape the fast path handles. Undefined otherwise.
   */
  simpleText(chunk: JsonObject): { info: ChannelInfo, text: string } | undefined
  /** Where the text of a `simpleText` chunk sits inside its choice. */
  readonly textPath: readonly string[]
  /** Whether the path inside a choice (after `choices`, index) is a text field `scanChoice` scans. */
  ownsChoicePath(rest: JsonPath): boolean
}

export interface ChoiceCodecOptions {
  /** Whether the stream ends with `data: [DONE]` (SSE) or just ends (NDJSON). */
  doneMarker: boolean
  /** Merge consecutive text-only chunks of one read into one (default true). */
  coalesce?: boolean
}

const kDone = '[DONE]'

/**
 * The envelope of text-only chunks, split around the text's string body.
 * `data === prefix + body + suffix` for every chunk it matches.
 */
interface ChunkTemplate {
  prefix: string
  /**
   * What follows the text. For a padded template (OpenAI's per-chunk
   * `obfuscation`, the chunk's last key, a different value every chunk) it
   * ends with `,"obfuscation":"` and the value and `"}` follow.
   */
  suffix: string
  /** The suffix without the padding: written when the text changed (the padding is sized to the original). */
  plainSuffix: string
  padded: boolean
  info: ChannelInfo
  /** The parsed chunk it was made from: inserted and cut chunks copy its envelope. */
  chunk: JsonObject
}

// A probe no upstream sends; outside a JSON string its backslash is a syntax error.
const kProbe = '\\u0001sluice-probe\\u0002'
const kProbeText = '\u0001sluice-probe\u0002'
/** Text a run may gather before it is scanned even in the middle of a read. */
const kMaxRunChars = 2048
// Template rebuilds tolerated before a stream whose envelope changes every
// chunk (a per-chunk nonce) stops trying; after that the ratio of hits must pay for them.
const kFreeBuilds = 4
const kHitsPerBuild = 4

/** The JSON string body between the quotes, decoded; undefined when it is not exactly one valid body. */
function decodeStringBody (body: string): string | undefined {
  if (isVerbatim(body)) return body
  // A quote, a backslash or a control character: let JSON.parse decide.
  try {
    const value: unknown = JSON.parse('"' + body + '"')
    return typeof value === 'string' ? value : undefined
  } catch {
    return undefined
  }
}

const kPadKey = ',"obfuscation":"'

/** Whether `s` is written in a JSON string exactly as it is (no quote, backslash or control character). */
function isVerbatim (s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 34 || c === 92 || c < 32) return false
  }
  return true
}

/** The template of a text-only chunk, or undefined when its text cannot be located with certainty. */
function buildTemplate (data: string, chunk: JsonObject, simple: { info: ChannelInfo, text: string }, flavor: ChoiceFlavor, channels: ChannelScanner): ChunkTemplate | undefined {
  const encoded = JSON.stringify(simple.text)
  const at = data.indexOf(encoded)
  if (at === -1 || data.indexOf(encoded, at + 1) !== -1) return undefined
  const prefix = data.slice(0, at + 1)
  let suffix = data.slice(at + encoded.length - 1)
  let plainSuffix = suffix
  const pad = chunk.obfuscation
  const padded = typeof pad === 'string'
  if (padded) {
    // Only as the chunk's last key, written as is (OpenAI's place and alphabet).
    const tail = `${kPadKey}${pad}"}`
    if (!isVerbatim(pad) || !suffix.endsWith(tail)) return undefined
    const base = suffix.slice(0, suffix.length - tail.length)
    suffix = base + kPadKey
    plainSuffix = base + '}'
  }
  let probe: unknown
  try {
    probe = JSON.parse(prefix + kProbe + (padded ? `${suffix}pad"}` : suffix))
  } catch {
    return undefined
  }
  if (!isJsonObject(probe) || (padded && probe.obfuscation !== 'pad')) return undefined
  const found = flavor.simpleText(probe)
  if (found === undefined || found.text !== kProbeText || found.info.key !== simple.info.key) return undefined
  // Frames of this envelope bypass the generic JSON guard: its bytes must be
  // exactly the parsed value's (no duplicate key or stray whitespace hiding
  // a second value), and every string in it but the text clean metadata.
  if (JSON.stringify(chunk) !== data) return undefined
  const choice = (chunk.choices as unknown[])[0]
  const slot = ['choices', segmentOf(choice as JsonValue, 0), ...flavor.textPath]
  if (!isCleanEnvelope(chunk as JsonValue, slot, channels)) return undefined
  return { prefix, suffix, plainSuffix, padded, info: simple.info, chunk }
}

// Channel infos of the common choice indexes, made once: every scan of a
// text-only chunk hands one on, and a fresh object (and key string) per
// chunk was measurable garbage.
const kCachedChoices = 16
const infoCache = { content: new Map<number, ChannelInfo>(), text: new Map<number, ChannelInfo>() }

/** The channel of choice `i`'s main text field (`i:content` in chat, `i:text` in completions). */
export function choiceTextInfo (field: 'content' | 'text', i: number): ChannelInfo {
  const cache = infoCache[field]
  let info = cache.get(i)
  if (info === undefined) {
    info = { key: `${i}:${field}`, choice: i, field }
    if (i < kCachedChoices) cache.set(i, info)
  }
  return info
}

/**
 * The one choice of a chunk that may be text-only: exactly one choice, no
 * finish reason, no logprobs, no key outside `keys`, and `obfuscation`
 * padding, if any, a string. The flavors then check where the text lives.
 */
export function soleChoice (chunk: JsonObject, keys: ReadonlySet<string>): JsonObject | undefined {
  if (chunk.obfuscation !== undefined && typeof chunk.obfuscation !== 'string') return undefined
  const choices = chunk.choices
  if (!Array.isArray(choices) || choices.length !== 1) return undefined
  const choice: unknown = choices[0]
  if (!isJsonObject(choice) || (choice.finish_reason !== null && choice.finish_reason !== undefined)) return undefined
  if (choice.logprobs !== null && choice.logprobs !== undefined) return undefined
  for (const key in choice) if (!keys.has(key)) return undefined
  return choice
}

/** Creates a codec for an OpenAI choices stream of the given flavor. */
export function createChoiceCodec (ctx: CodecContext, flavor: ChoiceFlavor, options: ChoiceCodecOptions): ProtocolCodec {
  const channels = ctx.channels
  const seen = new Set<number>()
  const finished = new Set<number>()
  /** The last chunk seen: inserted chunks copy its envelope (built only when needed). */
  let lastChunk: JsonObject = { object: flavor.object }
  let sawDone = false
  const coalesce = options.coalesce ?? true
  let template: ChunkTemplate | undefined
  let builds = 0
  let hits = 0
  /** The run of text-only chunks not yet scanned: their texts, and the data of the first. */
  let runTexts: string[] = []
  let runFirstData = ''
  let runChars = 0

  function matchTemplate (data: string): string | undefined {
    if (template === undefined) return undefined
    const { prefix, suffix } = template
    if (data.length < prefix.length + suffix.length || !data.startsWith(prefix)) return undefined
    if (!template.padded) return data.endsWith(suffix) ? decodeStringBody(data.slice(prefix.length, data.length - suffix.length)) : undefined
    // The padding value holds no quote, so the last occurrence of the
    // suffix is the real one (the text before it can only hold escaped ones).
    if (!data.endsWith('"}')) return undefined
    const at = data.lastIndexOf(suffix)
    if (at < prefix.length || !isVerbatim(data.slice(at + suffix.length, data.length - 2))) return undefined
    return decodeStringBody(data.slice(prefix.length, at))
  }

  /** The fast path: a chunk of the template's envelope joins the run as it is. */
  function takeFast (frame: DataFrame): boolean {
    if (frame.event !== undefined || frame.id !== undefined) return false
    const text = matchTemplate(frame.data)
    if (text === undefined) return false
    hits++
    addToRun(frame.data, text)
    return true
  }

  function addToRun (data: string, text: string): void {
    if (runTexts.length === 0) {
      runFirstData = data
      runChars = 0
    }
    runTexts.push(text)
    runChars += text.length
    // A source that pushes synchronously without end never lets the read
    // end: the cap keeps the run (memory, and the scan that may cut) bounded.
    if (!coalesce || runChars >= kMaxRunChars) flushRun()
  }

  /** Scans the pending run as one text and emits it as one chunk (the upstream's own bytes when unchanged). */
  function flushRun (): void {
    if (runTexts.length === 0 || template === undefined) return
    const count = runTexts.length
    const text = count === 1 ? runTexts[0] as string : runTexts.join('')
    runTexts = []
    const { info, prefix, plainSuffix } = template
    lastChunk = template.chunk
    seen.add(info.choice)
    const released = channels.scan(info, text)
    if (released === '') return
    if (count === 1 && released === text) {
      ctx.emit({ data: runFirstData, scanned: true })
      return
    }
    const encoded = JSON.stringify(released)
    ctx.emit({ data: prefix + encoded.slice(1, encoded.length - 1) + plainSuffix, scanned: true })
  }

  /** Takes a parsed text-only chunk into the run when a template covers it (made now if need be). */
  function takeSimple (frame: DataFrame, chunk: JsonObject): boolean {
    if (frame.event !== undefined || frame.id !== undefined) return false
    const simple = flavor.simpleText(chunk)
    if (simple === undefined) return false
    if (builds >= kFreeBuilds && hits < builds * kHitsPerBuild) return false
    builds++
    const made = buildTemplate(frame.data, chunk, simple, flavor, channels)
    if (made === undefined) return false
    template = made
    addToRun(frame.data, simple.text)
    return true
  }

  function chunkOf (choices: JsonObject[]): EmitFrame {
    const chunk: JsonObject = {}
    for (const [key, value] of Object.entries(lastChunk)) {
      if (key !== 'choices' && key !== 'usage' && key !== 'obfuscation') chunk[key] = value
    }
    chunk.choices = choices
    return { value: chunk }
  }

  /** Flushes the open channels of the given choices (all when undefined) into one inserted chunk. */
  function flushChoices (only?: ReadonlySet<number>): void {
    const byChoice = new Map<number, Array<{ info: ChannelInfo, text: string }>>()
    for (const info of channels.openChannels()) {
      if (only !== undefined && !only.has(info.choice)) continue
      const text = channels.finish(info.key)
      if (text === '') continue
      let parts = byChoice.get(info.choice)
      if (parts === undefined) byChoice.set(info.choice, (parts = []))
      parts.push({ info, text })
    }
    if (byChoice.size === 0) return
    const choices = [...byChoice.entries()].sort((a, b) => a[0] - b[0]).map(([i, parts]) => flavor.flushChoice(i, parts))
    ctx.emit(chunkOf(choices))
  }

  function onChunk (frame: DataFrame, chunk: JsonObject, choices: unknown[]): void {
    lastChunk = chunk
    let changed = false
    const finishing: Array<{ choice: JsonObject, index: number }> = []
    const inserted = new Map<number, Array<{ info: ChannelInfo, text: string }>>()

    for (let k = 0; k < choices.length; k++) {
      const choice = choices[k]
      if (!isJsonObject(choice)) continue
      const i = indexOf(choice.index, k)
      seen.add(i)
      let textChanged = flavor.scanChoice(choice, i, ctx)
      if (typeof choice.finish_reason === 'string') {
        ctx.upstreamFinish(choice.finish_reason)
        finishing.push({ choice, index: i })
        for (const info of channels.openChannels()) {
          if (info.choice !== i) continue
          const rest = channels.finish(info.key)
          if (rest === '') continue
          if (flavor.appendFlush(choice, info, rest)) {
            textChanged = true
          } else {
            let parts = inserted.get(i)
            if (parts === undefined) inserted.set(i, (parts = []))
            parts.push({ info, text: rest })
          }
        }
      }
      if (textChanged) {
        changed = true
        // Token logprobs spell out the original text.
        if (choice.logprobs !== undefined && choice.logprobs !== null) choice.logprobs = null
      }
    }

    if (channels.cutFinding() !== undefined) {
      // The cut chunk closes the choices; this one must not finish them.
      for (const { choice } of finishing) {
        choice.finish_reason = null
        changed = true
      }
    } else {
      for (const { index } of finishing) finished.add(index)
    }

    if (inserted.size > 0) {
      const flushed = [...inserted.entries()].sort((a, b) => a[0] - b[0]).map(([i, parts]) => flavor.flushChoice(i, parts))
      ctx.emit(chunkOf(flushed))
    }
    if (!changed) {
      ctx.emit({ event: frame.event, id: frame.id, value: chunk })
      return
    }
    delete chunk.obfuscation
    const kept = (choices.filter(isJsonObject)).filter((choice) => !flavor.isEmptyChoice(choice))
    if (kept.length === 0 && (chunk.usage === undefined || chunk.usage === null)) return
    chunk.choices = kept
    ctx.emit({ event: frame.event, id: frame.id, value: chunk })
  }

  return {
    protocol: flavor.protocol,
    cutReason: 'content_filter',
    ownsPath (frame, path) {
      // Only the choices of an array are scanned (an object `choices` is
      // passed on as it came, for the generic path to scan).
      return path.length > 2 && path[0] === 'choices' && isPosition(path[1]) &&
        isJsonObject(frame) && Array.isArray(frame.choices) && flavor.ownsChoicePath(path.slice(2))
    },
    takeFast,
    frame (frame) {
      if (takeFast(frame)) return
      flushRun()
      if (channels.cutFinding() !== undefined) return
      if (frame.data === kDone) {
        flushChoices()
        if (channels.cutFinding() !== undefined) return
        sawDone = true
        ctx.emit(frame)
        return
      }
      const chunk = parseJsonObject(ctx, frame.data)
      if (chunk === undefined) return
      const choices = chunk.choices
      // Error objects, usage-only chunks and unknown shapes carry no choice text.
      if (!Array.isArray(choices) || choices.length === 0) {
        ctx.emit({ event: frame.event, id: frame.id, value: chunk })
        return
      }
      if (takeSimple(frame, chunk)) return
      onChunk(frame, chunk, choices)
    },
    flush () {
      flushRun()
    },
    end () {
      flushRun()
      if (channels.cutFinding() !== undefined) return
      if (!sawDone) flushChoices()
    },
    cut (finding: Finding) {
      const open = [...seen].filter((i) => !finished.has(i)).sort((a, b) => a - b)
      // Azure OpenAI's block signal beside the finish reason: which category
      // filtered the choice and how severe. Not the rule's id: an id is the
      // operator's naming and may spell the very term the cut withholds
      // (`cut_missiles`); it is in the audit record, which the
      // `x-sluice-request-id` header names.
      const signal = { [finding.category]: { filtered: true, severity: finding.severity } }
      if (open.length > 0) ctx.emit(chunkOf(open.map((i) => ({ ...flavor.cutChoice(i), content_filter_results: signal }))))
      if (options.doneMarker) ctx.emit({ data: kDone })
    },
    fail (info: FailureInfo) {
      runTexts = []
      // The shape OpenAI itself sends mid-stream; the SDKs throw an APIError on it.
      ctx.emit({ value: { error: { message: info.message, type: 'upstream_error', param: null, code: info.code } } })
    }
  }
}

/**
 * Sanitizes a non-streamed body of choices. `scanChoice` scans the text
 * fields of one choice (`i`, its `index`, else its position) whole and
 * says whether any changed. The body is left to the generic pass alone
 * when it is no JSON object.
 */
export function sanitizeChoicesBody (
  input: unknown,
  newScanner: () => Scanner,
  options: JsonSanitizeOptions,
  protocol: 'openai-chat' | 'openai-completions',
  scanChoice: (scan: BodyScan<unknown>, choice: JsonObject, i: number) => boolean
): JsonSanitizeResult {
  const scan = createBodyScan(input, newScanner, options)
  const body = scan.body
  if (!isJsonObject(body)) return scan.result(undefined)
  forEachRecord(body.choices, (choice, k) => {
    const i = typeof choice.index === 'number' ? choice.index : k
    // Token logprobs spell out the original text.
    if (scanChoice(scan, choice, i) && choice.logprobs !== undefined && choice.logprobs !== null) choice.logprobs = null
  })
  return scan.result(protocol, () => {
    forEachRecord(body.choices, (choice) => { choice.finish_reason = 'content_filter' })
  })
}
