/**
 * The Fastify plugin over real sockets, read by real clients (undici, the
 * OpenAI SDK) as the bytes arrive: streaming before the source ends, a cut
 * that stops the source, backpressure from a client that does not read,
 * a client that goes away, an upstream that fails mid-stream, rules swapped
 * while a stream is in flight. No timing is asserted: tests wait for
 * events, or for a counter to stop moving.
 */
import t from 'tap'
import { PassThrough } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import OpenAI from 'openai'
import { request } from 'undici'
import type { Test } from 'tap'
import { sluice } from '../../src/plugin/index.js'
import type { SluicePluginOptions, StreamOutcome } from '../../src/plugin/index.js'
import { createRuleSetFromSources } from '../../src/rules/load-rules.js'
import {
  assembledContent, chatSseFrames, createEndlessSource, expectedText, finishTrail, jsonEvents, kCard, kCutPhrase, kEmail,
  kHmacKey, sseChunk, testRules, tokensOf
} from '../fixtures/plugin/streams.js'
import type { EndlessSource } from '../fixtures/plugin/streams.js'

const ruleSet = await testRules()
const pii = `Sure! You can reach Maria at ${kEmail} and the order was paid with the card ${kCard}, thanks.`
const helloRules = createRuleSetFromSources([
  { id: 'test.hello', category: 'custom', description: 'hello', pattern: 'hello', boundary: 'word', action: 'redact', replacement: '[greeting]' }
])

interface Started {
  app: FastifyInstance
  url: string
  /** Resolves with the next stream outcome not yet taken. */
  nextOutcome: () => Promise<StreamOutcome>
}

/** An app with the plugin, listening on an ephemeral port of 127.0.0.1. */
async function start (t: Test, opts: SluicePluginOptions, routes: (app: FastifyInstance) => void): Promise<Started> {
  const outcomes: StreamOutcome[] = []
  const waiting: Array<(o: StreamOutcome) => void> = []
  const app = Fastify()
  await app.register(sluice, {
    rules: ruleSet,
    hmacKey: kHmacKey,
    ...opts,
    onStreamEnd: (outcome, req) => {
      opts.onStreamEnd?.(outcome, req)
      const waiter = waiting.shift()
      if (waiter === undefined) outcomes.push(outcome)
      else waiter(outcome)
    }
  })
  routes(app)
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => app.close())
  return {
    app,
    url,
    nextOutcome: () => {
      const ready = outcomes.shift()
      return ready === undefined ? new Promise((resolve) => waiting.push(resolve)) : Promise.resolve(ready)
    }
  }
}

/** Waits until `read()` has not moved for `checks` polls in a row, or passes `limit` (then returns at once). */
async function settle (read: () => number, limit: number, checks = 10): Promise<number> {
  let last = -1
  let still = 0
  while (still < checks) {
    await sleep(50)
    const now = read()
    if (now > limit) return now
    still = now === last ? still + 1 : 0
    last = now
  }
  return last
}

function sseRoute (app: FastifyInstance, url: string, source: () => NodeJS.ReadableStream | EndlessSource['stream']): void {
  app.get(url, async (_request, reply) => reply.type('text/event-stream').send(source()))
}

t.test('the client reads sanitized text while the source is still open', async (t) => {
  const source = new PassThrough()
  const { url } = await start(t, {}, (app) => { sseRoute(app, '/chat', () => source) })
  const words = `${pii} `.repeat(4).split(/(?<= )/)
  const frames = chatSseFrames(words)
  // Headers go out with the first body bytes, so the source must say something first.
  for (const frame of frames.slice(0, -2)) source.write(frame)
  const res = await request(`${url}/chat`)
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/event-stream/)
  // Everything but the finish chunk and [DONE] is written; text longer than
  // any rule's holdback must reach the client before the source ends.
  // (An explicit iterator: leaving a for-await loop would destroy the body.)
  const chunks = res.body[Symbol.asyncIterator]()
  let received = ''
  while (!assembledContent(received.slice(0, received.lastIndexOf('\n\n') + 2)).includes('Sure! You can reach Maria at ')) {
    const next = await chunks.next()
    if (next.done === true) break
    received += String(next.value)
  }
  t.notOk(source.writableEnded, 'the source has not ended yet')
  t.notMatch(received, kEmail)
  for (const frame of frames.slice(-2)) source.write(frame)
  source.end()
  for (let next = await chunks.next(); next.done !== true; next = await chunks.next()) received += String(next.value)
  t.equal(assembledContent(received), expectedText(ruleSet, words.join('')))
  t.same(finishTrail(received), ['stop', '[DONE]'])
})

t.test('a cut reaches the client as content_filter then [DONE], and destroys a source that would never end', async (t) => {
  const source = createEndlessSource({ head: chatSseFrames(tokensOf(`Fine. Now ${kCutPhrase} at dawn.`)).slice(0, -2) })
  const { url, nextOutcome } = await start(t, {}, (app) => { sseRoute(app, '/chat', () => source.stream) })
  const res = await request(`${url}/chat`)
  const body = await res.body.text()
  await source.closed
  t.ok(source.stream.destroyed, 'the source is destroyed')
  t.same(finishTrail(body), ['content_filter', '[DONE]'])
  t.same(jsonEvents(body).at(-1), '[DONE]')
  t.equal(assembledContent(body), 'Fine. Now ')
  t.notMatch(body, 'and so on')
  t.match(await nextOutcome(), { finishReason: 'content_filter', cancelled: false, findings: { cut: 1 } })
})

