import t from 'tap'
import { request } from 'undici'
import { createParser } from 'eventsource-parser'
import type { EventSourceMessage } from 'eventsource-parser'
import OpenAI from 'openai'
import { createDemoUpstream } from '../../src/demo/create-demo-upstream.js'
import type { DemoUpstream, DemoUpstreamOptions } from '../../src/demo/create-demo-upstream.js'
import { cannedAnswers, findAnswer } from '../../src/demo/canned-answers.js'

/** All `start` needs of a test: somewhere to register the cleanup. */
type Test = Pick<typeof t, 'teardown'>

function answer (name: string): string {
  const found = findAnswer(cannedAnswers, name)
  if (found === undefined) throw new Error(`no canned answer ${name}`)
  return found.text
}

async function start (t: Test, options: DemoUpstreamOptions = { chunksPerSecond: 0 }): Promise<{ upstream: DemoUpstream; url: string }> {
  const upstream = createDemoUpstream(options)
  const url = await upstream.listen()
  t.teardown(() => upstream.close())
  return { upstream, url }
}

function post (url: string, body: unknown, headers: Record<string, string> = {}) {
  return request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body)
  })
}

function chat (content: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'sluice-demo-1', messages: [{ role: 'user', content }], ...extra }
}

/** Parses an SSE body with eventsource-parser (an independent parser, not ours). */
function sseEvents (text: string): EventSourceMessage[] {
  const events: EventSourceMessage[] = []
  const parser = createParser({ onEvent: (event) => events.push(event) })
  parser.feed(text)
  return events
}

function jsonEvents (text: string): Array<Record<string, any>> {
  return sseEvents(text)
    .filter((e) => e.data !== '[DONE]')
    .map((e) => JSON.parse(e.data) as Record<string, any>)
}

function chatText (chunks: Array<Record<string, any>>, index = 0): string {
  return chunks
    .flatMap((c) => c.choices as Array<Record<string, any>>)
    .filter((c) => c.index === index && typeof c.delta?.content === 'string')
    .map((c) => c.delta.content as string)
    .join('')
}

async function until (condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5))
}

function b64 (text: string): string {
  return Buffer.from(text, 'utf8').toString('base64')
}

// Endpoints -------------------------------------------------------------------

t.test('answers a chat completion with the chat.completion shape', async (t) => {
  const { url } = await start(t)
  const res = await post(url + '/v1/chat/completions', chat('what is on the card?'))
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  const body = (await res.body.json()) as Record<string, any>
  t.match(body.id, /^chatcmpl-[A-Za-z0-9]+$/)
  t.equal(body.object, 'chat.completion')
  t.type(body.created, 'number')
  t.equal(body.model, 'sluice-demo-1')
  t.same(body.choices, [
    { index: 0, message: { role: 'assistant', content: answer('card'), refusal: null }, finish_reason: 'stop', logprobs: null }
  ])
  t.equal(body.usage.total_tokens, body.usage.prompt_tokens + body.usage.completion_tokens)
})

t.test('streams a chat completion as SSE: role chunk, small content chunks, stop, usage, [DONE]', async (t) => {
  const { url } = await start(t)
  const res = await post(url + '/v1/chat/completions', chat('my email please', { stream: true, stream_options: { include_usage: true } }))
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/event-stream/)
  const text = await res.body.text()
  t.ok(text.endsWith('data: [DONE]\n\n'), 'ends with [DONE]')
  for (const frame of text.split('\n\n').filter(Boolean)) t.match(frame, /^data: /, 'every event is one data line')
  const chunks = jsonEvents(text)
  const first = chunks[0]
  t.same(first?.choices, [{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }])
  const contents = chunks.slice(1, -2).map((c) => c.choices[0].delta.content as string)
  t.ok(contents.length > 10)
  for (const piece of contents) {
    const length = Array.from(piece).length
    t.ok(length >= 1 && length <= 8, `chunk of ${length} chars`)
  }
  t.equal(chatText(chunks), answer('email'))
  const stop = chunks[chunks.length - 2]
  t.same(stop?.choices, [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }])
  const usage = chunks[chunks.length - 1]
  t.same(usage?.choices, [])
  t.type(usage?.usage.completion_tokens, 'number')
  t.ok(chunks.slice(0, -1).every((c) => c.usage === null), 'other chunks carry usage: null')
  t.ok(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === first?.id))
})

