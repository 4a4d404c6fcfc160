/**
 * @module test/protocols/generic-json
 * The generic JSON guard: every string of every frame a codec emits is
 * scanned, wherever it sits. Each test is named after the hole it closes;
 * each decodes what a client reads (frames JSON-parsed, strings joined per
 * path), not only the raw bytes.
 */
import t from 'tap'
import fc from 'fast-check'
import { createStreamSanitizer } from '../../src/stream/create-stream-sanitizer.js'
import { sanitizeJsonBody } from '../../src/protocols/sanitize-json-body.js'
import { parseSse, replay, scannerFactory, testRules } from '../stream/replay.js'

const enc = (s: string): Buffer => Buffer.from(s, 'utf8')
const ruleSet = await testRules()
const kEmail = 'jane.doe@acme-corp.com'
const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini' }

function sse (objects: readonly unknown[], done = true): string {
  return objects.map((o) => `data: ${JSON.stringify(o)}\n\n`).join('') + (done ? 'data: [DONE]\n\n' : '')
}

/** Every string a client can read: each frame parsed, and the strings at each path joined across frames. */
function clientStrings (output: string): string[] {
  const byPath = new Map<string, string>()
  const all: string[] = [output]
  const visit = (value: unknown, path: string): void => {
    if (typeof value === 'string') {
      all.push(value)
      byPath.set(path, (byPath.get(path) ?? '') + value)
    } else if (Array.isArray(value)) {
      value.forEach((v, k) => visit(v, `${path}.${typeof v === 'object' && v !== null && typeof (v as { index?: unknown }).index === 'number' ? `#${(v as { index: number }).index}` : k}`))
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, v] of Object.entries(value)) {
        all.push(key)
        visit(v, `${path}.${key}`)
      }
    }
  }
  for (const frame of parseSse(output).frames) {
    all.push(frame.event ?? '', frame.id ?? '')
    try {
      visit(JSON.parse(frame.data), '')
    } catch {}
  }
  return [...all, ...byPath.values()]
}

function leaks (output: string, value: string): boolean {
  return clientStrings(output).some((s) => s.includes(value))
}

t.test('a value split across frames in an unknown delta field is redacted (reasoning_content)', async (t) => {
  const frames = [
    { ...base, choices: [{ index: 0, delta: { reasoning_content: 'Write to jane.doe' }, finish_reason: null }] },
    { ...base, choices: [{ index: 0, delta: { reasoning_content: '@acme-corp.com now.' }, finish_reason: null }] },
    { ...base, choices: [{ index: 0, delta: { content: 'Done.' }, finish_reason: 'stop' }] }
  ]
  const { output } = replay(ruleSet, enc(sse(frames)), [])
  t.notOk(leaks(output, kEmail))
  t.match(clientStrings(output).join('\n'), /Write to \[email:[0-9a-f]+\] now\./)
  t.equal(parseSse(output).frames.at(-1)?.data, '[DONE]', 'what the path held goes out before [DONE]')
})

t.test('a value spelled one character per frame in an unknown field is redacted', async (t) => {
  const frames = [...'Card 4111 1111 1111 1111 ok.'].map((c) => ({ ...base, choices: [{ index: 0, delta: { x_note: c }, finish_reason: null }] }))
  for (const splits of [[], [7, 300, 1000]]) {
    const { output } = replay(ruleSet, enc(sse(frames)), splits)
    t.notOk(leaks(output, '4111 1111 1111 1111'))
    t.notOk(leaks(output, '4111111111111111'))
  }
})

t.test('a duplicated key cannot smuggle its first value: frames are re-serialized', async (t) => {
  const input = `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"${kEmail}","content":"Hello. "},"finish_reason":null}]}\n\ndata: [DONE]\n\n`
  const { output } = replay(ruleSet, enc(input), [])
  t.notOk(output.includes(kEmail))
  t.equal(JSON.parse(parseSse(output).frames[0]?.data ?? '{}').choices[0].delta.content, 'Hello. ')
})

t.test('an unknown top-level field and an object key are scanned', async (t) => {
  const frames = [
    { ...base, system_fingerprint: `contact ${kEmail}`, choices: [{ index: 0, delta: { content: 'Hi. ' }, finish_reason: null }] },
    { ...base, choices: [{ index: 0, delta: { content: 'Bye. ' }, finish_reason: null }], extra: { [kEmail]: 1 } }
  ]
  const { output } = replay(ruleSet, enc(sse(frames)), [])
  t.notOk(leaks(output, kEmail))
})

