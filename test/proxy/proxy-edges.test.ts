/**
 * The proxy's edges as an attacker on loopback meets them: who a rate limit
 * counts, how long a slow client may hold a connection, which headers cross
 * in each direction, what request target reaches the provider, and the caps
 * on bodies. Every case runs over real sockets against a recording upstream.
 */
import { createServer } from 'node:http'
import type { IncomingHttpHeaders, Server } from 'node:http'
import { connect } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import t from 'tap'
import type { Test } from 'tap'
import { request } from 'undici'
import { join } from 'node:path'
import { listRotatedFiles } from '../../src/audit/rotated-files.js'
import { verifyAuditLog } from '../../src/audit/verify-audit-log.js'
import { hashApiKey, resolveProxyConfig } from '../../src/proxy/proxy-config.js'
import { createProxy } from '../../src/proxy/create-proxy.js'
import { startProxy, testRulesDir } from './fixtures/harness.js'

interface Seen {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: string
}

interface Recorder {
  url: string
  seen: Seen[]
  server: Server
}

const chatAnswer = JSON.stringify({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model: 'm',
  choices: [{ index: 0, message: { role: 'assistant', content: 'hello' }, finish_reason: 'stop' }]
})

/** An upstream that records every request and answers a short chat completion (SSE when asked, paced). */
async function startRecorder (t: Test, { sseMs = 0 } = {}): Promise<Recorder> {
  const seen: Seen[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (d: Buffer) => { body += d.toString() })
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
      const streamed = body.includes('"stream":true')
      res.setHeader('x-sluice-request-id', 'forged-by-upstream')
      res.setHeader('x-internal-host', 'db-7.internal')
      if (!streamed) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(chatAnswer)
        return
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      const words = ['one ', 'two ', 'three ', 'four ', 'five ']
      let i = 0
      const next = (): void => {
        if (res.destroyed) return
        if (i < words.length) {
          res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: words[i++] }, finish_reason: null }] })}\n\n`)
          setTimeout(next, sseMs)
          return
        }
        res.end(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`)
      }
      next()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server }
}

const chatBody = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })

async function post (url: string, headers: Record<string, string> = {}, body = chatBody, path = '/v1/chat/completions'): Promise<{ status: number, headers: IncomingHttpHeaders, json: any }> {
  const res = await request(url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })
  const text = await res.body.text()
  return { status: res.statusCode, headers: res.headers as IncomingHttpHeaders, json: text === '' ? undefined : JSON.parse(text) }
}

/** Writes raw bytes on a new socket and resolves with everything the server sent until it closed. */
async function rawExchange (url: string, bytes: string, { endAfterWrite = false } = {}): Promise<string> {
  const { port } = new URL(url)
  return await new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(bytes)
      if (endAfterWrite) socket.end()
    })
    let out = ''
    socket.on('data', (d: Buffer) => { out += d.toString() })
    socket.on('error', reject)
    socket.on('close', () => resolve(out))
  })
}

function opened (url: string): Promise<Socket> {
  const { port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => resolve(socket))
    socket.on('error', reject)
    // Flowing, so that the server's FIN is read and 'close' follows.
    socket.resume()
  })
}

function closedWithin (socket: Socket, ms: number): Promise<number | undefined> {
  const start = Date.now()
  return new Promise((resolve) => {
    if (socket.destroyed) {
      resolve(0)
      return
    }
    const timer = setTimeout(() => resolve(undefined), ms)
    socket.once('close', () => {
      clearTimeout(timer)
      resolve(Date.now() - start)
    })
  })
}