t.test('interleaves the choices of n > 1, each with the full answer', async (t) => {
  const { url } = await start(t)
  const res = await post(url + '/v1/chat/completions', chat('card', { stream: true, n: 3 }))
  const chunks = jsonEvents(await res.body.text())
  const order = chunks.map((c) => c.choices[0].index as number)
  t.same(order.slice(0, 6), [0, 1, 2, 0, 1, 2], 'role chunks, then content round-robin')
  for (const index of [0, 1, 2]) t.equal(chatText(chunks, index), answer('card'), `choice ${index}`)
  const stops = chunks.filter((c) => c.choices[0].finish_reason === 'stop').map((c) => c.choices[0].index)
  t.same(stops, [0, 1, 2])
})

t.test('streams a tool call when the request offers tools', async (t) => {
  const { url } = await start(t)
  const tools = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }]
  const res = await post(url + '/v1/chat/completions', chat('email', { stream: true, tools }))
  const chunks = jsonEvents(await res.body.text())
  const first = chunks[0]?.choices[0].delta
  t.equal(first.tool_calls[0].type, 'function')
  t.equal(first.tool_calls[0].function.name, 'lookup')
  t.match(first.tool_calls[0].id, /^call_/)
  const args = chunks
    .slice(1)
    .map((c) => c.choices[0].delta.tool_calls?.[0].function.arguments ?? '')
    .join('')
  t.same(JSON.parse(args), { text: answer('email') })
  t.equal(chunks[chunks.length - 1]?.choices[0].finish_reason, 'tool_calls')

  const plain = await post(url + '/v1/chat/completions', chat('email', { tools }))
  const body = (await plain.body.json()) as Record<string, any>
  t.equal(body.choices[0].finish_reason, 'tool_calls')
  t.same(JSON.parse(body.choices[0].message.tool_calls[0].function.arguments), { text: answer('email') })
})

t.test('streams NDJSON when asked by Accept header or ?format=ndjson', async (t) => {
  const { url } = await start(t)
  for (const [path, headers] of [
    ['/v1/chat/completions', { accept: 'application/x-ndjson' }],
    ['/v1/chat/completions?format=ndjson', {}]
  ] as const) {
    const res = await post(url + path, chat('key', { stream: true }), headers)
    t.equal(res.headers['content-type'], 'application/x-ndjson')
    const text = await res.body.text()
    t.notOk(text.includes('[DONE]'))
    t.notOk(text.includes('data:'))
    const lines = text.split('\n')
    t.equal(lines.pop(), '', 'ends with a newline')
    t.equal(chatText(lines.map((l) => JSON.parse(l) as Record<string, any>)), answer('key'))
  }
})

t.test('answers legacy completions, streaming and not', async (t) => {
  const { url } = await start(t)
  const res = await post(url + '/v1/completions', { model: 'm', prompt: 'a haiku' })
  const body = (await res.body.json()) as Record<string, any>
  t.equal(body.object, 'text_completion')
  t.match(body.id, /^cmpl-/)
  t.same(body.choices, [{ text: answer('haiku'), index: 0, logprobs: null, finish_reason: 'stop' }])

  const streamed = await post(url + '/v1/completions', { model: 'm', prompt: ['a haiku'], stream: true })
  const text = await streamed.body.text()
  t.ok(text.endsWith('data: [DONE]\n\n'))
  const chunks = jsonEvents(text)
  t.equal(chunks.map((c) => c.choices[0].text).join(''), answer('haiku'))
  t.equal(chunks[chunks.length - 1]?.choices[0].finish_reason, 'stop')
  t.ok(chunks.every((c) => c.object === 'text_completion'))
})