t.test('text continued after finish_reason continues the same channel', async (t) => {
  const frames = [
    { ...base, choices: [{ index: 0, delta: { content: 'Mail jane.doe' }, finish_reason: null }] },
    { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
    { ...base, choices: [{ index: 0, delta: { content: '@acme-corp.com please.' }, finish_reason: null }] }
  ]
  const { output } = replay(ruleSet, enc(sse(frames)), [])
  const content = parseSse(output).frames.filter((f) => f.data !== '[DONE]').map((f) => JSON.parse(f.data).choices?.[0]?.delta?.content ?? '').join('')
  t.notOk(content.includes('acme-corp.com'), `the part after the finish is redacted: ${content}`)
  t.match(content, /\[email:[0-9a-f]+\] please\.$/)
})

t.test('an SSE event or id field carrying a value never reaches the client', async (t) => {
  const input = `event: ${kEmail}\nid: ${kEmail}\ndata: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: 'Hi. ' }, finish_reason: null }] })}\n\n` +
    `event: note about things\ndata: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: 'Bye. ' }, finish_reason: null }] })}\n\ndata: [DONE]\n\n`
  const { output } = replay(ruleSet, enc(input), [])
  t.notOk(output.includes(kEmail))
  t.notOk(output.includes('note about'), 'an event name that is not a plain token is dropped')
})

t.test('tool arguments with JSON escapes are scanned as the client parses them', async (t) => {
  const args = '{"to":"jane.doe\\u0040acme\\u002dcorp.com","card":"4111\\u00201111\\u00201111\\u00201111"}'
  const pieces = [args.slice(0, 15), args.slice(15, 31), args.slice(31)]
  const frames = pieces.map((a, k) => ({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, ...(k === 0 ? { id: 'call_1', type: 'function' } : {}), function: { ...(k === 0 ? { name: 'send' } : {}), arguments: a } }] }, finish_reason: null }] }))
  const { output } = replay(ruleSet, enc(sse(frames)), [])
  const joined = parseSse(output).frames.filter((f) => f.data !== '[DONE]')
    .map((f) => JSON.parse(f.data).choices?.[0]?.delta?.tool_calls?.[0]?.function?.arguments ?? '').join('')
  const parsed = JSON.parse(joined) as Record<string, string>
  t.notOk(parsed.to?.includes('acme-corp.com'))
  t.notOk(parsed.card?.includes('4111 1111'))
})

t.test('Anthropic events after a leading chat-shaped frame are still scanned', async (t) => {
  const input = 'data: {}\n\n' +
    `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: `Mail ${kEmail} now. ` } })}\n\n` +
    `event: message_stop\ndata: ${JSON.stringify({ type: 'message_stop' })}\n\n`
  const { output } = replay(ruleSet, enc(input), [])
  t.notOk(leaks(output, kEmail))
})

t.test('text in message_start.message.content and an error event are scanned', async (t) => {
  const input = `event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude', content: [{ type: 'text', text: `hi ${kEmail} ` }], usage: { input_tokens: 1, output_tokens: 1 } } })}\n\n` +
    `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: `for ${kEmail}` } })}\n\n`
  const { output } = replay(ruleSet, enc(input), [], { protocol: 'anthropic-messages' })
  t.notOk(leaks(output, kEmail))
})

t.test('a stream opening too many channels fails in-band with SLUICE_STREAM_LIMIT', async (t) => {
  const choices = Array.from({ length: 1100 }, (_, i) => ({ index: i, delta: { content: 'x y' }, finish_reason: null }))
  const sanitizer = createStreamSanitizer({ newScanner: scannerFactory(ruleSet), contentType: 'text/event-stream' })
  const out = sanitizer.write(enc(sse([{ ...base, choices }], false))) + sanitizer.end()
  t.equal(sanitizer.state(), 'failed')
  t.equal(sanitizer.stats().errorCode, 'SLUICE_STREAM_LIMIT')
  t.match(out, /SLUICE_STREAM_LIMIT/)
})

