/**
 * The CLI contract, end to end over real sockets: the demo upstream as its
 * own process, the proxy as its own process started exactly as outside
 * tooling starts it (`bin/sluice.js proxy --upstream URL --port N`, default
 * rules), and real clients (the openai SDK, undici). Needs `dist/` (npm test
 * builds first).
 */
import t from 'tap'
import type { Test } from 'tap'
import OpenAI from 'openai'
import { request } from 'undici'
import { DEMO_EMAIL } from '../../src/demo/canned-answers.js'
import { demoControlArgs, freePort, spawnNode, waitFor } from './fixtures/harness.js'
import type { Child } from './fixtures/harness.js'

const model = 'sluice-demo-1'

async function startUpstream (t: Test): Promise<{ url: string, stats: () => Promise<{ abortedStreams: number, activeStreams: number, requests: number }> }> {
  const upstream = await spawnNode(t, ['dist/demo/upstream-main.js', '--port', '0', '--rate', '0'], /listening on (http:\/\/\S+)/)
  const url = upstream.match[1] ?? ''
  const stats = async (): Promise<{ abortedStreams: number, activeStreams: number, requests: number }> => {
    const res = await request(url + '/_demo/stats')
    return await res.body.json() as { abortedStreams: number, activeStreams: number, requests: number }
  }
  return { url, stats }
}

async function startProxyProcess (t: Test, upstream: string, extra: string[] = []): Promise<Child & { url: string, match: RegExpMatchArray }> {
  const port = await freePort()
  const proxy = await spawnNode(t, ['bin/sluice.js', 'proxy', '--upstream', upstream, '--port', String(port), ...demoControlArgs, ...extra], /"msg":"(sluice proxy listening on [^"]*)"/)
  return { ...proxy, url: `http://127.0.0.1:${port}` }
}

t.test('the CLI contract: sluice proxy --upstream URL --port N serves the openai SDK with the default rules', async (t) => {
  const upstream = await startUpstream(t)
  const proxy = await startProxyProcess(t, upstream.url)
  t.match(proxy.match[1], new RegExp(`listening on ${proxy.url}`))
  t.match(proxy.match[1], /no client keys required/)

  const openai = new OpenAI({ baseURL: proxy.url + '/v1', apiKey: 'x', maxRetries: 0 })
  const completion = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-demo-answer': 'email' } })
  const whole = completion.choices[0]?.message.content ?? ''
  t.match(whole, /^Sure! The account manager/)
  t.notOk(whole.includes(DEMO_EMAIL), 'the e-mail address is redacted (non-streamed)')

  const stream = await openai.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-demo-answer': 'email' } })
  let streamed = ''
  let finish: string | null = null
  for await (const chunk of stream) {
    streamed += chunk.choices[0]?.delta.content ?? ''
    finish = chunk.choices[0]?.finish_reason ?? finish
  }
  t.equal(streamed, whole, 'streamed and whole answers are sanitized alike')
  t.equal(finish, 'stop')

  const cut = await openai.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-demo-answer': 'abuse' } })
  let cutText = ''
  let cutFinish: string | null = null
  for await (const chunk of cut) {
    cutText += chunk.choices[0]?.delta.content ?? ''
    cutFinish = chunk.choices[0]?.finish_reason ?? cutFinish
  }
  t.equal(cutFinish, 'content_filter', 'the SDK surfaces the cut')
  t.notMatch(cutText, /idiot/)

  const messages = await request(proxy.url + '/v1/messages', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-demo-answer': 'email', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model, max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'hi' }] })
  })
  t.equal(messages.statusCode, 200)
  const sse = await messages.body.text()
  t.match(sse, /event: message_stop/)
  t.notOk(sse.includes(DEMO_EMAIL), 'redacted on /v1/messages too')
})

