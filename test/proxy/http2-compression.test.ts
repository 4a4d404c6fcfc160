import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { connect } from 'node:http2'
import type { ClientHttp2Session } from 'node:http2'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createGunzip } from 'node:zlib'
import { request } from 'undici'
import { startDemo, startProxy } from './fixtures/harness.js'

const chat = JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hello' }] })

/** Streams a chat answer over an HTTP/2 session; returns the content text and the status. */
async function h2Chat (session: ClientHttp2Session): Promise<{ status: number, text: string, protocol: string }> {
  const stream = session.request({ ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json', 'x-demo-text': Buffer.from('Mail jane.doe@acme-corp.com now').toString('base64') })
  stream.end(chat)
  let status = 0
  stream.on('response', (headers) => { status = Number(headers[':status']) })
  let raw = ''
  stream.setEncoding('utf8')
  for await (const chunk of stream) raw += chunk as string
  const text = raw.split('\n').filter((l) => l.startsWith('data: {')).map((l) => (JSON.parse(l.slice(6)) as { choices: Array<{ delta?: { content?: string } }> }).choices[0]?.delta?.content ?? '').join('')
  return { status, text, protocol: session.alpnProtocol ?? 'h2c' }
}

t.test('h2c: a real HTTP/2 client streams through the proxy, sanitized', async (t) => {
  const { url: upstream } = await startDemo(t)
  const { url } = await startProxy(t, upstream, ['--http2'])
  const session = connect(url)
  t.teardown(() => session.close())
  const answer = await h2Chat(session)
  t.equal(answer.status, 200)
  t.ok(answer.text.startsWith('Mail '), 'the answer streamed')
  t.notMatch(answer.text, /jane\.doe/, 'and was sanitized')
})

t.test('h2 over TLS (ALPN), and HTTP/1.1 on the same port', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-tls-'))
  const key = join(dir, 'key.pem')
  const cert = join(dir, 'cert.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' })
  const { url: upstream } = await startDemo(t)
  const { url } = await startProxy(t, upstream, ['--http2', '--tls-cert', cert, '--tls-key', key])
  t.match(url, /^https:/)
  const session = connect(url, { rejectUnauthorized: false })
  t.teardown(() => session.close())
  const answer = await h2Chat(session)
  t.equal(answer.status, 200)
  t.equal(answer.protocol, 'h2', 'ALPN chose h2')
  t.notMatch(answer.text, /jane\.doe/)
  const { Agent } = await import('undici')
  const res = await request(`${url}/healthz`, { dispatcher: new Agent({ connect: { rejectUnauthorized: false } }) })
  t.equal(res.statusCode, 200, 'an HTTP/1.1 client is served too')
  await res.body.dump()
})

t.test('compressed SSE: every event decodes as it arrives', async (t) => {
  const { url: upstream } = await startDemo(t)
  const { url } = await startProxy(t, upstream, ['--compress'])
  const res = await request(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'accept-encoding': 'gzip', 'x-demo-rate': '40', 'x-demo-text': Buffer.from('one two three four five six seven eight nine ten').toString('base64') },
    body: chat
  })
  t.equal(res.headers['content-encoding'], 'gzip')
  t.equal(res.headers.vary, 'accept-encoding')
  const gunzip = createGunzip()
  let decoded = ''
  const arrivals: number[] = []
  gunzip.setEncoding('utf8')
  gunzip.on('data', (s: string) => { decoded += s; arrivals.push(Date.now()) })
  let compressedBytes = 0
  let chunks = 0
  let silent = 0
  for await (const chunk of res.body) {
    chunks++
    compressedBytes += (chunk as Buffer).length
    const before = decoded.length
    gunzip.write(chunk)
    // zlib works off the main thread: a flush's callback runs once what it decoded was emitted.
    await new Promise<void>((resolve) => gunzip.flush(() => resolve()))
    if (decoded.length === before) silent++
    else t.ok(decoded.endsWith('\n\n'), 'what a chunk decodes to ends with a whole event')
  }
  gunzip.end()
  await new Promise((resolve) => gunzip.once('end', resolve))
  // The gzip header and trailer decode to nothing; every other chunk carried its events, decodable on arrival.
  t.ok(silent <= 3, `${silent} of ${chunks} chunks decoded to nothing at once`)
  t.match(decoded, /data: \[DONE\]/)
  t.ok(arrivals.length > 3, 'events arrived over time, not at the end')
  t.ok(compressedBytes < decoded.length, `compressed ${compressedBytes} < ${decoded.length}`)
  const plain = await request(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat })
  t.equal(plain.headers['content-encoding'], undefined, 'a client that accepts no encoding gets identity')
  await plain.body.dump()
})
