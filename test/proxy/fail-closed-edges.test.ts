/**
 * @module test/proxy/fail-closed-edges
 * The proxy in front of a hostile upstream (a bare node:http server that
 * answers whatever the test says): every status, media type, charset,
 * content encoding and header an upstream can choose either reaches the
 * client scanned or is refused with a coded error. What the client gets
 * is decoded the way clients decode it — the body JSON-parsed, an event
 * stream's `data:` lines JSON-parsed — and the canaries are looked for in
 * the parsed strings, not only in the raw bytes.
 */
import { createServer } from 'node:http'
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib'
import t from 'tap'
import type { Test } from 'tap'
import { request } from 'undici'
import { defaultRulesDir } from '../../src/rules/load-rules.js'
import { startProxy } from './fixtures/harness.js'
import type { StartedProxy } from './fixtures/harness.js'

// Not example.com: the shipped rules leave documentation domains (RFC 2606) alone.
const kEmail = 'jane.doe@acme.io'
const kCard = '4111 1111 1111 1111'
const kCanaries = [kEmail, kCard, kCard.replaceAll(' ', '')]
const chatPath = '/v1/chat/completions'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

interface Rig extends StartedProxy {
  /** What the upstream answers next (every request until changed). */
  answer: (handler: Handler) => void
}

/** A proxy (shipped rules, no retries) before a hostile upstream. */
async function startRig (t: Test, argv: string[] = []): Promise<Rig> {
  let handler: Handler = (_req, res) => { res.end() }
  const upstream = createServer((req, res) => {
    req.resume()
    req.once('end', () => { handler(req, res) })
  })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    upstream.closeAllConnections()
    upstream.close(() => resolve())
  }))
  const port = (upstream.address() as AddressInfo).port
  const proxy = await startProxy(t, `http://127.0.0.1:${port}`, ['--rules', defaultRulesDir(), '--retries', '0', ...argv])
  return { ...proxy, answer: (next) => { handler = next } }
}

/** An upstream answer: status, raw header list (names may repeat), body. */
function send (status: number, headers: Array<[string, string]>, body: string | Buffer): Handler {
  return (_req, res) => {
    res.writeHead(status, headers.flat() as unknown as OutgoingHttpHeaders)
    res.end(body)
  }
}

interface Exchange {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

async function postChat (rig: Rig, stream = false): Promise<Exchange> {
  const res = await request(rig.url + chatPath, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', stream, messages: [{ role: 'user', content: 'hi' }] })
  })
  // undici does not decompress: these are the bytes on the wire, as UTF-8.
  const body = await res.body.text()
  return { status: res.statusCode, headers: res.headers, body }
}

/** Every string a JSON value holds: values, keys, and numbers as JSON writes them. */
function stringsOf (value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value)
  else if (typeof value === 'number') out.push(JSON.stringify(value))
  else if (Array.isArray(value)) for (const item of value) stringsOf(item, out)
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      out.push(key)
      stringsOf(item, out)
    }
  }
  return out
}

/** What a client reads from a body: the parsed JSON, else each event's parsed `data:`, else the text. */
function readableStrings (body: string): string[] {
  const text = body.replace(/^\uFEFF/, '')
  try {
    return stringsOf(JSON.parse(text))
  } catch {}
  const out: string[] = [text]
  for (const line of text.split(/\r?\n/)) {
    const data = /^data: ?(.*)$/.exec(line)?.[1] ?? line
    try {
      stringsOf(JSON.parse(data), out)
    } catch {}
  }
  return out
}

function assertClean (t: Test, body: string, what: string): void {
  const strings = readableStrings(body)
  for (const canary of kCanaries) {
    t.notOk(body.includes(canary), `${what}: ${canary} is not in the bytes`)
    t.notOk(strings.some((s) => s.includes(canary)), `${what}: ${canary} is not in what the client parses`)
  }
}

function chatCompletion (content: string): Record<string, unknown> {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1754000000,
    model: 'm',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }]
  }
}

