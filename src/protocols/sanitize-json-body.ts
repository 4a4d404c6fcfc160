/**
 * @module protocols/sanitize-json-body
 * Non-streaming (`stream: false`) response bodies: the same text fields as
 * the streams, each scanned whole with its own scanner, on a copy of the
 * body (the input is never modified), unless the caller owns the body and
 * says so (`inPlace`).
 *
 * - Chat Completions: `choices[].message.content`, `.refusal`,
 *   `.tool_calls[].function.arguments`;
 * - Completions: `choices[].text`;
 * - Responses: `output[]` message `output_text`/`refusal` parts, function
 *   call `arguments`, custom tool call `input`, reasoning summary/text;
 * - Anthropic Messages: `content[]` `text`, `thinking`, and every string in
 *   a `tool_use` block's `input` object (each its own text, so the result is
 *   always valid JSON).
 *
 * Cut: the field that tripped it keeps the text before the match, every
 * later text field becomes '' and the response says why it stopped, the
 * protocol's way: `finish_reason: "content_filter"` on every choice (OpenAI),
 * `status: "incomplete"` with `incomplete_details.reason: "content_filter"`
 * (Responses), `stop_reason: "refusal"` (Anthropic). Changed choices get
 * `logprobs: null`, as in the streams.
 */
import type { Finding, Scanner } from '../scanner/types.js'
import { isCohereBody, sanitizeCohereBody } from './cohere.js'
import { isGeminiBody, sanitizeGeminiBody } from './gemini.js'
import { isRecord, isText } from './json-frame.js'
import type { JsonObject } from './json-frame.js'
import { isOllamaBody, sanitizeOllamaBody } from './ollama.js'
import { createTextChannels } from './text-channels.js'
import type { ChannelInfo, ChannelScanner, FindingContext, Protocol, ProtocolOption, TextField } from './types.js'

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

export interface JsonSanitizeResult {
  /** The sanitized copy (the input itself when nothing changed, or changed in place with `inPlace`). */
  body: unknown
  changed: boolean
  findings: Finding[]
  cut: Finding | undefined
  /** The protocol recognised; undefined when the body is none Sluice knows (left as is). */
  protocol: Protocol | undefined
}

/**
 * Deny by default: every string of a body the protocol's pass did not scan
 * — unknown fields at any depth, metadata, error objects — and every object
 * key is scanned whole. After a cut, strings are still scanned (detached:
 * the channels release nothing then), so the envelope survives clean.
 * Returns whether anything changed.
 */
function scanUnowned (body: JsonObject, channels: ChannelScanner, newScanner: () => Scanner, isOwned: (holder: object, name: string) => boolean, detached = false): boolean {
  const info: ChannelInfo = { key: 'json:body', choice: 0, field: 'json' }
  const clean = new Set<string>()
  let changed = false
  function scan (text: string): string {
    if (text === '' || clean.has(text)) return text
    let out: string
    if (!detached && channels.cut === undefined) {
      out = channels.scanOnce(info, text)
    } else {
      const scanner = newScanner()
      const first = scanner.write(text).text
      out = scanner.cut === undefined ? first + scanner.end().text : first
    }
    if (out === text) clean.add(text)
    else changed = true
    return out
  }
  /** A string that is JSON text (tool arguments, by any name) is scanned as the value a client parses from it. */
  function scanJsonText (text: string): string | undefined {
    const first = text.trimStart()[0]
    if (first !== '{' && first !== '[') return undefined
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      return undefined
    }
    const holder = { value: parsed }
    const before = changed
    changed = false
    walk(holder)
    const inner = changed
    changed = before || inner
    return inner ? JSON.stringify(holder.value) : text
  }
  function walk (value: unknown): unknown {
    if (typeof value === 'string') return scanJsonText(value) ?? scan(value)
    if (typeof value === 'number' && Number.isInteger(value) && Math.abs(value) >= 1e8) {
      const text = String(value)
      const out = scan(text)
      return out === text ? value : out
    }
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) value[i] = walk(value[i])
      return value
    }
    if (!isRecord(value)) return value
    let renamed = false
    const entries: Array<[string, unknown]> = []
    for (const [name, item] of Object.entries(value)) {
      const next = isOwned(value, name) ? item : walk(item)
      const key = scan(name)
      if (key !== name) renamed = true
      entries.push([key, next])
      value[name] = next
    }
    if (!renamed) return value
    for (const name of Object.keys(value)) delete value[name]
    for (const [key, item] of entries) if (key !== '') value[key] = item
    return value
  }
  walk(body)
  return changed
}

