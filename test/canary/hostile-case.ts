/**
 * @module test/canary/hostile-case
 * One hostile answer, described by a plain `CaseSpec` (what fast-check
 * draws) and built by a pure function into what the upstream writes: a
 * status, headers and the body in the pieces it is written in. Being pure,
 * a case can be rebuilt with one dimension put back to its ordinary value,
 * which is how a leak is put in a category.
 */
import { brotliCompressSync, gzipSync } from 'node:zlib'
import type { Canary } from './canaries.js'
import { Raw, clone, escapedLiteral, getAt, serialize, setAt } from './json-text.js'
import type { Json, Path } from './json-text.js'
import { protocolNamed } from './protocols.js'
import type { Answer, Frame, ProtocolEntry } from './protocols.js'

export const positionNames = [
  'text', 'text-escaped', 'unknown-key', 'unknown-key-name', 'split-unknown', 'unknown-event',
  'sse-event-field', 'sse-id-field', 'sse-comment', 'error', 'metadata', 'tool-args', 'duplicate-key',
  'after-finish', 'header', 'non-json-frame', 'data-lines', 'number-leaf', 'oversized-frame'
] as const
export type PositionName = typeof positionNames[number]

export type Shape = 'flat' | 'object' | 'array' | 'deep'

export interface Position {
  name: PositionName
  /** Which container, metadata field or frame (modulo what the protocol has). */
  pick: number
  /** Where in the stream, as a fraction of the text frames. */
  at: number
  /** The unknown key's name. */
  key: string
  /** How deep the unknown value sits under its key. */
  shape: Shape
}

export const statuses = [200, 400, 404, 429, 500, 302] as const
export const contentTypes = ['natural', 'text/event-stream', 'application/json', 'application/problem+json', 'text/plain',
  'application/x-ndjson', 'application/ndjson', 'none', 'duplicated'] as const
export type ContentTypeChoice = typeof contentTypes[number]
export const encodings = ['identity', 'gzip', 'br'] as const
export type Encoding = typeof encodings[number]
/** How lines end (SSE allows CRLF, LF and CR; NDJSON LF or CRLF), and a byte order mark first. */
export const lineEndings = ['lf', 'crlf', 'cr', 'bom-lf'] as const
export type LineEnding = typeof lineEndings[number]

export interface CaseSpec {
  protocol: string
  /** A streamed answer (SSE / NDJSON) or a whole JSON body. */
  streamed: boolean
  canary: Canary
  /** Prose before and after the canary where it is written. */
  around: [string, string]
  /** The ordinary answer text. */
  prose: string
  /** Sizes of the pieces text and tool arguments stream in (cycled). */
  sizes: number[]
  /** Whether the answer has a tool call besides its text. */
  tool: boolean
  position: Position
  status: number
  contentType: ContentTypeChoice
  encoding: Encoding
  eol: LineEnding
  /** Byte offsets the body is cut at into writes (the first is taken inside the canary). */
  splits: number[]
  /** Picks the characters written as `\uXXXX`. */
  escapeSeed: number
  /** How the plugin's route hands a whole body to Fastify. */
  sendAs: 'stream' | 'buffer'
}

export interface BuiltCase {
  status: number
  headers: Record<string, string | string[]>
  pieces: Buffer[]
}

/** Whether a position can hold this canary in a form the rules catch in plain text. */
export function positionFits (name: PositionName, canary: Canary): boolean {
  // A bare 9-digit number is no SSN to the rules (the dashed form or context
  // is needed, as in prose); a Luhn-valid card number is one in any form.
  if (name === 'number-leaf') return canary.kind === 'card'
  // A header holds one line: a PEM block written on one line is a form the
  // private-key rule does not match yet, in any position (a rule gap, not
  // an unscanned path), so it is not used to test paths.
  if (name === 'header') return canary.kind !== 'private-key'
  return true
}

/** Whether a position can be taken in this protocol and answer kind. */
export function positionApplies (name: PositionName, entry: ProtocolEntry, streamed: boolean): boolean {
  switch (name) {
    case 'sse-event-field':
    case 'sse-id-field':
    case 'sse-comment':
      return streamed && entry.framing === 'sse'
    case 'data-lines':
      return streamed && entry.framing === 'sse'
    case 'split-unknown':
    case 'unknown-event':
    case 'after-finish':
    case 'non-json-frame':
    case 'oversized-frame':
      return streamed
    case 'tool-args':
      return entry.tools
    default:
      return true
  }
}

