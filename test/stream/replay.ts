/**
 * Test helper for the stream codecs: the real rules (shipped rules/ plus
 * test/fixtures/streams/cut-rules.yaml), replaying fixtures through the
 * stream sanitizer split at given byte offsets, reading output the way a
 * client does, and small stream builders for generated (fuzzed) streams.
 */
import type { Test } from 'tap'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { createParser } from 'eventsource-parser'
import { defaultRulesDir, loadRuleSet } from '../../src/rules/load-rules.js'
import type { RuleSet } from '../../src/rules/rule-set.js'
import { createScanner } from '../../src/scanner/create-scanner.js'
import { scanText } from '../../src/scanner/scan-text.js'
import type { Finding, ScanResult, Scanner } from '../../src/scanner/types.js'
import { createStreamSanitizer } from '../../src/stream/create-stream-sanitizer.js'
import type { StreamSanitizer, StreamSanitizerOptions } from '../../src/stream/create-stream-sanitizer.js'
import type { FindingContext } from '../../src/protocols/types.js'

export const kHmacKey = 'sluice-stream-tests'
export const fixturesDir = fileURLToPath(new URL('../fixtures/streams/', import.meta.url))

export function fixture (name: string): Buffer {
  return readFileSync(fixturesDir + name)
}

let rules: Promise<RuleSet> | undefined
/** The shipped rules plus the test cut/flag rules, loaded once per process. */
export function testRules (): Promise<RuleSet> {
  rules ??= loadRuleSet([defaultRulesDir(), fixturesDir + 'cut-rules.yaml'])
  return rules
}

export function scannerFactory (ruleSet: RuleSet): () => Scanner {
  return () => createScanner(ruleSet, { hmacKey: kHmacKey })
}

/** The reference: the whole text scanned at once. */
export function scanWhole (ruleSet: RuleSet, text: string): ScanResult {
  return scanText(ruleSet, text, { hmacKey: kHmacKey })
}

export interface Replay {
  output: string
  sanitizer: StreamSanitizer
  findings: Array<{ finding: Finding, context: FindingContext }>
  malformed: Error[]
}

/** Feeds `input` cut at the given byte offsets (any order), then ends it; no coalescing unless `options` asks. */
export function replay (ruleSet: RuleSet, input: Uint8Array, splits: readonly number[], options: Partial<StreamSanitizerOptions> = {}): Replay {
  const findings: Replay['findings'] = []
  const malformed: Error[] = []
  const sanitizer = createStreamSanitizer({
    newScanner: scannerFactory(ruleSet),
    // One output frame per upstream frame, so outputs compare byte for byte
    // across splittings; coalescing has its own tests (coalesce: true).
    coalesce: false,
    onFinding: (finding, context) => findings.push({ finding, context }),
    onMalformed: (err) => malformed.push(err),
    ...options
  })
  let output = ''
  let last = 0
  for (const at of [...new Set(splits)].sort((a, b) => a - b)) {
    if (at <= last || at >= input.length) continue
    output += sanitizer.write(input.subarray(last, at))
    last = at
  }
  output += sanitizer.write(input.subarray(last))
  output += sanitizer.end()
  return { output, sanitizer, findings, malformed }
}

/** Feeds one byte at a time. */
export function replayBytes (ruleSet: RuleSet, input: Uint8Array, options: Partial<StreamSanitizerOptions> = {}): Replay {
  return replay(ruleSet, input, Array.from({ length: input.length }, (_, i) => i), options)
}

export interface ClientFrame {
  event?: string | undefined
  id?: string | undefined
  data: string
}

/** Parses SSE output as a client would (eventsource-parser, as the SDK ecosystem). */
export function parseSse (text: string): { frames: ClientFrame[], comments: string[] } {
  const frames: ClientFrame[] = []
  const comments: string[] = []
  const parser = createParser({
    onEvent: (e) => frames.push({ event: e.event, id: e.id, data: e.data }),
    onComment: (c) => comments.push(c)
  })
  parser.feed(text)
  return { frames, comments }
}

export function parseNdjson (text: string): ClientFrame[] {
  return text.split('\n').filter((line) => line.trim() !== '').map((data) => ({ data }))
}

type Json = Record<string, any>

/** Every data frame as JSON, `[DONE]` as the string. Throws on invalid JSON. */
export function jsonFrames (frames: readonly ClientFrame[]): Array<Json | '[DONE]'> {
  return frames.map((f) => (f.data === '[DONE]' ? '[DONE]' : JSON.parse(f.data) as Json))
}

function add (map: Map<string, string>, key: string, text: unknown): void {
  if (typeof text === 'string') map.set(key, (map.get(key) ?? '') + text)
}

/**
 * The text of each channel as a client assembles it from the deltas
 * (keys as the codecs name channels).
 */
