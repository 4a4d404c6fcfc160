/**
 * The plugin's onSend is deny by default, over real sockets with an undici
 * client: every status, payload type (string, Buffer, Node stream, web
 * Response), media type, charset and content encoding a route can send is
 * scanned or refused. Bodies are read as clients read them (JSON-parsed).
 */
import { Readable } from 'node:stream'
import { gzipSync } from 'node:zlib'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import type { Test } from 'tap'
import { request } from 'undici'
import { sluice } from '../../src/plugin/index.js'
import type { SluicePluginOptions } from '../../src/plugin/index.js'
import { assembledContent, chatCompletion, chatNdjsonLines, chatSseFrames, expectedText, kCard, kEmail, kHmacKey, testRules, tokensOf } from '../fixtures/plugin/streams.js'

const ruleSet = await testRules()
const pii = `Reach Maria at ${kEmail}, card ${kCard}.`
const canaries = [kEmail, kCard, kCard.replaceAll(' ', '')]

async function listen (t: Test, routes: (app: FastifyInstance) => void, opts: SluicePluginOptions = {}): Promise<string> {
  const app = Fastify()
  await app.register(sluice, { rules: ruleSet, hmacKey: kHmacKey, ...opts })
  routes(app)
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => app.close())
  return url
}

async function get (url: string): Promise<{ status: number, headers: Record<string, string | string[] | undefined>, body: string }> {
  const res = await request(url)
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() }
}

function assertClean (t: Test, body: string, what: string): void {
  for (const canary of canaries) t.notOk(body.includes(canary), `${what}: no ${canary} in the bytes`)
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return
  }
  const strings = JSON.stringify(parsed, (_key, value: unknown) => value)
  for (const canary of canaries) t.notOk(strings.includes(canary), `${what}: no ${canary} once parsed`)
}

t.test('SSE and NDJSON payloads sent as a string or a Buffer are sanitized', async (t) => {
  const sse = chatSseFrames(tokensOf(pii)).join('')
  const ndjson = chatNdjsonLines(tokensOf(pii)).join('')
  const url = await listen(t, (app) => {
    app.get('/sse-string', async (_request, reply) => reply.type('text/event-stream').send(sse))
    app.get('/sse-buffer', async (_request, reply) => reply.type('text/event-stream').send(Buffer.from(sse)))
    app.get('/ndjson-buffer', async (_request, reply) => reply.type('application/x-ndjson').send(Buffer.from(ndjson)))
    app.get('/ndjson-stream', async (_request, reply) => reply.type('application/ndjson').send(Readable.from(chatNdjsonLines(tokensOf(pii)))))
  })
  for (const path of ['/sse-string', '/sse-buffer']) {
    const res = await get(url + path)
    t.equal(assembledContent(res.body), expectedText(ruleSet, pii), path)
    assertClean(t, res.body, path)
  }
  for (const path of ['/ndjson-buffer', '/ndjson-stream']) {
    const res = await get(url + path)
    t.equal(assembledContent(res.body, 'ndjson'), expectedText(ruleSet, pii), path)
    assertClean(t, res.body, path)
  }
})

