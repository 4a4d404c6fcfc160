/**
 * @module proxy/rate-limit
 * Per-client request limits for the proxy, on @fastify/rate-limit's stores:
 * in memory (one instance) or in Redis (`redisUrl`: several proxy instances
 * share one counter per client, with the plugin's atomic Lua INCR+PEXPIRE).
 *
 * Over the limit the client gets a 429 in the OpenAI error shape, so OpenAI
 * SDKs recognise it (and retry after `retry-after`):
 * `{ error: { message, type: 'rate_limit_exceeded', param: null, code: 'SLUICE_RATE_LIMITED' } }`.
 *
 * Redis unavailable — fail OPEN, with a logged warning. If Redis is down
 * when the proxy starts, or goes down later, requests are served
 * unlimited and one warning is logged per outage (and one info line when
 * it is back); ioredis keeps reconnecting in the background and limiting
 * resumes by itself. Why: the limit protects upstream quota and cost, it is
 * not a compliance control (sanitizing is unaffected), and a shared cache
 * outage should not become a full proxy outage. Commands fail fast (no
 * offline queue, 1 s command timeout), so an outage adds no latency.
 *
 * We run our own `onRequest` hook with the plugin's `createRateLimit()`
 * (the plugin's own global hook is off) so that we own the 429 body and
 * the fail-open path. A route opts out with `config: { rateLimit: false }`
 * (e.g. `/healthz`, `/metrics`); a route with its own `config.rateLimit`
 * object is limited by the plugin itself, with those options, not here.
 */
import { createHash } from 'node:crypto'
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Redis } from 'ioredis'
import { RateLimitedError } from '../errors.js'

export interface RateLimitOptions {
  /** Requests allowed per client key and time window. */
  max: number
  /** Window length: ms, or an `ms`-style string such as `'1 minute'`. */
  timeWindow: string | number
  /** `redis://host:port[/db]`: keep the counters in Redis, shared by all proxy instances. */
  redisUrl?: string
  /** The client key to limit by (API key, user id, IP…). */
  keyOf: (req: FastifyRequest) => string
  /** Prefix of the Redis keys (default `sluice-rate-limit-`). */
  nameSpace?: string
}

/**
 * The key stored in the counter store: a digest of the client key. `keyOf`
 * is usually the client's bearer token, and Redis keys are visible to
 * anyone with `KEYS`/`MONITOR`, so the raw key never leaves the process.
 * Unsalted SHA-256 is enough: API keys have too much entropy to guess back,
 * and every instance must derive the same key.
 */
function counterKey (clientKey: string): string {
  return createHash('sha256').update(clientKey).digest('base64url').slice(0, 32)
}

/** The OpenAI-shaped body of a 429. */
export function rateLimitedBody (retryIn: string): { error: { message: string, type: 'rate_limit_exceeded', param: null, code: string } } {
  const err = new RateLimitedError(retryIn)
  return { error: { message: err.message, type: 'rate_limit_exceeded', param: null, code: err.code } }
}

function secondsText (seconds: number): string {
  return seconds === 1 ? '1 second' : `${seconds} seconds`
}

/**
 * Limits every route of `app` (registered after this call) per client key.
 * Call before the routes and before `listen()`. With `redisUrl`, the Redis
 * connection is closed when the app closes.
 * @example
 * await registerRateLimit(app, { max: 60, timeWindow: '1 minute', keyOf: (req) => req.headers.authorization ?? req.ip })
 */
export async function registerRateLimit (app: FastifyInstance, opts: RateLimitOptions): Promise<void> {
  const log = app.log
  let storeDown = false

  function storeFailed (err: unknown): void {
    if (storeDown) return
    storeDown = true
    log.warn({ err }, 'rate limit store unavailable: serving requests without rate limiting until it is back')
  }

  function storeOk (): void {
    if (!storeDown) return
    storeDown = false
    log.info('rate limit store is back: rate limiting resumed')
  }

  let redis: Redis | undefined
  if (opts.redisUrl !== undefined) {
    const client = new Redis(opts.redisUrl, {
      lazyConnect: true,
      // Fail fast instead of queueing commands while disconnected: a queued
      // command would hold the request until Redis comes back.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 1000,
      connectTimeout: 2000,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000)
    })
    redis = client
    // Without an 'error' listener ioredis prints every reconnect failure.
    client.on('error', storeFailed)
    client.on('ready', storeOk)
    app.addHook('onClose', async function closeRateLimitRedis () {
      if (client.status === 'ready') await client.quit().catch(() => { client.disconnect() })
      else client.disconnect()
    })
    try {
      await client.connect()
    } catch (err) {
      storeFailed(err)
    }
  }

  await app.register(rateLimit, {
    global: false,
    max: opts.max,
    timeWindow: opts.timeWindow,
    keyGenerator: (req) => counterKey(opts.keyOf(req)),
    nameSpace: opts.nameSpace ?? 'sluice-rate-limit-',
    // Errors reach our hook, which fails open and logs.
    skipOnError: false,
    ...(redis === undefined ? {} : { redis })
  })
  const limit = app.createRateLimit()

  app.addHook('onRequest', async function sluiceRateLimit (req, reply) {
    if (req.routeOptions.config?.rateLimit !== undefined) return
    let result: Awaited<ReturnType<typeof limit>>
    try {
      result = await limit(req)
    } catch (err) {
      storeFailed(err)
      return
    }
    storeOk()
    if (result.isAllowed) return
    reply.header('x-ratelimit-limit', result.max)
    reply.header('x-ratelimit-remaining', result.remaining)
    reply.header('x-ratelimit-reset', result.ttlInSeconds)
    if (!result.isExceeded) return
    reply.header('retry-after', result.ttlInSeconds)
    reply.code(429).send(rateLimitedBody(secondsText(result.ttlInSeconds)))
    return reply
  })
}
