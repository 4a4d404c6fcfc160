/**
 * @module client/create-stream-client
 * The stream client: POSTs a request to Sluice (or any endpoint speaking
 * one of the protocols it proxies), reads the streamed answer, and tells a
 * UI what it needs — text per channel with its redaction spans, findings,
 * errors and one finish. Runs in browsers and Node ≥ 18 on `fetch`,
 * `ReadableStream`, `TextDecoder` and `AbortController` alone.
 *
 * Retries: only before the first byte of the body (a connection error, a
 * 408/425/429/5xx answer, or a body that fails before its first byte),
 * with exponential backoff and jitter, honouring `Retry-After`
 * (retry-policy.ts). Once a byte has arrived, nothing is retried: text may
 * have been shown.
 *
 * Cancelling (`cancel()`, the caller's `signal`) aborts the fetch, which
 * closes the connection; Sluice then aborts its upstream request. Text
 * already received is still delivered, then `onFinish` with `cancelled`.
 */
import { StreamClientError } from './client-error.js'
import type { ClientErrorInit } from './client-error.js'
import { connectWorker, createLocalSession } from './decode-session.js'
import type { DecodeSession, WorkerDecoding } from './decode-session.js'
import type { DecodedEvent, DecoderOptions } from './create-decoder.js'
import type { RedactionMarker } from './redaction-markers.js'
import { errorOf, isObject } from './reader-sink.js'
import { backoffDelay, isRetryableStatus, parseRetryAfter } from './retry-policy.js'
import { acceptOf, framingOf } from './select-reader.js'
import { createTextBatcher } from './text-batcher.js'
import type { FlushScheduler, PendingText } from './text-batcher.js'
import type { ClientFinding, ClientProtocol, FinishInfo, TextInfo } from './types.js'
import type { WorkerLike } from './worker-messages.js'

/** The part of a fetch `Response` the client reads (so any fetch-compatible function fits). */
export interface ResponseLike {
  ok: boolean
  status: number
  headers: { get(name: string): string | null }
  body: ReadableStream<Uint8Array> | null
  text(): Promise<string>
}

/** The part of `fetch` the client calls. */
export type FetchLike = (url: string, init: { method: string, headers: Record<string, string>, body: string, signal: AbortSignal }) => Promise<ResponseLike>

export interface StreamClientOptions {
  /** The endpoint, e.g. `https://sluice.example/v1/chat/completions`. */
  url: string | URL
  protocol: ClientProtocol
  /** Request headers (an API key…), or a function giving them per request. */
  headers?: Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>)
  /** Default: the global `fetch`. */
  fetch?: FetchLike
  /**
   * Decode in a Web Worker (browsers): `true` starts the client's own
   * decoder module; a function returns a Worker of your making (for
   * instance one running `serveDecoder`). Ignored where there is no
   * `Worker` (Node). Default false.
   */
  worker?: boolean | (() => WorkerLike)
  /** Retries before the first byte of the body. Default 2. */
  maxRetries?: number
  /** First backoff, doubled each retry (with jitter). Default 250 ms. */
  retryBaseMs?: number
  /** Longest wait before a retry; a `Retry-After` longer than this ends the retries. Default 10 s. */
  maxRetryDelayMs?: number
  /**
   * `true` (default): deliver `onText` at most once per animation frame
   * (`requestAnimationFrame`; a microtask where there is none), deltas of a
   * channel concatenated. `false`: every delta as it comes. A function:
   * your own scheduler.
   */
  coalesce?: boolean | FlushScheduler
  /** How redactions look in the text. Default: the shipped rules' replacements (`defaultRedactionMarkers`). */
  markers?: readonly RedactionMarker[]
  /** Largest SSE event or NDJSON line, in bytes. Default 16 MiB. */
  maxEventSize?: number
}

export interface GenerateHandlers {
  onText?: (delta: string, info: TextInfo) => void
  onFinding?: (finding: ClientFinding) => void
  onFinish?: (info: FinishInfo) => void
  onError?: (error: StreamClientError) => void
  signal?: AbortSignal
}

