import t from 'tap'
import type { Test } from 'tap'
import { createDemoUpstream, demoControlHeaders } from '../../src/demo/create-demo-upstream.js'
import type { DemoUpstream } from '../../src/demo/create-demo-upstream.js'
import { createCanceller } from '../../src/proxy/cancel.js'
import { createUpstreamClient } from '../../src/proxy/forward.js'
import type { UpstreamClientOptions } from '../../src/proxy/forward.js'
import { backoffDelay } from '../../src/proxy/upstream-failures.js'
import { defaultProxyConfig } from '../../src/proxy/proxy-config.js'

async function startUpstream (t: Test): Promise<{ demo: DemoUpstream, url: string }> {
  const demo = createDemoUpstream({ chunksPerSecond: 0 })
  const url = await demo.listen(0)
  t.teardown(() => demo.close())
  return { demo, url }
}

function client (t: Test, url: string, extra: Partial<UpstreamClientOptions> = {}): ReturnType<typeof createUpstreamClient> {
  const upstream = createUpstreamClient({
    upstream: url,
    upstreamKeys: [],
    forwardClientAuth: false,
    retries: 2,
    retryBaseDelayMs: 5,
    retryMaxDelayMs: 20,
    timeouts: { ...defaultProxyConfig.timeouts },
    ...extra
  })
  t.teardown(() => upstream.destroy())
  // The demo's control headers (faults, pace) are forwarded as an operator would allow them.
  const controls = new Set<string>(demoControlHeaders)
  return { ...upstream, forward: async (request) => await upstream.forward({ forwardHeaders: controls, ...request }) }
}

const chat = JSON.stringify({ model: 'sluice-demo-1', stream: true, messages: [{ role: 'user', content: 'hello' }] })

async function text (body: NodeJS.ReadableStream): Promise<string> {
  let out = ''
  for await (const chunk of body) out += chunk.toString()
  return out
}

t.test('retries a 500 before the first byte and then streams the answer', async (t) => {
  const { demo, url } = await startUpstream(t)
  let retries = 0
  const upstream = client(t, url, { metrics: { countRetry: () => { retries++ }, countUpstreamError: () => {} } })
  const res = await upstream.forward({
    method: 'POST',
    path: '/v1/chat/completions',
    body: chat,
    authStyle: 'bearer',
    signal: new AbortController().signal,
    headers: { 'x-fault': 'status-500', 'x-fault-count': '1' }
  })
  t.equal(res.status, 200)
  t.equal(res.attempts, 2)
  t.equal(retries, 1)
  t.match(await text(res.body), /data: \[DONE\]/)
  t.equal(demo.stats.requests, 2)
})

t.test('gives up after the configured retries and returns the last 5xx', async (t) => {
  const { demo, url } = await startUpstream(t)
  const upstream = client(t, url, { retries: 2 })
  const res = await upstream.forward({
    method: 'POST',
    path: '/v1/chat/completions',
    body: chat,
    authStyle: 'bearer',
    signal: new AbortController().signal,
    headers: { 'x-fault': 'status-500' }
  })
  t.equal(res.status, 500)
  t.equal(res.attempts, 3)
  t.equal(demo.stats.requests, 3)
  res.body.destroy()
})

t.test('moves to the next upstream key on a 429 and never forwards client credentials', async (t) => {
  const { demo, url } = await startUpstream(t)
  const upstream = client(t, url, { upstreamKeys: ['key-one', 'key-two'] })
  const res = await upstream.forward({
    method: 'POST',
    path: '/v1/chat/completions',
    body: chat,
    authStyle: 'bearer',
    signal: new AbortController().signal,
    headers: { 'x-fault': 'status-429', 'x-fault-count': '1', authorization: 'Bearer client-secret', cookie: 'c=1' }
  })
  t.equal(res.status, 200)
  await text(res.body)
  const seen = demo.stats.lastRequest?.headers
  t.equal(seen?.authorization, 'Bearer key-two')
  t.equal(seen?.cookie, undefined)
  t.equal(seen?.['accept-encoding'], 'identity')
})

