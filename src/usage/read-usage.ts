/**
 * @module usage/read-usage
 * Token usage as the providers report it, read into one shape: input tokens
 * billed at the input price, input tokens read from a prompt cache, output
 * tokens. Each API reports it its own way, and some in several frames:
 *
 * - OpenAI chat/completions: `usage.prompt_tokens` (cached ones included,
 *   `prompt_tokens_details.cached_tokens`), `usage.completion_tokens`; in a
 *   stream only with `stream_options.include_usage`, on a last chunk whose
 *   `choices` is empty.
 * - OpenAI Responses: `response.usage.input_tokens` (cached included,
 *   `input_tokens_details.cached_tokens`), `output_tokens`, on
 *   `response.completed` (and `response.incomplete`).
 * - Anthropic: `message.usage` on `message_start` (`input_tokens` without
 *   the cache, `cache_read_input_tokens`, `cache_creation_input_tokens`),
 *   then `usage.output_tokens` on `message_delta`, cumulative.
 * - Gemini: `usageMetadata` on every chunk, cumulative (`promptTokenCount`
 *   with `cachedContentTokenCount` in it, `candidatesTokenCount`,
 *   `thoughtsTokenCount` billed as output).
 * - Ollama: `prompt_eval_count`, `eval_count` on the last line.
 * - Cohere v2: `delta.usage.billed_units` on `message-end`.
 *
 * Counts in later frames are cumulative, so a stream's usage is the largest
 * count of each kind seen; a stream cancelled before its last frame keeps
 * what the frames so far reported.
 */
import { isJsonObject } from '../json/json-object.js'
import type { JsonObject } from '../json/json-object.js'

export interface TokenUsage {
  /** Input tokens at the input price (cache writes included). */
  input: number
  /** Input tokens read from the provider's prompt cache. */
  cachedInput: number
  output: number
}

export const noUsage: Readonly<TokenUsage> = Object.freeze({ input: 0, cachedInput: 0, output: 0 })

function num (value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0
}

function obj (value: unknown): JsonObject | undefined {
  return isJsonObject(value) ? value : undefined
}

/** OpenAI chat/completions `usage`, or Responses `usage` (input/output names). */
function fromOpenAi (usage: JsonObject): TokenUsage | undefined {
  if ('prompt_tokens' in usage || 'completion_tokens' in usage) {
    const cached = num(obj(usage.prompt_tokens_details)?.cached_tokens)
    return { input: Math.max(0, num(usage.prompt_tokens) - cached), cachedInput: cached, output: num(usage.completion_tokens) }
  }
  if ('input_tokens' in usage || 'output_tokens' in usage) {
    // Anthropic keeps cache reads out of `input_tokens`; OpenAI Responses counts them in it.
    if ('cache_read_input_tokens' in usage || 'cache_creation_input_tokens' in usage) {
      return { input: num(usage.input_tokens) + num(usage.cache_creation_input_tokens), cachedInput: num(usage.cache_read_input_tokens), output: num(usage.output_tokens) }
    }
    const cached = num(obj(usage.input_tokens_details)?.cached_tokens)
    return { input: Math.max(0, num(usage.input_tokens) - cached), cachedInput: cached, output: num(usage.output_tokens) }
  }
  return undefined
}

function fromGemini (meta: JsonObject): TokenUsage {
  const cached = num(meta.cachedContentTokenCount)
  return { input: Math.max(0, num(meta.promptTokenCount) - cached), cachedInput: cached, output: num(meta.candidatesTokenCount) + num(meta.thoughtsTokenCount) }
}

/** The usage one parsed frame or body reports, if any. */
export function usageOf (value: unknown): TokenUsage | undefined {
  const frame = obj(value)
  if (frame === undefined) return undefined
  const direct = obj(frame.usage)
  if (direct !== undefined) return fromOpenAi(direct)
  const meta = obj(frame.usageMetadata)
  if (meta !== undefined) return fromGemini(meta)
  const nested = obj(obj(frame.response)?.usage) ?? obj(obj(frame.message)?.usage) ?? obj(obj(frame.delta)?.usage)
  if (nested !== undefined) {
    const billed = obj(nested.billed_units)
    return billed !== undefined ? { input: num(billed.input_tokens), cachedInput: 0, output: num(billed.output_tokens) } : fromOpenAi(nested)
  }
  if ('prompt_eval_count' in frame || 'eval_count' in frame) return { input: num(frame.prompt_eval_count), cachedInput: 0, output: num(frame.eval_count) }
  return undefined
}

/** Adds what a frame reported to a stream's usage (cumulative counts: the largest wins). */
export function mergeUsage (total: TokenUsage, next: TokenUsage | undefined): TokenUsage {
  if (next === undefined) return total
  return {
    input: Math.max(total.input, next.input),
    cachedInput: Math.max(total.cachedInput, next.cachedInput),
    output: Math.max(total.output, next.output)
  }
}

/**
 * A chunk that carries only usage (OpenAI's last streamed chunk with
 * `stream_options.include_usage`): what the proxy drops when it asked for
 * usage on the client's behalf.
 */
export function isUsageOnlyChunk (value: unknown): boolean {
  const frame = obj(value)
  return frame !== undefined && Array.isArray(frame.choices) && frame.choices.length === 0 && isJsonObject(frame.usage)
}
