/**
 * The stream client against the real proxy: the demo upstream behind it for
 * the OpenAI and Anthropic protocols, a small upstream replaying recorded
 * provider streams for Gemini, Ollama and Cohere; the shipped rules plus the
 * stream tests' cut rule. Then the edges no proxy shows on demand: retries
 * before the first byte, none after it, and a stream with no finish reason,
 * each from a tiny local server.
 */
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import type { Test } from 'tap'
import { createStreamClient } from '../../src/client/create-stream-client.js'
import type { GenerateHandlers, StreamClientOptions } from '../../src/client/create-stream-client.js'
import type { StreamClientError } from '../../src/client/client-error.js'
import type { ClientFinding, ClientProtocol, FinishInfo, TextInfo } from '../../src/client/types.js'
import { DEMO_CARD_NUMBER, DEMO_EMAIL } from '../../src/demo/canned-answers.js'
import { freePort, startDemo, startProxy, waitFor } from '../proxy/fixtures/harness.js'
import { fixture, fixturesDir } from '../stream/replay.js'

const model = 'sluice-demo-1'
const proxyArgs = ['--rules', fixturesDir + 'cut-rules.yaml']

/** Everything one generation told its handlers. */
interface Run {
  texts: Map<string, string>
  calls: Array<{ delta: string, info: TextInfo }>
  findings: ClientFinding[]
  errors: StreamClientError[]
  finish: FinishInfo
  finishes: number
}

async function collect (options: StreamClientOptions, payload: unknown, extra: Partial<GenerateHandlers> & { onFirstText?: () => void } = {}): Promise<Run> {
  const client = createStreamClient(options)
  const calls: Run['calls'] = []
  const texts = new Map<string, string>()
  const findings: ClientFinding[] = []
  const errors: StreamClientError[] = []
  let finishes = 0
  const handlers: GenerateHandlers = {
    onText (delta, info) {
      if (calls.length === 0) extra.onFirstText?.()
      calls.push({ delta, info })
      texts.set(info.channel, (texts.get(info.channel) ?? '') + delta)
    },
    onFinding: (f) => findings.push(f),
    onError: (e) => errors.push(e),
    onFinish: () => { finishes++ }
  }
  if (extra.signal !== undefined) handlers.signal = extra.signal
  const finish = await client.generate(payload, handlers)
  client.close()
  return { texts, calls, findings, errors, finish, finishes }
}

/** The route and request body of each protocol the demo upstream speaks. */
const kDemoRoutes: Array<{ protocol: ClientProtocol, path: string, payload: Record<string, unknown>, cut: 'content_filter' | 'refusal' }> = [
  { protocol: 'openai-chat', path: '/v1/chat/completions', payload: { model, stream: true, messages: [{ role: 'user', content: 'hi' }] }, cut: 'content_filter' },
  { protocol: 'ndjson', path: '/v1/chat/completions', payload: { model, stream: true, messages: [{ role: 'user', content: 'hi' }] }, cut: 'content_filter' },
  { protocol: 'openai-completions', path: '/v1/completions', payload: { model, stream: true, prompt: 'hi' }, cut: 'content_filter' },
  { protocol: 'openai-responses', path: '/v1/responses', payload: { model, stream: true, input: 'hi' }, cut: 'content_filter' },
  { protocol: 'anthropic-messages', path: '/v1/messages', payload: { model, max_tokens: 200, stream: true, messages: [{ role: 'user', content: 'hi' }] }, cut: 'refusal' }
]

type Stack = Promise<{ url: string, demo: Awaited<ReturnType<typeof startDemo>>['demo'] }>
let shared: Stack | undefined
/** One demo upstream (unpaced; tests pace it with `x-demo-rate`) and one proxy for the whole file, closed at its end. */
function stack (): Stack {
  shared ??= (async () => {
    const { url: upstream, demo } = await startDemo(t)
    const { url } = await startProxy(t, upstream, proxyArgs)
    return { url, demo }
  })()
  return shared
}