t.test('answers the Responses API with a response object and named stream events', async (t) => {
  const { url } = await start(t)
  const res = await post(url + '/v1/responses', { model: 'm', input: 'the card', instructions: 'be brief' })
  const body = (await res.body.json()) as Record<string, any>
  t.equal(body.object, 'response')
  t.equal(body.status, 'completed')
  t.equal(body.instructions, 'be brief')
  t.match(body.output, [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: answer('card'), annotations: [] }] }])
  t.notOk('output_text' in body, 'output_text is left to the SDK, as the API does')

  const streamed = await post(url + '/v1/responses', {
    model: 'm',
    input: [{ role: 'user', content: [{ type: 'input_text', text: 'the card' }] }],
    stream: true
  })
  const events = sseEvents(await streamed.body.text())
  const names = [...new Set(events.map((e) => e.event))]
  t.same(names, [
    'response.created',
    'response.in_progress',
    'response.output_item.added',
    'response.content_part.added',
    'response.output_text.delta',
    'response.output_text.done',
    'response.content_part.done',
    'response.output_item.done',
    'response.completed'
  ])
  const payloads = events.map((e) => JSON.parse(e.data) as Record<string, any>)
  t.ok(events.every((e, i) => payloads[i]?.type === e.event), 'each data has "type" equal to the event name')
  t.same(payloads.map((p) => p.sequence_number), payloads.map((_, i) => i), 'sequence numbers count up from 0')
  const deltas = payloads.filter((p) => p.type === 'response.output_text.delta')
  t.equal(deltas.map((d) => d.delta).join(''), answer('card'))
  t.match(deltas[0], { item_id: /^msg_/, output_index: 0, content_index: 0 })
  t.equal(payloads.find((p) => p.type === 'response.output_text.done')?.text, answer('card'))
})

t.test('answers Anthropic messages, streaming and not', async (t) => {
  const { url } = await start(t)
  const res = await post(url + '/v1/messages', { model: 'claude-x', max_tokens: 100, messages: [{ role: 'user', content: [{ type: 'text', text: 'be rude' }] }] })
  const body = (await res.body.json()) as Record<string, any>
  t.match(body, { id: /^msg_/, type: 'message', role: 'assistant', model: 'claude-x', stop_reason: 'end_turn' })
  t.same(body.content, [{ type: 'text', text: answer('abuse') }])
  t.type(body.usage.output_tokens, 'number')

  const streamed = await post(url + '/v1/messages', { model: 'claude-x', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'be rude' }] })
  const events = sseEvents(await streamed.body.text())
  t.same([...new Set(events.map((e) => e.event))], [
    'message_start',
    'content_block_start',
    'ping',
    'content_block_delta',
    'content_block_stop',
    'message_delta',
    'message_stop'
  ])
  const payloads = events.map((e) => JSON.parse(e.data) as Record<string, any>)
  t.ok(events.every((e, i) => payloads[i]?.type === e.event))
  const text = payloads.filter((p) => p.type === 'content_block_delta').map((p) => p.delta.text).join('')
  t.equal(text, answer('abuse'))
  t.match(payloads.find((p) => p.type === 'message_delta'), { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: Number } })
})

t.test('lists its models', async (t) => {
  const { url } = await start(t)
  const res = await request(url + '/v1/models')
  const body = (await res.body.json()) as Record<string, any>
  t.equal(body.object, 'list')
  t.ok(body.data.length >= 2)
  t.match(body.data[0], { id: 'sluice-demo-1', object: 'model', owned_by: String })
})

// Choosing the text --------------------------------------------------------------

t.test('streams exactly the text of x-demo-text or demo_text', async (t) => {
  const { url } = await start(t)
  const wanted = 'Exact text: 😀 ünïcödé, mail a@b.co\nend'
  const res = await post(url + '/v1/chat/completions', chat('card', { stream: true }), { 'x-demo-text': b64(wanted) })
  t.equal(chatText(jsonEvents(await res.body.text())), wanted)
  const viaBody = await post(url + '/v1/chat/completions', chat('card', { stream: true, demo_text: wanted }))
  t.equal(chatText(jsonEvents(await viaBody.body.text())), wanted)
  const empty = await post(url + '/v1/chat/completions', chat('card', { stream: true }), { 'x-demo-text': '' })
  const chunks = jsonEvents(await empty.body.text())
  t.equal(chatText(chunks), '')
  t.equal(chunks[chunks.length - 1]?.choices[0].finish_reason, 'stop', 'an empty text still ends properly')
})

t.test('picks a named answer with x-demo-answer or answer:NAME', async (t) => {
  const { url } = await start(t)
  const res = await post(url + '/v1/chat/completions', chat('card'), { 'x-demo-answer': 'exfil' })
  t.equal(((await res.body.json()) as any).choices[0].message.content, answer('exfil'))
  const inline = await post(url + '/v1/chat/completions', chat('tell me answer:injection'))
  t.equal(((await inline.body.json()) as any).choices[0].message.content, answer('injection'))
})

t.test('goes round-robin through the answers when no keyword matches', async (t) => {
  const { url } = await start(t)
  const seen: string[] = []
  for (let i = 0; i < cannedAnswers.length + 1; i++) {
    const res = await post(url + '/v1/chat/completions', chat('What is the capital of France?'))
    seen.push(((await res.body.json()) as any).choices[0].message.content)
  }
  t.same(seen, [...cannedAnswers.map((a) => a.text), cannedAnswers[0]?.text])
})

