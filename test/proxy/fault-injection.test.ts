/**
 * @module test/proxy/fault-injection
 * The proxy in front of a demo upstream that misbehaves on command
 * (`x-fault: NAME`, see src/demo/create-demo-upstream.ts). Every case checks
 * three things: what the client sees (status, frames that parse, an
 * in-band error frame or a clean end, never a hang), what the audit log
 * records (and that its chain verifies), and that the proxy is healthy
 * afterwards: no stream or upstream request left in flight, a normal request
 * still served, `/healthz` 200, and once the proxy closes no socket left
 * open on the upstream and no timer left behind.
 *
 * Timeouts are set small (idle 300 ms, total 1.5 s) so a broken case ends
 * the test instead of hanging it; nothing asserts how long anything took.
 */
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import type { Test } from 'tap'
import { request } from 'undici'
import { verifyAuditLog } from '../../src/audit/verify-audit-log.js'
import { DEMO_EMAIL } from '../../src/demo/canned-answers.js'
import type { DemoUpstream } from '../../src/demo/create-demo-upstream.js'
import { startDemo, startProxy, waitFor } from './fixtures/harness.js'
import type { StartedProxy } from './fixtures/harness.js'

const model = 'sluice-demo-1'
const chatPath = '/v1/chat/completions'
const idleTimeoutMs = 300
const totalTimeoutMs = 1500

interface Rig extends StartedProxy {
  demo: DemoUpstream
  upstream: string
  auditFile: string
}

/** Timers alive in this process right now (what a leak would add to). */
function activeTimers (): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'Immediate').length
}

async function startRig (t: Test, argv: string[] = []): Promise<Rig> {
  const auditFile = join(t.testdir({}), 'audit.jsonl')
  const { demo, url: upstream } = await startDemo(t)
  const proxy = await startProxy(t, upstream, [
    '--audit', auditFile,
    '--idle-timeout', String(idleTimeoutMs),
    '--total-timeout', String(totalTimeoutMs),
    '--retries', '2',
    ...argv
  ])
  return { ...proxy, demo, upstream, auditFile }
}

interface Exchange {
  status: number
  contentType: string
  body: string
}

async function postChat (url: string, headers: Record<string, string>, fields: Record<string, unknown> = {}): Promise<Exchange> {
  const res = await request(url + chatPath, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hi' }], ...fields })
  })
  const body = await res.body.text()
  return { status: res.statusCode, contentType: String(res.headers['content-type'] ?? ''), body }
}

/** The `data:` payloads of an SSE body, one per event. */
function sseData (body: string): string[] {
  return body.split(/\r?\n\r?\n/)
    .map((event) => event.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n'))
    .filter((data) => data !== '')
}

/** Every payload but `[DONE]` must parse; returns them parsed, and whether `[DONE]` came last. */
function parseFrames (t: Test, body: string): { frames: Array<Record<string, unknown>>, done: boolean } {
  const data = sseData(body)
  const done = data[data.length - 1] === '[DONE]'
  const frames: Array<Record<string, unknown>> = []
  for (const d of done ? data.slice(0, -1) : data) {
    try {
      frames.push(JSON.parse(d) as Record<string, unknown>)
    } catch {
      t.fail(`a frame the client received is not JSON: ${d.slice(0, 80)}`)
    }
  }
  t.notOk(data.slice(0, -1).includes('[DONE]'), '[DONE] only ever comes last')
  return { frames, done }
}

/** The text of every chat delta, joined. */
function deltaText (frames: Array<Record<string, unknown>>): string {
  let text = ''
  for (const f of frames) {
    const choices = Array.isArray(f.choices) ? f.choices as Array<{ delta?: { content?: unknown } }> : []
    for (const c of choices) if (typeof c.delta?.content === 'string') text += c.delta.content
  }
  return text
}

/** The error frame that ends a stream in-band (the OpenAI error shape), if the last frame is one. */
function errorFrame (frames: Array<Record<string, unknown>>): { message: string, type: string, code: string } | undefined {
  const last = frames[frames.length - 1]
  const error = last?.error as { message: string, type: string, code: string } | undefined
  return typeof error?.code === 'string' ? error : undefined
}

function auditRecords (file: string): Array<Record<string, unknown>> {
  let text = ''
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return []
  }
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
}

/** Waits for the stream summaries (written when the response closes, just after the client saw its end). */
async function summaries (file: string, count: number): Promise<Array<Record<string, unknown>>> {
  await waitFor(() => auditRecords(file).filter((r) => r.kind === 'summary').length >= count)
  return auditRecords(file).filter((r) => r.kind === 'summary')
}