function sseOf (contents: readonly string[]): string {
  return contents.map((content) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`).join('') + 'data: [DONE]\n\n'
}

const pii = `Write to ${kEmail} or pay with ${kCard}.`

t.test('4xx, 429 and 5xx bodies are scanned, or never sent', async (t) => {
  const rig = await startRig(t)
  for (const status of [400, 404, 422, 429]) {
    rig.answer(send(status, [['content-type', 'application/json'], ['retry-after', '1']], JSON.stringify({ error: { message: `unknown user ${kEmail}, card ${kCard}`, type: 'invalid_request_error' } })))
    const res = await postChat(rig)
    t.equal(res.status, status, `${status} keeps its status`)
    assertClean(t, res.body, String(status))
    t.match(JSON.parse(res.body).error.message, /^unknown user \[email:[0-9a-f]+\], card/, `${status}: the rest of the message is kept`)
  }
  rig.answer(send(503, [['content-type', 'text/plain']], `overloaded, ask ${kEmail}`))
  const failed = await postChat(rig)
  t.equal(failed.status, 502)
  assertClean(t, failed.body, '503')
})

t.test('text/plain and text/html bodies are scanned as text', async (t) => {
  const rig = await startRig(t)
  for (const type of ['text/plain', 'text/html; charset=utf-8']) {
    rig.answer(send(200, [['content-type', type]], `<p>${pii}</p>`))
    const res = await postChat(rig)
    t.equal(res.status, 200)
    t.match(String(res.headers['content-type']), new RegExp(`^${type.split(';')[0] as string}; charset=utf-8`))
    t.match(res.body, /^<p>Write to \[email:[0-9a-f]+\] or pay with /)
    assertClean(t, res.body, type)
  }
})

t.test('a binary media type is refused with a coded 502', async (t) => {
  const rig = await startRig(t)
  for (const type of ['application/octet-stream', 'image/png', 'application/pdf']) {
    rig.answer(send(200, [['content-type', type]], pii))
    const res = await postChat(rig)
    t.equal(res.status, 502, type)
    t.equal(JSON.parse(res.body).error.code, 'SLUICE_UNSCANNABLE_MEDIA_TYPE', type)
    assertClean(t, res.body, type)
  }
})

t.test('a body with no content type, or a content type given twice, is sniffed and scanned', async (t) => {
  const rig = await startRig(t)
  const json = JSON.stringify(chatCompletion(pii))
  const cases: Array<[string, Array<[string, string]>, string]> = [
    ['no content type, JSON', [], json],
    ['no content type, SSE', [], sseOf([pii])],
    ['no content type, text', [], pii],
    ['content type twice', [['content-type', 'text/plain'], ['content-type', 'application/json']], json],
    ['comma-joined content types', [['content-type', 'image/png, application/json']], json],
    ['SSE under two labels', [['content-type', 'application/octet-stream'], ['content-type', 'text/event-stream']], sseOf([pii])]
  ]
  for (const [name, headers, body] of cases) {
    rig.answer(send(200, headers, body))
    const res = await postChat(rig)
    t.equal(res.status, 200, name)
    t.notOk(Array.isArray(res.headers['content-type']), `${name}: one content type goes out`)
    assertClean(t, res.body, name)
  }
  rig.answer(send(200, [], json))
  const sniffed = await postChat(rig)
  t.match(String(sniffed.headers['content-type']), /^application\/json; charset=utf-8/, 'labelled as what it was read as')
  t.match(JSON.parse(sniffed.body).choices[0].message.content, /^Write to \[email:/)
})

t.test('application/problem+json and other +json bodies are parsed and scanned', async (t) => {
  const rig = await startRig(t)
  for (const type of ['application/problem+json', 'application/vnd.acme+json; charset=utf-8']) {
    rig.answer(send(403, [['content-type', type]], JSON.stringify({ type: 'about:blank', title: 'Forbidden', detail: pii, owner: { [kEmail]: 4111111111111111 } })))
    const res = await postChat(rig)
    t.equal(res.status, 403)
    t.match(String(res.headers['content-type']), new RegExp(`^${(type.split(';')[0] as string).replace('+', '\\+')}`))
    const body = JSON.parse(res.body)
    t.equal(body.title, 'Forbidden')
    assertClean(t, res.body, type)
  }
})

t.test('a JSON body with duplicate keys goes out re-serialized: the first value never reaches the client', async (t) => {
  const rig = await startRig(t)
  // JSON.parse keeps the last "content"; a first-key-wins reader would see the e-mail.
  const raw = `{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"${kEmail}","content":"hi"},"finish_reason":"stop"}],"error":"${kEmail}","error":"none"}`
  rig.answer(send(200, [['content-type', 'application/json']], raw))
  const res = await postChat(rig)
  t.equal(res.status, 200)
  assertClean(t, res.body, 'duplicate keys')
  t.equal(JSON.parse(res.body).choices[0].message.content, 'hi')
})

t.test('a UTF-8 BOM before escaped JSON does not smuggle the value out', async (t) => {
  const rig = await startRig(t)
  // `res.json()` strips the BOM and decodes \u0040: the e-mail must be found in the parsed value.
  const raw = '\uFEFF{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"mail jane.doe\\u0040acme.io"},"finish_reason":"stop"}],"note":"jane.doe\\u0040acme.io"}'
  rig.answer(send(200, [['content-type', 'application/json']], raw))
  const res = await postChat(rig)
  t.equal(res.status, 200)
  assertClean(t, res.body, 'BOM + escape')
  t.match(JSON.parse(res.body).choices[0].message.content, /^mail \[email:/)
})

t.test('a UTF-16 body (declared, or by its BOM) is decoded, scanned and sent as UTF-8', async (t) => {
  const rig = await startRig(t)
  const json = JSON.stringify(chatCompletion(pii))
  const be = Buffer.from(json, 'utf16le').swap16()
  const cases: Array<[string, string, Buffer]> = [
    ['utf-16le declared', 'application/json; charset=utf-16le', Buffer.from(json, 'utf16le')],
    ['utf-16be declared', 'application/json; charset=UTF-16BE', be],
    ['utf-16 BOM, no charset', 'application/json', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(json, 'utf16le')])],
    ['text/plain in utf-16le', 'text/plain; charset="utf-16le"', Buffer.from(pii, 'utf16le')]
  ]
  for (const [name, type, bytes] of cases) {
    rig.answer(send(200, [['content-type', type]], bytes))
    const res = await postChat(rig)
    t.equal(res.status, 200, name)
    t.match(String(res.headers['content-type']), /; charset=utf-8$/, `${name}: labelled UTF-8`)
    t.match(res.body, /Write to \[email:[0-9a-f]+\]/, `${name}: read as text, and redacted`)
    assertClean(t, res.body, name)
  }
  rig.answer(send(200, [['content-type', 'application/json; charset=x-unknown-8']], json))
  const unknown = await postChat(rig)
  t.equal(unknown.status, 502)
  t.equal(JSON.parse(unknown.body).error.code, 'SLUICE_UNSUPPORTED_ENCODING')
  assertClean(t, unknown.body, 'unknown charset')
})

t.test('gzip, deflate and br bodies (JSON and SSE) are decoded, scanned and sent as identity', async (t) => {
  const rig = await startRig(t)
  const encoders: Array<[string, (b: Buffer) => Buffer]> = [['gzip', gzipSync], ['x-gzip', gzipSync], ['deflate', deflateSync], ['br', brotliCompressSync]]
  for (const [coding, encode] of encoders) {
    rig.answer(send(200, [['content-type', 'application/json'], ['content-encoding', coding]], encode(Buffer.from(JSON.stringify(chatCompletion(pii))))))
    const json = await postChat(rig)
    t.equal(json.status, 200, `${coding} JSON`)
    t.equal(json.headers['content-encoding'], undefined, `${coding}: no content-encoding goes out`)
    t.match(JSON.parse(json.body).choices[0].message.content, /^Write to \[email:/, `${coding} JSON is read`)
    assertClean(t, json.body, `${coding} JSON`)

    rig.answer(send(200, [['content-type', 'text/event-stream'], ['content-encoding', coding]], encode(Buffer.from(sseOf(['Write to jane.doe', '@acme.io or pay with 4111 1111 ', '1111 1111.'])))))
    const sse = await postChat(rig, true)
    t.equal(sse.status, 200, `${coding} SSE`)
    t.equal(sse.headers['content-encoding'], undefined)
    t.match(sse.body, /\[email:[0-9a-f]+\]/, `${coding} SSE is read`)
    t.match(sse.body, /data: \[DONE\]/)
    assertClean(t, sse.body, `${coding} SSE`)
  }
  rig.answer(send(200, [['content-type', 'application/json'], ['content-encoding', 'compress']], JSON.stringify(chatCompletion(pii))))
  const unknown = await postChat(rig)
  t.equal(unknown.status, 502)
  t.equal(JSON.parse(unknown.body).error.code, 'SLUICE_UNSUPPORTED_ENCODING')
  assertClean(t, unknown.body, 'unknown coding')
  rig.answer(send(200, [['content-type', 'application/json'], ['content-encoding', 'gzip']], Buffer.from(`{"content":"${kEmail}"} not gzip`)))
  const corrupt = await postChat(rig)
  t.equal(corrupt.status, 502)
  t.equal(JSON.parse(corrupt.body).error.code, 'SLUICE_UNSCANNABLE_BODY')
  assertClean(t, corrupt.body, 'corrupt gzip')
})

t.test('a body over maxBodySize is a coded 502, and the proxy serves the next request', async (t) => {
  const rig = await startRig(t, ['--max-body-size', '2048'])
  let closed = false
  rig.answer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.write(`{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"${kEmail} `)
    const timer = setInterval(() => { res.write('x'.repeat(1024)) }, 5)
    res.once('close', () => {
      clearInterval(timer)
      closed = true
    })
  })
  const res = await postChat(rig)
  t.equal(res.status, 502)
  t.equal(JSON.parse(res.body).error.code, 'SLUICE_BODY_TOO_LARGE')
  assertClean(t, res.body, 'too large')
  // The upstream body was destroyed: the endless answer's connection closes.
  const until = Date.now() + 5000
  // eslint-disable-next-line no-unmodified-loop-condition -- set by a callback
  while (!closed && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20))
  t.ok(closed, 'the upstream request was aborted')
  // A gzip bomb is capped by its decoded size.
  rig.answer(send(200, [['content-type', 'text/plain'], ['content-encoding', 'gzip']], gzipSync(Buffer.alloc(1024 * 1024, 0x61))))
  t.equal(JSON.parse((await postChat(rig)).body).error.code, 'SLUICE_BODY_TOO_LARGE')
  rig.answer(send(200, [['content-type', 'application/json']], JSON.stringify(chatCompletion(pii))))
  const next = await postChat(rig)
  t.equal(next.status, 200)
  assertClean(t, next.body, 'next')
})

