/**
 * @module test/protocols/select-codec-mixed
 * `auto` recognises every frame, not only the first: streams that mix
 * protocols (a gateway concatenating answers, a leading frame of no known
 * shape) run through the real Transform with the shipped rules, and each
 * test reads the output as a client does — frames JSON-parsed, the text of
 * each protocol assembled from its deltas — and checks which codec scanned
 * what through the findings' channel and field.
 */
import t from 'tap'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { defaultRulesDir, loadRuleSet } from '../../src/rules/load-rules.js'
import { scanText } from '../../src/scanner/scan-text.js'
import { createSanitizeStream } from '../../src/stream/create-sanitize-stream.js'
import type { SanitizeStats, SanitizeStreamOptions } from '../../src/stream/create-sanitize-stream.js'
import type { FindingContext, Protocol } from '../../src/protocols/types.js'
import type { Finding } from '../../src/scanner/types.js'
import { buildAnthropicStream, buildChatStream, buildResponsesStream, fixture, kHmacKey, parseNdjson, parseSse, replay } from '../stream/replay.js'
import type { ClientFrame } from '../stream/replay.js'

const ruleSet = await loadRuleSet([defaultRulesDir()])
const enc = (s: string): Buffer => Buffer.from(s, 'utf8')
const kEmail = 'jane.doe@acme-corp.com'
const kCard = '4111 1111 1111 1111'

type Json = Record<string, any>

interface Run {
  output: string
  frames: ClientFrame[]
  findings: Array<{ ruleId: string, channel: string, field: string }>
  stats: SanitizeStats
}

/** Pipes `chunks` through a new sanitize stream (`auto`, the shipped rules) and collects what a client receives. */
async function sanitize (chunks: readonly Buffer[], extra: Partial<SanitizeStreamOptions> = {}): Promise<Run> {
  const stream = createSanitizeStream({ ruleSet, scannerOptions: { hmacKey: kHmacKey }, protocol: 'auto', contentType: 'text/event-stream', ...extra })
  const findings: Run['findings'] = []
  stream.on('finding', (f: Finding, ctx: FindingContext) => findings.push({ ruleId: f.ruleId, channel: ctx.channel, field: ctx.field }))
  let output = ''
  stream.on('data', (chunk: Buffer) => { output += chunk.toString('utf8') })
  await pipeline(Readable.from(chunks), stream)
  const ndjson = extra.contentType === 'application/x-ndjson'
  return { output, frames: ndjson ? parseNdjson(output) : parseSse(output).frames, findings, stats: stream.stats }
}

/** The frames as JSON (`[DONE]` kept as the string). */
function values (frames: readonly ClientFrame[]): Array<Json | '[DONE]'> {
  return frames.map((f) => (f.data === '[DONE]' ? '[DONE]' : JSON.parse(f.data) as Json))
}

function objects (frames: readonly ClientFrame[]): Json[] {
  return values(frames).filter((v): v is Json => v !== '[DONE]')
}

/** Text of Anthropic block 0, as a client joins its `text_delta`s. */
function anthropicText (frames: readonly ClientFrame[]): string {
  return objects(frames).filter((v) => v.type === 'content_block_delta' && v.index === 0 && v.delta?.type === 'text_delta').map((v) => v.delta.text as string).join('')
}

/** Text of chat choice 0, as a client joins its deltas. */
function chatText (frames: readonly ClientFrame[]): string {
  return objects(frames).map((v) => (Array.isArray(v.choices) ? v.choices.find((c: Json) => c.index === 0)?.delta?.content ?? '' : '')).join('')
}

/** Text of Responses output 0 / content 0, as a client joins its deltas. */
function responsesText (frames: readonly ClientFrame[]): string {
  return objects(frames).filter((v) => v.type === 'response.output_text.delta').map((v) => v.delta as string).join('')
}

/** The text the shipped rules leave of `text` scanned whole. */
function expected (text: string): string {
  return scanText(ruleSet, text, { hmacKey: kHmacKey }).text
}

/** A chat stream without its `[DONE]`. */
function chatPart (tokens: readonly string[]): string {
  return buildChatStream(tokens).replace('data: [DONE]\n\n', '')
}

const sse = (value: unknown, event?: string): string => (event === undefined ? '' : `event: ${event}\n`) + `data: ${typeof value === 'string' ? value : JSON.stringify(value)}\n\n`

const kAnthropicTokens = ['Mail ', 'jane.doe@', 'acme-corp.com', ' today.']