t.test('rate limits', async (t) => {
  t.test('without client keys, a fresh random key per request shares the address bucket', async (t) => {
    const up = await startRecorder(t)
    const { url } = await startProxy(t, up.url, ['--rate-limit', '3'])
    const statuses: number[] = []
    for (let i = 0; i < 6; i++) statuses.push((await post(url, { authorization: `Bearer random-${i}-${Math.random()}` })).status)
    t.same(statuses, [200, 200, 200, 429, 429, 429])
  })

  t.test('with client keys, each key has its bucket and unknown keys get none', async (t) => {
    const up = await startRecorder(t)
    const { url } = await startProxy(t, up.url, ['--rate-limit', '2', '--api-key', 'key-a', '--api-key', 'key-b'])
    const a = async (): Promise<number> => (await post(url, { authorization: 'Bearer key-a' })).status
    t.same([await a(), await a(), await a()], [200, 200, 429])
    t.equal((await post(url, { authorization: 'Bearer key-b' })).status, 200, 'another key is counted apart')
    const unknown: number[] = []
    for (let i = 0; i < 4; i++) unknown.push((await post(url, { authorization: `Bearer guess-${i}` })).status)
    t.same(unknown, [401, 401, 429, 429], 'unknown keys are counted by address, then limited')
  })

  t.test('X-Forwarded-For counts only with trustProxy', async (t) => {
    const up = await startRecorder(t)
    const plain = await startProxy(t, up.url, ['--rate-limit', '1'])
    t.equal((await post(plain.url, { 'x-forwarded-for': '203.0.113.1' })).status, 200)
    t.equal((await post(plain.url, { 'x-forwarded-for': '203.0.113.2' })).status, 429, 'a forged address is not a new client')
    const behindLb = await startProxy(t, up.url, ['--rate-limit', '1', '--trust-proxy', '127.0.0.1'])
    t.equal((await post(behindLb.url, { 'x-forwarded-for': '203.0.113.1' })).status, 200)
    t.equal((await post(behindLb.url, { 'x-forwarded-for': '203.0.113.2' })).status, 200, 'a trusted balancer names the client')
    t.equal((await post(behindLb.url, { 'x-forwarded-for': '203.0.113.1' })).status, 429)
  })
})

