import t from 'tap'
import type { Test } from 'tap'
import { Writable } from 'node:stream'
import { createServer } from 'node:net'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { request } from 'undici'
import { setErrorReplies } from '../../src/proxy/error-replies.js'
import { registerRateLimit } from '../../src/proxy/rate-limit.js'
import type { RateLimitOptions } from '../../src/proxy/rate-limit.js'
import { startRedisServer } from '../helpers/redis-server.js'

interface LogRecord { level: number, msg: string }

/** A tiny app limited by the `x-client` header, listening on an ephemeral port. */
async function startApp (t: Test, opts: Partial<RateLimitOptions> = {}): Promise<{ app: FastifyInstance, url: string, logs: LogRecord[] }> {
  const logs: LogRecord[] = []
  const stream = new Writable({
    write (chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line) as LogRecord)
      callback()
    }
  })
  const app = Fastify({ logger: { level: 'info', stream } })
  // The proxy's error replies: they send the limiter's 429 in the OpenAI shape.
  setErrorReplies(app, { bodyLimit: 1024, requestTimeoutMs: 1000, clientGone: () => false })
  await registerRateLimit(app, {
    max: 3,
    timeWindow: '1 minute',
    keyOf: (req) => String(req.headers['x-client'] ?? 'anonymous'),
    ...opts
  })
  app.post('/v1/chat/completions', async () => ({ ok: true }))
  app.post('/refused', { onRequest: async (_req, reply) => reply.code(401).send({ error: 'no' }) }, async () => ({ ok: true }))
  app.get('/healthz', { config: { rateLimit: false } }, async () => ({ ok: true }))
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return { app, url, logs }
}

async function call (base: string, client: string, path = '/v1/chat/completions') {
  const res = await request(`${base}${path}`, {
    method: path === '/healthz' ? 'GET' : 'POST',
    headers: { 'x-client': client, 'content-type': 'application/json' },
    body: path === '/healthz' ? null : '{}'
  })
  const text = await res.body.text()
  return { status: res.statusCode, headers: res.headers, body: JSON.parse(text) as unknown }
}

const limitedBody = {
  error: {
    message: /^Rate limit exceeded, retry in \d+ seconds?$/,
    // OpenAI's type for request-rate limits (http/openai-error.ts).
    type: 'requests',
    param: null,
    code: 'SLUICE_RATE_LIMITED'
  }
}

t.test('in memory: answers the request over the limit with a 429 in the OpenAI error shape', async (t) => {
  const { url } = await startApp(t)
  for (const remaining of [2, 1, 0]) {
    const ok = await call(url, 'alice')
    t.equal(ok.status, 200)
    t.equal(ok.headers['x-ratelimit-remaining'], String(remaining))
  }
  const limited = await call(url, 'alice')
  t.equal(limited.status, 429)
  t.match(limited.headers['content-type'], /^application\/json/)
  t.match(limited.body, limitedBody)
  t.same(Object.keys((limited.body as { error: object }).error).sort(), ['code', 'message', 'param', 'type'])
  t.ok(Number(limited.headers['retry-after']) > 0, 'retry-after says when to come back')
  t.equal(limited.headers['x-ratelimit-limit'], '3')
})

t.test('in memory: limits each client key on its own', async (t) => {
  const { url } = await startApp(t)
  for (let i = 0; i < 3; i++) t.equal((await call(url, 'alice')).status, 200)
  t.equal((await call(url, 'alice')).status, 429)
  t.equal((await call(url, 'bob')).status, 200, 'another key is not limited')
})

t.test('counts a request before the route\'s own hooks refuse it (keys cannot be guessed unlimited)', async (t) => {
  const { url } = await startApp(t, { max: 2 })
  const refused = async (): Promise<number> => (await call(url, 'mallory', '/refused')).status
  t.same([await refused(), await refused(), await refused()], [401, 401, 429])
})