/** Recognises a non-streaming response body. */
export function sniffJsonProtocol (body: unknown): Protocol | undefined {
  // Gemini's `streamGenerateContent` without `alt=sse` answers a JSON array.
  if (isGeminiBody(body)) return 'gemini'
  if (!isRecord(body)) return undefined
  if (body.object === 'chat.completion') return 'openai-chat'
  if (body.object === 'text_completion') return 'openai-completions'
  if (body.object === 'response') return 'openai-responses'
  if (body.type === 'message' && Array.isArray(body.content)) return 'anthropic-messages'
  if (isOllamaBody(body)) return 'ollama'
  if (isCohereBody(body)) return 'cohere'
  if (Array.isArray(body.choices)) return 'openai-chat'
  return undefined
}

/**
 * Sanitizes one JSON response body.
 * @example
 * const { body, changed } = sanitizeJsonBody(JSON.parse(text), () => createScanner(ruleSet))
 */
export function sanitizeJsonBody (input: unknown, newScanner: () => Scanner, options: JsonSanitizeOptions = {}): JsonSanitizeResult {
  const result = sanitizeKnownBody(input, newScanner, options)
  if (result.scannedAll === true) return result.result
  // A body of a provider module, or of no protocol Sluice knows: every
  // string in it is scanned whole (the provider's text fields again, which
  // finds nothing new in text already redacted).
  const { result: known } = result
  const findings = [...known.findings]
  const channels = createTextChannels({
    newScanner,
    onFinding: (finding, context) => {
      findings.push(finding)
      options.onFinding?.(finding, context)
    },
    onCut: options.onCut
  })
  let body = known.body
  if (typeof body === 'string') return { ...known, findings }
  if (!known.changed && options.inPlace !== true && typeof body === 'object' && body !== null) body = structuredClone(body)
  const holder: JsonObject = { body }
  const changed = scanUnowned(holder, channels, newScanner, () => false, known.cut !== undefined)
  if (!changed) return { ...known, body: known.body, findings }
  return { body: holder.body, changed: true, findings, cut: known.cut ?? channels.cut, protocol: known.protocol }
}