t.test('connections', async (t) => {
  t.test('a client trickling its body is closed once the request timeout passes', async (t) => {
    const up = await startRecorder(t)
    const config = await resolveProxyConfig({ argv: ['--upstream', up.url, '--rules', testRulesDir, '--no-default-rules', '--no-watch', '--log-level', 'silent', '--request-timeout', '1000'], env: {} })
    config.connections.headersTimeoutMs = 1000
    const app = await createProxy(config)
    const url = await app.listen({ host: '127.0.0.1', port: 0 })
    t.teardown(() => app.close())
    const socket = await opened(url)
    socket.write('POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{')
    const timer = setInterval(() => { if (!socket.destroyed) socket.write(' ') }, 200)
    t.teardown(() => { clearInterval(timer); socket.destroy() })
    const ms = await closedWithin(socket, 15_000)
    t.ok(ms !== undefined, `closed after ${ms ?? '>15000'} ms`)
    t.equal(up.seen.length, 0, 'nothing reached the upstream')
  })

  t.test('a streamed answer runs past the request timeout and the socket idle timeout', async (t) => {
    const up = await startRecorder(t, { sseMs: 600 })
    const config = await resolveProxyConfig({ argv: ['--upstream', up.url, '--rules', testRulesDir, '--no-default-rules', '--no-watch', '--log-level', 'silent', '--request-timeout', '1000', '--idle-timeout', '1500'], env: {} })
    config.connections.headersTimeoutMs = 1000
    config.connections.socketIdleMs = 1000
    const app = await createProxy(config)
    const url = await app.listen({ host: '127.0.0.1', port: 0 })
    t.teardown(() => app.close())
    const start = Date.now()
    const res = await request(url + '/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }) })
    const text = await res.body.text()
    t.ok(Date.now() - start > 2500, 'the stream lasted longer than both timeouts')
    t.match(text, /five/)
    t.match(text, /data: \[DONE\]/)
  })

  t.test('connections above maxConnections are closed at once', async (t) => {
    const up = await startRecorder(t)
    const { url } = await startProxy(t, up.url, ['--max-connections', '3'])
    const held = await Promise.all([opened(url), opened(url), opened(url)])
    t.teardown(() => { for (const s of held) s.destroy() })
    await new Promise((resolve) => setTimeout(resolve, 100))
    const extra = await opened(url)
    t.ok(await closedWithin(extra, 5000) !== undefined, 'the fourth connection is closed')
    for (const s of held) t.notOk(s.destroyed, 'the first three stay open')
  })

  t.test('a kept-alive socket closes after maxRequestsPerSocket and after the keep-alive timeout', async (t) => {
    const up = await startRecorder(t)
    const config = await resolveProxyConfig({ argv: ['--upstream', up.url, '--rules', testRulesDir, '--no-default-rules', '--no-watch', '--log-level', 'silent'], env: {} })
    config.connections.maxRequestsPerSocket = 2
    config.connections.keepAliveTimeoutMs = 300
    const app = await createProxy(config)
    const url = await app.listen({ host: '127.0.0.1', port: 0 })
    t.teardown(() => app.close())
    const req = 'GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n'
    const answer = await rawExchange(url, req + req + req)
    t.equal(answer.match(/HTTP\/1\.1 200/g)?.length, 2, 'two answers, then the socket is closed')
    t.match(answer, /connection: close/i)
    const idle = await opened(url)
    idle.write(req)
    const ms = await closedWithin(idle, 5000)
    t.ok(ms !== undefined, `an idle kept-alive socket closed after ${ms ?? '>5000'} ms`)
  })
})

t.test('headers', async (t) => {
  t.test('only protocol headers reach the provider; identity headers only for clients allowed them', async (t) => {
    const up = await startRecorder(t)
    const config = await resolveProxyConfig({ argv: ['--upstream', up.url, '--rules', testRulesDir, '--no-default-rules', '--no-watch', '--log-level', 'silent', '--upstream-key', 'sk-operator'], env: {} })
    config.clients = [{ id: 'trusted-team', keyHash: hashApiKey('trusted-team'), forwardHeaders: ['openai-organization'] }]
    config.apiKeyHashes = [hashApiKey('other-team')]
    const app = await createProxy(config)
    const url = await app.listen({ host: '127.0.0.1', port: 0 })
    t.teardown(() => app.close())
    const sent = {
      'openai-organization': 'org-victim',
      'openai-project': 'proj-x',
      'anthropic-beta': 'beta-x',
      'x-goog-user-project': 'p',
      'x-real-ip': '10.0.0.1',
      'x-custom': 'c',
      cookie: 'k=v',
      'x-stainless-os': 'Linux',
      'user-agent': 'OpenAI/JS 5.0',
      accept: 'application/json',
      'idempotency-key': 'idem-1',
      'openai-beta': 'assistants=v2'
    }
    t.equal((await post(url, { ...sent, authorization: 'Bearer other-team' })).status, 200)
    const first = up.seen[0]?.headers ?? {}
    for (const name of ['openai-organization', 'openai-project', 'anthropic-beta', 'x-goog-user-project', 'x-real-ip', 'x-custom', 'cookie', 'x-stainless-os']) {
      t.equal(first[name], undefined, `${name} stays at the proxy`)
    }
    t.equal(first['user-agent'], 'OpenAI/JS 5.0')
    t.equal(first['idempotency-key'], 'idem-1')
    t.equal(first['openai-beta'], 'assistants=v2')
    t.equal(first.authorization, 'Bearer sk-operator', 'the operator key, never the client one')
    t.equal((await post(url, { ...sent, authorization: 'Bearer trusted-team' })).status, 200)
    const second = up.seen[1]?.headers ?? {}
    t.equal(second['openai-organization'], 'org-victim', 'the allowed client chooses its organization')
    t.equal(second['openai-project'], undefined, 'and nothing it was not allowed')
  })

  t.test('the config refuses to let clients send credentials or hop-by-hop headers', async (t) => {
    for (const name of ['authorization', 'x-api-key', 'host', 'cookie', 'x-sluice-request-id', 'bad header']) {
      await t.rejects(resolveProxyConfig({ argv: ['--upstream', 'http://127.0.0.1:1', '--forward-header', name] }), { code: 'SLUICE_INVALID_OPTIONS' }, name)
    }
  })

  t.test('the upstream cannot set headers the client did not ask for, nor overwrite Sluice\'s', async (t) => {
    const up = await startRecorder(t)
    const { url } = await startProxy(t, up.url)
    const res = await post(url)
    t.equal(res.status, 200)
    t.not(res.headers['x-sluice-request-id'], 'forged-by-upstream')
    t.match(String(res.headers['x-sluice-request-id']), /^[0-9a-f-]{36}$/)
    t.equal(res.headers['x-internal-host'], undefined)
  })
})

t.test('request targets', async (t) => {
  t.test('an absolute-form target is refused with a JSON 400 and never forwarded', async (t) => {
    const up = await startRecorder(t)
    const { url } = await startProxy(t, up.url)
    const answer = await rawExchange(url, `POST http://evil.example:81/v1/chat/completions HTTP/1.1\r\nhost: evil.example:81\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(chatBody)}\r\nconnection: close\r\n\r\n${chatBody}`)
    t.match(answer, /^HTTP\/1\.1 400 /)
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: { code: string } }
    t.equal(body.error.code, 'SLUICE_BAD_REQUEST')
    t.equal(up.seen.length, 0)
  })

  t.test('query strings go upstream only where the provider takes them', async (t) => {
    const up = await startRecorder(t)
    const { url } = await startProxy(t, up.url)
    await post(url, {}, chatBody, '/v1/chat/completions?api-version=1&debug=true')
    t.equal(up.seen[0]?.url, '/v1/chat/completions')
    await post(url, { 'anthropic-version': '2023-06-01' }, JSON.stringify({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }), '/v1/messages?beta=true&x=1')
    t.equal(up.seen[1]?.url, '/v1/messages?beta=true')
    await post(url, {}, JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }), '/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse&key=client-key&trace=1')
    t.equal(up.seen[2]?.url, '/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse')
  })

  t.test('an encoded path in a route parameter cannot reach another endpoint', async (t) => {
    const up = await startRecorder(t)
    const { url } = await startProxy(t, up.url)
    const res = await post(url, {}, JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }), '/v1beta/models/..%2F..%2Fv1%2Ffiles:generateContent')
    t.equal(res.status, 400)
    t.equal(up.seen.length, 0)
  })

  t.test('request logs carry paths without query strings', async (t) => {
    const up = await startRecorder(t)
    const { url, logs } = await startProxy(t, up.url)
    await post(url, {}, chatBody, '/v1/chat/completions?api_key=sk-in-the-query-123')
    await post(url, {}, chatBody, '/nowhere?api_key=sk-in-the-query-456')
    t.notMatch(logs.raw(), /sk-in-the-query/)
    t.match(logs.raw(), /"path":"\/v1\/chat\/completions"/)
  })
})

