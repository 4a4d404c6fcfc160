/**
 * @module adapters/openai-choices
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
 * Cut (issue: "a final chunk with finish_reason content_filter"): the
 * chunk that tripped it goes out with the text released before the match
 * and no finish reasons, then one chunk with the same envelope giving every
 * unfinished choice `finish_reason: "content_filter"` and an empty delta,
 * then `data: [DONE]` (SSE only).
 */
import type { Finding } from '../scanner/types.js'
import { indexOf, isRecord, parseJsonObject } from './json-frame.js'
import type { JsonObject } from './json-frame.js'
import type { ChannelInfo, CodecContext, DataFrame, FailureInfo, Protocol, ProtocolCodec } from './types.js'

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
}

export interface ChoiceCodecOptions {
  /** Whether the stream ends with `data: [DONE]` (SSE) or just ends (NDJSON). */
  doneMarker: boolean
}

const kDone = '[DONE]'

/** Creates a codec for an OpenAI choices stream of the given flavor. */
export function createChoiceCodec (ctx: CodecContext, flavor: ChoiceFlavor, options: ChoiceCodecOptions): ProtocolCodec {
  const channels = ctx.channels
  const seen = new Set<number>()
  const finished = new Set<number>()
  /** The last chunk seen: inserted chunks copy its envelope (built only when needed). */
  let lastChunk: JsonObject = { object: flavor.object }
  let sawDone = false

  function chunkOf (choices: JsonObject[]): DataFrame {
    const chunk: JsonObject = {}
    for (const [key, value] of Object.entries(lastChunk)) {
      if (key !== 'choices' && key !== 'usage' && key !== 'obfuscation') chunk[key] = value
    }
    chunk.choices = choices
    return { data: JSON.stringify(chunk) }
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
      if (!isRecord(choice)) continue
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

    if (channels.cut !== undefined) {
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
      ctx.emit(frame)
      return
    }
    delete chunk.obfuscation
    const kept = (choices.filter(isRecord)).filter((choice) => !flavor.isEmptyChoice(choice))
    if (kept.length === 0 && (chunk.usage === undefined || chunk.usage === null)) return
    chunk.choices = kept
    ctx.emit({ event: frame.event, id: frame.id, data: JSON.stringify(chunk) })
  }

  return {
    protocol: flavor.protocol,
    cutReason: 'content_filter',
    frame (frame) {
      if (frame.data === kDone) {
        flushChoices()
        if (channels.cut !== undefined) return
        sawDone = true
        ctx.emit(frame)
        return
      }
      const chunk = parseJsonObject(ctx, frame.data)
      if (chunk === undefined) return
      const choices = chunk.choices
      // Error objects, usage-only chunks and unknown shapes carry no choice text.
      if (!Array.isArray(choices) || choices.length === 0) {
        ctx.emit(frame)
        return
      }
      onChunk(frame, chunk, choices)
    },
    end () {
      if (!sawDone) flushChoices()
    },
    cut (_finding: Finding) {
      const open = [...seen].filter((i) => !finished.has(i)).sort((a, b) => a - b)
      if (open.length > 0) ctx.emit(chunkOf(open.map((i) => flavor.cutChoice(i))))
      if (options.doneMarker) ctx.emit({ data: kDone })
    },
    fail (info: FailureInfo) {
      // The shape OpenAI itself sends mid-stream; the SDKs throw an APIError on it.
      ctx.emit({ data: JSON.stringify({ error: { message: info.message, type: 'upstream_error', param: null, code: info.code } }) })
    }
  }
}