t.test('a client that does not read stops the source being read', async (t) => {
  // Coalesced, the endless source's ~150-byte frames of 11 characters go
  // out as one frame per read, ~14 times fewer bytes: the same buffers
  // then hold ~14 times more of the source before it stops.
  for (const [coalesce, limit] of [[false, 64 * 1024 * 1024], [true, 512 * 1024 * 1024]] as const) {
    const source = createEndlessSource()
    const { url, nextOutcome } = await start(t, { coalesce }, (app) => { sseRoute(app, '/chat', () => source.stream) })
    const res = await request(`${url}/chat`)
    t.equal(res.statusCode, 200)
    // Nothing reads res.body: the client's buffer, both sockets' kernel
    // buffers, the response and the transform fill up, and the source must
    // then stop being asked for more. Without backpressure it would run on.
    const pulled = await settle(() => source.bytes, limit)
    t.ok(pulled < limit, `coalesce ${coalesce}: the source stopped after ${pulled} bytes`)
    t.ok(pulled > 0, 'it was read at first')
    t.ok(source.reads < pulled, 'each read pulled a frame')
    t.notOk(source.stream.destroyed, 'a slow client is not a cancelled one')
    res.body.destroy()
    await source.closed
    t.match(await nextOutcome(), { cancelled: true })
  }
})

t.test('a client that goes away mid-stream destroys the source and is reported as cancelled', async (t) => {
  const source = createEndlessSource({ head: chatSseFrames(tokensOf(pii)).slice(0, -2) })
  const { url, nextOutcome } = await start(t, {}, (app) => { sseRoute(app, '/chat', () => source.stream) })
  const res = await request(`${url}/chat`)
  // Until some text arrived (not just the role chunk): scanning may wait a
  // turn when the process is busy (stream/turn-budget.ts).
  let received = ''
  for await (const chunk of res.body) {
    received += String(chunk)
    if (!/"content":"[^"]/.test(received)) continue
    t.ok(received.length > 0, 'the client got text')
    break // leaving the loop destroys the body: the client aborts
  }
  await source.closed
  t.ok(source.stream.destroyed, 'the source is destroyed')
  const outcome = await nextOutcome()
  t.match(outcome, { cancelled: true, finishReason: 'cancelled', route: '/chat', protocol: 'openai-chat' })
  t.ok(outcome.charsIn > 0, 'it had scanned text')
})

t.test('an upstream error mid-stream reaches the client as an error frame and the response ends', async (t) => {
  const source = new PassThrough()
  const { url, nextOutcome } = await start(t, {}, (app) => { sseRoute(app, '/chat', () => source) })
  const pending = request(`${url}/chat`)
  for (const frame of chatSseFrames(tokensOf('Here it comes: ')).slice(0, -2)) source.write(frame)
  source.write(sseChunk('and then').slice(0, 30))
  // Fail it once the plugin has taken it (headers are out by then).
  while (source.listenerCount('error') === 0) await sleep(10)
  source.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))
  const res = await pending
  t.equal(res.statusCode, 200)
  const body = await res.body.text() // resolves only if the response ends
  t.match(jsonEvents(body).at(-1), { error: { code: 'SLUICE_UPSTREAM', message: /ECONNRESET/ } })
  t.match(await nextOutcome(), { finishReason: 'error', error: 'SLUICE_UPSTREAM', cancelled: false })
})

t.test('setRuleSet() leaves a stream in flight on its rules and gives new streams the new ones', async (t) => {
  const sources: PassThrough[] = []
  const { app, url } = await start(t, {}, (app) => {
    sseRoute(app, '/chat', () => {
      const s = new PassThrough()
      sources.push(s)
      return s
    })
  })
  const text = `hello ${kEmail} `
  const frames = chatSseFrames(tokensOf(text))
  const pending = request(`${url}/chat`)
  while (sources.length < 1) await sleep(10)
  const source = sources[0] as PassThrough
  source.write(frames[0]) // headers go out with the first bytes
  const first = await pending
  const iterator = first.body[Symbol.asyncIterator]()
  let body = String((await iterator.next()).value) // the stream has started on the old rules
  app.sluice.setRuleSet(helloRules)
  for (const frame of frames.slice(1)) source.write(frame)
  source.end()
  for (let r = await iterator.next(); r.done !== true; r = await iterator.next()) body += String(r.value)
  t.equal(assembledContent(body), expectedText(ruleSet, text), 'the stream in flight kept its rules')

  const second = request(`${url}/chat`)
  while (sources.length < 2) await sleep(10)
  for (const frame of frames) sources[1]?.write(frame)
  sources[1]?.end()
  t.equal(assembledContent(await (await second).body.text()), `[greeting] ${kEmail} `, 'the next stream has the new rules')
})

t.test('the OpenAI SDK reads a sanitized stream, and a cut, from a plugin route', async (t) => {
  let answer = ''
  const { url } = await start(t, {}, (app) => {
    app.post('/v1/chat/completions', async (_request, reply) => {
      const source = new PassThrough()
      for (const frame of chatSseFrames(tokensOf(answer))) source.write(frame)
      source.end()
      return reply.type('text/event-stream').send(source)
    })
  })
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'test', maxRetries: 0 })
  const read = async (): Promise<{ text: string, finish: Array<string | null> }> => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] })
    let text = ''
    const finish: Array<string | null> = []
    for await (const chunk of stream) {
      for (const choice of chunk.choices) {
        text += choice.delta.content ?? ''
        if (choice.finish_reason !== null) finish.push(choice.finish_reason)
      }
    }
    return { text, finish }
  }
  answer = pii
  t.same(await read(), { text: expectedText(ruleSet, pii), finish: ['stop'] })
  answer = `Fine. Now ${kCutPhrase} at dawn.`
  t.same(await read(), { text: 'Fine. Now ', finish: ['content_filter'] })
})
