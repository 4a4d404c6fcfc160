/**
 * @module demo/create-demo-upstream
 * An in-process model simulator that speaks the OpenAI (chat completions,
 * completions, responses) and Anthropic (messages) wire formats, streams
 * canned answers in small chunks at a set pace, and misbehaves on command
 * (`x-fault: NAME`) so tests and benchmarks can hit every failure a real
 * upstream shows. `npm start` puts Sluice in front of it, so the demo needs no
 * API key and no network.
 *
 * Plain `node:http` on purpose: fault injection needs control of every byte
 * (raw invalid UTF-8, a socket closed mid-body, a content type that lies) and
 * of when headers go out.
 */
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { InvalidOptionsError } from '../errors.js'
import { cannedAnswers, findAnswer, pickAnswer } from './canned-answers.js'
import type { CannedAnswer } from './canned-answers.js'

// Options, stats and the public handle ----------------------------------------

export interface DemoUpstreamOptions {
  /** Characters (code points) per content chunk, drawn uniformly from `[min, max]`. Default `[1, 8]`. */
  chunkSize?: readonly [number, number]
  /** Content chunks per second; `0` sends as fast as the client reads. Default 40, a pace a person can watch. */
  chunksPerSecond?: number
  /** The answers to stream. Default: the canned answers of `canned-answers.ts`. */
  answers?: readonly CannedAnswer[]
  /** Seed for chunk sizes and ids, so a run can be replayed. Default 1. */
  seed?: number
  /** Largest request body accepted; larger ones get 413. Default 32 MiB. */
  maxBodyBytes?: number
}

export interface DemoRecordedRequest {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  /** The parsed JSON body, or the raw text when it was not JSON. */
  body: unknown
}

/** One response to a generation route (streamed or not). */
export interface DemoResponseRecord {
  id: number
  path: string
  streaming: boolean
  status: number
  fault: FaultName | null
  /** Body bytes handed to the socket (headers not counted). */
  bytesWritten: number
  /** The response ended normally. */
  completed: boolean
  /** The connection closed before the response ended (client went away), other than by a reset fault. */
  aborted: boolean
  /** A `reset-mid-stream` fault closed the connection on purpose. */
  reset: boolean
}

export interface DemoUpstreamStats {
  /** Requests to `/v1/...` and unknown paths (not `/_demo/...`). */
  requests: number
  requestsByPath: Record<string, number>
  openConnections: number
  /** Responses to generation routes still being written. */
  activeStreams: number
  completedStreams: number
  abortedStreams: number
  resetStreams: number
  lastRequest: DemoRecordedRequest | null
  /** The last `maxRecordedResponses` (100) responses to generation routes, oldest first. */
  responses: DemoResponseRecord[]
  /** How many requests named each fault (the counters `x-fault-count` compares against). */
  faults: Record<string, number>
}

export interface DemoUpstream {
  readonly server: http.Server
  /** Live counters; also served as JSON at `GET /_demo/stats`. */
  readonly stats: DemoUpstreamStats
  /** Starts listening; resolves with the base URL, e.g. `http://127.0.0.1:41234`. */
  listen(port?: number, host?: string): Promise<string>
  /** Stops every stream and timer, destroys open sockets, closes the server. */
  close(): Promise<void>
  /** Zeroes the stats and the fault counters (also `POST /_demo/reset`). */
  resetStats(): void
}

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
const DEFAULT_SLOW_HEADERS_MS = 1000
const DEFAULT_RETRY_AFTER_S = 1
const maxRecordedResponses = 100
/** With no pacing, yield to the event loop after this many frames so an endless stream cannot starve other sockets. */
const maxFramesPerTick = 64
/** Replaced by the raw bytes 0xff 0xfe when a frame is turned into bytes for `invalid-utf8` (a private-use code point answers never contain). */
const INVALID_UTF8_MARK = '\uE000'

export const demoModels = ['sluice-demo-1', 'sluice-demo-mini'] as const

/**
 * Request headers that steer the demo upstream (answer, pace, faults). A
 * proxy forwards them only when told to (`forwardHeaders`), like any header
 * that is not the provider's.
 */
export const demoControlHeaders = ['x-demo-text', 'x-demo-answer', 'x-demo-rate', 'x-demo-chunk', 'x-fault', 'x-fault-count', 'x-fault-delay', 'x-fault-retry-after'] as const

// Small pure helpers ------------------------------------------------------------