function cutBySizes (text: string, sizes: number[]): string[] {
  const out: string[] = []
  let i = 0
  let k = 0
  while (i < text.length) {
    const n = Math.max(1, sizes.length === 0 ? text.length : sizes[k++ % sizes.length] ?? 1)
    out.push(text.slice(i, i + n))
    i += n
  }
  return out
}

function rng (seed: number): (i: number) => boolean {
  return (i) => (((i + 1) * 2654435761 + seed) >>> 0) % 3 === 0
}

function wrap (text: string, shape: Shape): Json {
  switch (shape) {
    case 'flat': return text
    case 'object': return { detail: text }
    case 'array': return [{ type: 'note', text }]
    case 'deep': return { a: { b: [1, { c: [text] }] } }
  }
}

/** A header value can hold no line break. */
function oneLine (text: string): string {
  return text.replace(/\r?\n/g, ' ')
}

/** The container path and key of the text field, as a raw object with the canary first under a duplicated key. */
function duplicateKey (data: Json, textPath: Path, secret: string): Json {
  const containerPath = textPath.slice(0, -1)
  const key = String(textPath[textPath.length - 1])
  const container = getAt(data, containerPath) as Record<string, Json>
  const rest = Object.entries(container).map(([k, v]) => `${JSON.stringify(k)}:${serialize(v)}`)
  const raw = new Raw(`{${JSON.stringify(key)}:${JSON.stringify(secret)},${rest.join(',')}}`)
  if (containerPath.length === 0) return raw
  setAt(data, containerPath, raw)
  return data
}

export function naturalType (entry: ProtocolEntry, streamed: boolean): string {
  if (!streamed) return 'application/json'
  return entry.framing === 'sse' ? 'text/event-stream' : 'application/x-ndjson'
}

/** The text that carries the canary, as prose. */
export function secretText (spec: CaseSpec): string {
  return `${spec.around[0]} ${spec.canary.value} ${spec.around[1]}`
}