t.test('only allowed upstream headers reach the client, scanned; Sluice\'s own are never overwritten', async (t) => {
  const rig = await startRig(t)
  rig.answer(send(200, [
    ['content-type', 'application/json'],
    ['x-sluice-request-id', 'forged-by-upstream'],
    ['x-sluice-anything', 'forged'],
    ['x-request-id', `req-${kEmail}`],
    ['request-id', 'req_0123456789'],
    ['x-ratelimit-remaining-requests', '99'],
    ['anthropic-ratelimit-tokens-remaining', '1000'],
    ['retry-after', '1'],
    ['openai-processing-ms', '12'],
    ['cache-control', 'no-store'],
    ['x-debug-user', kEmail],
    ['set-cookie', 'session=1'],
    ['server', 'evil/1.0'],
    ['x-ratelimit-limit-requests', 'x'.repeat(300)],
    ['x-ratelimit-limit-tokens', '4111111111111111']
  ], JSON.stringify(chatCompletion('hello'))))
  const res = await postChat(rig)
  t.equal(res.status, 200)
  t.match(String(res.headers['x-sluice-request-id']), /^[0-9a-f-]{36}$/, 'Sluice\'s own request id')
  t.equal(res.headers['x-sluice-anything'], undefined)
  t.equal(res.headers['x-request-id'], undefined, 'a value carrying an e-mail is dropped')
  t.equal(res.headers['request-id'], 'req_0123456789')
  t.equal(res.headers['x-ratelimit-remaining-requests'], '99')
  t.equal(res.headers['anthropic-ratelimit-tokens-remaining'], '1000')
  t.equal(res.headers['retry-after'], '1')
  t.equal(res.headers['openai-processing-ms'], '12')
  t.equal(res.headers['cache-control'], 'no-store')
  t.equal(res.headers['x-debug-user'], undefined, 'an unknown header is dropped')
  t.equal(res.headers['set-cookie'], undefined)
  t.not(res.headers.server, 'evil/1.0')
  t.equal(res.headers['x-ratelimit-limit-requests'], undefined, 'an overlong value is dropped')
  t.equal(res.headers['x-ratelimit-limit-tokens'], undefined, 'a card number is dropped')
  for (const value of Object.values(res.headers)) {
    for (const canary of kCanaries) t.notOk(String(value).includes(canary))
  }
})

t.test('an SSE body on a 4xx (sent whole) is read as a stream and scanned', async (t) => {
  const rig = await startRig(t)
  rig.answer(send(400, [['content-type', 'text/event-stream']], sseOf(['Write to jane.', `doe@acme.io or ${kCard}.`])))
  const res = await postChat(rig, true)
  t.equal(res.status, 400)
  t.match(res.body, /\[email:[0-9a-f]+\]/)
  assertClean(t, res.body, '4xx SSE')
})

t.test('GET /v1/models is scanned like every answer', async (t) => {
  const rig = await startRig(t)
  rig.answer(send(200, [['content-type', 'application/json']], JSON.stringify({ object: 'list', data: [{ id: 'gpt-x', object: 'model', owned_by: kEmail }] })))
  const res = await request(rig.url + '/v1/models')
  const body = await res.body.text()
  t.equal(res.statusCode, 200)
  t.equal(JSON.parse(body).data[0].id, 'gpt-x')
  assertClean(t, body, 'models')
})
