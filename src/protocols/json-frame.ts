/**
 * @module protocols/json-frame
 * Small helpers every JSON-speaking codec needs: parse a frame's data
 * without ever echoing it (a malformed frame may carry a secret, so only
 * its size reaches logs), and narrow `unknown` safely.
 */
import { isJsonObject } from '../json/json-object.js'
import type { JsonObject } from '../json/json-object.js'
import type { CodecContext, DataFrame, EmitFrame } from './types.js'

/** Calls `fn` with each object of `list` and its position; anything else (not an array, a non-object element) is skipped. */
export function forEachRecord (list: unknown, fn: (item: JsonObject, index: number) => void): void {
  if (Array.isArray(list)) list.forEach((item: unknown, index) => { if (isJsonObject(item)) fn(item, index) })
}

/** Parses a frame's data as a JSON object; reports and returns undefined otherwise. */
export function parseJsonObject (ctx: CodecContext, data: string): JsonObject | undefined {
  let value: unknown
  try {
    value = JSON.parse(data)
  } catch {
    ctx.malformed(`invalid JSON (${data.length} chars)`)
    return undefined
  }
  if (!isJsonObject(value)) {
    ctx.malformed(`expected a JSON object, got ${Array.isArray(value) ? 'an array' : typeof value}`)
    return undefined
  }
  return value
}

/**
 * Parses a typed event (Anthropic, Responses, Cohere: `data.type` names the
 * event, the SSE `event:` field repeats it); reports and returns undefined
 * when it is no JSON object.
 */
export function parseTypedEvent (ctx: CodecContext, frame: DataFrame): { obj: JsonObject, type: string } | undefined {
  const obj = parseJsonObject(ctx, frame.data)
  if (obj === undefined) return undefined
  return { obj, type: typeof obj.type === 'string' ? obj.type : (frame.event ?? '') }
}

/** A non-negative integer index, else the fallback. */
export function indexOf (value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : fallback
}

/** Whether a text field carries something to scan. */
export function isText (value: unknown): value is string {
  return typeof value === 'string' && value.length > 0
}

/** The data of an emitted frame as the wire will carry it (before the generic JSON guard). */
export function frameData (frame: EmitFrame): string {
  return 'value' in frame ? JSON.stringify(frame.value) : frame.data
}
