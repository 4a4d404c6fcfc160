import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import t from 'tap'
import type { Test } from 'tap'
import { request } from 'undici'
import { fixture, jsonFrames, parseNdjson, parseSse } from '../stream/replay.js'
import { startProxy } from './fixtures/harness.js'

type Json = Record<string, any>

interface Seen {
  url: string
  body: Json
  headers: IncomingMessage['headers']
}

/**
 * A small upstream that answers each provider route with a fixture (or with
 * what the test sets in `answers`) and records what it was sent.
 */
async function startUpstream (t: Test, answers: Record<string, { type: string, body: string | Buffer }> = {}): Promise<{ url: string, seen: Seen[] }> {
  const seen: Seen[] = []
  const routes: Array<[RegExp, (body: Json) => { type: string, body: string | Buffer }]> = [
    [/:streamGenerateContent\?alt=sse$/, () => ({ type: 'text/event-stream', body: fixture('gemini.sse') })],
    [/:generateContent$/, () => ({ type: 'application/json', body: JSON.stringify({ candidates: [{ content: { parts: [{ text: 'Write to jane.doe@acme.io.' }], role: 'model' }, finishReason: 'STOP', index: 0 }], modelVersion: 'gemini-2.5-flash' }) })],
    [/^\/api\/chat$/, (b) => b.stream === false
      ? { type: 'application/json; charset=utf-8', body: JSON.stringify({ model: 'qwen3:8b', created_at: '2025-08-01T10:00:00Z', message: { role: 'assistant', content: 'Mail jane.doe@acme.io' }, done: true, done_reason: 'stop' }) }
      : { type: 'application/x-ndjson', body: fixture('ollama-chat.ndjson') }],
    [/^\/api\/generate$/, () => ({ type: 'application/x-ndjson', body: fixture('ollama-generate.ndjson') })],
    [/^\/v2\/chat$/, () => ({ type: 'text/event-stream', body: fixture('cohere-chat.sse') })]
  ]
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Json
      const url = req.url ?? ''
      seen.push({ url, body, headers: req.headers })
      const answer = answers[url] ?? routes.find(([re]) => re.test(url))?.[1](body)
      if (answer === undefined) {
        res.writeHead(404).end()
        return
      }
      res.writeHead(200, { 'content-type': answer.type })
      // Two writes, so the client side sees the stream in more than one piece.
      const bytes = Buffer.from(answer.body)
      res.write(bytes.subarray(0, bytes.length >> 1))
      res.end(bytes.subarray(bytes.length >> 1))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return { url: `http://127.0.0.1:${port}`, seen }
}

async function post (url: string, body: unknown): Promise<{ status: number, type: string, text: string }> {
  const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: res.statusCode, type: String(res.headers['content-type']), text: await res.body.text() }
}

function geminiText (text: string, thought: boolean): string {
  return (jsonFrames(parseSse(text).frames) as Json[])
    .flatMap((c) => c.candidates?.[0]?.content?.parts ?? [])
    .filter((p: Json) => typeof p.text === 'string' && (p.thought === true) === thought)
    .map((p: Json) => p.text as string).join('')
}

t.test('Gemini streamGenerateContent?alt=sse goes through the proxy sanitized', async (t) => {
  const upstream = await startUpstream(t)
  const { url } = await startProxy(t, upstream.url)
  const res = await post(url + '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse', {
    contents: [{ role: 'user', parts: [{ text: 'My address is bob@corp.io, find Jane.' }] }],
    systemInstruction: { parts: [{ text: 'Be brief.' }] }
  })
  t.equal(res.status, 200)
  t.match(res.type, /^text\/event-stream/)
  t.notOk(res.text.includes('jane.doe'), 'no e-mail in the answer, in text, thoughts or function args')
  t.match(geminiText(res.text, false), /^Sure! You can reach Jane at \[EMAIL\] or call/)
  t.match(geminiText(res.text, true), /contact of \[EMAIL\]/)
  t.equal(upstream.seen[0]?.url, '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse', 'path and query forwarded')
  t.same(upstream.seen[0]?.body.contents[0].parts[0], { text: 'My address is [EMAIL], find Jane.' }, 'the prompt was redacted before it left')
  t.same(upstream.seen[0]?.body.systemInstruction, { parts: [{ text: 'Be brief.' }] })
})