async function metricsText (url: string): Promise<string> {
  const res = await request(url + '/metrics')
  return res.body.text()
}

/** Nothing left in flight on either side of the proxy (bounded wait, no timing asserted). */
async function expectSettled (t: Test, rig: Rig): Promise<void> {
  t.ok(await waitFor(() => rig.demo.stats.activeStreams === 0), 'the upstream has no response still being written')
  t.ok(await waitFor(() => rig.app.sluiceProxy.inFlight === 0), 'the proxy has no stream or upstream request in flight')
}

/**
 * After a fault: the proxy still serves a normal stream, `/healthz` is 200,
 * its gauges are back to zero, the audit chain verifies, and once it closes
 * the upstream has no socket open and no timer is left behind.
 */
async function expectHealthy (t: Test, rig: Rig, timersBefore: number): Promise<void> {
  await expectSettled(t, rig)
  const normal = await postChat(rig.url, { 'x-demo-answer': 'clean' })
  t.equal(normal.status, 200, 'a normal request afterwards succeeds')
  const { frames, done } = parseFrames(t, normal.body)
  t.ok(done, 'and ends with [DONE]')
  t.match(deltaText(frames), /^Streaming means/)
  const health = await request(rig.url + '/healthz')
  t.equal(health.statusCode, 200, '/healthz is 200')
  await health.body.text()
  await expectSettled(t, rig)
  t.match(await metricsText(rig.url), /^sluice_active_streams 0$/m, 'the active-streams gauge is back to 0')
  await rig.app.close()
  t.ok(await waitFor(() => rig.demo.stats.openConnections === 0), 'no socket left open on the upstream once the proxy closed')
  const verified = await verifyAuditLog(rig.auditFile)
  t.equal(verified.ok, true, 'the audit chain verifies')
  await rig.demo.close()
  t.ok(await waitFor(() => activeTimers() <= timersBefore), 'no timer left behind')
}

t.test('a connection reset mid-stream ends the stream in-band with an upstream error frame', async (t) => {
  const timers = activeTimers()
  const rig = await startRig(t)
  const res = await postChat(rig.url, { 'x-fault': 'reset-mid-stream', 'x-demo-answer': 'clean' })
  t.equal(res.status, 200, 'the status was already out when the upstream failed')
  const { frames, done } = parseFrames(t, res.body)
  t.notOk(done, 'no [DONE]: the answer did not complete')
  t.match(deltaText(frames), /^Streaming/, 'the text before the reset went through')
  t.match(errorFrame(frames), { code: 'SLUICE_UPSTREAM', type: 'upstream_error' })
  const [summary] = await summaries(rig.auditFile, 1)
  t.match(summary, { finishReason: 'error', cancelled: false, error: { message: 'SLUICE_UPSTREAM' } })
  t.equal(rig.demo.stats.resetStreams, 1, 'the upstream did reset the connection')
  await expectHealthy(t, rig, timers)
})

t.test('a malformed JSON frame is dropped and counted while the stream goes on', async (t) => {
  const timers = activeTimers()
  const rig = await startRig(t)
  const res = await postChat(rig.url, { 'x-fault': 'malformed-json', 'x-demo-answer': 'clean' })
  t.equal(res.status, 200)
  t.notMatch(res.body, /not json/, 'the malformed frame is not passed on')
  const { frames, done } = parseFrames(t, res.body)
  t.ok(done, 'the stream still ends with [DONE]')
  t.match(deltaText(frames), /^Streaming means .* sensitive\.$/, 'the whole answer arrives')
  t.equal(errorFrame(frames), undefined)
  t.match(await metricsText(rig.url), /^sluice_stream_malformed_frames_total\{protocol="openai-chat"\} 1$/m)
  const [summary] = await summaries(rig.auditFile, 1)
  t.match(summary, { finishReason: 'stop', upstreamFinishReason: 'stop', cancelled: false })
  t.notOk('error' in (summary ?? {}))
  await expectHealthy(t, rig, timers)
})