function buildFrames (spec: CaseSpec, entry: ProtocolEntry, answer: Answer, secret: string, headers: Record<string, string | string[]>): string {
  const p = spec.position
  const frames = entry.stream(answer)
  const textAt = (): number => {
    const idx = frames.flatMap((f, i) => f.kind === 'text' ? [i] : [])
    return idx[Math.min(idx.length - 1, Math.floor(p.at * idx.length))] ?? 0
  }
  const endAt = (): number => {
    const i = frames.findIndex((f) => f.kind === 'end')
    return i === -1 ? frames.length : i
  }
  switch (p.name) {
    case 'text':
    case 'tool-args':
      break
    case 'text-escaped':
      setAt(frames[textAt()]!.data, entry.textPath, new Raw(escapedLiteral(secret, rng(spec.escapeSeed))))
      break
    case 'unknown-key':
    case 'unknown-key-name': {
      const container = entry.containers[p.pick % entry.containers.length] ?? []
      const frame = frames[textAt()]!
      if (p.name === 'unknown-key') setAt(frame.data, [...container, p.key], wrap(secret, p.shape))
      else setAt(frame.data, [...container, secret], true)
      break
    }
    case 'split-unknown': {
      const container = entry.containers[p.pick % entry.containers.length] ?? []
      const mid = spec.around[0].length + 1 + Math.max(1, Math.floor(spec.canary.value.length / 2))
      const halves = [secret.slice(0, mid), secret.slice(mid)]
      const i = textAt()
      const pair = [entry.textFrame(''), entry.textFrame('')]
      halves.forEach((h, k) => { setAt(pair[k]!.data, [...container, p.key], wrap(h, p.shape)) })
      frames.splice(i + 1, 0, ...pair)
      break
    }
    case 'unknown-event':
      frames.splice(textAt() + 1, 0, entry.unknownEvent(secret))
      break
    case 'non-json-frame':
      // A frame whose data is plain text (SSE), a line that is not JSON (NDJSON).
      frames.splice(textAt() + 1, 0, { kind: 'other', data: new Raw(secret) })
      break
    case 'data-lines': {
      // One event's JSON written over several data: lines (they join with "\n", still JSON).
      const frame = frames[textAt()]!
      setAt(frame.data, entry.textPath, secret)
      frame.dataLines = true
      break
    }
    case 'number-leaf': {
      const container = entry.containers[p.pick % entry.containers.length] ?? []
      setAt(frames[textAt()]!.data, [...container, p.key], new Raw(spec.canary.value.replace(/\D/g, '')))
      break
    }
    case 'oversized-frame': {
      // Larger than the default maxEventSize (1 MiB), the canary at its end.
      const container = entry.containers[p.pick % entry.containers.length] ?? []
      setAt(frames[textAt()]!.data, [...container, p.key], 'All fine here. '.repeat(75_000) + secret)
      break
    }
    case 'sse-event-field':
      frames[textAt()]!.event = oneLine(secret)
      break
    case 'sse-id-field':
      frames[textAt()]!.id = oneLine(secret)
      break
    case 'sse-comment':
      frames[textAt()]!.comments = secret.split('\n')
      break
    case 'error':
      // In the middle of the answer or at its end.
      frames.splice(p.at < 0.5 ? textAt() + 1 : endAt(), 0, ...entry.errorFrames(secret))
      break
    case 'metadata': {
      const m = entry.metadata[p.pick % entry.metadata.length]!
      const candidates = frames.filter((f) => {
        const parent = getAt(f.data, m.path.slice(0, -1))
        return f.kind === m.kind && parent !== null && typeof parent === 'object' && !(parent instanceof Raw)
      })
      const frame = candidates[Math.floor(p.at * candidates.length)] ?? candidates[0]!
      setAt(frame.data, m.path, secret)
      break
    }
    case 'duplicate-key': {
      const frame = frames[textAt()]!
      frame.data = duplicateKey(frame.data, entry.textPath, secret)
      break
    }
    case 'after-finish': {
      const i = frames.findIndex((f) => f.kind === 'finish')
      frames.splice(i + 1, 0, ...cutBySizes(` ${secret}`, spec.sizes).map(entry.textFrame))
      break
    }
    case 'header':
      headers['x-upstream-trace'] = oneLine(secret)
      break
  }
  const bom = spec.eol === 'bom-lf' ? '\uFEFF' : ''
  if (entry.framing === 'ndjson') {
    const nl = spec.eol === 'crlf' || spec.eol === 'cr' ? '\r\n' : '\n'
    return bom + frames.map((f) => serialize(f.data).split('\n').join(nl) + nl).join('')
  }
  const nl = spec.eol === 'crlf' ? '\r\n' : spec.eol === 'cr' ? '\r' : '\n'
  return bom + frames.map((f: Frame) => {
    const lines: string[] = []
    for (const c of f.comments ?? []) lines.push(`: ${c}`)
    if (f.event !== undefined) lines.push(`event: ${f.event}`)
    if (f.id !== undefined) lines.push(`id: ${f.id}`)
    const data = f.dataLines === true ? serialize(f.data).replaceAll(',"', ',\n"') : serialize(f.data)
    for (const line of data.split('\n')) lines.push(`data: ${line}`)
    return lines.join(nl) + nl + nl
  }).join('')
}

function buildBody (spec: CaseSpec, entry: ProtocolEntry, answer: Answer, secret: string, headers: Record<string, string | string[]>): string {
  const p = spec.position
  let body = clone(entry.body(answer))
  switch (p.name) {
    case 'text-escaped':
      setAt(body, entry.bodyTextPath, new Raw(escapedLiteral(secret, rng(spec.escapeSeed))))
      break
    case 'unknown-key':
    case 'unknown-key-name': {
      const container = entry.bodyContainers[p.pick % entry.bodyContainers.length] ?? []
      if (p.name === 'unknown-key') setAt(body, [...container, p.key], wrap(secret, p.shape))
      else setAt(body, [...container, secret], true)
      break
    }
    case 'error':
      body = entry.errorBody(secret)
      break
    case 'metadata':
      setAt(body, entry.bodyMetadata[p.pick % entry.bodyMetadata.length]!, secret)
      break
    case 'duplicate-key':
      body = duplicateKey(body, entry.bodyTextPath, secret)
      break
    case 'header':
      headers['x-upstream-trace'] = oneLine(secret)
      break
    case 'number-leaf': {
      const container = entry.bodyContainers[p.pick % entry.bodyContainers.length] ?? []
      setAt(body, [...container, p.key], new Raw(spec.canary.value.replace(/\D/g, '')))
      break
    }
    default:
      break
  }
  return (spec.eol === 'bom-lf' ? '\uFEFF' : '') + serialize(body)
}