export function clientTexts (protocol: 'chat' | 'completions' | 'responses' | 'anthropic', frames: readonly ClientFrame[]): Map<string, string> {
  const texts = new Map<string, string>()
  for (const f of jsonFrames(frames)) {
    if (f === '[DONE]') continue
    if (protocol === 'chat') {
      for (const c of f.choices ?? []) {
        add(texts, `${c.index}:content`, c.delta?.content)
        add(texts, `${c.index}:refusal`, c.delta?.refusal)
        for (const call of c.delta?.tool_calls ?? []) add(texts, `${c.index}:tool:${call.index}`, call.function?.arguments)
      }
    } else if (protocol === 'completions') {
      for (const c of f.choices ?? []) add(texts, `${c.index}:text`, c.text)
    } else if (protocol === 'responses') {
      if (f.type === 'response.output_text.delta') add(texts, `out:${f.output_index}:${f.content_index}`, f.delta)
      if (f.type === 'response.function_call_arguments.delta') add(texts, `fn:${f.output_index}`, f.delta)
    } else if (f.type === 'content_block_delta') {
      add(texts, String(f.index), f.delta?.text ?? f.delta?.partial_json ?? f.delta?.thinking)
    }
  }
  for (const [key, text] of texts) if (text === '') texts.delete(key)
  return texts
}

/** Each input channel's text scanned whole: what the output must carry. */
export function expectedTexts (ruleSet: RuleSet, input: Map<string, string>): Map<string, string> {
  const out = new Map<string, string>()
  for (const [key, text] of input) {
    const scanned = scanWhole(ruleSet, text).text
    if (scanned !== '') out.set(key, scanned)
  }
  return out
}

// Builders for generated streams ---------------------------------------------

const sse = (data: string, event?: string): string => (event === undefined ? '' : `event: ${event}\n`) + `data: ${data}\n\n`

/** A Chat Completions stream of the given content tokens. */
export function buildChatStream (tokens: readonly string[], options: { eol?: string, bom?: boolean } = {}): string {
  const base = { id: 'chatcmpl-gen', object: 'chat.completion.chunk', created: 1754000000, model: 'gpt-4o-mini', system_fingerprint: 'fp_gen' }
  let out = sse(JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] }))
  for (const token of tokens) out += sse(JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: token }, logprobs: null, finish_reason: null }] }))
  out += sse(JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] }))
  out += sse('[DONE]')
  if (options.eol !== undefined) out = out.replace(/\n/g, options.eol)
  return (options.bom === true ? '\uFEFF' : '') + out
}

/** A Responses API stream of the given output text tokens. */
export function buildResponsesStream (tokens: readonly string[]): string {
  let seq = 0
  let out = ''
  const ev = (obj: Json): void => { out += sse(JSON.stringify({ type: obj.type, sequence_number: seq++, ...obj }), obj.type as string) }
  const response = (status: string, output: unknown[]): Json => ({ id: 'resp_gen', object: 'response', created_at: 1754000000, status, model: 'gpt-4.1', output, usage: null })
  const full = tokens.join('')
  ev({ type: 'response.created', response: response('in_progress', []) })
  ev({ type: 'response.output_item.added', output_index: 0, item: { id: 'msg_gen', type: 'message', status: 'in_progress', content: [], role: 'assistant' } })
  ev({ type: 'response.content_part.added', item_id: 'msg_gen', output_index: 0, content_index: 0, part: { type: 'output_text', annotations: [], text: '' } })
  for (const token of tokens) ev({ type: 'response.output_text.delta', item_id: 'msg_gen', output_index: 0, content_index: 0, delta: token })
  ev({ type: 'response.output_text.done', item_id: 'msg_gen', output_index: 0, content_index: 0, text: full })
  const part = { type: 'output_text', annotations: [], text: full }
  ev({ type: 'response.content_part.done', item_id: 'msg_gen', output_index: 0, content_index: 0, part })
  const item = { id: 'msg_gen', type: 'message', status: 'completed', content: [part], role: 'assistant' }
  ev({ type: 'response.output_item.done', output_index: 0, item })
  ev({ type: 'response.completed', response: response('completed', [item]) })
  return out
}

/** An Anthropic Messages stream of the given text tokens. */
export function buildAnthropicStream (tokens: readonly string[]): string {
  let out = ''
  const ev = (obj: Json): void => { out += sse(JSON.stringify(obj), obj.type as string) }
  ev({ type: 'message_start', message: { id: 'msg_gen', type: 'message', role: 'assistant', model: 'claude-gen', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 5, output_tokens: 1 } } })
  ev({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })
  for (const token of tokens) ev({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: token } })
  ev({ type: 'content_block_stop', index: 0 })
  ev({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 20 } })
  ev({ type: 'message_stop' })
  return out
}

/**
 * Splits `text` at the given code-unit offsets, even inside a surrogate pair
 * (JSON carries a lone surrogate as `\ud83c`; the scanner must cope).
 */
export function tokenize (text: string, cuts: readonly number[]): string[] {
  const points = [...new Set(cuts)].filter((c) => c > 0 && c < text.length).sort((a, b) => a - b)
  const tokens: string[] = []
  let last = 0
  for (const p of points) {
    tokens.push(text.slice(last, p))
    last = p
  }
  tokens.push(text.slice(last))
  return tokens
}

/**
 * Replays each fixture whole, one byte at a time and at random split points
 * (fast-check): the output must not depend on how the upstream bytes were split.
 */
export function checkSplitInvariance (t: Test, ruleSet: RuleSet, names: readonly string[], numRuns = 25): void {
  for (const name of names) {
    const input = fixture(name)
    const reference = replay(ruleSet, input, []).output
    t.equal(replayBytes(ruleSet, input).output, reference, `${name}: one byte at a time`)
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: input.length - 1 }), { maxLength: 40 }), (splits) => {
      return replay(ruleSet, input, splits).output === reference
    }), { numRuns })
    t.pass(`${name}: ${numRuns} random splittings agree`)
  }
}