/** mulberry32: a seeded generator, so chunking and ids replay for a given seed. */
function createRng (seed: number): () => number {
  let state = seed >>> 0
  return function nextRandom () {
    state = (state + 0x6d2b79f5) >>> 0
    let x = state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

function randomId (rng: () => number, prefix: string, length: number): string {
  let out = prefix
  for (let i = 0; i < length; i++) out += ID_ALPHABET[Math.floor(rng() * ID_ALPHABET.length)]
  return out
}

/** Splits by code points, never inside a surrogate pair: "chars" means what a reader sees. */
function splitIntoChunks (text: string, rng: () => number, [min, max]: readonly [number, number]): string[] {
  const points = Array.from(text)
  const chunks: string[] = []
  for (let i = 0; i < points.length;) {
    const size = min + Math.floor(rng() * (max - min + 1))
    chunks.push(points.slice(i, i + size).join(''))
    i += size
  }
  return chunks
}

/** Endless chunks of `text` repeated, for `never-ends`. */
function * endlessChunks (text: string, rng: () => number, size: readonly [number, number]): Generator<string> {
  const source = text.length > 0 ? text + ' ' : 'and on '
  for (;;) yield * splitIntoChunks(source, rng, size)
}

/** A rough token count (about four characters a token), enough for plausible `usage` fields. */
function countTokens (text: string): number {
  return Math.max(1, Math.ceil(text.length / 4))
}

function parseChunkRange (value: string): [number, number] | undefined {
  const m = /^(\d+)-(\d+)$/.exec(value.trim())
  if (m === null) return undefined
  const min = Number(m[1])
  const max = Number(m[2])
  return min >= 1 && max >= min ? [min, max] : undefined
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

type JsonObject = Record<string, unknown>

function isObject (value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The text of a message `content`: a string, or parts with `text` (OpenAI `text`/`input_text`, Anthropic `text` blocks). */
function contentText (content: unknown): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content
    .map((part) => (isObject(part) && typeof part.text === 'string' ? part.text : ''))
    .filter((text) => text.length > 0)
    .join('\n')
}

/** The last message with role `user` (or the last message) of a chat/messages/responses input list. */
function lastUserText (messages: readonly unknown[]): string {
  const objects = messages.filter(isObject)
  const user = [...objects].reverse().find((m) => m.role === 'user') ?? objects[objects.length - 1]
  return user === undefined ? '' : contentText(user.content)
}

// Wire formats ------------------------------------------------------------------

/** Everything a wire format needs to render one answer. */
interface AnswerContext {
  id: string
  created: number
  model: string
  /** One text per choice; `n` choices. */
  texts: readonly string[]
  promptTokens: number
  includeUsage: boolean
  /** Chat only: stream a call to this function instead of text. */
  toolName: string | undefined
  toolCallId: string
  /** NDJSON framing instead of SSE (chat and completions). */
  ndjson: boolean
  /** The `instructions` of a Responses request, echoed as the API does. */
  instructions: unknown
}

/** How one API frames a streamed answer; frames are complete (`data: ...\n\n`). */
interface WireFormat {
  readonly streamContentType: string
  head(): string[]
  delta(index: number, text: string): string
  tail(): string[]
  /** A frame whose payload is not JSON, framed as this format frames events. */
  malformed(): string
  /** The non-streaming body. */
  body(): JsonObject
}

type RouteName = 'chat' | 'completions' | 'responses' | 'messages'

function sseData (json: unknown): string {
  return `data: ${JSON.stringify(json)}\n\n`
}

function sseEvent (name: string, json: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(json)}\n\n`
}

function openAiUsage (ctx: AnswerContext): JsonObject {
  const completion = ctx.texts.reduce((sum, text) => sum + countTokens(text), 0)
  return { prompt_tokens: ctx.promptTokens, completion_tokens: completion, total_tokens: ctx.promptTokens + completion }
}

/** Chat completions: https://platform.openai.com/docs/api-reference/chat-streaming */
function createChatFormat (ctx: AnswerContext): WireFormat {
  const frame = (json: JsonObject): string => (ctx.ndjson ? JSON.stringify(json) + '\n' : sseData(json))
  const chunk = (choices: JsonObject[]): string =>
    frame({
      id: ctx.id,
      object: 'chat.completion.chunk',
      created: ctx.created,
      model: ctx.model,
      system_fingerprint: null,
      choices,
      // With include_usage every chunk carries `usage: null` except the last one (API reference).
      ...(ctx.includeUsage ? { usage: null } : {})
    })
  const finishReason = ctx.toolName === undefined ? 'stop' : 'tool_calls'
  return {
    streamContentType: ctx.ndjson ? 'application/x-ndjson' : 'text/event-stream; charset=utf-8',
    head: () =>
      ctx.texts.map((_, index) =>
        chunk([
          {
            index,
            delta:
              ctx.toolName === undefined
                ? { role: 'assistant', content: '', refusal: null }
                : {
                    role: 'assistant',
                    content: null,
                    tool_calls: [{ index: 0, id: ctx.toolCallId, type: 'function', function: { name: ctx.toolName, arguments: '' } }]
                  },
            logprobs: null,
            finish_reason: null
          }
        ])
      ),
    delta: (index, text) =>
      chunk([
        {
          index,
          delta: ctx.toolName === undefined ? { content: text } : { tool_calls: [{ index: 0, function: { arguments: text } }] },
          logprobs: null,
          finish_reason: null
        }
      ]),
    tail: () => {
      const frames = ctx.texts.map((_, index) => chunk([{ index, delta: {}, logprobs: null, finish_reason: finishReason }]))
      if (ctx.includeUsage) {
        frames.push(
          frame({
            id: ctx.id,
            object: 'chat.completion.chunk',
            created: ctx.created,
            model: ctx.model,
            system_fingerprint: null,
            choices: [],
            usage: openAiUsage(ctx)
          })
        )
      }
      if (!ctx.ndjson) frames.push('data: [DONE]\n\n')
      return frames
    },
    malformed: () => (ctx.ndjson ? '{not json\n' : 'data: {not json\n\n'),
    body: () => ({
      id: ctx.id,
      object: 'chat.completion',
      created: ctx.created,
      model: ctx.model,
      system_fingerprint: null,
      choices: ctx.texts.map((text, index) => ({
        index,
        message:
          ctx.toolName === undefined
            ? { role: 'assistant', content: text, refusal: null }
            : {
                role: 'assistant',
                content: null,
                refusal: null,
                tool_calls: [{ id: ctx.toolCallId, type: 'function', function: { name: ctx.toolName, arguments: text } }]
              },
        logprobs: null,
        finish_reason: finishReason
      })),
      usage: openAiUsage(ctx)
    })
  }
}

/** Legacy completions: https://platform.openai.com/docs/api-reference/completions */
function createCompletionsFormat (ctx: AnswerContext): WireFormat {
  const frame = (json: JsonObject): string => (ctx.ndjson ? JSON.stringify(json) + '\n' : sseData(json))
  const chunk = (choices: JsonObject[]): string =>
    frame({ id: ctx.id, object: 'text_completion', created: ctx.created, model: ctx.model, choices })
  return {
    streamContentType: ctx.ndjson ? 'application/x-ndjson' : 'text/event-stream; charset=utf-8',
    head: () => [],
    delta: (index, text) => chunk([{ text, index, logprobs: null, finish_reason: null }]),
    tail: () => {
      const frames = ctx.texts.map((_, index) => chunk([{ text: '', index, logprobs: null, finish_reason: 'stop' }]))
      if (ctx.includeUsage) {
        frames.push(
          frame({ id: ctx.id, object: 'text_completion', created: ctx.created, model: ctx.model, choices: [], usage: openAiUsage(ctx) })
        )
      }
      if (!ctx.ndjson) frames.push('data: [DONE]\n\n')
      return frames
    },
    malformed: () => (ctx.ndjson ? '{not json\n' : 'data: {not json\n\n'),
    body: () => ({
      id: ctx.id,
      object: 'text_completion',
      created: ctx.created,
      model: ctx.model,
      choices: ctx.texts.map((text, index) => ({ text, index, logprobs: null, finish_reason: 'stop' })),
      usage: openAiUsage(ctx)
    })
  }
}

/** Responses API: https://platform.openai.com/docs/api-reference/responses-streaming */
function createResponsesFormat (ctx: AnswerContext): WireFormat {
  const text = ctx.texts[0] ?? ''
  const itemId = ctx.id.replace(/^resp_/, 'msg_')
  let sequence = 0
  const event = (type: string, fields: JsonObject): string => sseEvent(type, { type, sequence_number: sequence++, ...fields })
  const outputTokens = countTokens(text)
  const part = (t: string): JsonObject => ({ type: 'output_text', annotations: [], logprobs: [], text: t })
  const item = (status: string, content: JsonObject[]): JsonObject => ({ id: itemId, type: 'message', status, content, role: 'assistant' })
  const response = (status: string, output: JsonObject[], withUsage: boolean): JsonObject => ({
    id: ctx.id,
    object: 'response',
    created_at: ctx.created,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: ctx.instructions ?? null,
    max_output_tokens: null,
    model: ctx.model,
    output,
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: false,
    temperature: 1,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    truncation: 'disabled',
    usage: withUsage
      ? {
          input_tokens: ctx.promptTokens,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: outputTokens,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: ctx.promptTokens + outputTokens
        }
      : null,
    user: null,
    metadata: {}
  })
  const where = { item_id: itemId, output_index: 0, content_index: 0 }
  return {
    streamContentType: 'text/event-stream; charset=utf-8',
    head: () => [
      event('response.created', { response: response('in_progress', [], false) }),
      event('response.in_progress', { response: response('in_progress', [], false) }),
      event('response.output_item.added', { output_index: 0, item: item('in_progress', []) }),
      event('response.content_part.added', { ...where, part: part('') })
    ],
    delta: (_index, delta) => event('response.output_text.delta', { ...where, delta, logprobs: [] }),
    tail: () => [
      event('response.output_text.done', { ...where, text, logprobs: [] }),
      event('response.content_part.done', { ...where, part: part(text) }),
      event('response.output_item.done', { output_index: 0, item: item('completed', [part(text)]) }),
      event('response.completed', { response: response('completed', [item('completed', [part(text)])], true) })
    ],
    malformed: () => 'event: response.output_text.delta\ndata: {not json\n\n',
    // No `output_text` here: the API does not send it, the SDKs compute it from `output`.
    body: () => response('completed', [item('completed', [part(text)])], true)
  }
}

/** Anthropic messages: https://docs.anthropic.com/en/api/messages-streaming */
function createMessagesFormat (ctx: AnswerContext): WireFormat {
  const text = ctx.texts[0] ?? ''
  const message = (content: JsonObject[], stopReason: string | null, outputTokens: number): JsonObject => ({
    id: ctx.id,
    type: 'message',
    role: 'assistant',
    model: ctx.model,
    content,
    stop_reason: stopReason,
    stop_sequence: null,
    usage: { input_tokens: ctx.promptTokens, output_tokens: outputTokens }
  })
  return {
    streamContentType: 'text/event-stream; charset=utf-8',
    head: () => [
      sseEvent('message_start', { type: 'message_start', message: message([], null, 1) }),
      sseEvent('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
      sseEvent('ping', { type: 'ping' })
    ],
    delta: (_index, delta) =>
      sseEvent('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: delta } }),
    tail: () => [
      sseEvent('content_block_stop', { type: 'content_block_stop', index: 0 }),
      sseEvent('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens: countTokens(text) }
      }),
      sseEvent('message_stop', { type: 'message_stop' })
    ],
    malformed: () => 'event: content_block_delta\ndata: {not json\n\n',
    body: () => message([{ type: 'text', text }], 'end_turn', countTokens(text))
  }
}

const wireFormats: Record<RouteName, (ctx: AnswerContext) => WireFormat> = {
  chat: createChatFormat,
  completions: createCompletionsFormat,
  responses: createResponsesFormat,
  messages: createMessagesFormat
}

/** The error body each API family sends (OpenAI `{error:{...}}`, Anthropic `{type:'error', error:{...}}`). */
function errorBody (route: RouteName | null, status: number, message: string, param: string | null = null, code: string | null = null): JsonObject {
  if (route === 'messages') {
    const type =
      status === 429
        ? 'rate_limit_error'
        : status === 404
          ? 'not_found_error'
          : status === 413
            ? 'request_too_large'
            : status >= 500
              ? 'api_error'
              : 'invalid_request_error'
    return { type: 'error', error: { type, message } }
  }
  const type = status === 429 ? 'requests' : status >= 500 ? 'server_error' : 'invalid_request_error'
  return { error: { message, type, param, code } }
}

/** A request the route cannot answer; becomes a 4xx in the API's error shape. */
class DemoRequestError extends Error {
  constructor (
    message: string,
    readonly status: number = 400,
    readonly param: string | null = null,
    readonly code: string | null = null
  ) {
    super(message)
  }
}

// Writing a response ------------------------------------------------------------

/** A step of a response: bytes to write (`paced` ones wait one interval first), or a fault that ends writing. */
type Step = { data: string | Buffer; paced: boolean } | { control: 'reset' | 'stall' }

/** Per-response state, kept so every timer and listener can be dropped the moment the connection closes. */
interface ResponseHandle {
  timer: NodeJS.Timeout | undefined
  immediate: NodeJS.Immediate | undefined
  onDrain: (() => void) | undefined
  closed: boolean
  record: DemoResponseRecord
}

function stopHandle (handle: ResponseHandle, res: http.ServerResponse): void {
  handle.closed = true
  if (handle.timer !== undefined) clearTimeout(handle.timer)
  if (handle.immediate !== undefined) clearImmediate(handle.immediate)
  if (handle.onDrain !== undefined) res.removeListener('drain', handle.onDrain)
  handle.timer = undefined
  handle.immediate = undefined
  handle.onDrain = undefined
}

/**
 * Writes `steps` to `res`, waiting `intervalMs` before each paced step and for
 * `drain` whenever the socket is full, so a slow reader slows the stream
 * instead of filling memory. Headers go out with the first write.
 */
function pump (res: http.ServerResponse, steps: Iterator<Step>, intervalMs: number, handle: ResponseHandle): void {
  let waited: Step | undefined
  const writeSome = (): void => {
    handle.timer = undefined
    handle.immediate = undefined
    handle.onDrain = undefined
    if (handle.closed) return
    let frames = 0
    // Corking turns a burst of small frames into one syscall when unpaced.
    res.cork()
    try {
      for (;;) {
        let step: Step
        if (waited !== undefined) {
          step = waited
          waited = undefined
        } else {
          const next = steps.next()
          if (next.done === true) {
            res.end()
            return
          }
          step = next.value
          if ('data' in step && step.paced && intervalMs > 0) {
            waited = step
            handle.timer = setTimeout(writeSome, intervalMs)
            return
          }
        }
        if ('control' in step) {
          if (step.control === 'reset') resetConnection(res, handle)
          // 'stall': write nothing more and keep the connection open, until the client or close() ends it.
          return
        }
        handle.record.bytesWritten += typeof step.data === 'string' ? Buffer.byteLength(step.data) : step.data.length
        if (!res.write(step.data)) {
          handle.onDrain = writeSome
          res.once('drain', writeSome)
          return
        }
        if (intervalMs === 0 && ++frames >= maxFramesPerTick) {
          handle.immediate = setImmediate(writeSome)
          return
        }
      }
    } finally {
      res.uncork()
    }
  }
  writeSome()
}

/**
 * Closes the connection mid-body: what was written is flushed, then the socket
 * ends without the chunked terminator (or short of `content-length`), which a
 * client sees as a premature close.
 */
function resetConnection (res: http.ServerResponse, handle: ResponseHandle): void {
  handle.record.reset = true
  const socket: Socket | null = res.socket
  if (socket === null) return
  res.uncork()
  socket.end(() => socket.destroy())
}

// The factory -------------------------------------------------------------------

function checkOptions (options: DemoUpstreamOptions): void {
  const { chunkSize, chunksPerSecond, answers, seed, maxBodyBytes } = options
  if (chunkSize !== undefined) {
    const [min, max] = chunkSize
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max < min) {
      throw new InvalidOptionsError(`chunkSize must be [min, max] with integers 1 <= min <= max, got ${JSON.stringify(chunkSize)}`)
    }
  }
  if (chunksPerSecond !== undefined && !(Number.isFinite(chunksPerSecond) && chunksPerSecond >= 0)) {
    throw new InvalidOptionsError(`chunksPerSecond must be a number >= 0, got ${String(chunksPerSecond)}`)
  }
  if (answers !== undefined && answers.length === 0) {
    throw new InvalidOptionsError('answers must not be empty')
  }
  if (seed !== undefined && !Number.isInteger(seed)) {
    throw new InvalidOptionsError(`seed must be an integer, got ${String(seed)}`)
  }
  if (maxBodyBytes !== undefined && !(Number.isInteger(maxBodyBytes) && maxBodyBytes > 0)) {
    throw new InvalidOptionsError(`maxBodyBytes must be a positive integer, got ${String(maxBodyBytes)}`)
  }
}

function emptyStats (): DemoUpstreamStats {
  return {
    requests: 0,
    requestsByPath: {},
    openConnections: 0,
    activeStreams: 0,
    completedStreams: 0,
    abortedStreams: 0,
    resetStreams: 0,
    lastRequest: null,
    responses: [],
    faults: {}
  }
}

const routes: Record<string, RouteName> = {
  '/v1/chat/completions': 'chat',
  '/v1/completions': 'completions',
  '/v1/responses': 'responses',
  '/v1/messages': 'messages'
}

function header (req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name]
  return Array.isArray(value) ? value[0] : value
}

/**
 * Creates the demo upstream. Routes: `POST /v1/chat/completions`,
 * `/v1/completions`, `/v1/responses`, `/v1/messages`; `GET /v1/models`;
 * `GET /_demo/stats`, `POST /_demo/reset`.
 *
 * Per request: `x-demo-answer: NAME` (or `answer:NAME` in the prompt) picks an
 * answer, `x-demo-text: <base64>` (or body `demo_text`) streams exactly that
 * text, `x-demo-rate: N` and `x-demo-chunk: MIN-MAX` override pacing,
 * `x-fault: NAME` (or body `fault`) injects a fault, with `x-fault-count: N`
 * (only the first N requests naming it fail), `x-fault-delay: MS`
 * (`slow-headers`) and `x-fault-retry-after: S` (`status-429`).
 *
 * @example
 * const upstream = createDemoUpstream({ chunksPerSecond: 0 })
 * const url = await upstream.listen()
 * const openai = new OpenAI({ baseURL: url + '/v1', apiKey: 'x' })
 * // ...
 * await upstream.close()
 */
export function createDemoUpstream (options: DemoUpstreamOptions = {}): DemoUpstream {
  checkOptions(options)
  const chunkSize: readonly [number, number] = options.chunkSize ?? [1, 8]
  const chunksPerSecond = options.chunksPerSecond ?? 40
  const answers = options.answers ?? cannedAnswers
  const seed = options.seed ?? 1
  const maxBodyBytes = options.maxBodyBytes ?? 32 * 1024 * 1024

  let stats = emptyStats()
  let requestCount = 0
  let roundRobin = 0
  let responseCount = 0
  const active = new Map<ResponseHandle, http.ServerResponse>()

  const server = http.createServer(function demoUpstreamHandler (req, res) {
    handleRequest(req, res).catch((err: unknown) => {
      // A bug here must not hang the client: answer 500 if we still can, else cut the connection.
      if (!res.headersSent) sendJson(res, 500, errorBody(null, 500, `demo upstream failed: ${String(err)}`))
      else res.destroy()
    })
  })
  server.on('connection', (socket: Socket) => {
    stats.openConnections++
    socket.once('close', () => { stats.openConnections-- })
  })

  function sendJson (res: http.ServerResponse, status: number, body: unknown, extraHeaders: http.OutgoingHttpHeaders = {}): void {
    const payload = JSON.stringify(body)
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(payload),
      ...extraHeaders
    })
    res.end(payload)
  }

  function readBody (req: http.IncomingMessage): Promise<Buffer | 'too-large'> {
    return new Promise((resolve, reject) => {
      const parts: Buffer[] = []
      let size = 0
      const onData = (chunk: Buffer): void => {
        size += chunk.length
        if (size > maxBodyBytes) {
          req.removeListener('data', onData)
          req.resume()
          resolve('too-large')
          return
        }
        parts.push(chunk)
      }
      req.on('data', onData)
      req.once('end', () => resolve(Buffer.concat(parts)))
      req.once('error', reject)
      req.once('close', () => { if (!req.complete) reject(new Error('client closed the request body')) })
    })
  }

  async function handleRequest (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://demo.invalid')
    const method = req.method ?? 'GET'

    if (url.pathname === '/_demo/stats' && method === 'GET') return sendJson(res, 200, stats)
    if (url.pathname === '/_demo/reset' && method === 'POST') {
      resetStats()
      res.writeHead(204).end()
      return
    }

    stats.requests++
    stats.requestsByPath[url.pathname] = (stats.requestsByPath[url.pathname] ?? 0) + 1
    const requestNumber = ++requestCount

    if (url.pathname === '/v1/models' && method === 'GET') {
      stats.lastRequest = { method, url: req.url ?? '/', headers: req.headers, body: null }
      const created = Math.floor(Date.now() / 1000)
      return sendJson(res, 200, {
        object: 'list',
        data: demoModels.map((id) => ({ id, object: 'model', created, owned_by: 'sluice-demo' }))
      })
    }

    const route = routes[url.pathname]
    if (route === undefined || method !== 'POST') {
      stats.lastRequest = { method, url: req.url ?? '/', headers: req.headers, body: null }
      return sendJson(res, 404, errorBody(null, 404, `Invalid URL (${method} ${url.pathname})`, null, 'unknown_url'))
    }

    let raw: Buffer | 'too-large'
    try {
      raw = await readBody(req)
    } catch {
      return // the client went away while sending; nothing to answer
    }
    if (raw === 'too-large') {
      stats.lastRequest = { method, url: req.url ?? '/', headers: req.headers, body: null }
      return sendJson(res, 413, errorBody(route, 413, `Request body exceeds ${maxBodyBytes} bytes`), { connection: 'close' })
    }
    const text = raw.toString('utf8')
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      stats.lastRequest = { method, url: req.url ?? '/', headers: req.headers, body: text }
      return sendJson(res, 400, errorBody(route, 400, 'We could not parse the JSON body of your request. (HINT: This likely means you aren\'t using your HTTP library correctly. The OpenAI API expects a JSON payload.)'))
    }
    stats.lastRequest = { method, url: req.url ?? '/', headers: req.headers, body }

    try {
      if (!isObject(body)) throw new DemoRequestError('The request body must be a JSON object.')
      serveGeneration(route, req, res, url, body, requestNumber)
    } catch (err) {
      if (!(err instanceof DemoRequestError)) throw err
      sendJson(res, err.status, errorBody(route, err.status, err.message, err.param, err.code))
    }
  }

  /** The prompt the answer is chosen from, checking the shape each API requires. */
  function promptOf (route: RouteName, body: JsonObject): string {
    switch (route) {
      case 'chat':
      case 'messages': {
        const messages = body.messages
        if (messages === undefined) throw new DemoRequestError("Missing required parameter: 'messages'.", 400, 'messages', 'missing_required_parameter')
        if (!Array.isArray(messages) || messages.length === 0) {
          throw new DemoRequestError("Invalid 'messages': expected a non-empty array.", 400, 'messages', 'invalid_type')
        }
        return lastUserText(messages)
      }
      case 'completions': {
        const prompt = body.prompt
        if (prompt === undefined) throw new DemoRequestError("Missing required parameter: 'prompt'.", 400, 'prompt', 'missing_required_parameter')
        if (typeof prompt === 'string') return prompt
        if (Array.isArray(prompt)) return prompt.filter((p): p is string => typeof p === 'string').join('\n')
        throw new DemoRequestError("Invalid 'prompt': expected a string or an array of strings.", 400, 'prompt', 'invalid_type')
      }
      case 'responses': {
        const input = body.input
        if (input === undefined) throw new DemoRequestError("Missing required parameter: 'input'.", 400, 'input', 'missing_required_parameter')
        if (typeof input === 'string') return input
        if (Array.isArray(input)) return lastUserText(input)
        throw new DemoRequestError("Invalid 'input': expected a string or an array.", 400, 'input', 'invalid_type')
      }
    }
  }

  /** The text to stream: exact text, then a named answer, then keywords, then round-robin. */
  function answerTextOf (req: http.IncomingMessage, body: JsonObject, prompt: string): string {
    const demoText = header(req, 'x-demo-text')
    if (demoText !== undefined) return Buffer.from(demoText, 'base64').toString('utf8')
    if (body.demo_text !== undefined) {
      if (typeof body.demo_text !== 'string') throw new DemoRequestError("Invalid 'demo_text': expected a string.", 400, 'demo_text', 'invalid_type')
      return body.demo_text
    }
    const named = header(req, 'x-demo-answer')
    if (named !== undefined) {
      const answer = findAnswer(answers, named)
      if (answer === undefined) {
        throw new DemoRequestError(`Unknown demo answer "${named}"; known: ${answers.map((a) => a.name).join(', ')}.`, 400, null, 'unknown_answer')
      }
      return answer.text
    }
    const picked = pickAnswer(answers, prompt)
    if (picked !== undefined) return picked.text
    const next = answers[roundRobin++ % answers.length]
    return next === undefined ? '' : next.text
  }

  /** The fault a request asks for, checked but not yet counted (a request that fails validation must not use up a count). */
  function faultOf (req: http.IncomingMessage, body: JsonObject): { name: FaultName; count: number | undefined } | null {
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

  /** Counts a request naming `fault`; it strikes unless `x-fault-count` requests already had it. */
  function faultStrikes (fault: { name: FaultName; count: number | undefined }): boolean {
    const seen = (stats.faults[fault.name] ?? 0) + 1
    stats.faults[fault.name] = seen
    return fault.count === undefined || seen <= fault.count
  }

  function numberHeader (req: http.IncomingMessage, name: string, bodyValue: unknown, fallback: number): number {
    const text = header(req, name) ?? (bodyValue === undefined ? undefined : String(bodyValue))
    if (text === undefined) return fallback
    const value = Number(text)
    if (!Number.isFinite(value) || value < 0) throw new DemoRequestError(`Invalid ${name} "${text}".`, 400, null, 'invalid_header')
    return value
  }

  function serveGeneration (route: RouteName, req: http.IncomingMessage, res: http.ServerResponse, url: URL, body: JsonObject, requestNumber: number): void {
    // Everything that can refuse the request comes first, so a refused request changes no counter.
    const prompt = promptOf(route, body)
    const requestedFault = faultOf(req, body)
    const rate = numberHeader(req, 'x-demo-rate', undefined, chunksPerSecond)
    const chunkHeader = header(req, 'x-demo-chunk')
    const size = chunkHeader === undefined ? chunkSize : parseChunkRange(chunkHeader)
    if (size === undefined) throw new DemoRequestError(`Invalid x-demo-chunk "${chunkHeader ?? ''}"; expected MIN-MAX.`, 400, null, 'invalid_header')
    const n = route === 'chat' || route === 'completions' ? (body.n ?? 1) : 1
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 16) {
      throw new DemoRequestError("Invalid 'n': expected an integer from 1 to 16.", 400, 'n', 'invalid_value')
    }
    const delayMs = numberHeader(req, 'x-fault-delay', body.fault_delay, DEFAULT_SLOW_HEADERS_MS)
    const retryAfter = numberHeader(req, 'x-fault-retry-after', undefined, DEFAULT_RETRY_AFTER_S)
    const text = answerTextOf(req, body, prompt)
    const activeFault = requestedFault !== null && faultStrikes(requestedFault) ? requestedFault.name : null

    const rng = createRng((Math.imul(seed, 0x9e3779b1) + requestNumber) >>> 0)
    const streaming = body.stream === true
    const accept = header(req, 'accept') ?? ''
    const ndjson = (route === 'chat' || route === 'completions') && (url.searchParams.get('format') === 'ndjson' || accept.includes('application/x-ndjson'))
    const tools = route === 'chat' && Array.isArray(body.tools) && body.tool_choice !== 'none' ? body.tools : []
    const firstTool = tools.find(isObject)
    const toolFunction = firstTool !== undefined && isObject(firstTool.function) ? firstTool.function : undefined
    const toolName = toolFunction !== undefined && typeof toolFunction.name === 'string' ? toolFunction.name : undefined
    const streamOptions = isObject(body.stream_options) ? body.stream_options : {}
    const idPrefix = { chat: 'chatcmpl-', completions: 'cmpl-', responses: 'resp_', messages: 'msg_' }[route]
    const choiceText = toolName === undefined ? text : JSON.stringify({ text })
    const ctx: AnswerContext = {
      id: randomId(rng, idPrefix, 24),
      created: Math.floor(Date.now() / 1000),
      model: typeof body.model === 'string' && body.model.length > 0 ? body.model : demoModels[0],
      texts: Array.from({ length: n }, () => choiceText),
      promptTokens: countTokens(prompt),
      includeUsage: streamOptions.include_usage === true,
      toolName,
      toolCallId: randomId(rng, 'call_', 24),
      ndjson,
      instructions: body.instructions
    }
    const format = wireFormats[route](ctx)

    const record: DemoResponseRecord = {
      id: ++responseCount,
      path: url.pathname,
      streaming,
      status: 200,
      fault: activeFault,
      bytesWritten: 0,
      completed: false,
      aborted: false,
      reset: false
    }
    stats.responses.push(record)
    if (stats.responses.length > maxRecordedResponses) stats.responses.shift()
    const handle: ResponseHandle = { timer: undefined, immediate: undefined, onDrain: undefined, closed: false, record }
    active.set(handle, res)
    stats.activeStreams++
    const statsAtStart = stats
    // Defensive: an error on the response (e.g. a write racing a destroyed socket) must stop this stream, not crash the demo.
    res.on('error', () => stopHandle(handle, res))
    res.once('close', () => {
      stopHandle(handle, res)
      active.delete(handle)
      // Stats may have been reset meanwhile; then this response belongs to the old ones.
      if (statsAtStart !== stats) return
      stats.activeStreams--
      if (res.writableFinished) {
        record.completed = true
        stats.completedStreams++
      } else if (record.reset) {
        stats.resetStreams++
      } else {
        record.aborted = true
        stats.abortedStreams++
      }
    })

    if (activeFault === 'status-500' || activeFault === 'status-429') {
      const status = activeFault === 'status-500' ? 500 : 429
      record.status = status
      const message =
        status === 500 ? 'The server had an error while processing your request. (demo fault status-500)' : 'Rate limit reached. (demo fault status-429)'
      const errorJson = JSON.stringify(errorBody(route, status, message, null, status === 429 ? 'rate_limit_exceeded' : null))
      record.bytesWritten = Buffer.byteLength(errorJson)
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(errorJson),
        ...(status === 429 ? { 'retry-after': String(retryAfter) } : {})
      })
      res.end(errorJson)
      return
    }

    const start = (): void => {
      handle.timer = undefined
      if (handle.closed) return
      if (streaming) startStream(res, format, ctx, rng, size, rate, activeFault, handle)
      else sendBody(res, route, format, ctx, rate, activeFault, handle)
    }
    if (activeFault === 'slow-headers') handle.timer = setTimeout(start, delayMs)
    else start()
  }

  function startStream (
    res: http.ServerResponse,
    format: WireFormat,
    ctx: AnswerContext,
    rng: () => number,
    size: readonly [number, number],
    rate: number,
    fault: FaultName | null,
    handle: ResponseHandle
  ): void {
    const lying = fault === 'lying-content-type'
    res.writeHead(200, {
      'content-type': lying ? 'application/json' : format.streamContentType,
      'cache-control': 'no-cache',
      'x-request-id': ctx.id
    })
    // Send the headers now: a client waits for them before it can read the first event.
    res.flushHeaders()
    pump(res, streamSteps(format, ctx, rng, size, fault), rate > 0 ? 1000 / rate : 0, handle)
  }

  function sendBody (res: http.ServerResponse, route: RouteName, format: WireFormat, ctx: AnswerContext, rate: number, fault: FaultName | null, handle: ResponseHandle): void {
    let json: JsonObject
    if (fault === 'invalid-utf8' || fault === 'huge-event') {
      // Change the answer text itself, so the fault lands inside a content string.
      const twisted = ctx.texts.map((text) => {
        if (fault === 'huge-event') return text + hugeText()
        const points = Array.from(text)
        const at = Math.min(FAULT_AFTER_CHUNKS, points.length)
        return points.slice(0, at).join('') + INVALID_UTF8_MARK + points.slice(at).join('')
      })
      json = wireFormats[route]({ ...ctx, texts: twisted }).body()
    } else {
      json = format.body()
    }
    const text = JSON.stringify(json)
    const payload = fault === 'invalid-utf8' ? withInvalidUtf8(text) : Buffer.from(text, 'utf8')
    const half = payload.subarray(0, Math.floor(payload.length / 2))
    const headers: http.OutgoingHttpHeaders = {
      'content-type': fault === 'lying-content-type' ? 'text/event-stream; charset=utf-8' : 'application/json',
      'x-request-id': ctx.id
    }
    const interval = rate > 0 ? 1000 / rate : 0
    switch (fault) {
      case 'malformed-json':
        // A body cut in half: valid bytes, invalid JSON, honest content-length.
        res.writeHead(200, { ...headers, 'content-length': half.length })
        return pump(res, stepsOf({ data: half, paced: false }), interval, handle)
      case 'reset-mid-stream':
        res.writeHead(200, { ...headers, 'content-length': payload.length })
        return pump(res, stepsOf({ data: half, paced: false }, { control: 'reset' }), interval, handle)
      case 'stall':
        res.writeHead(200, { ...headers, 'content-length': payload.length })
        return pump(res, stepsOf({ data: half, paced: false }, { control: 'stall' }), interval, handle)
      case 'never-ends':
        // JSON allows whitespace between tokens, so `{` and then spaces forever is a body that never completes.
        res.writeHead(200, headers)
        return pump(res, endlessWhitespace(), interval, handle)
      default:
        res.writeHead(200, { ...headers, 'content-length': payload.length })
        return pump(res, stepsOf({ data: payload, paced: false }), interval, handle)
    }
  }

  function resetStats (): void {
    const open = stats.openConnections
    stats = emptyStats()
    stats.openConnections = open
  }

  return {
    server,
    get stats () {
      return stats
    },
    resetStats,
    listen (port = 0, host = '127.0.0.1') {
      return new Promise<string>((resolve, reject) => {
        const onError = (err: Error): void => reject(err)
        server.once('error', onError)
        // A deep accept queue, as the proxy's (see kListenBacklog in proxy/run-proxy.ts).
        server.listen({ port, host, backlog: 4096 }, () => {
          server.removeListener('error', onError)
          const address = server.address() as AddressInfo
          resolve(`http://${urlHost(address)}:${address.port}`)
        })
      })
    },
    close () {
      for (const [handle, res] of active) stopHandle(handle, res)
      return new Promise<void>((resolve) => {
        if (!server.listening) return resolve()
        server.close(() => resolve())
        server.closeAllConnections()
      })
    }
  }
}

