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
 * Every other string, key and long number of the body is scanned whole too
 * (body-scan.ts), whatever the protocol, also in a body of no protocol
 * Sluice knows.
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
import { createBodyScan, scanStringLeaves } from './body-scan.js'
import type { ChannelInfo, FindingContext, Protocol, ProtocolOption, TextField } from './types.js'

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
  const requested = options.protocol ?? 'auto'
  const protocol = requested === 'auto' ? sniffJsonProtocol(input) : requested === 'ndjson' ? 'openai-chat' : requested
  // Provider modules sanitize their own bodies (the AI SDK UI stream has no body form).
  if (protocol === 'gemini') return sanitizeGeminiBody(input, newScanner, options)
  if (protocol === 'ollama') return sanitizeOllamaBody(input, newScanner, options)
  if (protocol === 'cohere') return sanitizeCohereBody(input, newScanner, options)

  const scan = createBodyScan(input, newScanner, options)
  const { channels } = scan
  // A body of no protocol Sluice knows: the generic pass alone scans it.
  if (protocol === undefined || protocol === 'vercel-ai' || !isRecord(scan.body)) return scan.result(false, undefined)
  const body: JsonObject = scan.body
  let changed = false

  /** Scans `holder[name]` whole; returns whether it changed. */
  function scanField (holder: JsonObject, name: string, info: ChannelInfo): boolean {
    const text = holder[name]
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
        else if (isRecord(block.input)) {
          // Each string of the input object its own text, so the result is always valid JSON.
          const scanned = scanStringLeaves(block.input, (text) => scan.whole(channel(`${i}:input`, i, 'tool_arguments'), text))
          if (scanned.changed) changed = true
        }
      })
      break
  }


  return scan.result(changed, protocol, () => {
    if (protocol === 'openai-responses') {
      body.status = 'incomplete'
      body.incomplete_details = { reason: 'content_filter' }
    } else if (protocol === 'anthropic-messages') {
      body.stop_reason = 'refusal'
      body.stop_sequence = null
    } else {
      forEachRecord(body.choices, (choice) => { choice.finish_reason = 'content_filter' })
    }
  })
}