t.test('a JSON body cut short is scanned as text, never passed on unread', async (t) => {
  // Regression: a body labelled JSON that failed to parse used to go to the client untouched.
  const timers = activeTimers()
  const rig = await startRig(t)
  // The address comes first, so it is in the half of the body the fault sends.
  const answer = `Write to ${DEMO_EMAIL} today. ` + 'Then wait for an answer. '.repeat(20)
  const res = await postChat(rig.url, { 'x-fault': 'malformed-json', 'x-demo-text': Buffer.from(answer).toString('base64') }, { stream: false })
  t.equal(res.status, 200)
  t.notOk(res.body.includes(DEMO_EMAIL), 'the raw e-mail never reaches the client')
  t.match(res.body, /Write to \[EMAIL\] today/, 'the e-mail in the half body is redacted')
  t.ok(await waitFor(() => auditRecords(rig.auditFile).some((r) => r.kind === 'finding' && r.ruleId === 'test.pii.email')), 'the finding is audited')
  await expectHealthy(t, rig, timers)
})

t.test('invalid UTF-8 bytes become U+FFFD replacement characters and the stream completes', async (t) => {
  // The decoder replaces each invalid byte (0xff, 0xfe) with U+FFFD, as WHATWG
  // TextDecoder does; the frames stay valid JSON and nothing crashes.
  const timers = activeTimers()
  const rig = await startRig(t)
  const res = await postChat(rig.url, { 'x-fault': 'invalid-utf8', 'x-demo-answer': 'clean' })
  t.equal(res.status, 200)
  const { frames, done } = parseFrames(t, res.body)
  t.ok(done)
  const text = deltaText(frames)
  t.match(text, /\uFFFD\uFFFD/, 'the two invalid bytes are replaced')
  t.match(text, /sensitive\.$/)
  const [summary] = await summaries(rig.auditFile, 1)
  t.match(summary, { finishReason: 'stop', cancelled: false })
  await expectHealthy(t, rig, timers)
})

t.test('a single 10 MiB event ends the stream cleanly with a frame-too-large error', async (t) => {
  const timers = activeTimers()
  const rig = await startRig(t)
  const res = await postChat(rig.url, { 'x-fault': 'huge-event', 'x-demo-answer': 'clean' })
  t.equal(res.status, 200)
  t.ok(res.body.length < 64 * 1024, 'the huge event is not relayed')
  const { frames, done } = parseFrames(t, res.body)
  t.notOk(done)
  t.match(errorFrame(frames), { code: 'SLUICE_FRAME_TOO_LARGE' })
  const [summary] = await summaries(rig.auditFile, 1)
  t.match(summary, { finishReason: 'error', cancelled: false, error: { message: 'SLUICE_FRAME_TOO_LARGE' } })
  await expectHealthy(t, rig, timers)
})

t.test('a stream that never ends is ended in-band by the total timeout', async (t) => {
  const timers = activeTimers()
  const rig = await startRig(t)
  const res = await postChat(rig.url, { 'x-fault': 'never-ends', 'x-demo-answer': 'clean', 'x-demo-rate': '100' })
  t.equal(res.status, 200)
  const { frames, done } = parseFrames(t, res.body)
  t.notOk(done)
  t.ok(deltaText(frames).length > 0, 'text flowed until the cap')
  t.match(errorFrame(frames), { code: 'SLUICE_UPSTREAM_TIMEOUT', message: /exceeded/ })
  const [summary] = await summaries(rig.auditFile, 1)
  t.match(summary, { finishReason: 'error', cancelled: false, error: { message: 'SLUICE_UPSTREAM_TIMEOUT' } })
  t.ok(await waitFor(() => rig.demo.stats.abortedStreams === 1), 'the upstream saw its connection closed')
  t.match(await metricsText(rig.url), /^sluice_upstream_errors_total\{kind="timeout_total"\} 1$/m)
  await expectHealthy(t, rig, timers)
})

t.test('a stream that stalls is ended in-band by the idle timeout', async (t) => {
  const timers = activeTimers()
  const rig = await startRig(t)
  const res = await postChat(rig.url, { 'x-fault': 'stall', 'x-demo-answer': 'clean' })
  t.equal(res.status, 200)
  const { frames, done } = parseFrames(t, res.body)
  t.notOk(done)
  t.match(deltaText(frames), /^Streaming/)
  t.match(errorFrame(frames), { code: 'SLUICE_UPSTREAM_TIMEOUT', message: /no data from upstream/ })
  const [summary] = await summaries(rig.auditFile, 1)
  t.match(summary, { finishReason: 'error', cancelled: false, error: { message: 'SLUICE_UPSTREAM_TIMEOUT' } })
  t.ok(await waitFor(() => rig.demo.stats.abortedStreams === 1), 'the upstream saw its connection closed')
  t.match(await metricsText(rig.url), /^sluice_upstream_errors_total\{kind="timeout_idle"\} 1$/m)
  await expectHealthy(t, rig, timers)
})