t.test('every protocol of the demo: text, redaction spans and findings, a stop finish with the request id', async (t) => {
  const { url } = await stack()
  for (const route of kDemoRoutes) {
    const run = await collect({ url: url + route.path, protocol: route.protocol, headers: { 'x-demo-answer': 'email' } }, route.payload)
    const content = run.texts.get('content') ?? ''
    t.match(content, /^Sure! The account manager .* reach her at \[email:[0-9a-f]{6}\] or through the support portal/, `${route.protocol}: the text`)
    t.notOk(content.includes(DEMO_EMAIL), `${route.protocol}: no address`)
    t.match(run.finish, { reason: 'stop', protocol: route.protocol }, `${route.protocol}: finish`)
    t.match(run.finish.requestId, /^[0-9a-f-]{36}$/, `${route.protocol}: x-sluice-request-id`)
    t.equal(run.finishes, 1, `${route.protocol}: onFinish once`)
    t.same(run.errors, [])
    t.equal(run.findings.length, 1, `${route.protocol}: one finding`)
    const finding = run.findings[0] as ClientFinding
    t.match(finding, { kind: 'redaction', source: 'marker', rule: 'pii.email', category: 'pii', label: 'email', channel: 'content' })
    t.equal(content.slice(finding.start, finding.end), finding.text, `${route.protocol}: the finding's offsets are in the channel's text`)
    const withSpan = run.calls.find((c) => c.info.spans.length > 0)
    const span = withSpan?.info.spans[0]
    t.match(withSpan?.delta.slice(span?.start, span?.end), /^\[email:[0-9a-f]{6}\]$/, `${route.protocol}: the span is the marker in its delta`)
  }
})

t.test('cards are masked and keys named: masked and [SECRET:rule] spans', async (t) => {
  const { url } = await stack()
  const card = await collect({ url: url + '/v1/chat/completions', protocol: 'openai-chat', headers: { 'x-demo-answer': 'card' } }, kDemoRoutes[0]?.payload)
  t.notOk(card.texts.get('content')?.includes(DEMO_CARD_NUMBER))
  t.match(card.findings, [{ text: '**** **** **** 1111', label: 'masked', category: 'pii' }])
  const key = await collect({ url: url + '/v1/messages', protocol: 'anthropic-messages', headers: { 'x-demo-answer': 'key' } }, kDemoRoutes[4]?.payload)
  t.same(key.findings.map((f) => f.rule), ['secret.openai_key', 'secret.aws_access_key_id', 'secret.aws_secret_access_key'])
  t.ok(key.findings.every((f) => f.category === 'secret'))
})

t.test('every protocol of the demo: a cut is its own finish, after the text before the match', async (t) => {
  const { url, demo } = await stack()
  for (const route of kDemoRoutes) {
    const run = await collect({ url: url + route.path, protocol: route.protocol, headers: { 'x-demo-answer': 'abuse', 'x-demo-rate': '400' } }, route.payload)
    const content = run.texts.get('content') ?? ''
    t.match(content, /^I have looked at your question again\.\n/, `${route.protocol}: the text before the cut`)
    t.notMatch(content, /idiot/, `${route.protocol}: nothing of the match`)
    t.match(run.finish, { reason: route.cut, raw: route.cut }, `${route.protocol}: finish ${route.cut}`)
    // Sluice never sends the rule of a cut in-band (the audit has it, under the request id);
    // OpenAI chunk streams carry the category in content_filter_results.
    t.equal(run.finish.rule, undefined)
    const signalled = route.protocol === 'openai-chat' || route.protocol === 'ndjson' || route.protocol === 'openai-completions'
    t.equal(run.finish.category, signalled ? 'toxicity' : undefined, `${route.protocol}: the category ${signalled ? 'from the block signal' : 'is not sent'}`)
    t.match(run.finish.requestId, /^[0-9a-f-]{36}$/)
    t.same(run.errors, [])
  }
  t.ok(await waitFor(() => demo.stats.activeStreams === 0), 'the upstream streams are over')
})

/**
 * An upstream answering the Gemini, Ollama and Cohere routes with recorded
 * streams (in two writes): the cut one when the request says `x-demo-answer: cut`.
 */
async function startProviderUpstream (t: Test, answers: Record<string, { normal: string, cut: string }>): Promise<string> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume()
    req.on('end', () => {
      const names = Object.entries(answers).find(([path]) => (req.url ?? '').startsWith(path))?.[1]
      if (names === undefined) {
        res.writeHead(404).end()
        return
      }
      const name = req.headers['x-demo-answer'] === 'cut' ? names.cut : names.normal
      res.writeHead(200, { 'content-type': name.endsWith('.ndjson') ? 'application/x-ndjson' : 'text/event-stream' })
      const bytes = fixture(name)
      res.write(bytes.subarray(0, bytes.length >> 1))
      res.end(bytes.subarray(bytes.length >> 1))
    })
  })
  return listen(t, server)
}

