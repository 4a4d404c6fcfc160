/**
 * @module demo/generation
 * Answers a generation request (`POST /v1/chat/completions`,
 * `/v1/completions`, `/v1/responses`, `/v1/messages`): reads and checks
 * what it asks for, counts its fault, renders the answer in the route's
 * wire format and writes it, streamed or whole, at the pace asked for.
 */
import type http from 'node:http'
import { isJsonObject } from '../json/json-object.js'
import type { JsonObject } from '../json/json-object.js'
import { createSeededRandom } from '../json/seeded-random.js'
import type { CannedAnswer } from './canned-answers.js'
import { createChatFormat } from './chat-format.js'
import { randomId } from './chunks.js'
import { createCompletionsFormat } from './completions-format.js'
import { answerTextOf, choicesOf, chunkSizeOf, demoModels, errorBody, header, numberHeader, promptOf, toolNameOf } from './demo-request.js'
import { bodySteps, faultOf, faultyTexts, streamSteps } from './faults.js'
import type { FaultName, RequestedFault } from './faults.js'
import { createMessagesFormat } from './messages-format.js'
import { pump, stopHandle } from './pump.js'
import type { ResponseHandle } from './pump.js'
import { createResponsesFormat } from './responses-format.js'
import { maxRecordedResponses } from './stats.js'
import type { DemoResponseRecord, DemoUpstreamStats } from './stats.js'
import { countTokens, kSseContentType } from './wire-format.js'
import type { AnswerContext, RouteName, WireFormat } from './wire-format.js'

/** A demo upstream's options, defaults applied. */
export interface DemoSettings {
  readonly chunkSize: readonly [number, number]
  readonly chunksPerSecond: number
  readonly answers: readonly CannedAnswer[]
  readonly seed: number
  readonly maxBodyBytes: number
}

/** The state of one demo upstream, shared by its routes. */
export interface DemoState {
  readonly settings: DemoSettings
  /** Replaced whole by a reset: a response compares it with the one it started under. */
  stats: DemoUpstreamStats
  requestCount: number
  /** Answers handed out in turn (when neither the request nor its prompt picks one). */
  roundRobin: number
  responseCount: number
  /** Responses still being written, so close() can stop their timers. */
  readonly active: Map<ResponseHandle, http.ServerResponse>
}

/** A generation request as the routes hand it over: its JSON body parsed, its number counted. */
export interface GenerationRequest {
  route: RouteName
  req: http.IncomingMessage
  url: URL
  body: JsonObject
  /** 1 for the first request the upstream served: with the seed, it seeds the answer's chunking and ids. */
  number: number
}

const DEFAULT_SLOW_HEADERS_MS = 1000
const DEFAULT_RETRY_AFTER_S = 1

const wireFormats: Record<RouteName, (ctx: AnswerContext) => WireFormat> = {
  chat: createChatFormat,
  completions: createCompletionsFormat,
  responses: createResponsesFormat,
  messages: createMessagesFormat
}

const kIdPrefixes: Record<RouteName, string> = { chat: 'chatcmpl-', completions: 'cmpl-', responses: 'resp_', messages: 'msg_' }

/** What a generation request asks for, checked. */
interface Asked {
  prompt: string
  fault: RequestedFault | null
  /** Content chunks per second (0: as fast as the client reads). */
  rate: number
  size: readonly [number, number]
  n: number
  delayMs: number
  retryAfter: number
  text: string
}

/**
 * Everything that can refuse the request (DemoRequestError), read first,
 * so a refused request changes no counter; the round-robin turn is taken
 * last.
 */
function readAsked ({ route, req, body }: GenerationRequest, demo: DemoState): Asked {
  const { settings } = demo
  const prompt = promptOf(route, body)
  const fault = faultOf(req, body)
  const rate = numberHeader(req, 'x-demo-rate', undefined, settings.chunksPerSecond)
  const size = chunkSizeOf(req, settings.chunkSize)
  const n = choicesOf(route, body)
  const delayMs = numberHeader(req, 'x-fault-delay', body.fault_delay, DEFAULT_SLOW_HEADERS_MS)
  const retryAfter = numberHeader(req, 'x-fault-retry-after', undefined, DEFAULT_RETRY_AFTER_S)
  const text = answerTextOf(req, body, prompt, settings.answers, () => demo.roundRobin++)
  return { prompt, fault, rate, size, n, delayMs, retryAfter, text }
}

/** Counts a request naming `fault`; it strikes unless `x-fault-count` requests already had it. */
function faultStrikes (stats: DemoUpstreamStats, fault: RequestedFault): boolean {
  const seen = (stats.faults[fault.name] ?? 0) + 1
  stats.faults[fault.name] = seen
  return fault.count === undefined || seen <= fault.count
}

