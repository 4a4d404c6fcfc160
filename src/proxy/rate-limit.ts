/**
 * @module proxy/rate-limit
 * Per-client request limits for the proxy, with @fastify/rate-limit: its
 * stores (in memory for one instance, or Redis with `redisUrl`: several
 * proxy instances share one counter per client, with the plugin's atomic
 * Lua INCR+PEXPIRE), its headers (`x-ratelimit-*`, `retry-after`), its
 * `errorResponseBuilder` and its `skipOnError`.
 *
 * Over the limit the request fails with `RateLimitedError` (429,
 * `SLUICE_RATE_LIMITED`), which the proxy's error handler sends in the
 * OpenAI error shape (error-replies.ts), so OpenAI SDKs recognise it and
 * retry after `retry-after`.
 *
 * Redis unavailable — fail OPEN, with a logged warning. If Redis is down
 * when the proxy starts, or goes down later, requests are served
 * unlimited (the plugin's `skipOnError`) and one warning is logged per
 * outage, from the connection's events (and one info line when it is
 * back); ioredis keeps reconnecting in the background and limiting resumes
 * by itself. Why: the limit protects upstream quota and cost, it is not a
 * compliance control (sanitizing is unaffected), and a shared cache outage
 * should not become a full proxy outage. Commands fail fast (no offline
 * queue, 1 s command timeout), so an outage adds no latency. (A Redis that
 * keeps its connections but stops answering is failed open too, after the
 * 1 s timeout, without a warning: only a lost connection is seen.)
 *
 * The limit runs as one app-wide `onRequest` hook, before any route's own
 * hooks: an unknown client key is counted (by address) before it is
 * refused, so guessing keys is limited too. A route opts out with
 * `config: { rateLimit: false }` (`/healthz`, `/metrics`); a route with its
 * own `config.rateLimit` object is limited by the plugin itself, with
 * those options, not here.
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

function secondsText (seconds: number): string {
  return seconds === 1 ? '1 second' : `${seconds} seconds`
}

/**
 * A Redis client for the counters that fails fast, and logs one warning
 * when the connection is lost (or cannot be made) and one info line when it
 * is back. Closed when the app closes.
 */
async function connectRedis (app: FastifyInstance, url: string): Promise<Redis> {
  const log = app.log
  let down = false
  let closing = false
  const client = new Redis(url, {
    lazyConnect: true,
    // Fail fast instead of queueing commands while disconnected: a queued
    // command would hold the request until Redis comes back.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000)
  })
  const lost = (err?: unknown): void => {
    if (down || closing) return
    down = true
    log.warn({ err }, 'rate limit store unavailable: serving requests without rate limiting until it is back')
  }
  // Without an 'error' listener ioredis prints every reconnect failure.
  client.on('error', lost)
  client.on('close', () => { lost() })
  client.on('ready', () => {
    if (!down) return
    down = false
    log.info('rate limit store is back: rate limiting resumed')
  })
  app.addHook('onClose', async function closeRateLimitRedis () {
    closing = true
    if (client.status === 'ready') await client.quit().catch(() => { client.disconnect() })
    else client.disconnect()
  })
  await client.connect().catch(lost)
  return client
}

/**
 * Limits every route of `app` per client key. Call before `listen()`. With
 * `redisUrl`, the Redis connection is closed when the app closes.
 * @example
 * await registerRateLimit(app, { max: 60, timeWindow: '1 minute', keyOf: (req) => req.headers.authorization ?? req.ip })
 */
export async function registerRateLimit (app: FastifyInstance, opts: RateLimitOptions): Promise<void> {
  const redis = opts.redisUrl === undefined ? undefined : await connectRedis(app, opts.redisUrl)
  await app.register(rateLimit, {
    // Our own hook below, so that the limit runs before every route's hooks.
    global: false,
    max: opts.max,
    timeWindow: opts.timeWindow,
    keyGenerator: (req) => counterKey(opts.keyOf(req)),
    nameSpace: opts.nameSpace ?? 'sluice-rate-limit-',
    // Fail open: a store error serves the request (the outage is logged by connectRedis).
    skipOnError: true,
    // Thrown by the plugin, sent in the OpenAI error shape by the app's error handler.
    errorResponseBuilder: (_req, context) => new RateLimitedError(secondsText(Math.ceil(context.ttl / 1000))),
    ...(redis === undefined ? {} : { redis })
  })
  const limit = app.rateLimit()
  app.addHook('onRequest', async function sluiceRateLimit (req, reply) {
    // false: not limited; an object: the plugin limits that route with its own options.
    if (req.routeOptions.config?.rateLimit !== undefined) return
    await limit.call(app, req, reply)
  })
}