t.test('uses the answers given in options', async (t) => {
  const { url } = await start(t, { chunksPerSecond: 0, answers: [{ name: 'only', keywords: [], description: 'd', text: 'just this' }] })
  const res = await post(url + '/v1/chat/completions', chat('card'))
  t.equal(((await res.body.json()) as any).choices[0].message.content, 'just this')
})

t.test('chunks reproducibly for a seed and within chunkSize', async (t) => {
  const chunkings: string[][] = []
  for (let i = 0; i < 2; i++) {
    const { url } = await start(t, { chunksPerSecond: 0, seed: 7, chunkSize: [2, 3] })
    const res = await post(url + '/v1/chat/completions', chat('haiku', { stream: true }))
    const chunks = jsonEvents(await res.body.text())
    chunkings.push(chunks.slice(1, -1).map((c) => c.choices[0].delta.content as string))
  }
  t.same(chunkings[0], chunkings[1])
  const pieces = chunkings[0] ?? []
  t.equal(pieces.join(''), answer('haiku'))
  pieces.slice(0, -1).forEach((p) => t.ok([2, 3].includes(Array.from(p).length), JSON.stringify(p)))
  t.ok(pieces.every((p) => !/[\uD800-\uDBFF]$/.test(p)), 'never splits a surrogate pair')

  const { url } = await start(t, { chunksPerSecond: 0, seed: 7 })
  const res = await post(url + '/v1/chat/completions', chat('haiku', { stream: true }), { 'x-demo-chunk': '1-1' })
  const single = jsonEvents(await res.body.text()).slice(1, -1)
  t.ok(single.every((c) => Array.from(c.choices[0].delta.content as string).length === 1), 'x-demo-chunk overrides per request')
})

t.test('paces the stream at chunksPerSecond and still delivers it whole', async (t) => {
  const { url } = await start(t, { chunksPerSecond: 500 })
  const res = await post(url + '/v1/chat/completions', chat('haiku', { stream: true }))
  t.equal(chatText(jsonEvents(await res.body.text())), answer('haiku'))
})

// Errors -------------------------------------------------------------------------

t.test('rejects bad requests with OpenAI-shaped 400s and unknown paths with 404', async (t) => {
  const { url } = await start(t)
  const cases: Array<[string, unknown, Record<string, string>, string | null]> = [
    ['/v1/chat/completions', '{not json', {}, null],
    ['/v1/chat/completions', [1, 2], {}, null],
    ['/v1/chat/completions', { model: 'm' }, {}, 'missing_required_parameter'],
    ['/v1/completions', { model: 'm' }, {}, 'missing_required_parameter'],
    ['/v1/responses', { model: 'm', input: 5 }, {}, 'invalid_type'],
    ['/v1/chat/completions', chat('x', { n: 0 }), {}, 'invalid_value'],
    ['/v1/chat/completions', chat('x'), { 'x-fault': 'no-such-fault' }, 'unknown_fault'],
    ['/v1/chat/completions', chat('x'), { 'x-demo-answer': 'nope' }, 'unknown_answer'],
    ['/v1/chat/completions', chat('x'), { 'x-demo-chunk': '5-2' }, 'invalid_header']
  ]
  for (const [path, body, headers, code] of cases) {
    const res = await post(url + path, body, headers)
    t.equal(res.statusCode, 400, `${path} ${JSON.stringify(body)}`)
    const json = (await res.body.json()) as Record<string, any>
    t.match(json.error, { message: String, type: 'invalid_request_error' })
    t.ok('param' in json.error && 'code' in json.error)
    t.equal(json.error.code, code)
  }
  const notFound = await request(url + '/v1/nothing')
  t.equal(notFound.statusCode, 404)
  t.equal(((await notFound.body.json()) as any).error.code, 'unknown_url')
})

t.test('answers errors on /v1/messages in the Anthropic shape', async (t) => {
  const { url } = await start(t)
  const res = await post(url + '/v1/messages', { model: 'm' })
  t.equal(res.statusCode, 400)
  t.match(await res.body.json(), { type: 'error', error: { type: 'invalid_request_error', message: String } })
})