/** What the hostile upstream writes for `spec`. */
export function buildCase (spec: CaseSpec): BuiltCase {
  const entry = protocolNamed(spec.protocol)
  const secret = secretText(spec)
  const p = spec.position.name
  const argsText = p === 'tool-args'
    ? `{"to":${escapedLiteral(secret, rng(spec.escapeSeed))},"subject":"hello"}`
    : '{"to":"the team","subject":"hello"}'
  const answer: Answer = {
    pieces: cutBySizes(p === 'text' ? `${spec.prose} ${secret}` : spec.prose, spec.sizes),
    ...((spec.tool || p === 'tool-args') && entry.tools ? { tool: { name: 'send_email', argPieces: cutBySizes(argsText, spec.sizes) } } : {})
  }
  const headers: Record<string, string | string[]> = {}
  const text = spec.streamed ? buildFrames(spec, entry, answer, secret, headers) : buildBody(spec, entry, answer, secret, headers)
  const natural = naturalType(entry, spec.streamed)
  if (spec.contentType === 'natural') headers['content-type'] = natural
  else if (spec.contentType === 'duplicated') headers['content-type'] = ['text/plain', natural]
  else if (spec.contentType !== 'none') headers['content-type'] = spec.contentType
  if (spec.status === 302) headers.location = '/elsewhere'
  let bytes = Buffer.from(text, 'utf8')
  // The first cut falls inside the canary's bytes (as written, before any encoding).
  const inside = bytes.indexOf(spec.canary.value.slice(0, 8))
  if (spec.encoding === 'gzip') {
    bytes = gzipSync(bytes)
    headers['content-encoding'] = 'gzip'
  } else if (spec.encoding === 'br') {
    bytes = brotliCompressSync(bytes)
    headers['content-encoding'] = 'br'
  }
  const cuts = new Set<number>()
  spec.splits.forEach((s, i) => {
    const at = i === 0 && inside !== -1 && spec.encoding === 'identity' ? inside + 1 + (s % spec.canary.value.length) : s % bytes.length
    if (at > 0 && at < bytes.length) cuts.add(at)
  })
  const sorted = [...cuts].sort((a, b) => a - b)
  const pieces: Buffer[] = []
  let last = 0
  for (const c of sorted) {
    pieces.push(bytes.subarray(last, c))
    last = c
  }
  pieces.push(bytes.subarray(last))
  return { status: spec.status, headers, pieces }
}

/** A short label naming the case's category values. */
export function positionLabel (spec: CaseSpec): string {
  const entry = protocolNamed(spec.protocol)
  const p = spec.position
  const at = (paths: Path[]): string => (paths[p.pick % paths.length] ?? []).join('.') || 'root'
  switch (p.name) {
    case 'unknown-key':
    case 'unknown-key-name':
    case 'split-unknown':
    case 'number-leaf':
    case 'oversized-frame':
      return `${p.name}@${at(spec.streamed ? entry.containers : entry.bodyContainers)}`
    case 'metadata':
      return `metadata@${spec.streamed ? (entry.metadata[p.pick % entry.metadata.length]?.path ?? []).join('.') : at(entry.bodyMetadata)}`
    default:
      return p.name
  }
}

export function caseLabel (spec: CaseSpec): string {
  return `${spec.protocol} ${spec.streamed ? 'stream' : 'body'} position=${positionLabel(spec)} status=${spec.status} type=${spec.contentType} encoding=${spec.encoding} eol=${spec.eol} canary=${spec.canary.kind}`
}