t.test('error bodies of every status are scanned', async (t) => {
  const url = await listen(t, (app) => {
    app.get('/:status', async (request, reply) => {
      const status = Number((request.params as { status: string }).status)
      return reply.code(status).send({ error: { message: `no account for ${kEmail}`, card: kCard } })
    })
  })
  for (const status of [301, 400, 429, 500, 503]) {
    const res = await get(`${url}/${status}`)
    t.equal(res.status, status)
    assertClean(t, res.body, String(status))
    t.match(JSON.parse(res.body).error.message, /^no account for \[email:/)
  }
})

t.test('a body the route compressed is decoded, scanned and sent as identity', async (t) => {
  const url = await listen(t, (app) => {
    app.get('/gzip-json', async (_request, reply) => reply.type('application/json').header('content-encoding', 'gzip').send(gzipSync(JSON.stringify(chatCompletion(pii)))))
    app.get('/gzip-sse', async (_request, reply) => reply.type('text/event-stream').header('content-encoding', 'gzip').send(Readable.from([gzipSync(chatSseFrames(tokensOf(pii)).join(''))])))
    app.get('/zip', async (_request, reply) => reply.type('application/json').header('content-encoding', 'compress').send('{}'))
  })
  const json = await get(url + '/gzip-json')
  t.equal(json.headers['content-encoding'], undefined)
  t.equal(JSON.parse(json.body).choices[0].message.content, expectedText(ruleSet, pii))
  const sse = await get(url + '/gzip-sse')
  t.equal(sse.headers['content-encoding'], undefined)
  t.equal(assembledContent(sse.body), expectedText(ruleSet, pii))
  const zip = await get(url + '/zip')
  t.equal(zip.status, 502)
  t.equal(zip.headers['content-encoding'], undefined, 'the error is not labelled compressed')
  t.equal(JSON.parse(zip.body).code, 'SLUICE_UNSUPPORTED_ENCODING')
})

t.test('a web Response payload is scanned with its own status and headers', async (t) => {
  const url = await listen(t, (app) => {
    app.get('/response', async () => new Response(JSON.stringify({ detail: pii }), { status: 418, headers: { 'content-type': 'application/problem+json' } }))
  })
  const res = await get(url + '/response')
  t.equal(res.status, 418)
  t.match(String(res.headers['content-type']), /^application\/problem\+json/)
  t.equal(JSON.parse(res.body).detail, expectedText(ruleSet, pii))
})

t.test('JSON is re-serialized: duplicate keys, a BOM, escapes and numbers cannot smuggle a value', async (t) => {
  const url = await listen(t, (app) => {
    app.get('/dup', async (_request, reply) => reply.type('application/json').send(`{"choices":[{"index":0,"message":{"content":"${kEmail}","content":"hi"}}],"object":"chat.completion"}`))
    app.get('/bom', async (_request, reply) => reply.type('application/json').send(Buffer.from(`\uFEFF{"note":"${kEmail.replace('@', '\\u0040')}"}`)))
    app.get('/number', async (_request, reply) => reply.type('application/json').send(`{"n":${kCard.replaceAll(' ', '')}}`))
    app.get('/key', async () => ({ [kEmail]: true }))
  })
  const dup = await get(url + '/dup')
  assertClean(t, dup.body, 'duplicate keys')
  t.equal(JSON.parse(dup.body).choices[0].message.content, 'hi')
  const bom = await get(url + '/bom')
  assertClean(t, bom.body, 'BOM')
  t.equal(JSON.parse(bom.body).note, expectedText(ruleSet, kEmail))
  const number = await get(url + '/number')
  assertClean(t, number.body, 'number')
  const key = await get(url + '/key')
  assertClean(t, key.body, 'key')
})

t.test('a body over maxBodySize is a coded 502 and the next request is served', async (t) => {
  const url = await listen(t, (app) => {
    app.get('/big', async (_request, reply) => reply.type('text/plain').send(Readable.from(['x'.repeat(600), kEmail, 'y'.repeat(600)])))
    app.get('/small', async (_request, reply) => reply.type('text/plain').send(pii))
  }, { maxBodySize: 1024 })
  const big = await get(url + '/big')
  t.equal(big.status, 502)
  t.equal(JSON.parse(big.body).code, 'SLUICE_BODY_TOO_LARGE')
  assertClean(t, big.body, 'too large')
  const small = await get(url + '/small')
  t.equal(small.status, 200)
  t.equal(small.body, expectedText(ruleSet, pii))
})

t.test('a UTF-16 body is decoded before scanning; an unknown charset is refused', async (t) => {
  const url = await listen(t, (app) => {
    app.get('/utf16', async (_request, reply) => reply.type('application/json; charset=utf-16le').send(Buffer.from(JSON.stringify({ detail: pii }), 'utf16le')))
    app.get('/unknown', async (_request, reply) => reply.type('text/plain; charset=x-martian').send(Buffer.from(pii)))
  })
  const utf16 = await get(url + '/utf16')
  t.equal(utf16.headers['content-type'], 'application/json; charset=utf-8')
  t.equal(JSON.parse(utf16.body).detail, expectedText(ruleSet, pii))
  const unknown = await get(url + '/unknown')
  t.equal(unknown.status, 502)
  t.equal(JSON.parse(unknown.body).code, 'SLUICE_UNSUPPORTED_ENCODING')
  assertClean(t, unknown.body, 'unknown charset')
})

t.test('a route with sluice: false still passes untouched', async (t) => {
  const url = await listen(t, (app) => {
    app.get('/raw', { config: { sluice: false } }, async (_request, reply) => reply.type('application/octet-stream').send(Buffer.from(pii)))
  })
  t.equal((await get(url + '/raw')).body, pii)
})

t.test('invalid binary and maxBodySize options fail at register time', async (t) => {
  await t.rejects(listen(t, () => {}, { binary: 'maybe' as 'pass' }), { code: 'SLUICE_INVALID_OPTIONS' })
  await t.rejects(listen(t, () => {}, { maxBodySize: 0 }), { code: 'SLUICE_INVALID_OPTIONS' })
})