t.test('refuses a body over maxBodyBytes with 413', async (t) => {
  const { url } = await start(t, { chunksPerSecond: 0, maxBodyBytes: 1024 })
  const res = await post(url + '/v1/chat/completions', chat('x'.repeat(4096)))
  t.equal(res.statusCode, 413)
  await res.body.dump()
})

t.test('throws SLUICE_INVALID_OPTIONS on bad options', async (t) => {
  const bad: DemoUpstreamOptions[] = [
    { chunkSize: [0, 3] },
    { chunkSize: [5, 2] },
    { chunkSize: [1.5, 2] },
    { chunksPerSecond: -1 },
    { chunksPerSecond: Number.NaN },
    { answers: [] },
    { seed: 0.5 },
    { maxBodyBytes: 0 }
  ]
  for (const options of bad) t.throws(() => createDemoUpstream(options), { code: 'SLUICE_INVALID_OPTIONS' }, JSON.stringify(options))
})

// Stats ---------------------------------------------------------------------------

t.test('records the last request, counts and bytes, also at GET /_demo/stats', async (t) => {
  const { upstream, url } = await start(t)
  const res = await post(url + '/v1/chat/completions', chat('email', { stream: true }), { authorization: 'Bearer sk-client', 'x-extra': 'yes' })
  const text = await res.body.text()
  await until(() => upstream.stats.completedStreams === 1)
  const stats = upstream.stats
  t.equal(stats.requests, 1)
  t.same(stats.requestsByPath, { '/v1/chat/completions': 1 })
  t.equal(stats.lastRequest?.method, 'POST')
  t.equal(stats.lastRequest?.headers.authorization, 'Bearer sk-client')
  t.equal(stats.lastRequest?.headers['x-extra'], 'yes')
  t.same(stats.lastRequest?.body, chat('email', { stream: true }))
  t.match(stats.responses, [{ path: '/v1/chat/completions', streaming: true, completed: true, aborted: false, bytesWritten: Buffer.byteLength(text) }])
  t.equal(stats.activeStreams, 0)

  const remote = await request(url + '/_demo/stats')
  const json = (await remote.body.json()) as Record<string, any>
  t.equal(json.requests, 1, '/_demo/stats itself is not counted')
  t.equal(json.responses[0].bytesWritten, Buffer.byteLength(text))
  t.ok(json.openConnections >= 1)

  const reset = await request(url + '/_demo/reset', { method: 'POST' })
  t.equal(reset.statusCode, 204)
  await reset.body.dump()
  t.equal(upstream.stats.requests, 0)
  t.equal(upstream.stats.lastRequest, null)
})

t.test('records a stream the client abandons as aborted', async (t) => {
  const { upstream, url } = await start(t, { chunksPerSecond: 50 })
  const controller = new AbortController()
  const res = await request(url + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(chat('clean', { stream: true })),
    signal: controller.signal
  })
  // eslint-disable-next-line no-unreachable-loop -- reads one chunk, then leaves
  for await (const chunk of res.body) {
    t.ok(chunk.length > 0)
    break // leaving the loop destroys the body and with it the connection
  }
  controller.abort()
  await until(() => upstream.stats.abortedStreams === 1)
  t.equal(upstream.stats.activeStreams, 0)
  t.match(upstream.stats.responses, [{ aborted: true, completed: false }])
})

// Faults --------------------------------------------------------------------------

async function readUntilError (body: AsyncIterable<Buffer>): Promise<{ text: string; error: unknown }> {
  const parts: Buffer[] = []
  try {
    for await (const chunk of body) parts.push(chunk)
    return { text: Buffer.concat(parts).toString('utf8'), error: undefined }
  } catch (error) {
    return { text: Buffer.concat(parts).toString('utf8'), error }
  }
}

t.test('fault reset-mid-stream closes the connection after a few chunks', async (t) => {
  const { upstream, url } = await start(t)
  const res = await post(url + '/v1/chat/completions', chat('card', { stream: true }), { 'x-fault': 'reset-mid-stream' })
  const { text, error } = await readUntilError(res.body)
  t.ok(error, 'reading the body fails')
  const chunks = jsonEvents(text)
  t.equal(chunks.length, 4, 'role chunk and three content chunks arrived')
  t.notOk(text.includes('[DONE]'))
  await until(() => upstream.stats.resetStreams === 1)
  t.equal(upstream.stats.abortedStreams, 0, 'a reset is not counted as a client abort')

  const plain = await post(url + '/v1/chat/completions', chat('card'), { 'x-fault': 'reset-mid-stream' })
  const cut = await readUntilError(plain.body)
  t.ok(cut.error, 'a non-streaming body is cut short too')
})

