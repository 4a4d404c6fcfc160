import t from 'tap'
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PassThrough, Readable } from 'node:stream'
import { finished, pipeline } from 'node:stream/promises'
import OpenAI from 'openai'
import { request } from 'undici'
import { createSanitizeStream, sanitizeJsonResponse, sanitizeReadable } from '../../src/stream/create-sanitize-stream.js'
import type { SanitizeStream, SanitizeStreamOptions } from '../../src/stream/create-sanitize-stream.js'
import {
  buildChatStream, clientTexts, fixture, jsonFrames, kHmacKey, parseSse, replay, scanWhole, testRules
} from './replay.js'

const ruleSet = await testRules()
const enc = (s: string): Buffer => Buffer.from(s, 'utf8')
const options = (extra: Partial<SanitizeStreamOptions> = {}): SanitizeStreamOptions => ({ ruleSet, scannerOptions: { hmacKey: kHmacKey }, ...extra })

/** Pieces of `buf` of the given size. */
function pieces (buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = []
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size))
  return out
}

async function collect (stream: NodeJS.ReadableStream): Promise<string> {
  let out = ''
  for await (const chunk of stream) out += String(chunk)
  return out
}

/** Lets the event loop run until `read()` stops moving. */
/**
 * Waits until `read()` stops changing over 20 turns of the event loop. Each
 * turn includes a timer: scanning deferred by a spent turn budget
 * (stream/turn-budget.ts) resumes once a timer renewed it.
 */
async function settle (read: () => number): Promise<void> {
  let last = -1
  let still = 0
  while (still < 20) {
    await new Promise((resolve) => setTimeout(resolve, 1))
    const now = read()
    still = now === last ? still + 1 : 0
    last = now
  }
}

t.test('sanitizes a stream piped through it, byte for byte as the core does', async (t) => {
  for (const name of ['openai-chat.sse', 'openai-responses.sse', 'anthropic-messages.sse', 'openai-completions.sse']) {
    const input = fixture(name)
    const findings: string[] = []
    // Not coalesced, as replay() (coalescing is tested in test/protocols/openai-choices.test.ts and below).
    const stream = createSanitizeStream(options({ contentType: 'text/event-stream', coalesce: false }))
    stream.on('finding', (f: { ruleId: string }, ctx: { channel: string }) => findings.push(`${ctx.channel}:${f.ruleId}`))
    const [output] = await Promise.all([collect(stream), pipeline(Readable.from(pieces(input, 7)), stream)])
    const core = replay(ruleSet, input, [])
    t.equal(output, core.output, name)
    t.same(findings, core.findings.map((f) => `${f.context.channel}:${f.finding.ruleId}`))
    t.same(stream.stats.findings, core.sanitizer.stats().findings)
    t.equal(stream.stats.finishReason, core.sanitizer.stats().finishReason)
  }
})

t.test('frames written in one tick go out as one chunk; a frame alone is not delayed', async (t) => {
  const words = ['Hello ', 'there, ', 'how ', 'are ', 'you? ']
  const frames = buildChatStream(words).split(/(?<=\n\n)/)
  // Out of the shared turn budget (stream/turn-budget.ts): on a loaded
  // machine it may defer a write a turn, and this test is about coalescing.
  const stream = createSanitizeStream(options({ contentType: 'text/event-stream', shareTurns: false }))
  let out = ''
  stream.on('data', (c: Buffer) => { out += String(c) })
  // The role chunk, then the five text frames as five writes in the same tick
  // (as an HTTP client hands over the chunks of one socket read).
  stream.write(enc(frames[0] as string))
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(jsonFrames(parseSse(out).frames).length, 1, 'the role chunk went out before the next tick')
  for (const frame of frames.slice(1, 6)) stream.write(enc(frame))
  await new Promise((resolve) => setImmediate(resolve))
  const chunks = jsonFrames(parseSse(out).frames)
  t.equal(chunks.length, 2, 'one chunk for the five text frames')
  const soFar = clientTexts('chat', parseSse(out).frames).get('0:content') ?? ''
  t.ok(soFar.length > 0 && scanWhole(ruleSet, words.join('')).text.startsWith(soFar), 'it carries the text released so far')
  stream.end(enc(frames.slice(6).join('')))
  await finished(stream)
  t.equal(clientTexts('chat', parseSse(out).frames).get('0:content'), scanWhole(ruleSet, words.join('')).text)
  t.same(parseSse(out).frames.at(-1)?.data, '[DONE]')
})

