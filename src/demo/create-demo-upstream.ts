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
 *
 * This module makes the server; routes.ts answers requests (generation.ts
 * the generation routes, demo-request.ts reading them), one module per API
 * renders answers (wire-format.ts), faults.ts misbehaves, pump.ts writes.
 */
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { InvalidOptionsError } from '../errors.js'
import { cannedAnswers } from './canned-answers.js'
import type { CannedAnswer } from './canned-answers.js'
import { errorBody } from './demo-request.js'
import type { DemoState } from './generation.js'
import { stopHandle } from './pump.js'
import { handleRequest, resetStats, sendJson } from './routes.js'
import { emptyStats } from './stats.js'
import type { DemoUpstreamStats } from './stats.js'

export { demoControlHeaders } from './demo-request.js'
export type { DemoResponseRecord, DemoUpstreamStats } from './stats.js'

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
  const demo: DemoState = {
    settings: {
      chunkSize: options.chunkSize ?? [1, 8],
      chunksPerSecond: options.chunksPerSecond ?? 40,
      answers: options.answers ?? cannedAnswers,
      seed: options.seed ?? 1,
      maxBodyBytes: options.maxBodyBytes ?? 32 * 1024 * 1024
    },
    stats: emptyStats(),
    requestCount: 0,
    roundRobin: 0,
    responseCount: 0,
    active: new Map()
  }

  const server = http.createServer(function demoUpstreamHandler (req, res) {
    handleRequest(demo, req, res).catch((err: unknown) => {
      // A bug here must not hang the client: answer 500 if we still can, else cut the connection.
      if (!res.headersSent) sendJson(res, 500, errorBody(null, 500, `demo upstream failed: ${String(err)}`))
      else res.destroy()
    })
  })
  server.on('connection', (socket: Socket) => {
    demo.stats.openConnections++
    socket.once('close', () => { demo.stats.openConnections-- })
  })

  return {
    server,
    get stats () {
      return demo.stats
    },
    resetStats: () => resetStats(demo),
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
      for (const [handle, res] of demo.active) stopHandle(handle, res)
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