function sanitizeKnownBody (input: unknown, newScanner: () => Scanner, options: JsonSanitizeOptions): { result: JsonSanitizeResult, scannedAll?: boolean } {
  const requested = options.protocol ?? 'auto'
  const protocol = requested === 'auto' ? sniffJsonProtocol(input) : requested === 'ndjson' ? 'openai-chat' : requested
  // Provider modules sanitize their own bodies (the AI SDK UI stream has no body form).
  if (protocol === 'gemini') return { result: sanitizeGeminiBody(input, newScanner, options) }
  if (protocol === 'ollama') return { result: sanitizeOllamaBody(input, newScanner, options) }
  if (protocol === 'cohere') return { result: sanitizeCohereBody(input, newScanner, options) }
  if (protocol === undefined || protocol === 'vercel-ai' || !isRecord(input)) return { result: { body: input, changed: false, findings: [], cut: undefined, protocol: undefined } }

  const findings: Finding[] = []
  const channels = createTextChannels({
    newScanner,
    onFinding: (finding, context) => {
      findings.push(finding)
      options.onFinding?.(finding, context)
    },
    onCut: options.onCut
  })
  const body = options.inPlace === true ? input : structuredClone(input)
  let changed = false
  /** The fields scanned as text by the protocol's pass; the generic pass scans every other string. */
  const owned = new WeakMap<object, Set<string>>()
  const own = (holder: object, name: string): void => {
    let names = owned.get(holder)
    if (names === undefined) owned.set(holder, (names = new Set()))
    names.add(name)
  }

  /** Scans `holder[name]` whole; returns whether it changed. */
  function scanField (holder: JsonObject, name: string, info: ChannelInfo): boolean {
    const text = holder[name]
    own(holder, name)
    if (!isText(text)) return false
    const next = channels.scan(info, text) + channels.finish(info.key)
    if (next === text) return false
    holder[name] = next
    changed = true
    return true
  }

  function channel (key: string, choice: number, field: TextField, part?: number): ChannelInfo {
    return part === undefined ? { key, choice, field } : { key, choice, field, part }
  }

  function forEachRecord (list: unknown, fn: (item: JsonObject, index: number) => void): void {
    if (Array.isArray(list)) list.forEach((item, index) => { if (isRecord(item)) fn(item, index) })
  }

  function scanStrings (value: unknown, key: string, choice: number): unknown {
    if (typeof value === 'string') {
      if (value === '') return value
      const next = channels.scan(channel(key, choice, 'tool_arguments'), value) + channels.finish(key)
      if (next !== value) changed = true
      return next
    }
    if (Array.isArray(value)) return value.map((item, i) => scanStrings(item, `${key}.${i}`, choice))
    if (isRecord(value)) {
      for (const [name, item] of Object.entries(value)) {
        own(value, name)
        value[name] = scanStrings(item, `${key}.${JSON.stringify(name)}`, choice)
      }
    }
    return value
  }

  switch (protocol) {
    case 'openai-chat':
    case 'ndjson':
      forEachRecord(body.choices, (choice, k) => {
        const i = typeof choice.index === 'number' ? choice.index : k
        const message = choice.message
        if (!isRecord(message)) return
        let touched = scanField(message, 'content', channel(`${i}:content`, i, 'content'))
        if (scanField(message, 'refusal', channel(`${i}:refusal`, i, 'refusal'))) touched = true
        forEachRecord(message.tool_calls, (call, j) => {
          if (isRecord(call.function) && scanField(call.function, 'arguments', channel(`${i}:tool:${j}`, i, 'tool_arguments', j))) touched = true
        })
        if (touched && choice.logprobs !== undefined && choice.logprobs !== null) choice.logprobs = null
      })
      break
    case 'openai-completions':
      forEachRecord(body.choices, (choice, k) => {
        const i = typeof choice.index === 'number' ? choice.index : k
        if (scanField(choice, 'text', channel(`${i}:text`, i, 'text')) && choice.logprobs !== undefined && choice.logprobs !== null) choice.logprobs = null
      })
      break
    case 'openai-responses':
      forEachRecord(body.output, (item, oi) => {
        forEachRecord(item.content, (part, ci) => {
          if (part.type === 'output_text') scanField(part, 'text', channel(`out:${oi}:${ci}`, oi, 'text', ci))
          else if (part.type === 'refusal') scanField(part, 'refusal', channel(`ref:${oi}:${ci}`, oi, 'refusal', ci))
          else if (part.type === 'reasoning_text') scanField(part, 'text', channel(`rsn:${oi}:${ci}`, oi, 'reasoning', ci))
        })
        forEachRecord(item.summary, (part, si) => scanField(part, 'text', channel(`sum:${oi}:${si}`, oi, 'reasoning', si)))
        if (item.type === 'function_call') scanField(item, 'arguments', channel(`fn:${oi}`, oi, 'tool_arguments'))
        if (item.type === 'custom_tool_call') scanField(item, 'input', channel(`ctool:${oi}`, oi, 'tool_arguments'))
      })
      break
    case 'anthropic-messages':
      forEachRecord(body.content, (block, i) => {
        if (block.type === 'text') scanField(block, 'text', channel(String(i), i, 'text'))
        else if (block.type === 'thinking') scanField(block, 'thinking', channel(String(i), i, 'thinking'))
        else if (isRecord(block.input)) block.input = scanStrings(block.input, `${i}:input`, i)
      })
      break
  }

  if (scanUnowned(body, channels, newScanner, (holder, name) => owned.get(holder)?.has(name) === true)) changed = true

  const cut = channels.cut
  if (cut !== undefined) {
    changed = true
    if (protocol === 'openai-responses') {
      body.status = 'incomplete'
      body.incomplete_details = { reason: 'content_filter' }
    } else if (protocol === 'anthropic-messages') {
      body.stop_reason = 'refusal'
      body.stop_sequence = null
    } else {
      forEachRecord(body.choices, (choice) => { choice.finish_reason = 'content_filter' })
    }
  }
  return {
    scannedAll: true,
    result: changed ? { body, changed, findings, cut, protocol } : { body: input, changed, findings, cut, protocol }
  }
}