async function listen (t: Test, server: Server, port = 0): Promise<string> {
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

t.test('Gemini, Ollama and Cohere through the proxy: text, reasoning, tool arguments, spans; a cut is content_filter', async (t) => {
  const gemini = '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse'
  const cases = [
    { protocol: 'gemini', path: gemini, payload: { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }, normal: 'gemini.sse', cut: 'gemini-cut.sse', finish: 'tool_calls', cutRaw: 'SAFETY' },
    { protocol: 'ollama', path: '/api/chat', payload: { model: 'qwen3:8b', messages: [{ role: 'user', content: 'hi' }] }, normal: 'ollama-chat.ndjson', cut: 'ollama-chat-cut.ndjson', finish: 'tool_calls', cutRaw: 'content_filter' },
    { protocol: 'cohere', path: '/v2/chat', payload: { model: 'command-a-03-2025', stream: true, messages: [{ role: 'user', content: 'hi' }] }, normal: 'cohere-chat.sse', cut: 'cohere-chat-cut.sse', finish: 'stop', cutRaw: 'ERROR' }
  ] as const
  const upstream = await startProviderUpstream(t, Object.fromEntries(cases.map((c) => [c.path.split('?')[0] as string, { normal: c.normal, cut: c.cut }])))
  const { url } = await startProxy(t, upstream, proxyArgs)
  for (const c of cases) {
    for (const which of ['normal', 'cut'] as const) {
      const run = await collect({ url: url + c.path, protocol: c.protocol, headers: { 'x-demo-answer': which } }, c.payload)
      const all = [...run.texts.values()].join('\n')
      t.notMatch(all, /jane\.doe@acme\.io|bob@corp\.io/, `${c.protocol} ${which}: no address`)
      t.same(run.errors, [], `${c.protocol} ${which}: no error`)
      if (which === 'normal') {
        t.match(run.texts.get('content'), /^Sure! You can reach Jane at \[email:[0-9a-f]{6}\] or call/, `${c.protocol}: content`)
        t.match(run.texts.get('reasoning'), /\[email:[0-9a-f]{6}\]/, `${c.protocol}: reasoning, redacted too`)
        t.match(run.texts.get('tool_arguments'), /\[email:[0-9a-f]{6}\]/, `${c.protocol}: tool arguments`)
        t.ok(run.calls.some((call) => call.info.channel === 'tool_arguments' && call.info.name === 'send_email'), `${c.protocol}: the tool named`)
        t.ok(run.findings.some((f) => f.channel === 'reasoning') && run.findings.some((f) => f.channel === 'content'), `${c.protocol}: findings per channel`)
        t.match(run.finish, { reason: c.finish, protocol: c.protocol }, `${c.protocol}: finish`)
      } else {
        t.match(run.texts.get('content'), /^Okay, the plan: $/, `${c.protocol}: the text before the cut`)
        t.match(run.finish, { reason: 'content_filter', raw: c.cutRaw }, `${c.protocol}: a cut`)
      }
    }
  }
})

t.test('auto recognises the protocol of the stream', async (t) => {
  const { url } = await stack()
  for (const route of kDemoRoutes.filter((r) => r.protocol !== 'ndjson')) {
    const run = await collect({ url: url + route.path, protocol: 'auto', headers: { 'x-demo-answer': 'haiku' } }, route.payload)
    t.match(run.texts.get('content'), /Café at midnight —\nthe stream flows, 水の音,\nnothing left behind 🌊$/, route.protocol)
    t.equal(run.finish.protocol, route.protocol)
  }
})

t.test('cancel() and the caller\'s signal abort the request, and the proxy aborts the upstream', async (t) => {
  const { url, demo } = await stack()
  for (const how of ['cancel', 'signal'] as const) {
    demo.resetStats()
    const client = createStreamClient({ url: url + '/v1/chat/completions', protocol: 'openai-chat', headers: { 'x-demo-answer': 'clean', 'x-demo-rate': '20' } })
    const controller = new AbortController()
    let text = ''
    const finishes: FinishInfo[] = []
    const done = client.generate(kDemoRoutes[0]?.payload, {
      signal: controller.signal,
      onText (delta) {
        if (text === '') setTimeout(() => { if (how === 'cancel') client.cancel(); else controller.abort() }, 100)
        text += delta
      },
      onFinish: (info) => finishes.push(info)
    })
    const finish = await done
    t.equal(finish.reason, 'cancelled', `${how}: finish cancelled`)
    t.equal(finishes.length, 1)
    t.ok(text.length > 0 && text.length < 100, `${how}: the text received before it was delivered (${text.length} chars)`)
    t.ok(await waitFor(() => demo.stats.abortedStreams === 1 && demo.stats.activeStreams === 0), `${how}: the demo upstream saw the abort`)
    t.equal(demo.stats.completedStreams, 0)
  }
  const early = new AbortController()
  early.abort()
  const run = await collect({ url: url + '/v1/chat/completions', protocol: 'openai-chat' }, kDemoRoutes[0]?.payload, { signal: early.signal })
  t.equal(run.finish.reason, 'cancelled', 'an aborted signal before the start: cancelled, nothing sent')
  t.equal(run.calls.length, 0)
})

t.test('a proxy error before the stream is an error finish with the proxy\'s code, not retried', async (t) => {
  const { url, demo } = await stack()
  demo.resetStats()
  const run = await collect({ url: url + '/v1/chat/completions', protocol: 'openai-chat' }, { model, stream: true })
  t.match(run.errors, [{ code: 'SLUICE_BAD_REQUEST', status: 400 }])
  t.match(run.finish, { reason: 'error', error: { code: 'SLUICE_BAD_REQUEST' } })
  t.equal(demo.stats.requests, 0)
})

/** An SSE chat chunk with this content. */
function chunk (content: string, finish: string | null = null): string {
  return `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta: finish === null ? { content } : {}, finish_reason: finish }] })}\n\n`
}

/** A local server: each request is answered by the next handler (the last one repeats). */
async function startScripted (t: Test, handlers: Array<(res: ServerResponse) => void>, port = 0): Promise<{ url: string, requests: () => number }> {
  let requests = 0
  const server = createServer((req, res) => {
    const handler = handlers[Math.min(requests, handlers.length - 1)] as (res: ServerResponse) => void
    requests++
    req.resume()
    req.on('end', () => handler(res))
  })
  const url = await listen(t, server, port)
  return { url, requests: () => requests }
}

const ok = (res: ServerResponse): void => {
  res.writeHead(200, { 'content-type': 'text/event-stream' })
  res.end(chunk('Hello') + chunk(' there') + chunk('', 'stop') + 'data: [DONE]\n\n')
}

t.test('retries a refused connection before the first byte, then streams', async (t) => {
  const port = await freePort()
  let attempts = 0
  let server: Promise<{ requests: () => number }> | undefined
  const run = await collect({
    url: `http://127.0.0.1:${port}/v1/chat/completions`,
    protocol: 'openai-chat',
    retryBaseMs: 50,
    fetch: async (url, init) => {
      attempts++
      try {
        return await fetch(url, init)
      } catch (err) {
        // Refused: now a server comes up on that port, for the retry.
        server ??= startScripted(t, [ok], port)
        await server
        throw err
      }
    }
  }, { model })
  t.equal(attempts, 2)
  t.equal(run.texts.get('content'), 'Hello there')
  t.match(run.finish, { reason: 'stop' })
  t.same(run.errors, [])
})

t.test('retries a 503 and a 429, waiting what Retry-After says', async (t) => {
  const busy = (status: number, retryAfter: string) => (res: ServerResponse): void => {
    res.writeHead(status, { 'content-type': 'application/json', 'retry-after': retryAfter })
    res.end(JSON.stringify({ error: { message: 'busy', type: 'server_error', param: null, code: 'SLUICE_RATE_LIMITED' } }))
  }
  const server = await startScripted(t, [busy(503, '0'), busy(429, '1'), ok])
  const started = Date.now()
  const run = await collect({ url: server.url, protocol: 'openai-chat', retryBaseMs: 10 }, { model })
  t.ok(Date.now() - started >= 950, `waited the second's Retry-After (${Date.now() - started} ms)`)
  t.equal(server.requests(), 3)
  t.equal(run.texts.get('content'), 'Hello there')
  t.same(run.errors, [], 'nothing to tell: the retries worked')

  const refusing = await startScripted(t, [busy(429, '3600')])
  const gaveUp = await collect({ url: refusing.url, protocol: 'openai-chat', retryBaseMs: 10 }, { model })
  t.equal(refusing.requests(), 1, 'a Retry-After past maxRetryDelayMs is not waited')
  t.match(gaveUp.errors, [{ code: 'SLUICE_RATE_LIMITED', status: 429, message: 'busy' }])
  t.match(gaveUp.finish, { reason: 'error' })

  const broken = await startScripted(t, [busy(502, '0')])
  const exhausted = await collect({ url: broken.url, protocol: 'openai-chat', retryBaseMs: 10, maxRetries: 3 }, { model })
  t.equal(broken.requests(), 4, 'maxRetries retries, then the error')
  t.match(exhausted.finish, { reason: 'error', error: { status: 502 } })
})

t.test('retries a body that breaks before its first byte, never one that broke after it', async (t) => {
  const headersOnly = (res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.flushHeaders()
    setTimeout(() => res.socket?.destroy(), 20)
  }
  const before = await startScripted(t, [headersOnly, ok])
  const run = await collect({ url: before.url, protocol: 'openai-chat', retryBaseMs: 10 }, { model })
  t.equal(before.requests(), 2)
  t.equal(run.texts.get('content'), 'Hello there')

  const afterText = (res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write(chunk('Half an ans'))
    setTimeout(() => res.socket?.destroy(), 50)
  }
  const after = await startScripted(t, [afterText, ok])
  const broke = await collect({ url: after.url, protocol: 'openai-chat', retryBaseMs: 10 }, { model })
  t.equal(after.requests(), 1, 'not retried: text was delivered')
  t.equal(broke.texts.get('content'), 'Half an ans')
  t.match(broke.errors, [{ code: 'SLUICE_CLIENT_NETWORK' }])
  t.match(broke.finish, { reason: 'error', error: { code: 'SLUICE_CLIENT_NETWORK' } })
})

t.test('a stream that ends without a finish reason finishes missing', async (t) => {
  const server = await startScripted(t, [(res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.end(chunk('All of ') + chunk('it, but no end'))
  }])
  const run = await collect({ url: server.url, protocol: 'openai-chat' }, { model })
  t.equal(run.texts.get('content'), 'All of it, but no end')
  t.match(run.finish, { reason: 'missing', raw: undefined })
  t.same(run.errors, [])
})

t.test('an answer that is no stream is an error', async (t) => {
  const server = await startScripted(t, [(res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"choices":[]}')
  }])
  const run = await collect({ url: server.url, protocol: 'openai-chat' }, { model })
  t.match(run.finish, { reason: 'error', error: { code: 'SLUICE_CLIENT_NOT_A_STREAM' } })
})