t.test('sends x-api-key on Anthropic routes and the client key only with forwardClientAuth', async (t) => {
  const { demo, url } = await startUpstream(t)
  const anthropic = client(t, url, { upstreamKeys: ['provider-key'] })
  const body = JSON.stringify({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] })
  const res = await anthropic.forward({ method: 'POST', path: '/v1/messages', body, authStyle: 'x-api-key', signal: new AbortController().signal, headers: { 'anthropic-version': '2023-06-01' } })
  await text(res.body)
  t.equal(demo.stats.lastRequest?.headers['x-api-key'], 'provider-key')
  t.equal(demo.stats.lastRequest?.headers['anthropic-version'], '2023-06-01')

  const forwarding = client(t, url, { upstreamKeys: ['provider-key'], forwardClientAuth: true })
  const res2 = await forwarding.forward({ method: 'GET', path: '/v1/models', authStyle: 'bearer', signal: new AbortController().signal, headers: { authorization: 'Bearer client-own' } })
  await text(res2.body)
  t.equal(demo.stats.lastRequest?.headers.authorization, 'Bearer client-own')
})

t.test('keeps an upstream path prefix without doubling /v1', async (t) => {
  const { demo, url } = await startUpstream(t)
  const upstream = client(t, url + '/v1')
  const res = await upstream.forward({ method: 'GET', path: '/v1/models', authStyle: 'bearer', signal: new AbortController().signal, headers: {} })
  t.equal(res.status, 200)
  await text(res.body)
  t.equal(demo.stats.lastRequest?.url, '/v1/models')
})

t.test('fails with a coded timeout when headers are late, without retrying', async (t) => {
  const { demo, url } = await startUpstream(t)
  const upstream = client(t, url, { timeouts: { ...defaultProxyConfig.timeouts, headersMs: 100 } })
  await t.rejects(upstream.forward({
    method: 'POST',
    path: '/v1/chat/completions',
    body: chat,
    authStyle: 'bearer',
    signal: new AbortController().signal,
    headers: { 'x-fault': 'slow-headers', 'x-fault-delay': '2000' }
  }), { code: 'SLUICE_UPSTREAM_TIMEOUT', statusCode: 504 })
  t.equal(demo.stats.requests, 1)
})

t.test('ends the body with a coded timeout when the upstream stalls mid-stream', async (t) => {
  const { url } = await startUpstream(t)
  const upstream = client(t, url, { timeouts: { ...defaultProxyConfig.timeouts, idleMs: 150 } })
  const res = await upstream.forward({
    method: 'POST',
    path: '/v1/chat/completions',
    body: chat,
    authStyle: 'bearer',
    signal: new AbortController().signal,
    headers: { 'x-fault': 'stall' }
  })
  t.equal(res.status, 200)
  await t.rejects(text(res.body), { code: 'SLUICE_UPSTREAM_TIMEOUT' })
})

t.test('an upstream that keeps sending is never idle, however long the stream lasts', async (t) => {
  // 20 chunks/s (50 ms gaps) against a 150 ms idle limit, for a stream much
  // longer than the limit: the one idle timer must re-arm, not fire.
  const demo = createDemoUpstream({ chunksPerSecond: 20 })
  const url = await demo.listen(0)
  t.teardown(() => demo.close())
  const upstream = client(t, url, { timeouts: { ...defaultProxyConfig.timeouts, idleMs: 150 } })
  const res = await upstream.forward({
    method: 'POST',
    path: '/v1/chat/completions',
    body: chat,
    authStyle: 'bearer',
    signal: new AbortController().signal,
    headers: { 'x-demo-chunk': '40-40' }
  })
  const body = await text(res.body)
  t.match(body, /data: \[DONE\]/)
  t.ok(body.split('\n\n').length > 6, 'the stream lasted several idle limits')
})