t.test('a leading {} takes the generic path; the Anthropic events after it are read by the Anthropic codec', async (t) => {
  const input = sse({}) + buildAnthropicStream(kAnthropicTokens)
  const { output, frames, findings, stats } = await sanitize([enc(input)])
  t.notOk(output.includes(kEmail))
  t.same(values(frames)[0], {}, 'the unknown frame is passed on, scanned')
  t.equal(stats.protocol, 'anthropic-messages', 'a frame of no known shape does not decide the protocol')
  const text = anthropicText(frames)
  t.equal(text, expected(kAnthropicTokens.join('')))
  t.match(text, /^Mail \[email:[0-9a-f]+\] today\.$/)
  t.same(findings, [{ ruleId: 'pii.email', channel: '0', field: 'text' }], 'found by the Anthropic codec, as block text')
})

t.test('Anthropic events after a chat primary go to an Anthropic codec, [DONE] stays last', async (t) => {
  const input = chatPart(['Hello. ']) + buildAnthropicStream(kAnthropicTokens) + sse('[DONE]')
  const { output, frames, findings, stats } = await sanitize([enc(input)])
  t.notOk(output.includes(kEmail))
  t.equal(stats.protocol, 'openai-chat')
  t.equal(chatText(frames), 'Hello. ')
  t.match(anthropicText(frames), /^Mail \[email:[0-9a-f]+\] today\.$/)
  t.same(findings, [{ ruleId: 'pii.email', channel: 'anthropic-messages/0', field: 'text' }], 'scanned as block text on a channel of its own, not as unknown JSON')
  const deltas = frames.filter((f) => f.event === 'content_block_delta')
  t.ok(deltas.length > 0 && deltas.every((f) => JSON.parse(f.data).type === 'content_block_delta'), 'Anthropic frames keep their event names')
  t.equal(frames.at(-1)?.data, '[DONE]')
})

t.test('Anthropic events after a Responses primary go to an Anthropic codec', async (t) => {
  const input = buildResponsesStream(['Hi ', 'there. ']) + buildAnthropicStream(kAnthropicTokens)
  const { output, frames, findings, stats } = await sanitize([enc(input)])
  t.notOk(output.includes(kEmail))
  t.equal(stats.protocol, 'openai-responses')
  t.equal(stats.finishReason, 'completed', 'the finish reason is the primary\'s')
  t.equal(responsesText(frames), 'Hi there. ')
  t.match(anthropicText(frames), /^Mail \[email:[0-9a-f]+\] today\.$/)
  t.same(findings, [{ ruleId: 'pii.email', channel: 'anthropic-messages/0', field: 'text' }])
  t.equal(values(frames).at(-1) !== '[DONE]' && (values(frames).at(-1) as Json).type, 'message_stop', 'frames keep the upstream order')
})

t.test('Responses events after a chat primary go to a Responses codec: a split card number is masked everywhere', async (t) => {
  const tokens = ['Card ', '4111 1111 ', '1111 1111', ' ok.']
  const input = chatPart(['Hello. ']) + buildResponsesStream(tokens) + sse('[DONE]')
  const { output, frames, findings, stats } = await sanitize([enc(input)])
  t.notOk(output.includes(kCard))
  t.notOk(output.includes('4111 1111 '), 'not even its first half')
  t.equal(stats.protocol, 'openai-chat')
  const text = responsesText(frames)
  t.equal(text, expected(tokens.join('')))
  t.notOk(text.includes('4111'))
  const all = objects(frames)
  // The Responses codec repeats the sanitized text in its final events (a secondary keeps what it released).
  t.equal(all.find((v) => v.type === 'response.output_text.done')?.text, text)
  t.equal(all.find((v) => v.type === 'response.content_part.done')?.part?.text, text)
  t.equal(all.find((v) => v.type === 'response.completed')?.response?.output?.[0]?.content?.[0]?.text, text)
  t.same(findings, [{ ruleId: 'pii.credit_card', channel: 'openai-responses/out:0:0', field: 'text' }])
  t.equal(frames.at(-1)?.data, '[DONE]')
})