/** The host part of a URL that reaches `address` (wildcards become loopback). */
function urlHost (address: AddressInfo): string {
  if (address.address === '0.0.0.0') return '127.0.0.1'
  if (address.address === '::') return '[::1]'
  return address.family === 'IPv6' ? `[${address.address}]` : address.address
}

function hugeText (): string {
  const unit = 'this is one very large event. '
  return unit.repeat(Math.ceil(HUGE_EVENT_BYTES / unit.length))
}

function stepsOf (...steps: Step[]): Iterator<Step> {
  return steps[Symbol.iterator]()
}

function * endlessWhitespace (): Generator<Step> {
  yield { data: '{', paced: false }
  for (;;) yield { data: ' ', paced: true }
}

/** The chunks of all choices, interleaved by choice index (as the API does for `n` > 1). */
function * interleave (perChoice: readonly Iterator<string>[]): Generator<{ index: number; text: string }> {
  const live = perChoice.map((iterator, index) => ({ iterator, index }))
  while (live.length > 0) {
    for (let i = 0; i < live.length;) {
      const entry = live[i]
      if (entry === undefined) break
      const next = entry.iterator.next()
      if (next.done === true) {
        live.splice(i, 1)
        continue
      }
      yield { index: entry.index, text: next.value }
      i++
    }
  }
}

/** The steps of a streamed answer, with the fault (if any) put in after a few content chunks. */
function * streamSteps (
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
      switch (fault) {
        case 'reset-mid-stream':
          yield { control: 'reset' }
          return
        case 'stall':
          yield { control: 'stall' }
          return
        case 'malformed-json':
          yield { data: format.malformed(), paced: false }
          break
        case 'invalid-utf8':
          yield { data: withInvalidUtf8(format.delta(0, INVALID_UTF8_MARK)), paced: true }
          break
        case 'huge-event':
          yield { data: format.delta(0, hugeText()), paced: true }
          break
        default:
          break
      }
    }
    const piece = pieces[i]
    if (piece !== undefined) yield { data: format.delta(piece.index, piece.text), paced: true }
  }
  for (const data of format.tail()) yield { data, paced: false }
}