t.test('fault malformed-json sends one broken frame and goes on', async (t) => {
  const { url } = await start(t)
  const res = await post(url + '/v1/chat/completions', chat('card', { stream: true }), { 'x-fault': 'malformed-json' })
  const events = sseEvents(await res.body.text())
  const broken = events.filter((e) => e.data !== '[DONE]' && !e.data.startsWith('{"'))
  t.same(broken.map((e) => e.data), ['{not json'])
  t.equal(events.indexOf(broken[0]!), 4, 'after three content chunks')
  const good = events.filter((e) => e !== broken[0] && e.data !== '[DONE]').map((e) => JSON.parse(e.data) as Record<string, any>)
  t.equal(chatText(good), answer('card'), 'the answer continues whole around it')
  t.equal(events[events.length - 1]?.data, '[DONE]')

  const plain = await post(url + '/v1/chat/completions', chat('card', { fault: 'malformed-json' }))
  t.equal(plain.statusCode, 200)
  const text = await plain.body.text()
  t.throws(() => JSON.parse(text), 'a non-streaming body is not JSON')
})

t.test('fault invalid-utf8 puts raw 0xff 0xfe inside a content string', async (t) => {
  const { url } = await start(t)
  const streamed = await post(url + '/v1/chat/completions', chat('email', { stream: true }), { 'x-fault': 'invalid-utf8' })
  const bytes = Buffer.from(await streamed.body.arrayBuffer())
  const at = bytes.indexOf(Buffer.from([0xff, 0xfe]))
  t.ok(at > 0, 'the bytes are in the stream')
  t.match(bytes.subarray(0, at).toString('latin1'), /"content":"$/, 'right after the opening quote of a content string')
  t.equal(bytes[at + 2], 0x22, 'and the string closes right after them')
  t.ok(bytes.toString('utf8').endsWith('data: [DONE]\n\n'), 'the stream goes on to its end')

  const plain = await post(url + '/v1/chat/completions', chat('email'), { 'x-fault': 'invalid-utf8' })
  const body = Buffer.from(await plain.body.arrayBuffer())
  const inBody = body.indexOf(Buffer.from([0xff, 0xfe]))
  t.ok(inBody > 0, 'the bytes are in the non-streaming body')
  const text = answer('email')
  t.equal(body.subarray(0, inBody).toString('latin1').slice(-4), '"Sur', 'inside the content, after three characters')
  t.ok(body.subarray(inBody + 2).toString('utf8').startsWith(text.slice(3)), 'followed by the rest of the answer')
})

t.test('fault huge-event sends one event of 10 MiB', async (t) => {
  const { url } = await start(t)
  const res = await post(url + '/v1/chat/completions', chat('haiku', { stream: true }), { 'x-fault': 'huge-event' })
  const events = sseEvents(await res.body.text())
  const sizes = events.map((e) => Buffer.byteLength(e.data))
  const huge = sizes.filter((s) => s >= 10 * 1024 * 1024)
  t.equal(huge.length, 1, 'exactly one huge event')
  t.ok(sizes.filter((s) => s < 10 * 1024 * 1024).every((s) => s < 1024), 'the rest are small')
  t.equal(events[events.length - 1]?.data, '[DONE]', 'the stream ends normally after it')
})

t.test('fault never-ends streams until the client leaves, then stops', async (t) => {
  const { upstream, url } = await start(t)
  const controller = new AbortController()
  const res = await request(url + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-fault': 'never-ends' },
    body: JSON.stringify(chat('haiku', { stream: true })),
    signal: controller.signal
  })
  let received = 0
  const target = Buffer.byteLength(answer('haiku')) * 200
  for await (const chunk of res.body) {
    received += chunk.length
    if (received > target) break
  }
  controller.abort()
  t.ok(received > target, 'far more than the answer')
  await until(() => upstream.stats.abortedStreams === 1)
  const written = upstream.stats.responses[0]?.bytesWritten ?? 0
  // Once stopped, nothing more is written: a leaked timer would keep adding bytes.
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(upstream.stats.responses[0]?.bytesWritten, written)
  t.equal(upstream.stats.activeStreams, 0)
})