t.test('a slow reader stops the upstream being read', async (t) => {
  const frame = enc(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'some words, then more words. ' }, finish_reason: null }] })}\n\n`)
  const total = 20 * 1024 * 1024
  let produced = 0
  const source = new Readable({
    read () {
      if (produced >= total) {
        this.push(enc('data: [DONE]\n\n'))
        this.push(null)
        return
      }
      produced += frame.length
      this.push(frame)
    }
  })
  // Not coalesced, so bytes out match bytes in ("everything came through");
  // the coalesced path's backpressure is tested over HTTP in plugin-sockets.
  const stream = createSanitizeStream({ ...options(), coalesce: false })
  source.pipe(stream)
  await settle(() => produced)
  // Source, writable and readable buffers (16 KiB each by default) plus a frame.
  t.ok(produced < 256 * 1024, `only ${produced} bytes read while nobody reads the output`)
  const stalled = produced
  // Read slowly: a few chunks, then stop again.
  // (The output side buffers 2 KiB, the input side 16 KiB: reading frees
  // the writer only once the writable side has drained, ~8 reads here.)
  // A turn between reads, as a socket's reader has: a piece the turn budget
  // deferred (stream/turn-budget.ts) is scanned before the next read.
  for (let i = 0; i < 20; i++) {
    stream.read()
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  await settle(() => produced)
  t.ok(produced > stalled, 'reading resumes the upstream')
  t.ok(produced < stalled + 256 * 1024, 'but only as far as was read')
  // Now drain everything.
  let bytes = 0
  stream.on('data', (c: Buffer) => { bytes += c.length })
  await new Promise((resolve) => stream.once('end', resolve))
  t.equal(produced, total + (total % frame.length === 0 ? 0 : frame.length - (total % frame.length)))
  t.ok(bytes > total * 0.9, 'everything came through')
  t.equal(stream.stats.finishReason, undefined, 'no finish_reason upstream')
})

t.test('a cut emits cut, closes the protocol way, ends the readable side and swallows later input', async (t) => {
  const stream = createSanitizeStream(options())
  const cuts: string[] = []
  stream.on('cut', (f: { ruleId: string }) => cuts.push(f.ruleId))
  const out = collect(stream)
  const input = fixture('openai-chat-cut.sse')
  for (const piece of pieces(input, 50)) stream.write(piece)
  stream.write(enc('data: {"more":"after the cut"}\n\n'))
  stream.end()
  const output = await out
  t.same(cuts, ['test.cut_missiles'])
  const frames = jsonFrames(parseSse(output).frames)
  t.equal(frames.at(-1), '[DONE]')
  t.equal((frames.at(-2) as Record<string, any>).choices[0].finish_reason, 'content_filter')
  t.notOk(output.includes('after the cut'))
  t.equal(stream.stats.cut?.ruleId, 'test.cut_missiles')
})

t.test('failUpstream ends the stream in-band with an error frame, never a half frame', async (t) => {
  const stream = createSanitizeStream(options())
  const failed: Error[] = []
  stream.on('failed', (err: Error) => failed.push(err))
  stream.on('error', () => t.fail('no stream error'))
  const out = collect(stream)
  const input = enc(buildChatStream(['Hello ', 'there, ', 'mail jane']))
  stream.write(input.subarray(0, input.length - 60))
  stream.failUpstream(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))
  const output = await out
  const frames = parseSse(output).frames
  t.equal(JSON.parse(frames.at(-1)?.data ?? '{}').error.message, 'Upstream failed: ECONNRESET')
  t.equal(clientTexts('chat', frames.slice(0, -1)).get('0:content'), 'Hello there, mail ', 'what was written before went out first')
  t.notOk(output.includes('jane'), 'the held word is dropped')
  t.ok(output.endsWith('\n\n'), 'whole frames only')
  for (const f of frames) JSON.parse(f.data)
  t.equal(failed.length, 1)
  t.equal(stream.stats.errorCode, 'SLUICE_UPSTREAM')
  await finished(stream)
  t.ok(stream.writableFinished, 'the writable side finished too')
})

t.test('sanitizeReadable: an upstream error becomes an error frame and a clean end', async (t) => {
  const source = new PassThrough()
  const stream = sanitizeReadable(source, options())
  stream.on('error', () => t.fail('no stream error'))
  const out = collect(stream)
  source.write(enc(buildChatStream(['Hi ', 'there. ']).split('data: [DONE]')[0] as string))
  source.destroy(Object.assign(new Error('terminated'), { code: 'UND_ERR_SOCKET' }))
  const frames = parseSse(await out).frames
  t.equal(clientTexts('chat', frames.slice(0, -1)).get('0:content'), 'Hi there. ')
  t.equal(JSON.parse(frames.at(-1)?.data ?? '{}').error.message, 'Upstream failed: UND_ERR_SOCKET')
})

t.test('sanitizeReadable: a cut destroys the upstream and still delivers the closing frames', async (t) => {
  const input = fixture('openai-chat-cut.sse')
  const source = new PassThrough()
  const stream: SanitizeStream = sanitizeReadable(source, options())
  const out = collect(stream)
  source.write(input)
  // Upstream would go on forever; the cut must stop it.
  const output = await out
  t.ok(source.destroyed, 'upstream destroyed')
  t.equal(jsonFrames(parseSse(output).frames).at(-1), '[DONE]')
  await finished(stream)
  t.ok(stream.writableFinished, 'the writable side was ended')
})

t.test('sanitizeReadable: the consumer going away destroys the upstream', async (t) => {
  const source = new PassThrough()
  const stream = sanitizeReadable(source, options())
  source.write(enc(buildChatStream(['Hi. '])))
  stream.destroy()
  await t.rejects(finished(source), { code: 'ERR_STREAM_PREMATURE_CLOSE' })
  t.ok(source.destroyed)
})

t.test('sanitizeJsonResponse sanitizes a non-streaming body with the rule set', async (t) => {
  const body = { object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'mail jane.doe@acme.io now' }, finish_reason: 'stop' }] }
  const cuts: string[] = []
  const result = sanitizeJsonResponse(body, ruleSet, { scannerOptions: { hmacKey: kHmacKey }, onCut: (f) => cuts.push(f.ruleId) })
  t.equal((result.body as typeof body).choices[0]?.message.content, scanWhole(ruleSet, 'mail jane.doe@acme.io now').text)
  t.equal(result.changed, true)
  t.same(cuts, [])
})

// End to end with real sockets and the OpenAI SDK as the client ------------

interface Upstream {
  server: Server
  url: string
}

/** An upstream that streams `body` in small pieces, or fails after `failAfter` bytes. */
async function startUpstream (body: Buffer, failAfter?: number): Promise<Upstream> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume()
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' })
    const parts = pieces(failAfter === undefined ? body : body.subarray(0, failAfter), 97)
    const next = (): void => {
      const part = parts.shift()
      if (part === undefined) {
        if (failAfter === undefined) res.end()
        else res.socket?.destroy()
        return
      }
      res.write(part)
      setImmediate(next)
    }
    next()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

/** A relay that calls the upstream with undici and sanitizes the body on its way back. */
async function startRelay (upstream: string): Promise<Upstream> {
  const server = createServer((req, res) => {
    req.resume()
    request(upstream + (req.url ?? '/'), { method: 'POST', body: '{}' }).then((up) => {
      const contentType = String(up.headers['content-type'])
      res.writeHead(200, { 'content-type': contentType })
      sanitizeReadable(up.body, options({ contentType })).pipe(res)
    }, () => { res.writeHead(502).end() })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

async function withServers (body: Buffer, failAfter: number | undefined, fn: (client: OpenAI) => Promise<void>): Promise<void> {
  const upstream = await startUpstream(body, failAfter)
  const relay = await startRelay(upstream.url)
  try {
    await fn(new OpenAI({ apiKey: 'sk-test', baseURL: `${relay.url}/v1`, maxRetries: 0 }))
  } finally {
    relay.server.closeAllConnections()
    upstream.server.closeAllConnections()
    await Promise.all([new Promise((resolve) => relay.server.close(resolve)), new Promise((resolve) => upstream.server.close(resolve))])
  }
}

t.test('end to end: the OpenAI SDK reads a sanitized chat stream', async (t) => {
  const input = fixture('openai-chat.sse')
  await withServers(input, undefined, async (client) => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true })
    let text = ''
    const finishes: string[] = []
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? ''
      if (chunk.choices[0]?.finish_reason) finishes.push(chunk.choices[0].finish_reason)
    }
    t.equal(text, scanWhole(ruleSet, clientTexts('chat', parseSse(input.toString('utf8')).frames).get('0:content') as string).text)
    t.same(finishes, ['stop'])
  })
})

t.test('end to end: the SDK sees a cut as finish_reason content_filter', async (t) => {
  await withServers(fixture('openai-chat-cut.sse'), undefined, async (client) => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true })
    const finishes: string[] = []
    for await (const chunk of stream) if (chunk.choices[0]?.finish_reason) finishes.push(chunk.choices[0].finish_reason)
    t.same(finishes, ['content_filter'])
  })
})

t.test('end to end: an upstream dying mid-stream reaches the SDK as an API error', async (t) => {
  const input = fixture('openai-chat.sse')
  await withServers(input, 1500, async (client) => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true })
    await t.rejects((async () => { for await (const chunk of stream) void chunk })(), { message: /Upstream failed/ })
  })
})

t.test('end to end: the SDK assembles a sanitized Responses stream', async (t) => {
  await withServers(fixture('openai-responses.sse'), undefined, async (client) => {
    const stream = client.responses.stream({ model: 'gpt-4.1', input: 'hi' })
    const response = await stream.finalResponse()
    const message = response.output[0]
    t.equal(message?.type, 'message')
    const text = message?.type === 'message' && message.content[0]?.type === 'output_text' ? message.content[0].text : ''
    t.notOk(text.includes('jane.doe'))
    t.match(text, /\[email:[0-9a-f]+\]/)
    const call = response.output[1]
    t.equal(call?.type === 'function_call' ? call.arguments.includes('jane') : true, false, 'function arguments sanitized too')
  })
})

t.test('writes after the readable side ended by a cut never error', async (t) => {
  const stream = createSanitizeStream(options())
  stream.resume()
  stream.write(fixture('openai-chat-cut.sse'))
  for (let i = 0; i < 10; i++) stream.write(enc('data: {"x":1}\n\n'))
  await new Promise((resolve, reject) => { stream.once('error', reject); stream.end(resolve) })
  t.pass('ended without error')
})

t.test('a large read is scanned in slices, and the event loop runs between them', async (t) => {
  // 200 KB of digit runs in one read: each digit a possible card or phone number.
  let seed = 3
  const digits = Array.from({ length: 400 }, () => Array.from({ length: 500 }, () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return String(seed % 10)
  }).join('')).map((run) => `${run} `)
  const body = Buffer.from(buildChatStream(digits))
  const expected = await collect(Readable.from(pieces(body, 997)).pipe(createSanitizeStream(options({ protocol: 'openai-chat', contentType: 'text/event-stream' }))))
  let turns = 0
  let done = false
  const spin = (): void => { if (!done) { turns++; setImmediate(spin) } }
  setImmediate(spin)
  const stream = createSanitizeStream(options({ protocol: 'openai-chat', contentType: 'text/event-stream' }))
  const out = collect(stream)
  stream.end(body)
  const got = await out
  done = true
  // Frames may be coalesced differently; the text a client reads is the same.
  t.same(clientTexts('chat', parseSse(got).frames), clientTexts('chat', parseSse(expected).frames), 'the same text as the read in small pieces')
  t.ok(got.endsWith('data: [DONE]\n\n'))
  t.ok(turns > body.length / 8192, `the event loop ran ${turns} times while ${body.length} bytes were scanned`)
})
