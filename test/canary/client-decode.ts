/**
 * @module test/canary/client-decode
 * Reads a response the ways clients do and finds a canary in any of them:
 * the raw bytes (gunzipped or brotli-decoded when they still are), each
 * SSE / NDJSON frame and each field of it, every JSON string and key, the
 * strings of one JSON path concatenated across frames (array items with an
 * integer `index` keyed by it, as the SDKs accumulate deltas), whatever of
 * those parses as JSON (tool arguments), and the response headers; each
 * text also in NFKC with invisible characters removed.
 */
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import type { Canary } from './canaries.js'

export interface Received {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
  /** Set when the body ended in an error (what came before it is in `body`). */
  error?: string
}

export interface Leak {
  /** Where the client found it, e.g. `gunzip/sse/path choices[0].delta.reasoning_content`. */
  where: string
  form: string
}

const kInvisible = /[\u200B-\u200F\u2060-\u2064\u00AD\uFEFF]/g

function normalized (text: string): string {
  return text.normalize('NFKC').replace(kInvisible, '')
}

interface SseEvent { event?: string, id?: string, comments: string[], data: string }

/** The events of an SSE body (WHATWG HTML §9.2.6: lines end in CRLF, LF or CR). */
function sseEvents (text: string): SseEvent[] {
  const out: SseEvent[] = []
  let cur: SseEvent = { comments: [], data: '' }
  let hasData = false
  const flush = (): void => {
    if (hasData || cur.event !== undefined || cur.id !== undefined || cur.comments.length > 0) out.push(cur)
    cur = { comments: [], data: '' }
    hasData = false
  }
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === '') { flush(); continue }
    if (line.startsWith(':')) { cur.comments.push(line.slice(1)); continue }
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') { cur.data = hasData ? `${cur.data}\n${value}` : value; hasData = true } else if (field === 'event') cur.event = value
    else if (field === 'id') cur.id = value
  }
  flush()
  return out
}

function tryJson (text: string): { ok: true, value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch {
    return { ok: false }
  }
}

/** Accumulates strings per JSON path across frames, two ways: by index, and with every position erased. */
class PathAccumulator {
  readonly byPath = new Map<string, string>()
  add (value: unknown, where: (text: string, label: string) => void): void {
    this.walk(value, '', '', where)
  }

  private append (key: string, text: string): void {
    this.byPath.set(key, (this.byPath.get(key) ?? '') + text)
  }

  private walk (value: unknown, path: string, loose: string, where: (text: string, label: string) => void): void {
    if (typeof value === 'string') {
      where(value, `leaf ${path}`)
      this.append(`path ${path}`, value)
      this.append(`loose ${loose}`, value)
      return
    }
    if (value === null || typeof value !== 'object') return
    // An integer index (OpenAI choices and tool calls, Anthropic blocks, Responses outputs) keys the object.
    const rec = value as Record<string, unknown>
    const ids = ['index', 'output_index', 'content_index'].filter((k) => Number.isInteger(rec[k])).map((k) => `${k}=${String(rec[k])}`)
    const here = ids.length === 0 ? path : `${path}{${ids.join(',')}}`
    if (Array.isArray(value)) {
      value.forEach((item, i) => {
        const idx = item !== null && typeof item === 'object' && Number.isInteger((item as Record<string, unknown>).index) ? `#${String((item as Record<string, unknown>).index)}` : String(i)
        this.walk(item, `${here}[${idx}]`, `${loose}[]`, where)
      })
      return
    }
    for (const [k, v] of Object.entries(rec)) {
      where(k, `key ${here}`)
      this.walk(v, `${here}.${k}`, `${loose}.${k}`, where)
    }
  }
}

/** Every text a client could make of `r`, labelled with where it came from. */
export function clientTexts (r: Received): Array<{ where: string, text: string }> {
  const texts: Array<{ where: string, text: string }> = []
  const push = (where: string, text: string): void => { if (text !== '') texts.push({ where, text }) }
  for (const [name, value] of Object.entries(r.headers)) {
    if (value !== undefined) push(`header ${name}`, Array.isArray(value) ? value.join('\n') : value)
  }
  const bodies: Array<[string, Buffer]> = [['raw', r.body]]
  for (const [name, decode] of [['gunzip', gunzipSync], ['brotli', brotliDecompressSync]] as const) {
    try {
      const out = decode(r.body)
      if (out.length > 0) bodies.push([name, out])
    } catch {}
  }
  for (const [name, buf] of bodies) {
    const text = buf.toString('utf8')
    push(name, text)
    // A byte order mark is dropped before parsing (WHATWG Encoding "UTF-8 decode").
    const body = text.replace(/^\uFEFF/, '')
    const values: Array<[string, unknown]> = []
    const whole = tryJson(body)
    if (whole.ok) values.push([`${name}/json`, whole.value])
    for (const [i, ev] of sseEvents(body).entries()) {
      if (ev.event !== undefined) push(`${name}/sse#${i} event`, ev.event)
      if (ev.id !== undefined) push(`${name}/sse#${i} id`, ev.id)
      ev.comments.forEach((c) => { push(`${name}/sse#${i} comment`, c) })
      const data = tryJson(ev.data)
      if (data.ok) values.push([`${name}/sse`, data.value])
      else push(`${name}/sse#${i} data (not JSON)`, ev.data)
    }
    for (const line of body.split(/\r?\n/)) {
      const v = tryJson(line)
      if (v.ok && line.trim() !== '') values.push([`${name}/ndjson`, v.value])
    }
    // One accumulator per reading (JSON body, SSE frames, NDJSON lines).
    const accs = new Map<string, PathAccumulator>()
    for (const [reading, value] of values) {
      let acc = accs.get(reading)
      if (acc === undefined) accs.set(reading, (acc = new PathAccumulator()))
      acc.add(value, (t, label) => { push(`${reading} ${label}`, t) })
    }
    for (const [reading, acc] of accs) {
      for (const [key, joined] of acc.byPath) {
        push(`${reading} joined ${key}`, joined)
        // Tool arguments (and any JSON written in a string): parse and take their strings too.
        const inner = tryJson(joined)
        if (inner.ok && inner.value !== null && typeof inner.value === 'object') {
          const nested = new PathAccumulator()
          nested.add(inner.value, (t, label) => { push(`${reading} joined ${key} parsed ${label}`, t) })
        }
      }
    }
  }
  return texts
}

/** Every place in `r` where the canary, or one of its compact forms, can be read. */
export function findLeaks (r: Received, canary: Canary): Leak[] {
  const forms = [canary.value, ...canary.compact]
  const leaks: Leak[] = []
  for (const { where, text } of clientTexts(r)) {
    for (const [variant, t] of [['', text], [' (NFKC, invisibles removed)', normalized(text)]] as const) {
      for (const form of forms) {
        if (t.includes(form)) leaks.push({ where: where + variant, form })
      }
    }
  }
  return leaks
}

/** A short account of the first leaks, for a failure message. */
export function describeLeaks (leaks: Leak[], max = 3): string {
  const wheres = [...new Set(leaks.map((l) => l.where))]
  return wheres.slice(0, max).join('; ') + (wheres.length > max ? `; … (${wheres.length} places)` : '')
}