t.test('a 500 before the first byte is retried, and succeeds when the upstream recovers', async (t) => {
  const timers = activeTimers()
  const rig = await startRig(t)
  const res = await postChat(rig.url, { 'x-fault': 'status-500', 'x-fault-count': '2', 'x-demo-answer': 'clean' })
  t.equal(res.status, 200)
  const { done } = parseFrames(t, res.body)
  t.ok(done)
  t.equal(rig.demo.stats.requests, 3, 'two failed attempts, then the good one')
  t.match(await metricsText(rig.url), /^sluice_upstream_retries_total 2$/m)
  const [summary] = await summaries(rig.auditFile, 1)
  t.match(summary, { finishReason: 'stop' })
  await expectHealthy(t, rig, timers)
})

t.test('500s on every attempt become a JSON 502 in the OpenAI error shape', async (t) => {
  const timers = activeTimers()
  const rig = await startRig(t)
  const res = await postChat(rig.url, { 'x-fault': 'status-500' })
  t.equal(res.status, 502)
  t.match(res.contentType, /^application\/json/)
  t.match(JSON.parse(res.body), { error: { type: 'upstream_error', code: 'SLUICE_UPSTREAM', message: /500 after 3 attempt/, param: null } })
  t.equal(rig.demo.stats.requests, 3, '1 attempt + 2 retries')
  await expectSettled(t, rig)
  t.notOk(auditRecords(rig.auditFile).some((r) => r.kind === 'summary'), 'no stream started, so no stream summary')
  await expectHealthy(t, rig, timers)
})

t.test('a 429 before the first byte is retried, and succeeds when the quota returns', async (t) => {
  const timers = activeTimers()
  const rig = await startRig(t)
  const res = await postChat(rig.url, { 'x-fault': 'status-429', 'x-fault-count': '1', 'x-fault-retry-after': '0', 'x-demo-answer': 'clean' })
  t.equal(res.status, 200)
  t.ok(parseFrames(t, res.body).done)
  t.equal(rig.demo.stats.requests, 2)
  t.match(await metricsText(rig.url), /^sluice_upstream_errors_total\{kind="status_429"\} 1$/m)
  await expectHealthy(t, rig, timers)
})

t.test('429s on every attempt reach the client as a JSON 429 with retry-after', async (t) => {
  const timers = activeTimers()
  const rig = await startRig(t)
  const res = await request(rig.url + chatPath, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-fault': 'status-429', 'x-fault-retry-after': '0' },
    body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] })
  })
  t.equal(res.statusCode, 429)
  t.match(String(res.headers['content-type']), /^application\/json/)
  t.equal(res.headers['retry-after'], '0', "the provider's retry-after is passed on")
  // The provider's own 429 body is relayed (its `code` tells quota from rate limit).
  t.match(await res.body.json(), { error: { message: /Rate limit/, code: 'rate_limit_exceeded' } })
  t.equal(rig.demo.stats.requests, 3)
  await expectSettled(t, rig)
  t.notOk(auditRecords(rig.auditFile).some((r) => r.kind === 'summary'))
  await expectHealthy(t, rig, timers)
})

t.test('an SSE stream labelled application/json does not leak the e-mail', async (t) => {
  // Regression: the JSON path could not parse the SSE text and passed it on unread.
  const timers = activeTimers()
  const rig = await startRig(t)
  // Chunks of 200 characters put the whole address in one delta, so a leak could not hide in a split.
  const res = await postChat(rig.url, { 'x-fault': 'lying-content-type', 'x-demo-answer': 'email', 'x-demo-chunk': '200-200' })
  t.equal(res.status, 200)
  t.notOk(res.body.includes(DEMO_EMAIL), 'the raw e-mail never reaches the client')
  const { frames, done } = parseFrames(t, res.body)
  t.ok(done, 'read as the event stream it is, it ends with [DONE]')
  const text = deltaText(frames)
  t.notOk(text.includes(DEMO_EMAIL), 'not even with the deltas joined')
  t.match(text, /reach her at \[EMAIL\] or/)
  t.ok(await waitFor(() => auditRecords(rig.auditFile).some((r) => r.kind === 'finding' && r.ruleId === 'test.pii.email')), 'the finding is audited')
  await expectHealthy(t, rig, timers)
})