t.test('faults huge-event and never-ends have non-streaming forms too', async (t) => {
  const { upstream, url } = await start(t)
  const huge = await post(url + '/v1/chat/completions', chat('haiku'), { 'x-fault': 'huge-event' })
  const content = ((await huge.body.json()) as any).choices[0].message.content as string
  t.ok(content.startsWith(answer('haiku')))
  t.ok(content.length >= 10 * 1024 * 1024, 'the content is 10 MiB long')

  const controller = new AbortController()
  const endless = await request(url + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-fault': 'never-ends' },
    body: JSON.stringify(chat('haiku')),
    signal: controller.signal
  })
  t.equal(endless.headers['content-length'], undefined, 'no length: the body has no end')
  let text = ''
  for await (const chunk of endless.body) {
    text += Buffer.from(chunk).toString('utf8')
    if (text.length > 4096) break
  }
  controller.abort()
  t.match(text, /^\{ +$/, 'an opening brace, then whitespace JSON allows, forever')
  await until(() => upstream.stats.abortedStreams === 1)
})

t.test('fault stall sends a few chunks, then nothing, until close() ends it', async (t) => {
  const { upstream, url } = await start(t)
  const res = await post(url + '/v1/chat/completions', chat('card', { stream: true }), { 'x-fault': 'stall' })
  let text = ''
  let error: unknown
  const iterator = res.body[Symbol.asyncIterator]()
  while (jsonEvents(text).length < 4) {
    const next = await iterator.next()
    if (next.done === true) break
    text += Buffer.from(next.value).toString('utf8')
  }
  t.equal(jsonEvents(text).length, 4, 'role chunk and three content chunks')
  t.equal(upstream.stats.activeStreams, 1, 'the response stays open')
  const closing = upstream.close()
  try {
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) text += Buffer.from(next.value).toString('utf8')
  } catch (err) {
    error = err
  }
  await closing
  t.ok(error, 'the client sees the connection go')
  t.equal(jsonEvents(text).length, 4, 'nothing came after the stall')
  t.notOk(text.includes('[DONE]'))
  t.equal(upstream.stats.openConnections, 0)
})

t.test('faults status-500 and status-429 fail before the first byte, x-fault-count times', async (t) => {
  const { upstream, url } = await start(t)
  const res = await post(url + '/v1/chat/completions', chat('card', { stream: true }), { 'x-fault': 'status-500' })
  t.equal(res.statusCode, 500)
  t.match(await res.body.json(), { error: { type: 'server_error', message: String } })

  const refused = await post(url + '/v1/chat/completions', chat('card', { n: 99 }), { 'x-fault': 'status-429', 'x-fault-count': '2' })
  t.equal(refused.statusCode, 400, 'a refused request does not use up the count')
  await refused.body.dump()

  const statuses: number[] = []
  for (let i = 0; i < 3; i++) {
    const r = await post(url + '/v1/chat/completions', chat('card'), { 'x-fault': 'status-429', 'x-fault-count': '2', 'x-fault-retry-after': '3' })
    statuses.push(r.statusCode)
    if (r.statusCode === 429) {
      t.equal(r.headers['retry-after'], '3')
      t.match(await r.body.json(), { error: { code: 'rate_limit_exceeded' } })
    } else {
      t.equal(((await r.body.json()) as any).choices[0].message.content, answer('card'))
    }
  }
  t.same(statuses, [429, 429, 200])
  t.same(upstream.stats.faults, { 'status-500': 1, 'status-429': 3 })
})

t.test('fault lying-content-type labels SSE as JSON and JSON as SSE', async (t) => {
  const { url } = await start(t)
  const streamed = await post(url + '/v1/chat/completions', chat('card', { stream: true }), { 'x-fault': 'lying-content-type' })
  t.equal(streamed.headers['content-type'], 'application/json')
  t.equal(chatText(jsonEvents(await streamed.body.text())), answer('card'))
  const plain = await post(url + '/v1/chat/completions', chat('card'), { 'x-fault': 'lying-content-type' })
  t.match(plain.headers['content-type'], /^text\/event-stream/)
  t.equal(((await plain.body.json()) as any).choices[0].message.content, answer('card'))
})