t.test('a reader that stops reading is not taken for a silent upstream', async (t) => {
  const { demo, url } = await startUpstream(t)
  const upstream = client(t, url, { timeouts: { ...defaultProxyConfig.timeouts, idleMs: 100 } })
  const controller = new AbortController()
  const res = await upstream.forward({
    method: 'POST',
    path: '/v1/chat/completions',
    body: chat,
    authStyle: 'bearer',
    signal: controller.signal,
    headers: { 'x-fault': 'never-ends' }
  })
  let failed: unknown
  res.body.once('error', (err) => { failed = err })
  // Nobody reads: the buffer fills, the upstream is paused; wait well past the idle limit.
  for (let i = 0; i < 100 && res.body.readableLength < res.body.readableHighWaterMark; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  t.ok(res.body.readableLength >= res.body.readableHighWaterMark, 'the reader fell behind')
  await new Promise((resolve) => setTimeout(resolve, 400))
  t.equal(failed, undefined, 'no idle timeout while the reader was full')
  let read = 0
  for await (const chunk of res.body) {
    read += (chunk as Buffer).length
    if (read > 4 * res.body.readableHighWaterMark) break
  }
  t.ok(read > 4 * res.body.readableHighWaterMark, 'the upstream went on once the reader read again')
  t.equal(failed, undefined)
  controller.abort()
  for (let i = 0; i < 100 && demo.stats.activeStreams > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(demo.stats.activeStreams, 0)
})

t.test('caps the whole exchange with the total timeout', async (t) => {
  const { url } = await startUpstream(t)
  const upstream = client(t, url, { timeouts: { ...defaultProxyConfig.timeouts, totalMs: 200 } })
  const res = await upstream.forward({
    method: 'POST',
    path: '/v1/chat/completions',
    body: chat,
    authStyle: 'bearer',
    signal: new AbortController().signal,
    headers: { 'x-fault': 'never-ends' }
  })
  await t.rejects(text(res.body), { code: 'SLUICE_UPSTREAM_TIMEOUT', message: /exceeded 200 ms/ })
})

t.test('reports a connection error as SLUICE_UPSTREAM after retrying', async (t) => {
  const { demo, url } = await startUpstream(t)
  await demo.close()
  let retries = 0
  const upstream = client(t, url, { metrics: { countRetry: () => { retries++ }, countUpstreamError: () => {} } })
  await t.rejects(upstream.forward({ method: 'GET', path: '/v1/models', authStyle: 'bearer', signal: new AbortController().signal, headers: {} }),
    { code: 'SLUICE_UPSTREAM', statusCode: 502 })
  t.equal(retries, 2)
})

t.test('closes the upstream connection when the caller aborts mid-stream', async (t) => {
  const demo = createDemoUpstream({ chunksPerSecond: 20 })
  const url = await demo.listen(0)
  t.teardown(() => demo.close())
  const upstream = client(t, url)
  const controller = new AbortController()
  const res = await upstream.forward({
    method: 'POST', path: '/v1/chat/completions', body: chat, authStyle: 'bearer', signal: controller.signal, headers: { 'x-fault': 'never-ends' }
  })
  // eslint-disable-next-line no-unreachable-loop -- reads one chunk, then leaves
  for await (const _ of res.body) {
    controller.abort()
    break
  }
  for (let i = 0; i < 100 && demo.stats.abortedStreams === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(demo.stats.abortedStreams, 1)
  t.equal(demo.stats.activeStreams, 0)
})

t.test('a Canceller stops the exchange like an AbortController, before the call and mid-stream', async (t) => {
  const demo = createDemoUpstream({ chunksPerSecond: 20 })
  const url = await demo.listen(0)
  t.teardown(() => demo.close())
  const upstream = client(t, url)
  const early = createCanceller()
  early.abort()
  early.abort()
  await t.rejects(upstream.forward({
    method: 'POST', path: '/v1/chat/completions', body: chat, authStyle: 'bearer', signal: early.signal, headers: {}
  }), { code: 'UND_ERR_ABORTED' })
  t.equal(demo.stats.requests, 0, 'an exchange cancelled before it started never reaches the upstream')

  const cancel = createCanceller()
  const res = await upstream.forward({
    method: 'POST', path: '/v1/chat/completions', body: chat, authStyle: 'bearer', signal: cancel.signal, headers: { 'x-fault': 'never-ends' }
  })
  const failed = new Promise<Error & { code?: string }>((resolve) => { res.body.once('error', resolve) })
  res.body.resume()
  cancel.abort()
  t.equal((await failed).code, 'UND_ERR_ABORTED')
  for (let i = 0; i < 100 && demo.stats.abortedStreams === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(demo.stats.abortedStreams, 1)
  t.equal(demo.stats.activeStreams, 0)
})

t.test('spreads backoff delays between half and all of the exponential ceiling', async (t) => {
  t.equal(backoffDelay(0, 100, 2000, () => 0), 50)
  t.equal(backoffDelay(0, 100, 2000, () => 1), 100)
  t.equal(backoffDelay(3, 100, 2000, () => 1), 800)
  t.equal(backoffDelay(10, 100, 2000, () => 1), 2000)
})