t.test('a JSON body labelled text/event-stream does not leak the e-mail', async (t) => {
  // Read as SSE, a JSON body has no `data:` line: nothing is released (the
  // client gets an empty 200), which fails closed. Sniffing JSON there
  // would let the answer through, sanitized; see the report.
  const timers = activeTimers()
  const rig = await startRig(t)
  const res = await postChat(rig.url, { 'x-fault': 'lying-content-type', 'x-demo-answer': 'email' }, { stream: false })
  t.equal(res.status, 200)
  t.notOk(res.body.includes(DEMO_EMAIL), 'the raw e-mail never reaches the client')
  t.notMatch(res.body, /northwind/)
  const [summary] = await summaries(rig.auditFile, 1)
  t.match(summary, { cancelled: false, charsOut: 0 })
  await expectHealthy(t, rig, timers)
})

// Client aborts ----------------------------------------------------------------

interface AbortPoint {
  name: string
  headers: Record<string, string>
  /** Sends the request (or part of it) and returns once the point is reached. */
  reach: (socket: Socket, send: () => void, rig: Rig, received: () => string) => Promise<boolean>
  /** Whether the request reaches the upstream before the abort. */
  upstreamSees: boolean
  /** Whether a sanitized stream started (and so a summary is written). */
  streamed: boolean
}

const slowStream = { 'x-fault': 'never-ends', 'x-demo-answer': 'clean', 'x-demo-rate': '50' }

const abortPoints: AbortPoint[] = [
  {
    name: 'before sending the body',
    headers: slowStream,
    reach: async (_socket, _send, rig) => waitFor(() => rig.logs.lines.some((l) => l.msg === 'incoming request' && (l.req as { path?: string } | undefined)?.path === chatPath)),
    upstreamSees: false,
    streamed: false
  },
  {
    name: 'after sending the body, before the response headers',
    headers: { ...slowStream, 'x-fault': 'slow-headers', 'x-fault-delay': '10000' },
    reach: async (_socket, send, rig) => {
      send()
      return waitFor(() => rig.demo.stats.activeStreams === 1)
    },
    upstreamSees: true,
    streamed: false
  },
  {
    name: 'right after the response headers',
    headers: slowStream,
    reach: async (_socket, send, _rig, received) => {
      send()
      return waitFor(() => received().includes('\r\n\r\n'))
    },
    upstreamSees: true,
    streamed: true
  },
  {
    name: 'after the first chunk',
    headers: slowStream,
    reach: async (_socket, send, _rig, received) => {
      send()
      return waitFor(() => (received().split('\r\n\r\n')[1] ?? '').includes('data:'))
    },
    upstreamSees: true,
    streamed: true
  },
  {
    name: 'mid-stream',
    headers: slowStream,
    reach: async (_socket, send, _rig, received) => {
      send()
      return waitFor(() => (received().match(/data: /g) ?? []).length >= 8)
    },
    upstreamSees: true,
    streamed: true
  }
]

for (const point of abortPoints) {
  t.test(`a client that aborts ${point.name} leaves nothing open`, async (t) => {
    const timers = activeTimers()
    const rig = await startRig(t)
    const { port } = new URL(rig.url)
    const body = JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] })
    const head = [
      `POST ${chatPath} HTTP/1.1`,
      `host: 127.0.0.1:${port}`,
      'content-type: application/json',
      `content-length: ${Buffer.byteLength(body)}`,
      ...Object.entries(point.headers).map(([k, v]) => `${k}: ${v}`),
      '', ''
    ].join('\r\n')
    const socket = connect(Number(port), '127.0.0.1')
    t.teardown(() => { socket.destroy() })
    let received = ''
    socket.on('data', (d: Buffer) => { received += d.toString() })
    socket.on('error', () => {})
    await new Promise<void>((resolve) => socket.once('connect', resolve))
    socket.write(head)
    t.ok(await point.reach(socket, () => socket.write(body), rig, () => received), 'the abort point is reached')
    socket.destroy()

    if (point.upstreamSees) {
      t.ok(await waitFor(() => rig.demo.stats.abortedStreams === 1), 'the upstream sees its connection closed')
    } else {
      t.equal(rig.demo.stats.requests, 0, 'nothing was sent upstream')
    }
    await expectSettled(t, rig)
    if (point.streamed) {
      const [summary] = await summaries(rig.auditFile, 1)
      t.match(summary, { finishReason: 'cancelled', cancelled: true })
    } else {
      t.notOk(auditRecords(rig.auditFile).some((r) => r.kind === 'summary'), 'no stream started, so no summary')
    }
    await expectHealthy(t, rig, timers)
  })
}