t.test('a non-streamed body: unknown fields and keys are scanned whole', async (t) => {
  const body = {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hi.', reasoning_content: `think ${kEmail}` }, finish_reason: 'stop' }],
    meta: { [kEmail]: 'x', note: ['AKIAIOSFODNN7EXAMPLF'] }
  }
  const result = sanitizeJsonBody(structuredClone(body), scannerFactory(ruleSet))
  const text = JSON.stringify(result.body)
  t.notOk(text.includes(kEmail))
  t.ok(result.changed)
  const unknown = sanitizeJsonBody({ whatever: [{ deep: `x ${kEmail}` }] }, scannerFactory(ruleSet))
  t.notOk(JSON.stringify(unknown.body).includes(kEmail), 'a body of no known protocol is scanned too')
})

t.test('property: an e-mail in a random unknown position of a chat stream never reaches the client', async () => {
  const key = fc.constantFrom('x', 'note', 'reasoning', 'meta_info', 'tool')
  const where = fc.constantFrom('chunk', 'choice', 'delta', 'nested')
  fc.assert(fc.property(key, where, fc.integer({ min: 1, max: kEmail.length - 1 }), fc.array(fc.integer({ min: 1, max: 400 }), { maxLength: 6 }), (k, w, cutAt, splits) => {
    const parts = [kEmail.slice(0, cutAt), kEmail.slice(cutAt)]
    const frames = parts.map((p) => {
      const delta: Record<string, unknown> = { content: 'ok ' }
      const choice: Record<string, unknown> = { index: 0, delta, finish_reason: null }
      const chunk: Record<string, unknown> = { ...base, choices: [choice] }
      if (w === 'chunk') chunk[k] = p
      else if (w === 'choice') choice[k] = p
      else if (w === 'delta') delta[k] = p
      else chunk[k] = { inner: [{ v: p }] }
      return chunk
    })
    const input = enc(sse(frames))
    const sorted = [...new Set(splits.filter((s) => s < input.length))].sort((a, b) => a - b)
    return !leaks(replay(ruleSet, input, sorted).output, kEmail)
  }), { numRuns: 60 })
})

t.test('the fast path takes no envelope with a long number the guard would redact', async (t) => {
  // Every chunk the same envelope around one text: the fast path writes later
  // chunks from the first one's bytes, so its envelope is checked like the guard would.
  const frames = ['Hello ', 'there ', 'friend. '].map((content) => ({ ...base, trace: 4111111111111111, choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }] }))
  for (const coalesce of [true, false]) {
    const { output } = replay(ruleSet, enc(sse(frames)), [], { coalesce })
    t.notOk(output.includes('4111111111111111'), `coalesce: ${String(coalesce)}`)
    t.equal(parseSse(output).frames.filter((f) => f.data !== '[DONE]').map((f) => JSON.parse(f.data).choices[0].delta.content).join(''), 'Hello there friend. ')
  }
})

t.test('logprobs bytes spelling a value over many frames are read as one text: redacted, and a character split between arrays survives', async (t) => {
  const text = `Mail ${kEmail} 😀 ok.`
  const bytes = [...Buffer.from(text, 'utf8')]
  // One byte per frame: the emoji's four bytes land in four frames.
  const frames = bytes.map((b) => ({ ...base, choices: [{ index: 0, delta: {}, logprobs: { content: [{ token: 'x', logprob: -0.1, bytes: [b] }] }, finish_reason: null }] }))
  for (const splits of [[], [9, 400, 2000]]) {
    const { output } = replay(ruleSet, enc(sse(frames)), splits)
    // As a client reads them: each frame's bytes joined, then decoded.
    const joined: number[] = []
    for (const frame of parseSse(output).frames) {
      if (frame.data === '[DONE]') continue
      const chunk = JSON.parse(frame.data) as { choices: Array<{ logprobs?: { content?: Array<{ bytes?: number[] }> } }> }
      for (const entry of chunk.choices[0]?.logprobs?.content ?? []) joined.push(...(entry.bytes ?? []))
    }
    const decoded = Buffer.from(joined).toString('utf8')
    t.notOk(decoded.includes(kEmail), 'the address is not in the joined bytes')
    t.match(decoded, /^Mail \[email:[0-9a-f]+\] 😀 ok\.$/, 'the rest arrives intact, the emoji whole')
  }
})