t.test('does not limit a route that opts out with config.rateLimit false', async (t) => {
  const { url } = await startApp(t, { max: 1 })
  for (let i = 0; i < 4; i++) t.equal((await call(url, 'alice', '/healthz')).status, 200)
  t.equal((await call(url, 'alice')).status, 200)
  t.equal((await call(url, 'alice')).status, 429)
})

t.test('with Redis: two proxy instances share one limit per client key', async (t) => {
  const redis = await startRedisServer()
  t.teardown(redis.stop)
  const a = await startApp(t, { redisUrl: redis.url })
  const b = await startApp(t, { redisUrl: redis.url })
  t.equal((await call(a.url, 'alice')).status, 200)
  t.equal((await call(b.url, 'alice')).status, 200)
  t.equal((await call(a.url, 'alice')).status, 200)
  const fourth = await call(b.url, 'alice')
  t.equal(fourth.status, 429, 'the 4th request across both instances is limited')
  t.match(fourth.body, limitedBody)
  t.equal((await call(a.url, 'alice')).status, 429)
  t.equal((await call(b.url, 'bob')).status, 200, 'another key is not limited')

  const checker = new Redis(redis.url)
  t.teardown(() => checker.disconnect())
  const keys = await checker.keys('*')
  t.equal(keys.length, 2, 'one counter per client key')
  t.ok(keys.every((k) => k.startsWith('sluice-rate-limit-')))
  t.notOk(keys.some((k) => k.includes('alice') || k.includes('bob')), 'raw client keys are not stored in Redis')
})

async function connectedClients (checker: Redis): Promise<number> {
  const info = await checker.info('clients')
  return Number(/connected_clients:(\d+)/.exec(info)?.[1])
}

t.test('with Redis: closes its Redis connection when the app closes', async (t) => {
  const redis = await startRedisServer()
  t.teardown(redis.stop)
  const checker = new Redis(redis.url)
  t.teardown(() => checker.disconnect())
  const { app } = await startApp(t, { redisUrl: redis.url })
  t.equal(await connectedClients(checker), 2, 'the app and the checker')
  await app.close()
  // The server notices the closed socket a moment later: poll, bounded.
  let clients = await connectedClients(checker)
  for (let i = 0; i < 100 && clients !== 1; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    clients = await connectedClients(checker)
  }
  t.equal(clients, 1, 'only the checker is left')
})

async function closedPort (): Promise<number> {
  return await new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => { resolve(typeof address === 'object' && address !== null ? address.port : 0) })
    })
  })
}

const unavailable = /rate limit store unavailable/

t.test('with Redis down at start: fails open and logs one warning', async (t) => {
  const { url, logs } = await startApp(t, { redisUrl: `redis://127.0.0.1:${await closedPort()}` })
  for (let i = 0; i < 5; i++) t.equal((await call(url, 'alice')).status, 200, 'served without limiting')
  const warnings = logs.filter((r) => r.level === 40 && unavailable.test(r.msg))
  t.equal(warnings.length, 1, 'one warning per outage, not one per request')
})

t.test('with Redis lost mid-run: fails open, then limits again once Redis is back', async (t) => {
  const first = await startRedisServer()
  let current = first
  t.teardown(() => current.stop())
  const { url, logs } = await startApp(t, { redisUrl: first.url, max: 1 })
  t.equal((await call(url, 'alice')).status, 200)
  t.equal((await call(url, 'alice')).status, 429)

  await first.stop()
  for (let i = 0; i < 3; i++) t.equal((await call(url, 'alice')).status, 200, 'served while Redis is down')
  t.ok(logs.some((r) => r.level === 40 && unavailable.test(r.msg)), 'the outage is logged')

  // A fresh (empty) Redis on the same port: the client reconnects by itself.
  current = await startRedisServer({ port: first.port })
  let status = 0
  for (let i = 0; i < 200 && status !== 429; i++) {
    status = (await call(url, 'alice')).status
    if (status !== 429) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.equal(status, 429, 'limiting resumed')
  t.ok(logs.some((r) => r.msg === 'rate limit store is back: rate limiting resumed'))
})