t.test('JSON objects of no known shape after a chat primary are scanned whole by the generic path', async (t) => {
  const input = chatPart(['Hello. ']) + sse({ foo: { bar: 'jane.doe@' } }) + sse({ foo: { bar: 'acme-corp.com' } }) + sse('[DONE]')
  const { output, frames, findings } = await sanitize([enc(input)])
  t.notOk(output.includes(kEmail))
  const bars = objects(frames).map((v) => v.foo?.bar).filter((s): s is string => typeof s === 'string')
  t.ok(bars.length >= 1, 'the unknown frames are passed on')
  t.notOk(bars.join('').includes('acme-corp.com'))
  t.match(bars.join(''), /^\[email:[0-9a-f]+\]$/)
  t.same(findings.map((f) => f.field), ['json'])
  t.equal(chatText(frames), 'Hello. ')
  t.equal(frames.at(-1)?.data, '[DONE]')
})

t.test('a chunk whose choices is an object is read as unknown JSON, so its text is scanned', async (t) => {
  // Read as a chat chunk, `choices.#0.delta.content` would be claimed by the chat codec, which scans only arrays.
  const base = { id: 'chatcmpl-x', object: 'chat.completion.chunk', created: 1, model: 'm' }
  const input = chatPart(['Hello. ']) + sse({ ...base, choices: { '#0': { delta: { content: `mail ${kEmail}` } } } }) + sse('[DONE]')
  const { output, frames } = await sanitize([enc(input)])
  t.notOk(output.includes(kEmail))
  const odd = objects(frames).filter((v) => v.choices !== undefined && !Array.isArray(v.choices))
  t.ok(odd.length > 0, 'the frame is passed on')
  t.match(odd.map((v) => v.choices['#0']?.delta?.content ?? '').join(''), /^mail \[email:[0-9a-f]+\]$/)
})

t.test('what a secondary still holds goes out before the primary\'s [DONE]', async (t) => {
  // The Anthropic block never stops: its codec holds the tail of `jane.doe` (it may start an address) until told to flush.
  const open = buildAnthropicStream(['Write to ', 'jane.doe']).split('event: content_block_stop')[0] as string
  const input = chatPart(['Hello. ']) + open + sse('[DONE]')
  const { frames } = await sanitize([enc(input)])
  t.equal(anthropicText(frames), 'Write to jane.doe')
  t.equal(frames.at(-1)?.data, '[DONE]')
  t.equal(frames.filter((f) => f.data === '[DONE]').length, 1)
})

t.test('at the end of input the secondaries flush first and the primary last', async (t) => {
  const open = buildAnthropicStream(['Write to ', 'jane.doe']).split('event: content_block_stop')[0] as string
  const chat = buildChatStream(['Mail ', 'john.roe']).split('data: {"id":"chatcmpl-gen","object":"chat.completion.chunk","created":1754000000,"model":"gpt-4o-mini","system_fingerprint":"fp_gen","choices":[{"index":0,"delta":{},')[0] as string
  const { frames } = await sanitize([enc(chat + open)])
  t.equal(anthropicText(frames), 'Write to jane.doe')
  t.equal(chatText(frames), 'Mail john.roe')
  const last = values(frames).at(-1) as Json
  t.equal(last.object, 'chat.completion.chunk', 'the primary\'s flush is the last frame')
  t.equal(last.choices?.[0]?.delta?.content, 'john.roe')
})

t.test('channels of different protocols never share a scanner, even with the same key', async (t) => {
  // Gemini (primary) and legacy Completions (secondary) both name their first text channel `0:text`.
  const gemini = (text: string): string => sse({ candidates: [{ content: { role: 'model', parts: [{ text }] }, index: 0 }], modelVersion: 'gemini-x' })
  const completions = sse({ id: 'cmpl-1', object: 'text_completion', created: 1, model: 'm', choices: [{ text: 'Hello there. ', index: 0, logprobs: null, finish_reason: null }] })
  const input = gemini('Mail jane.doe@') + completions + gemini('acme-corp.com today.')
  const { output, frames, findings, stats } = await sanitize([enc(input)])
  t.equal(stats.protocol, 'gemini')
  t.notOk(output.includes(kEmail))
  const all = objects(frames)
  const geminiText = all.flatMap((v) => v.candidates ?? []).flatMap((c: Json) => c.content?.parts ?? []).map((p: Json) => p.text ?? '').join('')
  t.match(geminiText, /^Mail \[email:[0-9a-f]+\] today\.$/)
  t.equal(all.filter((v) => v.object === 'text_completion').map((v) => v.choices[0].text).join(''), 'Hello there. ')
  t.same(findings, [{ ruleId: 'pii.email', channel: '0:text', field: 'text' }])
})

