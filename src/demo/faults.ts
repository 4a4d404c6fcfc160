/**
 * @module demo/faults
 * The ways the demo upstream misbehaves on command (`x-fault: NAME`, or a
 * body field `fault`), and where each strikes: in a stream after a few
 * content chunks, in a non-streamed body inside its bytes. Whether a
 * request's fault strikes at all (`x-fault-count`) is counted by the
 * routes (generation.ts).
 */
import type http from 'node:http'
import type { JsonObject } from '../json/json-object.js'
import { endlessChunks, interleave, splitIntoChunks } from './chunks.js'
import { DemoRequestError, header } from './demo-request.js'
import { stepsOf } from './pump.js'
import type { Step } from './pump.js'
import type { AnswerContext, WireFormat } from './wire-format.js'

/** The fault modes, selected with `x-fault: NAME` or a body field `fault`. */
export const faultNames = [
  'reset-mid-stream',
  'malformed-json',
  'invalid-utf8',
  'huge-event',
  'never-ends',
  'stall',
  'status-500',
  'status-429',
  'lying-content-type',
  'slow-headers'
] as const
export type FaultName = (typeof faultNames)[number]

/** Content chunks sent before a mid-stream fault strikes. */
const FAULT_AFTER_CHUNKS = 3
/** Size of the single event sent by `huge-event`. */
const HUGE_EVENT_BYTES = 10 * 1024 * 1024
/** Replaced by the raw bytes 0xff 0xfe when a frame is turned into bytes for `invalid-utf8` (a private-use code point answers never contain). */
const INVALID_UTF8_MARK = '\uE000'

/** A fault a request names, and how many requests naming it may fail (`x-fault-count`; all when undefined). */
export interface RequestedFault {
  name: FaultName
  count: number | undefined
}

/** The fault a request asks for, checked but not yet counted (a request that fails validation must not use up a count). */
export function faultOf (req: http.IncomingMessage, body: JsonObject): RequestedFault | null {
  const requested = header(req, 'x-fault') ?? (typeof body.fault === 'string' ? body.fault : undefined)
  if (requested === undefined) return null
  const name = faultNames.find((f) => f === requested)
  if (name === undefined) {
    throw new DemoRequestError(`Unknown fault "${requested}"; known: ${faultNames.join(', ')}.`, 400, null, 'unknown_fault')
  }
  const countText = header(req, 'x-fault-count') ?? (body.fault_count === undefined ? undefined : String(body.fault_count))
  if (countText === undefined) return { name, count: undefined }
  const count = Number(countText)
  if (countText.trim() === '' || !Number.isInteger(count) || count < 0) {
    throw new DemoRequestError(`Invalid x-fault-count "${countText}".`, 400, null, 'invalid_header')
  }
  return { name, count }
}

/** Turns a frame into bytes, putting raw 0xff 0xfe (never valid UTF-8) where the mark is. */
function withInvalidUtf8 (frame: string): Buffer {
  const bytes = Buffer.from(frame, 'utf8')
  const mark = Buffer.from(INVALID_UTF8_MARK, 'utf8')
  const parts: Buffer[] = []
  let from = 0
  for (let at = bytes.indexOf(mark); at !== -1; at = bytes.indexOf(mark, from)) {
    parts.push(bytes.subarray(from, at), Buffer.from([0xff, 0xfe]))
    from = at + mark.length
  }
  parts.push(bytes.subarray(from))
  return Buffer.concat(parts)
}

function hugeText (): string {
  const unit = 'this is one very large event. '
  return unit.repeat(Math.ceil(HUGE_EVENT_BYTES / unit.length))
}

function * endlessWhitespace (): Generator<Step> {
  yield { data: '{', paced: false }
  for (;;) yield { data: ' ', paced: true }
}

/** What a fault writes where it strikes a stream (`ends`: nothing follows), if it strikes there at all. */
function strike (fault: FaultName | null, format: WireFormat): { step: Step, ends: boolean } | undefined {
  switch (fault) {
    case 'reset-mid-stream': return { step: { control: 'reset' }, ends: true }
    case 'stall': return { step: { control: 'stall' }, ends: true }
    case 'malformed-json': return { step: { data: format.malformed(), paced: false }, ends: false }
    case 'invalid-utf8': return { step: { data: withInvalidUtf8(format.delta(0, INVALID_UTF8_MARK)), paced: true }, ends: false }
    case 'huge-event': return { step: { data: format.delta(0, hugeText()), paced: true }, ends: false }
    default: return undefined
  }
}

/** The steps of a streamed answer, with the fault (if any) put in after a few content chunks. */
export function * streamSteps (
  format: WireFormat,
  ctx: AnswerContext,
  rng: () => number,
  size: readonly [number, number],
  fault: FaultName | null
): Generator<Step> {
  for (const data of format.head()) yield { data, paced: false }
  if (fault === 'never-ends') {
    for (const piece of interleave(ctx.texts.map((text) => endlessChunks(text, rng, size)))) {
      yield { data: format.delta(piece.index, piece.text), paced: true }
    }
    return
  }
  const pieces = [...interleave(ctx.texts.map((text) => splitIntoChunks(text, rng, size)[Symbol.iterator]()))]
  const faultAt = Math.min(FAULT_AFTER_CHUNKS, pieces.length)
  for (let i = 0; i <= pieces.length; i++) {
    if (i === faultAt) {
      const struck = strike(fault, format)
      if (struck !== undefined) yield struck.step
      if (struck?.ends === true) return
    }
    const piece = pieces[i]
    if (piece !== undefined) yield { data: format.delta(piece.index, piece.text), paced: true }
  }
  for (const data of format.tail()) yield { data, paced: false }
}

/**
 * The texts of a non-streamed answer with the fault put inside a content
 * string (`invalid-utf8`, `huge-event`), or undefined for any other fault.
 */
export function faultyTexts (texts: readonly string[], fault: FaultName | null): string[] | undefined {
  if (fault !== 'invalid-utf8' && fault !== 'huge-event') return undefined
  return texts.map((text) => {
    if (fault === 'huge-event') return text + hugeText()
    const points = Array.from(text)
    const at = Math.min(FAULT_AFTER_CHUNKS, points.length)
    return points.slice(0, at).join('') + INVALID_UTF8_MARK + points.slice(at).join('')
  })
}

/**
 * How a non-streamed body goes out under `fault`: its `content-length`
 * (none for a body that never ends) and the steps that write it.
 */
export function bodySteps (json: JsonObject, fault: FaultName | null): { contentLength: number | undefined, steps: Iterator<Step> } {
  const text = JSON.stringify(json)
  const payload = fault === 'invalid-utf8' ? withInvalidUtf8(text) : Buffer.from(text, 'utf8')
  const half = payload.subarray(0, Math.floor(payload.length / 2))
  switch (fault) {
    case 'malformed-json':
      // A body cut in half: valid bytes, invalid JSON, honest content-length.
      return { contentLength: half.length, steps: stepsOf({ data: half, paced: false }) }
    case 'reset-mid-stream':
      return { contentLength: payload.length, steps: stepsOf({ data: half, paced: false }, { control: 'reset' }) }
    case 'stall':
      return { contentLength: payload.length, steps: stepsOf({ data: half, paced: false }, { control: 'stall' }) }
    case 'never-ends':
      // JSON allows whitespace between tokens, so `{` and then spaces forever is a body that never completes.
      return { contentLength: undefined, steps: endlessWhitespace() }
    default:
      return { contentLength: payload.length, steps: stepsOf({ data: payload, paced: false }) }
  }
}