t.test('a client abort closes the upstream connection across processes', async (t) => {
  const upstream = await startUpstream(t)
  const proxy = await startProxyProcess(t, upstream.url)
  const openai = new OpenAI({ baseURL: proxy.url + '/v1', apiKey: 'x', maxRetries: 0 })
  const stream = await openai.chat.completions.create(
    { model, stream: true, messages: [{ role: 'user', content: 'hi' }] },
    { headers: { 'x-fault': 'never-ends', 'x-demo-answer': 'clean', 'x-demo-rate': '50' } }
  )
  let chunks = 0
  for await (const _ of stream) {
    if (++chunks === 3) stream.controller.abort()
  }
  let last = { abortedStreams: 0, activeStreams: -1, requests: 0 }
  t.ok(await waitFor(async () => {
    last = await upstream.stats()
    return last.abortedStreams === 1
  }), 'the upstream counted the stream as aborted')
  t.equal(last.activeStreams, 0)
})

t.test('SIGTERM lets a stream in flight finish, then the process exits 0', async (t) => {
  const upstream = await startUpstream(t)
  const proxy = await startProxyProcess(t, upstream.url)
  const res = await request(proxy.url + '/v1/chat/completions', {
    method: 'POST',
    // About 40 chunks at 20 a second: the stream outlives the signal by far.
    headers: { 'content-type': 'application/json', 'x-demo-answer': 'clean', 'x-demo-rate': '20' },
    body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] })
  })
  t.equal(res.statusCode, 200)
  let body = ''
  let signalled = false
  for await (const chunk of res.body) {
    body += chunk.toString()
    if (!signalled && body.includes('"content"')) {
      signalled = true
      proxy.child.kill('SIGTERM')
    }
  }
  t.ok(signalled)
  t.match(body, /"finish_reason":"stop"/, 'the stream ended normally')
  t.match(body, /data: \[DONE\]\n\n$/)
  t.equal(await proxy.exited, 0, 'exit code 0')
  t.match(proxy.stdout(), /shut down cleanly/)
  await t.rejects(request(proxy.url + '/healthz'), 'no longer listening')
})

t.test('sluice proxy refuses to start without an upstream and says why', async (t) => {
  const { spawn } = await import('node:child_process')
  const child = spawn(process.execPath, ['bin/sluice.js', 'proxy'], { cwd: new URL('../..', import.meta.url), stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  t.equal(code, 2)
  t.match(err, /upstream is required/)
})

t.test('sluice proxy exits 1 promptly when it cannot listen, with the rule watcher on or off', async (t) => {
  const { spawn } = await import('node:child_process')
  const { createServer } = await import('node:net')
  const busy = createServer()
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { busy.close() })
  const port = String((busy.address() as { port: number }).port)
  for (const extra of [[], ['--no-watch'], ['--metrics-port', port, '--port', '0']]) {
    const child = spawn(process.execPath, ['bin/sluice.js', 'proxy', '--upstream', 'http://127.0.0.1:9', '--port', port, ...extra],
      { cwd: new URL('../..', import.meta.url), stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    const start = Date.now()
    const code = await new Promise<number | string | null>((resolve) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); resolve('still running after 15 s') }, 15_000)
      child.once('exit', (c, signal) => { clearTimeout(timer); resolve(c ?? signal) })
    })
    t.equal(code, 1, `${extra.join(' ') || 'watching rules'}: exit code (${Date.now() - start} ms)`)
    t.match(err, /cannot start: .*EADDRINUSE/)
  }
})

t.test('sluice demo serves the demo upstream through the proxy and prints a curl line', async (t) => {
  const port = await freePort()
  const demo = await spawnNode(t, ['bin/sluice.js', 'demo', '--port', String(port)], /Ctrl-C to stop/)
  const out = demo.stdout()
  t.match(out, new RegExp(`Sluice demo ready: proxy on http://127\\.0\\.0\\.1:${port}`))
  const curl = /-d '(.*)'/.exec(out)
  t.ok(curl, 'a curl example with a body')
  const res = await request(`http://127.0.0.1:${port}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: curl?.[1] ?? ''
  })
  t.equal(res.statusCode, 200)
  const body = await res.body.text()
  t.match(body, /data: \[DONE\]/)
  t.notOk(body.includes(DEMO_EMAIL), 'the e-mail address of the canned answer is redacted')
  demo.child.kill('SIGTERM')
  t.equal(await demo.exited, 0)
})