t.test('NDJSON: chat chunks after an Ollama primary go to a chat codec', async (t) => {
  const ollama = (content: string, done: boolean): string => JSON.stringify({ model: 'llama3', created_at: '2025-01-01T00:00:00Z', message: { role: 'assistant', content }, done }) + '\n'
  const chunk = (content: string): string => JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] }) + '\n'
  const input = ollama('Hi. ', false) + chunk('Mail jane.doe@') + chunk('acme-corp.com now.') + ollama('', true)
  const { output, frames, findings, stats } = await sanitize([enc(input)], { contentType: 'application/x-ndjson' })
  t.equal(stats.protocol, 'ollama')
  t.notOk(output.includes(kEmail))
  t.match(chatText(frames), /^Mail \[email:[0-9a-f]+\] now\.$/)
  t.same(findings, [{ ruleId: 'pii.email', channel: 'ndjson/0:content', field: 'content' }])
  t.equal(values(frames).at(-1) !== '[DONE]' && (values(frames).at(-1) as Json).done, true, 'Ollama\'s done line stays last')
})

t.test('a mixed stream gives the same output however its bytes are split', async (t) => {
  const input = enc(sse({}) + chatPart(['Hello ', 'there. ']) + buildAnthropicStream(kAnthropicTokens) +
    sse({ foo: { bar: 'jane.doe@' } }) + sse({ foo: { bar: 'acme-corp.com' } }) +
    buildResponsesStream(['Card ', '4111 1111 ', '1111 1111', ' ok.']) + sse('[DONE]'))
  const reference = replay(ruleSet, input, [], { protocol: 'auto' }).output
  t.notOk(reference.includes(kEmail))
  t.notOk(reference.includes(kCard))
  t.match(anthropicText(parseSse(reference).frames), /^Mail \[email:[0-9a-f]+\] today\.$/)
  let differ = 0
  for (let at = 1; at < input.length; at++) {
    if (replay(ruleSet, input, [at], { protocol: 'auto' }).output !== reference) differ++
  }
  t.equal(differ, 0, `split once at each of ${input.length - 1} byte positions`)
  // Through the Transform, one byte per chunk, without and with coalescing.
  const bytes = Array.from(input, (b) => Buffer.from([b]))
  const whole = await sanitize([input], { coalesce: false })
  t.equal(whole.output, reference, 'the Transform writes what the core does')
  t.equal((await sanitize(bytes, { coalesce: false })).output, reference, 'one byte at a time')
  const coalesced = await sanitize(bytes)
  for (const read of [anthropicText, chatText, responsesText]) t.equal(read(coalesced.frames), read(whole.frames), `${read.name}, coalesced`)
  t.equal(coalesced.frames.at(-1)?.data, '[DONE]')
})

t.test('a stream of one protocol reads the same under auto as under its own protocol', async (t) => {
  const fixtures: Array<[string, Protocol]> = [
    ['openai-chat.sse', 'openai-chat'], ['openai-chat-cut.sse', 'openai-chat'], ['openai-chat-n2.sse', 'openai-chat'], ['openai-chat-tools.sse', 'openai-chat'],
    ['openai-completions.sse', 'openai-completions'], ['openai-completions-cut.sse', 'openai-completions'],
    ['openai-responses.sse', 'openai-responses'], ['openai-responses-cut.sse', 'openai-responses'],
    ['anthropic-messages.sse', 'anthropic-messages'], ['anthropic-messages-cut.sse', 'anthropic-messages'],
    ['gemini.sse', 'gemini'], ['gemini-cut.sse', 'gemini'], ['cohere-chat.sse', 'cohere'], ['cohere-chat-cut.sse', 'cohere'],
    ['vercel-ai.sse', 'vercel-ai'], ['vercel-ai-cut.sse', 'vercel-ai'],
    ['openai-chat.ndjson', 'ndjson'], ['ollama-chat.ndjson', 'ollama'], ['ollama-chat-cut.ndjson', 'ollama'], ['ollama-generate.ndjson', 'ollama']
  ]
  for (const [name, protocol] of fixtures) {
    const input = fixture(name)
    const contentType = name.endsWith('.ndjson') ? 'application/x-ndjson' : 'text/event-stream'
    const own = replay(ruleSet, input, [], { protocol, contentType })
    const auto = replay(ruleSet, input, [], { protocol: 'auto', contentType })
    t.equal(auto.output, own.output, name)
    t.equal(auto.sanitizer.stats().protocol, protocol, `${name}: protocol`)
    t.same(auto.findings.map((f) => f.context), own.findings.map((f) => f.context), `${name}: findings`)
  }
})
