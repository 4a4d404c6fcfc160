/**
 * @module client/types
 * The public shapes of the stream client: protocols, text channels, spans,
 * findings and finish reasons. Plain data only, so every decoded event can
 * cross a `postMessage` to and from the decoding Worker.
 */

/** The stream protocols the client reads (the ones Sluice proxies). */
export type ClientProtocol =
  | 'openai-chat'
  | 'openai-completions'
  | 'openai-responses'
  | 'anthropic-messages'
  | 'gemini'
  | 'ollama'
  | 'cohere'
  /** OpenAI Chat Completions chunks as NDJSON (`Accept: application/x-ndjson`), no `[DONE]`. */
  | 'ndjson'
  /** Recognised from the first frame, as the proxy does. */
  | 'auto'

/**
 * Which kind of text a delta is: the answer, the model's reasoning
 * (thinking, summaries, a tool plan), a refusal message, or the JSON text of
 * a tool call's arguments.
 */
export type TextChannel = 'content' | 'reasoning' | 'refusal' | 'tool_arguments'

/**
 * Why the stream ended.
 * - `content_filter`: cut by a filter (a Sluice cut in OpenAI, Responses,
 *   Gemini, Ollama and Cohere streams, or the provider's own filter);
 * - `refusal`: Anthropic's `stop_reason: "refusal"`, which is how a Sluice
 *   cut ends an Anthropic stream;
 * - `error`: an in-band error frame, or the connection broke mid-stream;
 * - `missing`: the stream ended with no finish reason at all;
 * - `cancelled`: `cancel()` or the caller's `signal`.
 */
export type FinishReason = 'stop' | 'length' | 'content_filter' | 'refusal' | 'tool_calls' | 'error' | 'missing' | 'cancelled'

/** A redaction marker inside a delta (UTF-16 offsets into that delta). */
export interface RedactionSpan {
  start: number
  end: number
  kind: 'redaction'
  /** The rule id, when the marker names one (`[SECRET:secret.openai_key]`) or only one shipped rule writes it. */
  rule?: string
  category?: string
  /** What the marker says was removed: `email`, `phone`, `secret`, `masked`… */
  label?: string
}

/** Where a delta belongs. */
export interface ChannelRef {
  /** Unique within a stream: `0:content`, `0:tool:1`, `out:0:0`… */
  key: string
  channel: TextChannel
  /** Choice (OpenAI), output item (Responses), candidate (Gemini); 0 where the protocol has one answer. */
  choice: number
  /** Tool call index, content block index (Anthropic) or content part, where the protocol has one. */
  part?: number
  /** The tool's name, on `tool_arguments` deltas when the stream said it. */
  name?: string
}

/** What `onText` learns beside the delta. */
export interface TextInfo extends ChannelRef {
  /** Where the delta starts in everything delivered on this channel so far. */
  offset: number
  /** Redaction markers in this delta, offsets relative to the delta; a marker is never split across deltas. */
  spans: RedactionSpan[]
}

/**
 * A finding the stream exposed. Sluice does not send findings in-band (they
 * go to its audit log), so the client derives them from the redaction
 * markers in the text: `source: 'marker'`.
 */
export interface ClientFinding extends ChannelRef {
  kind: 'redaction'
  source: 'marker'
  /** Offsets in the channel's whole text. */
  start: number
  end: number
  /** The marker itself, e.g. `[email:3f9a1c]`. */
  text: string
  rule?: string
  category?: string
  label?: string
}

/** What `onFinish` (and the promise `generate` returns) gives. */
export interface FinishInfo {
  reason: FinishReason
  /** The protocol's own word for it (`content_filter`, `SAFETY`, `end_turn`, `ERROR`…), when the stream said one. */
  raw: string | undefined
  /**
   * The rule and category of a cut. On OpenAI streams Sluice names the
   * category in the final chunk (`content_filter_results`); the rule id is
   * only in its audit log: quote `requestId` to find the record.
   */
  rule?: string
  category?: string
  /** The parsed frame that carried the finish reason (or the error). */
  frame?: unknown
  /** `x-sluice-request-id`: the id Sluice's audit records and logs carry. */
  requestId?: string
  /** The protocol read (useful with `auto`). */
  protocol?: Exclude<ClientProtocol, 'auto'>
  /** Set when `reason` is `error`. */
  error?: Error
}