t.test('caps', async (t) => {
  t.test('a deeply nested body is a 400 with a JSON error, and the proxy keeps serving', async (t) => {
    const up = await startRecorder(t)
    const { url } = await startProxy(t, up.url)
    for (const depth of [200, 100_000]) {
      const nested = '['.repeat(depth) + ']'.repeat(depth)
      const res = await post(url, {}, `{"model":"m","messages":[{"role":"user","content":"hi"}],"x":${nested}}`)
      t.equal(res.status, 400, `depth ${depth}`)
      t.equal(res.json.error.code, 'SLUICE_BAD_REQUEST')
      t.match(res.json.error.message, /nests deeper than 128/)
    }
    const shallow = '['.repeat(100) + ']'.repeat(100)
    t.equal((await post(url, {}, `{"model":"m","messages":[{"role":"user","content":"hi"}],"x":${shallow}}`)).status, 200, 'nesting under the cap is served')
    t.equal(up.seen.length, 1)
  })

  t.test('a client that keeps sending an oversized body still reads its 413', async (t) => {
    const up = await startRecorder(t)
    const { url } = await startProxy(t, up.url)
    for (const framing of ['content-length', 'chunked'] as const) {
      const size = 5 * 1024 * 1024
      const socket = await opened(url)
      let out = ''
      socket.on('data', (d: Buffer) => { out += d.toString() })
      const errors: string[] = []
      socket.on('error', (err: NodeJS.ErrnoException) => { errors.push(err.code ?? err.message) })
      const head = framing === 'chunked' ? 'transfer-encoding: chunked' : `content-length: ${size}`
      socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${head}\r\n\r\n`)
      const piece = Buffer.alloc(64 * 1024, 'a')
      for (let sent = 0; sent < size && !socket.destroyed; sent += piece.length) {
        const data = framing === 'chunked' ? Buffer.concat([Buffer.from(piece.length.toString(16) + '\r\n'), piece, Buffer.from('\r\n')]) : piece
        if (socket.write(data)) continue
        // A server that stopped reading leaves the client blocked: that is a failure too, not a hang.
        const drained = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), 5000)
          socket.once('drain', () => { clearTimeout(timer); resolve(true) })
        })
        if (!drained) {
          errors.push('the proxy stopped reading the body')
          break
        }
      }
      if (framing === 'chunked' && !socket.destroyed) socket.write('0\r\n\r\n')
      await closedWithin(socket, 10_000)
      t.same(errors, [], `${framing}: no EPIPE or reset while sending`)
      t.match(out, /^HTTP\/1\.1 413 /, `${framing}: the client reads the 413`)
      t.match(out, /SLUICE_PAYLOAD_TOO_LARGE/)
    }
    t.equal(up.seen.length, 0)
  })
})

t.test('metrics exposure', async (t) => {
  t.test('behind a bearer token', async (t) => {
    const up = await startRecorder(t)
    const token = 'metrics-token-0123456789'
    const { url } = await startProxy(t, up.url, ['--metrics-token', token])
    const anonymous = await request(url + '/metrics')
    t.equal(anonymous.statusCode, 401)
    t.equal((await anonymous.body.json() as { error: { code: string } }).error.code, 'SLUICE_UNAUTHORIZED')
    const wrong = await request(url + '/metrics', { headers: { authorization: 'Bearer metrics-token-0123456780' } })
    t.equal(wrong.statusCode, 401)
    await wrong.body.text()
    const ok = await request(url + '/metrics', { headers: { authorization: `Bearer ${token}` } })
    t.equal(ok.statusCode, 200)
    t.match(await ok.body.text(), /sluice_/)
  })

  t.test('on its own listener, and not on the proxy\'s', async (t) => {
    const up = await startRecorder(t)
    const { url, app } = await startProxy(t, up.url, ['--metrics-port', '0'])
    const onProxy = await request(url + '/metrics')
    t.equal(onProxy.statusCode, 404)
    await onProxy.body.text()
    const metricsUrl = app.sluiceProxy.metricsUrl
    t.ok(metricsUrl !== undefined && metricsUrl !== url + '/metrics', `metrics at ${metricsUrl ?? '?'}`)
    const res = await request(metricsUrl ?? '')
    t.equal(res.statusCode, 200)
    t.match(await res.body.text(), /sluice_/)
    const other = await request((metricsUrl ?? '').replace('/metrics', '/v1/models'))
    t.equal(other.statusCode, 404)
    await other.body.text()
  })

  t.test('a too-short token is a config error', async (t) => {
    await t.rejects(resolveProxyConfig({ argv: ['--upstream', 'http://127.0.0.1:1', '--metrics-token', 'short'] }), { code: 'SLUICE_INVALID_OPTIONS' })
  })
})

t.test('the audit chain of a proxy rotates by size, carries across files and ends sealed', async (t) => {
  const up = await startRecorder(t)
  const file = join(t.testdir({}), 'audit.jsonl')
  const config = await resolveProxyConfig({ argv: ['--upstream', up.url, '--rules', testRulesDir, '--no-default-rules', '--no-watch', '--log-level', 'silent', '--audit', file, '--audit-chain-key', 'chain-key-for-tests'], env: {} })
  config.auditRotate = { maxBytes: 2048 }
  config.auditCheckpointEvery = 5
  const app = await createProxy(config)
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  for (let i = 0; i < 12; i++) {
    await post(url, {}, JSON.stringify({ model: 'm', messages: [{ role: 'user', content: `write to maria.${i}@example.com` }] }))
  }
  const open = await verifyAuditLog([...listRotatedFiles(file), file], { chainKey: 'chain-key-for-tests' })
  t.equal(open.ok, false, 'a log still open is not sealed')
  t.equal(open.ok === false && open.unsealed, true)
  await app.close()
  const files = [...listRotatedFiles(file), file]
  t.ok(files.length >= 3, `rotated into ${files.length} files`)
  const closed = await verifyAuditLog(files, { chainKey: 'chain-key-for-tests' })
  t.equal(closed.ok, true, JSON.stringify(closed))
  t.equal(closed.ok && closed.sealedBy, 'close')
  const withoutMiddle = await verifyAuditLog(files.filter((_, i) => i !== 1), { chainKey: 'chain-key-for-tests' })
  t.equal(withoutMiddle.ok, false, 'a missing middle file is detected')
})