export interface StreamClient {
  /**
   * Sends `payload` (an object is sent as JSON, a string as it is) and
   * streams the answer to the handlers; resolves with what `onFinish` got.
   * Never rejects for a failed request: that is a finish with `error`.
   */
  generate(payload: unknown, handlers?: GenerateHandlers): Promise<FinishInfo>
  /** Aborts every generation under way. */
  cancel(): void
  /** Cancels, and ends the decoding Worker if one was started. */
  close(): void
}

interface Scheduling {
  requestAnimationFrame?: (callback: () => void) => unknown
  Worker?: new (url: string | URL, options: { type: 'module' }) => WorkerLike
}

const kWorkerReadyMs = 3000

function schedulerOf (coalesce: StreamClientOptions['coalesce']): FlushScheduler | undefined {
  if (coalesce === false) return undefined
  if (typeof coalesce === 'function') return coalesce
  const raf = (globalThis as Scheduling).requestAnimationFrame
  if (typeof raf === 'function') return (flush) => { raf.call(globalThis, flush) }
  return (flush) => { queueMicrotask(flush) }
}

/**
 * The client's own decoding Worker, in the form bundlers recognise (they
 * bundle the worker module); served unbundled, it loads the module beside
 * this one. A browser refuses a Worker script from another origin (a CDN):
 * then a same-origin Blob module that imports it is started instead.
 */
function startOwnWorker (): WorkerLike | undefined {
  const Worker = (globalThis as Scheduling).Worker
  if (typeof Worker !== 'function') return undefined
  const url = new URL('./decode-worker.js', import.meta.url)
  try {
    return new Worker(url, { type: 'module' })
  } catch {}
  try {
    const blobUrl = URL.createObjectURL(new Blob([`import ${JSON.stringify(url.href)};\n`], { type: 'text/javascript' }))
    return new Worker(blobUrl, { type: 'module' })
  } catch {
    return undefined
  }
}

function describe (err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: { code?: unknown, message?: unknown } }).cause
    if (typeof cause?.code === 'string') return cause.code
    return err.message
  }
  return String(err)
}