t.test('coalesces deltas per animation frame where requestAnimationFrame exists; every delta with coalesce: false', async (t) => {
  const { url } = await stack()
  const scope = globalThis as { requestAnimationFrame?: (cb: () => void) => unknown }
  let frames = 0
  const pending: Array<() => void> = []
  const timer = setInterval(() => {
    frames++
    for (const callback of pending.splice(0)) callback()
  }, 50)
  scope.requestAnimationFrame = (callback) => pending.push(callback)
  t.teardown(() => {
    clearInterval(timer)
    delete scope.requestAnimationFrame
  })
  const options = { url: url + '/v1/messages', protocol: 'anthropic-messages' as const, headers: { 'x-demo-answer': 'clean', 'x-demo-rate': '1000', 'x-demo-chunk': '1-2' } }
  frames = 0
  const framed = await collect(options, kDemoRoutes[4]?.payload)
  const framesDuring = frames
  delete scope.requestAnimationFrame
  const each = await collect({ ...options, coalesce: false }, kDemoRoutes[4]?.payload)
  const text = each.texts.get('content') ?? ''
  t.equal(framed.texts.get('content'), text, 'the same text')
  t.ok(text.length > 200)
  t.ok(framed.calls.length <= framesDuring + 1, `at most one onText per frame (${framed.calls.length} calls, ${framesDuring} frames of 50 ms)`)
  t.ok(each.calls.length > framed.calls.length, `${each.calls.length} deltas uncoalesced, ${framed.calls.length} coalesced`)
  const offsets = framed.calls.map((c) => c.info.offset)
  t.same(offsets, framed.calls.map((_, i) => framed.calls.slice(0, i).reduce((n, c) => n + c.delta.length, 0)), 'offsets follow the text')
})

t.test('sends the payload as JSON with the caller\'s headers, whatever their case, over its own', async (t) => {
  const seen: Array<{ headers: IncomingMessage['headers'], body: string }> = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (d: Buffer) => { body += d.toString() })
    req.on('end', () => {
      seen.push({ headers: req.headers, body })
      ok(res)
    })
  })
  const url = await listen(t, server)
  let calls = 0
  await collect({ url, protocol: 'ollama', headers: () => ({ Authorization: `Bearer k${++calls}`, 'Content-Type': 'application/json; charset=utf-8' }) }, { model, messages: [] })
  await collect({ url, protocol: 'openai-chat' }, '{"raw":true}')
  t.match(seen[0]?.headers, { authorization: 'Bearer k1', 'content-type': 'application/json; charset=utf-8', accept: 'application/x-ndjson' })
  t.same(JSON.parse(seen[0]?.body ?? ''), { model, messages: [] })
  t.match(seen[1]?.headers, { 'content-type': 'application/json', accept: 'text/event-stream' })
  t.equal(seen[1]?.body, '{"raw":true}', 'a string goes as it is')
})