t.test('Gemini clients authenticate as its SDKs do (x-goog-api-key or ?key=); the upstream gets the provider key, never theirs', async (t) => {
  const upstream = await startUpstream(t)
  const { url } = await startProxy(t, upstream.url, [], { SLUICE_API_KEYS: 'sluice-client-key', SLUICE_UPSTREAM_KEYS: 'provider-key' })
  const body = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] })
  const path = '/v1beta/models/gemini-2.5-flash:generateContent'
  const byHeader = await request(url + path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-goog-api-key': 'sluice-client-key' }, body })
  await byHeader.body.text()
  t.equal(byHeader.statusCode, 200, 'x-goog-api-key accepted')
  const streamPath = '/v1beta/models/gemini-2.5-flash:streamGenerateContent'
  const byQuery = await request(url + streamPath + '?key=sluice-client-key&alt=sse', { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  await byQuery.body.text()
  t.equal(byQuery.statusCode, 200, '?key= accepted')
  const wrong = await request(url + path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-goog-api-key': 'nope' }, body })
  await wrong.body.text()
  t.equal(wrong.statusCode, 401, 'a wrong key is refused')
  t.equal(upstream.seen.length, 2)
  for (const seen of upstream.seen) {
    t.equal(seen.headers['x-goog-api-key'], 'provider-key', 'the provider key, in the header Gemini reads')
    t.equal(seen.headers.authorization, undefined)
    t.notOk(JSON.stringify(seen).includes('sluice-client-key'), 'the client\'s key never reaches the upstream')
  }
  t.equal(upstream.seen[1]?.url, streamPath + '?alt=sse', 'the key parameter is taken out, the others kept')
})

t.test('Gemini generateContent answers a sanitized JSON body', async (t) => {
  const upstream = await startUpstream(t)
  const { url } = await startProxy(t, upstream.url)
  const res = await post(url + '/v1beta/models/gemini-2.5-flash:generateContent', { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] })
  t.equal(res.status, 200)
  const body = JSON.parse(res.text) as Json
  t.equal(body.candidates[0].content.parts[0].text, 'Write to [EMAIL].')
  t.same(upstream.seen[0]?.body, { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }, 'an unchanged prompt goes as it came')
})

t.test('Gemini routes refuse other model methods and bodies without contents', async (t) => {
  const upstream = await startUpstream(t)
  const { url } = await startProxy(t, upstream.url)
  const other = await post(url + '/v1beta/models/gemini-2.5-flash:countTokens', { contents: [] })
  t.equal(other.status, 400)
  const missing = await post(url + '/v1beta/models/gemini-2.5-flash:generateContent', { prompt: 'x' })
  t.equal(missing.status, 400)
  t.equal(JSON.parse(missing.text).error.param, 'contents')
  t.equal(upstream.seen.length, 0, 'nothing was forwarded')
})

t.test('a Gemini stream cut by a rule ends with finishReason SAFETY', async (t) => {
  const path = '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse'
  const chunk = (text: string): string => `data: ${JSON.stringify({ candidates: [{ content: { parts: [{ text }], role: 'model' }, index: 0 }] })}\r\n\r\n`
  const upstream = await startUpstream(t, { [path]: { type: 'text/event-stream', body: chunk('Listen, you stupid fu') + chunk('cking idiot, no.') + chunk(' More.') } })
  const { url } = await startProxy(t, upstream.url)
  const res = await post(url + path, { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] })
  const chunks = jsonFrames(parseSse(res.text).frames) as Json[]
  t.equal(chunks.at(-1)?.candidates[0].finishReason, 'SAFETY')
  t.notOk(res.text.includes('idiot') || res.text.includes('More'))
})

t.test('Ollama /api/chat NDJSON goes through the proxy sanitized, still NDJSON', async (t) => {
  const upstream = await startUpstream(t)
  const { url } = await startProxy(t, upstream.url)
  const res = await post(url + '/api/chat', { model: 'qwen3:8b', messages: [{ role: 'user', content: 'Mail bob@corp.io please' }] })
  t.equal(res.status, 200)
  t.match(res.type, /^application\/x-ndjson/)
  const lines = parseNdjson(res.text).map((f) => JSON.parse(f.data) as Json)
  t.equal(lines.length, fixture('ollama-chat.ndjson').toString('utf8').trim().split('\n').length, 'one line out per line in')
  const content = lines.map((l) => l.message?.content ?? '').join('')
  t.match(content, /^Sure! You can reach Jane at \[EMAIL\] or call/)
  t.notOk(res.text.includes('jane.doe'))
  t.match(lines.at(-1), { done: true, done_reason: 'stop' })
  t.equal(upstream.seen[0]?.body.messages[0].content, 'Mail [EMAIL] please', 'the prompt was redacted before it left')
})

t.test('Ollama with stream: false answers a sanitized JSON body', async (t) => {
  const upstream = await startUpstream(t)
  const { url } = await startProxy(t, upstream.url)
  const res = await post(url + '/api/chat', { model: 'qwen3:8b', stream: false, messages: [{ role: 'user', content: 'hi' }] })
  t.equal(res.status, 200)
  t.equal((JSON.parse(res.text) as Json).message.content, 'Mail [EMAIL]')
})

t.test('Ollama /api/generate: prompt and system redacted on the way out, response on the way back', async (t) => {
  const upstream = await startUpstream(t)
  const { url } = await startProxy(t, upstream.url)
  const res = await post(url + '/api/generate', { model: 'llama3.2', system: 'The user is bob@corp.io.', prompt: 'Find Jane.' })
  const text = parseNdjson(res.text).map((f) => (JSON.parse(f.data) as Json).response as string).join('')
  t.match(text, /reach Jane at \[EMAIL\]/)
  t.same(upstream.seen[0]?.body, { model: 'llama3.2', system: 'The user is [EMAIL].', prompt: 'Find Jane.' })
})

t.test('Cohere /v2/chat streams go through the proxy sanitized', async (t) => {
  const upstream = await startUpstream(t)
  const { url } = await startProxy(t, upstream.url)
  const res = await post(url + '/v2/chat', { model: 'command-a-03-2025', stream: true, messages: [{ role: 'user', content: [{ type: 'text', text: 'I am bob@corp.io' }] }] })
  t.equal(res.status, 200)
  const events = jsonFrames(parseSse(res.text).frames) as Json[]
  const content = events.filter((e) => e.type === 'content-delta').map((e) => e.delta.message.content.text as string).join('')
  t.match(content, /^Sure! You can reach Jane at \[EMAIL\] or call/)
  t.notOk(res.text.includes('jane.doe'))
  t.equal(upstream.seen[0]?.body.messages[0].content[0].text, 'I am [EMAIL]')
})