/** The answer as the wire formats render it; its ids are drawn from `rng`, the answer's id first. */
function answerContext ({ route, req, url, body }: GenerationRequest, asked: Asked, rng: () => number): AnswerContext {
  const accept = header(req, 'accept') ?? ''
  const ndjson = (route === 'chat' || route === 'completions') && (url.searchParams.get('format') === 'ndjson' || accept.includes('application/x-ndjson'))
  const toolName = toolNameOf(route, body)
  const streamOptions = isJsonObject(body.stream_options) ? body.stream_options : {}
  const choiceText = toolName === undefined ? asked.text : JSON.stringify({ text: asked.text })
  return {
    id: randomId(rng, kIdPrefixes[route], 24),
    created: Math.floor(Date.now() / 1000),
    model: typeof body.model === 'string' && body.model.length > 0 ? body.model : demoModels[0],
    texts: Array.from({ length: asked.n }, () => choiceText),
    promptTokens: countTokens(asked.prompt),
    includeUsage: streamOptions.include_usage === true,
    toolName,
    toolCallId: randomId(rng, 'call_', 24),
    ndjson,
    instructions: body.instructions
  }
}

/** Records the response in the stats and follows it until its connection closes. */
function trackResponse (demo: DemoState, res: http.ServerResponse, record: DemoResponseRecord): ResponseHandle {
  const stats = demo.stats
  stats.responses.push(record)
  if (stats.responses.length > maxRecordedResponses) stats.responses.shift()
  const handle: ResponseHandle = { timer: undefined, immediate: undefined, onDrain: undefined, closed: false, record }
  demo.active.set(handle, res)
  stats.activeStreams++
  // Defensive: an error on the response (e.g. a write racing a destroyed socket) must stop this stream, not crash the demo.
  res.on('error', () => stopHandle(handle, res))
  res.once('close', () => {
    stopHandle(handle, res)
    demo.active.delete(handle)
    // Stats may have been reset meanwhile; then this response belongs to the old ones.
    if (stats !== demo.stats) return
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
  return handle
}

/** The `status-500` and `status-429` faults: the API's error answer instead of the generation. */
function sendFaultStatus (res: http.ServerResponse, route: RouteName, status: 500 | 429, record: DemoResponseRecord, retryAfter: number): void {
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
}

function startStream (res: http.ServerResponse, format: WireFormat, ctx: AnswerContext, rng: () => number, asked: Asked, fault: FaultName | null, handle: ResponseHandle): void {
  res.writeHead(200, {
    'content-type': fault === 'lying-content-type' ? 'application/json' : format.streamContentType,
    'cache-control': 'no-cache',
    'x-request-id': ctx.id
  })
  // Send the headers now: a client waits for them before it can read the first event.
  res.flushHeaders()
  pump(res, streamSteps(format, ctx, rng, asked.size, fault), intervalOf(asked.rate), handle)
}

function sendBody (res: http.ServerResponse, route: RouteName, format: WireFormat, ctx: AnswerContext, asked: Asked, fault: FaultName | null, handle: ResponseHandle): void {
  // `invalid-utf8` and `huge-event` change the answer text itself, so the fault lands inside a content string.
  const twisted = faultyTexts(ctx.texts, fault)
  const json = twisted === undefined ? format.body() : wireFormats[route]({ ...ctx, texts: twisted }).body()
  const { contentLength, steps } = bodySteps(json, fault)
  const headers: http.OutgoingHttpHeaders = {
    'content-type': fault === 'lying-content-type' ? kSseContentType : 'application/json',
    'x-request-id': ctx.id
  }
  res.writeHead(200, contentLength === undefined ? headers : { ...headers, 'content-length': contentLength })
  pump(res, steps, intervalOf(asked.rate), handle)
}

function intervalOf (rate: number): number {
  return rate > 0 ? 1000 / rate : 0
}

/**
 * Answers a generation request; throws DemoRequestError, before anything
 * is counted or written, for a request the route cannot answer.
 */
export function serveGeneration (demo: DemoState, request: GenerationRequest, res: http.ServerResponse): void {
  const asked = readAsked(request, demo)
  const fault = asked.fault !== null && faultStrikes(demo.stats, asked.fault) ? asked.fault.name : null
  const rng = createSeededRandom((Math.imul(demo.settings.seed, 0x9e3779b1) + request.number) >>> 0)
  const streaming = request.body.stream === true
  const ctx = answerContext(request, asked, rng)
  const format = wireFormats[request.route](ctx)
  const record: DemoResponseRecord = {
    id: ++demo.responseCount,
    path: request.url.pathname,
    streaming,
    status: 200,
    fault,
    bytesWritten: 0,
    completed: false,
    aborted: false,
    reset: false
  }
  const handle = trackResponse(demo, res, record)
  if (fault === 'status-500' || fault === 'status-429') {
    sendFaultStatus(res, request.route, fault === 'status-500' ? 500 : 429, record, asked.retryAfter)
    return
  }
  const start = (): void => {
    handle.timer = undefined
    if (handle.closed) return
    if (streaming) startStream(res, format, ctx, rng, asked, fault, handle)
    else sendBody(res, request.route, format, ctx, asked, fault, handle)
  }
  if (fault === 'slow-headers') handle.timer = setTimeout(start, asked.delayMs)
  else start()
}