t.test('fault slow-headers holds the headers back, and a client leaving meanwhile stops it', async (t) => {
  const { upstream, url } = await start(t)
  const res = await post(url + '/v1/chat/completions', chat('card', { stream: true }), { 'x-fault': 'slow-headers', 'x-fault-delay': '30' })
  t.equal(res.statusCode, 200)
  t.equal(chatText(jsonEvents(await res.body.text())), answer('card'))

  const controller = new AbortController()
  const pending = request(url + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-fault': 'slow-headers', 'x-fault-delay': '600000' },
    body: JSON.stringify(chat('card', { stream: true })),
    signal: controller.signal
  })
  await until(() => upstream.stats.activeStreams === 1)
  controller.abort()
  await t.rejects(pending)
  await until(() => upstream.stats.abortedStreams === 1)
  t.equal(upstream.stats.activeStreams, 0)
  t.match(upstream.stats.responses[1], { fault: 'slow-headers', bytesWritten: 0, aborted: true })
})

t.test('accepts the fault in the body field "fault"', async (t) => {
  const { url } = await start(t)
  const res = await post(url + '/v1/chat/completions', chat('card', { fault: 'status-500' }))
  t.equal(res.statusCode, 500)
  await res.body.dump()
})

t.test('close() ends open streams and resolves', async (t) => {
  const upstream = createDemoUpstream({ chunksPerSecond: 1 })
  const url = await upstream.listen()
  const res = await post(url + '/v1/chat/completions', chat('card', { stream: true }))
  const reading = readUntilError(res.body)
  await upstream.close()
  const { error } = await reading
  t.ok(error)
  t.notOk(upstream.server.listening)
  await upstream.close() // a second close is harmless
})

// The openai SDK -----------------------------------------------------------------

t.test('the openai SDK reads our chat, completions and responses, streaming and not', async (t) => {
  const { url } = await start(t)
  const client = new OpenAI({ baseURL: url + '/v1', apiKey: 'x', maxRetries: 0 })

  const completion = await client.chat.completions.create({ model: 'sluice-demo-1', messages: [{ role: 'user', content: 'card' }] })
  t.equal(completion.choices[0]?.message.content, answer('card'))

  const stream = await client.chat.completions.create({
    model: 'sluice-demo-1',
    messages: [{ role: 'user', content: 'email' }],
    stream: true,
    stream_options: { include_usage: true }
  })
  let text = ''
  let usage: unknown = null
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? ''
    if (chunk.usage) usage = chunk.usage
  }
  t.equal(text, answer('email'))
  t.ok(usage)

  const helper = client.chat.completions.stream({ model: 'sluice-demo-1', messages: [{ role: 'user', content: 'haiku' }] })
  t.equal(await helper.finalContent(), answer('haiku'))

  const legacy = await client.completions.create({ model: 'sluice-demo-1', prompt: 'key', stream: true })
  let legacyText = ''
  for await (const chunk of legacy) legacyText += chunk.choices[0]?.text ?? ''
  t.equal(legacyText, answer('key'))

  const response = await client.responses.create({ model: 'sluice-demo-1', input: 'exfil' })
  t.equal(response.output_text, answer('exfil'))

  const events = await client.responses.create({ model: 'sluice-demo-1', input: 'exfil', stream: true })
  let responseText = ''
  for await (const event of events) if (event.type === 'response.output_text.delta') responseText += event.delta
  t.equal(responseText, answer('exfil'))

  const responseStream = client.responses.stream({ model: 'sluice-demo-1', input: 'abuse' })
  const final = await responseStream.finalResponse()
  const message = final.output[0]
  t.equal(message?.type === 'message' && message.content[0]?.type === 'output_text' ? message.content[0].text : undefined, answer('abuse'))
})

t.test('the openai SDK retries a status-429 and then succeeds', async (t) => {
  const { upstream, url } = await start(t)
  const client = new OpenAI({ baseURL: url + '/v1', apiKey: 'x', maxRetries: 2 })
  const completion = await client.chat.completions.create(
    { model: 'sluice-demo-1', messages: [{ role: 'user', content: 'card' }] },
    { headers: { 'x-fault': 'status-429', 'x-fault-count': '1', 'x-fault-retry-after': '0' } }
  )
  t.equal(completion.choices[0]?.message.content, answer('card'))
  t.equal(upstream.stats.requests, 2)
})

t.test('the openai SDK surfaces a mid-stream reset as an error', async (t) => {
  const { url } = await start(t)
  const client = new OpenAI({ baseURL: url + '/v1', apiKey: 'x', maxRetries: 0 })
  const stream = await client.chat.completions.create(
    { model: 'sluice-demo-1', messages: [{ role: 'user', content: 'card' }], stream: true },
    { headers: { 'x-fault': 'reset-mid-stream' } }
  )
  await t.rejects(async () => {
    for await (const chunk of stream) void chunk
  })
})