/** Waits `ms`; false if `signal` aborted first. */
function sleep (ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false)
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve(true)
    }, ms)
    function onAbort (): void {
      clearTimeout(timer)
      resolve(false)
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

async function discard (res: ResponseLike): Promise<void> {
  try {
    await res.body?.cancel()
  } catch {}
}

/** The error a non-2xx answer stands for, from its body when it is an error object. */
async function httpError (res: ResponseLike): Promise<StreamClientError> {
  let text = ''
  try {
    text = await res.text()
  } catch {}
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {}
  const error = isObject(parsed) ? errorOf(parsed) : undefined
  return new StreamClientError({
    code: error?.code ?? 'SLUICE_CLIENT_HTTP',
    message: error?.message ?? `The server answered ${res.status}.`,
    status: res.status,
    type: error?.type
  })
}

/**
 * Creates a client for one endpoint.
 * @example
 * const client = createStreamClient({ url: '/v1/chat/completions', protocol: 'openai-chat' })
 * const { reason } = await client.generate(
 *   { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Hi' }] },
 *   {
 *     onText (delta, { channel, spans }) { if (channel === 'content') append(delta, spans) },
 *     onFinish ({ reason }) { if (reason === 'content_filter') showCutNotice() }
 *   }
 * )
 */
export function createStreamClient (options: StreamClientOptions): StreamClient {
  const url = String(options.url)
  const protocol = options.protocol
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
  const maxRetries = options.maxRetries ?? 2
  const retryBaseMs = options.retryBaseMs ?? 250
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 10_000
  const active = new Set<AbortController>()
  let workerDecoding: WorkerDecoding | undefined
  let workerTried = false

  function decoding (): WorkerDecoding | undefined {
    if (options.worker === undefined || options.worker === false) return undefined
    if (!workerTried) {
      workerTried = true
      const worker = options.worker === true ? startOwnWorker() : options.worker()
      if (worker !== undefined) workerDecoding = connectWorker(worker, kWorkerReadyMs)
    }
    return workerDecoding
  }

  /** Ours, then the caller's, which win; names lower-cased so that fetch does not join two spellings of one header. */
  async function headersFor (): Promise<Record<string, string>> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: acceptOf(protocol) }
    const own = typeof options.headers === 'function' ? await options.headers() : options.headers
    for (const [name, value] of Object.entries(own ?? {})) headers[name.toLowerCase()] = value
    return headers
  }

  /** Streams one answer; `settled` runs once the body is read to its end (after the finish, the rest is drained). */
  function run (payload: unknown, handlers: GenerateHandlers, signal: AbortSignal, settled: () => void): Promise<FinishInfo> {
    const body = typeof payload === 'string' ? payload : JSON.stringify(payload)
    const worker = decoding()
    let requestId: string | undefined
    let lastError: StreamClientError | undefined
    let session: DecodeSession | undefined
    let done = false
    let resolveFinish: (info: FinishInfo) => void = () => {}
    const finished = new Promise<FinishInfo>((resolve) => { resolveFinish = resolve })

    function deliver (pending: PendingText): void {
      const { ref, text, offset, spans } = pending
      handlers.onText?.(text, { ...ref, offset, spans })
      if (handlers.onFinding === undefined) return
      for (const span of spans) {
        const finding: ClientFinding = { ...ref, kind: 'redaction', source: 'marker', start: offset + span.start, end: offset + span.end, text: text.slice(span.start, span.end) }
        if (span.rule !== undefined) finding.rule = span.rule
        if (span.category !== undefined) finding.category = span.category
        if (span.label !== undefined) finding.label = span.label
        handlers.onFinding(finding)
      }
    }
    const batcher = createTextBatcher(deliver, schedulerOf(options.coalesce))

    function report (init: ClientErrorInit): void {
      batcher.flush()
      lastError = new StreamClientError(init)
      handlers.onError?.(lastError)
    }

    function finish (info: FinishInfo): void {
      if (done) return
      done = true
      batcher.flush()
      if (requestId !== undefined) info.requestId = requestId
      if (info.reason === 'error' && lastError !== undefined) info.error = lastError
      handlers.onFinish?.(info)
      resolveFinish(info)
    }

    function failBeforeStream (init: ClientErrorInit): void {
      report(init)
      finish({ reason: 'error', raw: undefined })
    }

    function onEvents (events: DecodedEvent[]): void {
      for (const event of events) {
        if (done) return
        if (event.type === 'text') {
          batcher.add(event.ref, event.text, event.offset, event.spans)
        } else if (event.type === 'error') {
          report(event.error)
        } else {
          const info: FinishInfo = { reason: signal.aborted ? 'cancelled' : event.reason, raw: signal.aborted ? undefined : event.raw }
          if (event.frame !== undefined && !signal.aborted) info.frame = event.frame
          const category = blockCategoryOf(event.frame)
          if (category !== undefined && info.reason === 'content_filter') info.category = category
          if (event.protocol !== undefined) info.protocol = event.protocol
          finish(info)
        }
      }
    }

    /** Reads the body; false when it failed before its first byte (so the request may be retried). */
    async function stream (res: ResponseLike, decoderOptions: DecoderOptions): Promise<boolean> {
      const reader = res.body?.getReader()
      let started = false
      const open = async (): Promise<DecodeSession> => {
        if (worker !== undefined && await worker.ready) return worker.open(decoderOptions, onEvents)
        return createLocalSession(decoderOptions, onEvents)
      }
      for (;;) {
        let chunk: { done: boolean, value?: Uint8Array | undefined }
        try {
          if (reader === undefined) chunk = { done: true, value: undefined }
          else chunk = await reader.read()
        } catch (err) {
          if (!started && !signal.aborted) return false
          if (signal.aborted) session?.end()
          else session?.fail({ code: 'SLUICE_CLIENT_NETWORK', message: `The stream broke off: ${describe(err)}` })
          return true
        }
        const bytes = chunk.value
        if (!started && (chunk.done || (bytes !== undefined && bytes.byteLength > 0))) {
          started = true
          session = await open()
        }
        if (chunk.done) {
          session?.end()
          return true
        }
        // After the finish, the rest of the body is read to its end (the connection stays reusable) and ignored.
        if (!done && bytes !== undefined && bytes.byteLength > 0) session?.push(bytes)
      }
    }

    const cancelled = (): void => finish({ reason: 'cancelled', raw: undefined })

    /** Waits before try number `tries + 1`; false when none is left, the wait is too long, or the caller aborted. */
    async function mayRetry (tries: number, wait: number): Promise<boolean> {
      return tries < maxRetries && wait <= maxRetryDelayMs && await sleep(wait, signal)
    }

    async function attempt (): Promise<void> {
      for (let tries = 0; ; tries++) {
        const backoff = backoffDelay(tries, retryBaseMs, maxRetryDelayMs, Math.random)
        let res: ResponseLike
        try {
          res = await fetchImpl(url, { method: 'POST', headers: await headersFor(), body, signal })
        } catch (err) {
          if (!signal.aborted && await mayRetry(tries, backoff)) continue
          if (signal.aborted) return cancelled()
          return failBeforeStream({ code: 'SLUICE_CLIENT_NETWORK', message: `The request failed: ${describe(err)}` })
        }
        requestId = res.headers.get('x-sluice-request-id') ?? undefined
        if (!res.ok) {
          const wait = parseRetryAfter(res.headers.get('retry-after'), Date.now()) ?? backoff
          if (!isRetryableStatus(res.status) || tries >= maxRetries || wait > maxRetryDelayMs) return failBeforeStream(await httpError(res))
          await discard(res)
          if (await mayRetry(tries, wait)) continue
          return cancelled()
        }
        const framing = framingOf(protocol, res.headers.get('content-type') ?? undefined)
        if (framing === undefined) {
          await discard(res)
          return failBeforeStream({ code: 'SLUICE_CLIENT_NOT_A_STREAM', message: `The answer is ${res.headers.get('content-type') ?? 'untyped'}, not a stream.`, status: res.status })
        }
        const decoderOptions: DecoderOptions = { protocol, framing, markers: options.markers, maxEventSize: options.maxEventSize }
        if (await stream(res, decoderOptions)) return
        if (await mayRetry(tries, backoff)) continue
        if (signal.aborted) return cancelled()
        return failBeforeStream({ code: 'SLUICE_CLIENT_NETWORK', message: 'The stream broke off before its first byte.' })
      }
    }

    signal.addEventListener('abort', () => {
      // Before the body: nothing to drain. During it, the read that fails ends the session (stream()).
      if (session === undefined) cancelled()
    }, { once: true })
    attempt().catch((err: unknown) => {
      failBeforeStream({ code: 'SLUICE_CLIENT_STREAM_ERROR', message: describe(err) })
    }).finally(settled)
    return finished
  }

  return {
    generate (payload, handlers = {}) {
      const controller = new AbortController()
      const external = handlers.signal
      const onAbort = (): void => { controller.abort(external?.reason) }
      if (external?.aborted === true) controller.abort(external.reason)
      else external?.addEventListener('abort', onAbort, { once: true })
      active.add(controller)
      // Until the body is drained, `cancel()` can still close the connection.
      return run(payload, handlers, controller.signal, () => {
        active.delete(controller)
        external?.removeEventListener('abort', onAbort)
      })
    },
    cancel () {
      for (const controller of active) controller.abort()
    },
    close () {
      for (const controller of active) controller.abort()
      workerDecoding?.terminate()
      workerDecoding = undefined
    }
  }
}

/**
 * The category of a cut from the block signal Sluice puts on the final
 * OpenAI chunk (Azure's `content_filter_results`: the category that
 * filtered the choice), or undefined.
 */
function blockCategoryOf (frame: unknown): string | undefined {
  const choices = (frame as { choices?: unknown } | null)?.choices
  if (!Array.isArray(choices)) return undefined
  for (const choice of choices as unknown[]) {
    const results = (choice as { content_filter_results?: unknown } | null)?.content_filter_results
    if (typeof results !== 'object' || results === null) continue
    const hit = Object.entries(results as Record<string, unknown>).find(([, v]) => (v as { filtered?: unknown } | null)?.filtered === true)
    if (hit !== undefined) return hit[0]
  }
  return undefined
}
