/**
 * @module client/reader-sink
 * What the per-protocol readers (read-*.ts) report to the decoder, and the
 * small JSON helpers they share. A reader turns one wire frame into text
 * deltas per channel, finish reasons and in-band errors; it keeps only what
 * its protocol needs to name channels (block types, tool names).
 */
import { codeInMessage } from './client-error.js'
import type { ChannelRef, FinishReason } from './types.js'

export type Json = Record<string, unknown>

/** One wire frame: an SSE event (`event` its name) or one NDJSON line. */
export interface WireFrame {
  event?: string | undefined
  data: string
}

/** An in-band error, as a frame told it. */
export interface InbandError {
  message: string
  code?: string | undefined
  type?: string | undefined
}

export interface ReaderSink {
  text(ref: ChannelRef, text: string): void
  /** A finish reason the stream gave (a cut outranks an error, which outranks the rest; see create-decoder.ts). */
  finish(reason: FinishReason, raw: string | undefined, frame: unknown): void
  /** An in-band error frame: the stream finishes with `error`. */
  error(error: InbandError, frame: unknown): void
  /** A frame after which the protocol sends nothing more (`[DONE]`, `message_stop`…). */
  terminal(): void
}

/** Reads one frame. */
export type FrameReader = (frame: WireFrame) => void

export function isObject (value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function stringOf (value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

/** A frame's data as a JSON object; undefined for `[DONE]`, other text, and malformed JSON (dropped, as the proxy drops them). */
export function parseObject (data: string): Json | undefined {
  if (data.charCodeAt(0) !== 0x7b /* { */ && data.trimStart()[0] !== '{') return undefined
  try {
    const value: unknown = JSON.parse(data)
    return isObject(value) ? value : undefined
  } catch {
    return undefined
  }
}

/** An integer index, else the fallback (an element's position). */
export function indexOf (value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : fallback
}

/**
 * The error object of a frame in the shapes Sluice and the providers send:
 * OpenAI and Google `{ error: { message, code|status, type } }`, Anthropic
 * `{ type: "error", error: { type, message } }`, Ollama `{ error: "…" }`.
 */
export function errorOf (obj: Json): InbandError | undefined {
  const error = obj.error
  if (typeof error === 'string') return { message: error, code: codeInMessage(error) }
  if (!isObject(error)) return undefined
  const message = stringOf(error.message) ?? 'The stream reported an error.'
  const code = stringOf(error.code) ?? codeInMessage(message)
  const type = stringOf(error.type) ?? stringOf(error.status)
  return { message, code, type }
}

/** A channel reference without undefined optional fields (exactOptionalPropertyTypes, and smaller messages). */
export function channelRef (key: string, channel: ChannelRef['channel'], choice: number, part?: number, name?: string): ChannelRef {
  const ref: ChannelRef = { key, channel, choice }
  if (part !== undefined) ref.part = part
  if (name !== undefined) ref.name = name
  return ref
}
