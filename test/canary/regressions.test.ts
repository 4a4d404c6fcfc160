/**
 * @module test/canary/regressions
 * One small, fixed case per category of canary-anywhere.test.ts, each named
 * after what it guards, each served through the plugin and through the
 * proxy (one server each for the whole file) and read by the client
 * decoder. After every case the same server must still serve an ordinary
 * answer.
 */
import OpenAI from 'openai'
import t from 'tap'
import type { Test } from 'tap'
import { loadCanaryPool } from './canaries.js'
import type { Canary, CanaryKind } from './canaries.js'
import { describeLeaks, findLeaks } from './client-decode.js'
import { buildCase } from './hostile-case.js'
import type { CaseSpec, ContentTypeChoice, Encoding, LineEnding, Position } from './hostile-case.js'
import { protocolNamed, protocols } from './protocols.js'
import { closeClient, startPluginRig, startProxyRig } from './rigs.js'
import type { Rig } from './rigs.js'

const pool = await loadCanaryPool(0)
const rigs = [await startPluginRig(pool.ruleSet), await startProxyRig(pool.ruleSet)]
// The same route with nothing in between: every case must leak there, or it guards nothing.
const bare = await startPluginRig(pool.ruleSet, { sanitize: false })
t.teardown(async () => {
  for (const rig of [...rigs, bare]) await rig.close()
  await closeClient()
})

function canary (kind: CanaryKind): Canary {
  const c = pool.canaries.find((x) => x.kind === kind)
  if (c === undefined) throw new Error(`the well-known ${kind} canary is not caught in prose`)
  return c
}

interface Overrides {
  protocol?: string
  streamed?: boolean
  kind?: CanaryKind
  position?: Partial<Position> & { name: Position['name'] }
  status?: number
  contentType?: ContentTypeChoice
  encoding?: Encoding
  eol?: LineEnding
  tool?: boolean
  sendAs?: 'stream' | 'buffer'
}

function spec (o: Overrides): CaseSpec {
  return {
    protocol: o.protocol ?? 'openai-chat-sse',
    streamed: o.streamed ?? true,
    canary: canary(o.kind ?? 'email'),
    around: ['Sure, write to', 'today.'],
    prose: 'Sure! Here is the summary you asked for.',
    sizes: [5, 3, 7],
    tool: o.tool ?? false,
    position: { pick: 0, at: 0.5, key: 'x_debug', shape: 'flat', ...(o.position ?? { name: 'text' }) },
    status: o.status ?? 200,
    contentType: o.contentType ?? 'natural',
    encoding: o.encoding ?? 'identity',
    eol: o.eol ?? 'lf',
    splits: [7, 61, 180, 333],
    escapeSeed: 11,
    sendAs: o.sendAs ?? 'stream'
  }
}

/** Serves `s` through the plugin and the proxy; the client must never read the canary, and the next request must work. */
function guards (name: string, s: CaseSpec): void {
  t.test(name, async (t: Test) => {
    const control = await bare.run({ built: buildCase(s), protocol: protocolNamed(s.protocol), streamed: s.streamed, sendAs: s.sendAs })
    t.ok(findLeaks(control, s.canary).length > 0, 'with nothing in between, the client reads the canary')
    for (const rig of rigs) {
      const r = await rig.run({ built: buildCase(s), protocol: protocolNamed(s.protocol), streamed: s.streamed, sendAs: s.sendAs })
      const leaks = findLeaks(r, s.canary)
      t.equal(leaks.length, 0, `through the ${rig.name}: the client cannot read the canary${leaks.length === 0 ? '' : ` (found at ${describeLeaks(leaks)})`}`)
      const health = await rig.healthy()
      t.ok(health.ok, `through the ${rig.name}: the next request works (${health.detail})`)
    }
  })
}

// The protocols' own text fields.
for (const p of protocols) {
  guards(`a canary in the text of a streamed ${p.name} answer is redacted`, spec({ protocol: p.name }))
  guards(`a canary in the text of a whole ${p.name.replace(/-(sse|ndjson)$/, '')} body is redacted`, spec({ protocol: p.name, streamed: false }))
}

// Unknown keys, at any depth.
guards('a canary in delta.reasoning_content is redacted', spec({ kind: 'ssn', position: { name: 'unknown-key', pick: 2, key: 'reasoning_content' } }))
guards('a canary under a new key of a chunk is redacted', spec({ kind: 'aws-key-id', position: { name: 'unknown-key', pick: 0, key: 'obfuscation' } }))
guards('a canary under a new key of a choice is redacted', spec({ kind: 'card', position: { name: 'unknown-key', pick: 1, key: 'annotations' } }))
guards('a canary nested in objects and arrays under a new key is redacted', spec({ kind: 'openai-key', position: { name: 'unknown-key', pick: 2, key: 'citations', shape: 'deep' } }))
guards('a canary under a new key of an Anthropic delta is redacted', spec({ protocol: 'anthropic-messages-sse', kind: 'email', position: { name: 'unknown-key', pick: 1, key: 'thinking', shape: 'array' } }))
guards('a canary under a new key of a whole chat body is redacted', spec({ streamed: false, kind: 'ssn', position: { name: 'unknown-key', pick: 2, key: 'reasoning_content' } }))
guards('a canary written as a JSON key is redacted', spec({ kind: 'email', position: { name: 'unknown-key-name', pick: 2 } }))
guards('a canary split across two frames under the same unknown key is redacted', spec({ kind: 'aws-key-id', position: { name: 'split-unknown', pick: 2, key: 'reasoning_content' } }))
guards('a canary in an event of an unknown type is redacted', spec({ protocol: 'anthropic-messages-sse', kind: 'card', position: { name: 'unknown-event' } }))
guards('a canary in an NDJSON line of an unknown type is redacted', spec({ protocol: 'openai-chat-ndjson', kind: 'card', position: { name: 'unknown-event' } }))

// SSE fields other than data.
guards('an SSE event: field never carries a canary to the client', spec({ kind: 'openai-key', position: { name: 'sse-event-field' } }))
guards('an SSE id: field never carries a canary to the client', spec({ kind: 'aws-key-id', position: { name: 'sse-id-field' } }))
guards('an SSE comment never reaches the client', spec({ kind: 'private-key', position: { name: 'sse-comment' } }))

// Errors and metadata.
guards('a canary in an in-band error frame is redacted', spec({ protocol: 'openai-responses-sse', kind: 'email', position: { name: 'error', at: 0.2 } }))
guards('a canary in an Anthropic error event at the end is redacted', spec({ protocol: 'anthropic-messages-sse', kind: 'ssn', position: { name: 'error', at: 0.9 } }))
guards('a canary in an error body is redacted', spec({ streamed: false, status: 400, kind: 'email', position: { name: 'error' } }))
guards('a canary in system_fingerprint is redacted', spec({ kind: 'aws-key-id', position: { name: 'metadata', pick: 0 } }))
guards('a canary in the model of message_start is redacted', spec({ protocol: 'anthropic-messages-sse', kind: 'email', position: { name: 'metadata', pick: 1 } }))
guards('a canary in the id of a whole body is redacted', spec({ streamed: false, kind: 'openai-key', position: { name: 'metadata', pick: 0 } }))
guards('a canary in an upstream response header never reaches the client', spec({ kind: 'aws-key-id', position: { name: 'header' } }))

// Tool arguments, escapes, duplicated keys.
guards('a canary in tool arguments written with \\u escapes is redacted', spec({ kind: 'email', position: { name: 'tool-args' } }))
guards('a canary in Anthropic partial_json written with \\u escapes is redacted', spec({ protocol: 'anthropic-messages-sse', kind: 'ssn', position: { name: 'tool-args' } }))
guards('a canary in \\u-escaped arguments of an unknown shape is redacted', spec({ protocol: 'unknown-shape-sse', kind: 'aws-key-id', position: { name: 'tool-args' } }))
guards('a canary in \\u-escaped tool arguments of a whole body is redacted', spec({ streamed: false, kind: 'card', position: { name: 'tool-args' } }))
guards('a canary in a text field written with \\u escapes is redacted', spec({ kind: 'openai-key', position: { name: 'text-escaped' } }))
guards('a canary under the first of two duplicated keys is redacted', spec({ kind: 'email', position: { name: 'duplicate-key' } }))
guards('a canary under the first of two duplicated keys of a whole body is redacted', spec({ streamed: false, kind: 'ssn', position: { name: 'duplicate-key' } }))

// Text after the finish.
guards('text after finish_reason is scanned', spec({ kind: 'email', position: { name: 'after-finish' } }))
guards('text after content_block_stop is scanned', spec({ protocol: 'anthropic-messages-sse', kind: 'card', position: { name: 'after-finish' } }))
guards('text after output_text.done is scanned', spec({ protocol: 'openai-responses-sse', kind: 'aws-key-id', position: { name: 'after-finish' } }))

// Status codes.
for (const status of [400, 404, 429, 500, 302]) {
  guards(`an SSE answer with status ${status} is scanned`, spec({ status, kind: 'ssn' }))
  guards(`a JSON body with status ${status} is scanned`, spec({ status, streamed: false, kind: 'email', sendAs: 'buffer' }))
}

// Content types.
for (const contentType of ['application/json', 'application/problem+json', 'text/plain', 'application/ndjson', 'none', 'duplicated'] as const) {
  const what = contentType === 'none' ? 'without a content type' : contentType === 'duplicated' ? 'with two content types' : `labelled ${contentType}`
  guards(`an SSE answer ${what} is scanned`, spec({ contentType, kind: 'card' }))
}
for (const contentType of ['application/problem+json', 'text/plain', 'text/event-stream', 'none', 'duplicated'] as const) {
  const what = contentType === 'none' ? 'without a content type' : contentType === 'duplicated' ? 'with two content types' : `labelled ${contentType}`
  guards(`a JSON body ${what} is scanned`, spec({ contentType, streamed: false, kind: 'aws-key-id', sendAs: 'buffer' }))
}
guards('an NDJSON answer labelled text/plain is scanned', spec({ protocol: 'openai-chat-ndjson', contentType: 'text/plain', kind: 'email' }))

// Content encodings.
guards('a gzip-encoded SSE answer is decoded and scanned', spec({ encoding: 'gzip', kind: 'email' }))
guards('a brotli-encoded SSE answer is decoded and scanned', spec({ encoding: 'br', kind: 'ssn' }))
guards('a gzip-encoded NDJSON answer is decoded and scanned', spec({ protocol: 'openai-chat-ndjson', encoding: 'gzip', kind: 'card' }))
guards('a gzip-encoded JSON body is decoded and scanned', spec({ streamed: false, encoding: 'gzip', kind: 'openai-key', sendAs: 'buffer' }))
guards('a brotli-encoded JSON body is decoded and scanned', spec({ streamed: false, encoding: 'br', kind: 'private-key' }))

// Framing: line endings, data lines, frames that are not JSON, oversized events.
guards('an SSE answer with CRLF line endings is scanned', spec({ eol: 'crlf', kind: 'email', position: { name: 'unknown-key', pick: 2, key: 'reasoning_content' } }))
guards('an SSE answer with CR line endings is scanned', spec({ eol: 'cr', kind: 'ssn', position: { name: 'unknown-key', pick: 2, key: 'reasoning_content' } }))
guards('an SSE answer after a byte order mark is scanned', spec({ eol: 'bom-lf', kind: 'card' }))
guards('a JSON body after a byte order mark is scanned', spec({ streamed: false, eol: 'bom-lf', kind: 'aws-key-id', sendAs: 'buffer' }))
guards('an event whose JSON spans several data: lines is scanned', spec({ kind: 'openai-key', position: { name: 'data-lines' } }))
guards('an SSE event whose data is not JSON never carries a canary to the client', spec({ kind: 'email', position: { name: 'non-json-frame' } }))
guards('an NDJSON line that is not JSON never carries a canary to the client', spec({ protocol: 'openai-chat-ndjson', kind: 'ssn', position: { name: 'non-json-frame' } }))
guards('a card number written as a JSON number is redacted', spec({ kind: 'card', position: { name: 'number-leaf', pick: 2, key: 'x_debug' } }))
// A bare 9-digit number is no SSN to the rules (they need the dashed form or
// context, as in prose), so the whole-body case is checked with a card.
guards('a card number written as a JSON number in a whole body is redacted', spec({ streamed: false, kind: 'card', position: { name: 'number-leaf', pick: 0, key: 'x_debug' } }))
guards('a canary at the end of an event larger than maxEventSize never reaches the client', spec({ kind: 'aws-key-id', position: { name: 'oversized-frame', pick: 2, key: 'reasoning_content' } }))

// The openai SDK as the client: what it accumulates (tool arguments joined
// and parsed, the final completion) and what it puts in an error message.
async function sdkSees (s: CaseSpec, call: (client: OpenAI) => Promise<unknown>, rig: Rig): Promise<string> {
  return rig.withCase({ built: buildCase(s), protocol: protocolNamed(s.protocol), streamed: s.streamed, sendAs: s.sendAs }, async ({ baseURL, headers }) => {
    const client = new OpenAI({ baseURL, apiKey: 'sk-test', maxRetries: 0, defaultHeaders: headers, timeout: 5000 })
    try {
      return JSON.stringify(await call(client))
    } catch (err) {
      return JSON.stringify({ message: (err as Error).message, error: (err as { error?: unknown }).error ?? null })
    }
  })
}

function guardsSdk (name: string, s: CaseSpec, call: (client: OpenAI) => Promise<unknown>): void {
  t.test(name, async (t: Test) => {
    const control = await sdkSees(s, call, bare)
    t.ok(findLeaks({ status: 200, headers: {}, body: Buffer.from(control) }, s.canary).length > 0, 'with nothing in between, the SDK holds the canary')
    for (const rig of rigs) {
      const seen = await sdkSees(s, call, rig)
      const leaks = findLeaks({ status: 200, headers: {}, body: Buffer.from(seen) }, s.canary)
      t.equal(leaks.length, 0, `through the ${rig.name}: the SDK never holds the canary${leaks.length === 0 ? '' : ` (found at ${describeLeaks(leaks)})`}`)
    }
  })
}

const chatStream = async (client: OpenAI): Promise<unknown> => {
  const runner = client.chat.completions.stream({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
  const chunks: unknown[] = []
  runner.on('chunk', (c) => { chunks.push(c) })
  const final = await runner.finalChatCompletion().catch((err: unknown) => ({ failed: (err as Error).message }))
  return { chunks, final }
}
const chatBody = (client: OpenAI): Promise<unknown> => client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
const responsesStream = async (client: OpenAI): Promise<unknown> => {
  const events: unknown[] = []
  const stream = await client.responses.create({ model: 'gpt-4.1', input: 'hi', stream: true })
  for await (const ev of stream) events.push(ev)
  return events
}

guardsSdk('the openai SDK never accumulates a canary from streamed text', spec({ kind: 'card' }), chatStream)
guardsSdk('the openai SDK never accumulates a canary from \\u-escaped tool arguments', spec({ kind: 'email', position: { name: 'tool-args' } }), chatStream)
guardsSdk('the openai SDK never accumulates a canary from delta.reasoning_content', spec({ kind: 'ssn', position: { name: 'unknown-key', pick: 2, key: 'reasoning_content' } }), chatStream)
guardsSdk('the openai SDK never accumulates a canary sent after finish_reason', spec({ kind: 'aws-key-id', position: { name: 'after-finish' } }), chatStream)
guardsSdk('the openai SDK never reports a canary from an in-band error frame', spec({ kind: 'email', position: { name: 'error', at: 0.2 } }), chatStream)
guardsSdk('the openai SDK never reports a canary from a 400 error body', spec({ streamed: false, status: 400, kind: 'ssn', position: { name: 'error' }, sendAs: 'buffer' }), chatBody)
guardsSdk('the openai SDK never reports a canary from a 429 error body labelled text/plain', spec({ streamed: false, status: 429, contentType: 'text/plain', kind: 'email', position: { name: 'error' }, sendAs: 'buffer' }), chatBody)
guardsSdk('the openai SDK never parses a canary from \\u-escaped arguments of a whole body', spec({ streamed: false, kind: 'card', position: { name: 'tool-args' }, sendAs: 'buffer' }), chatBody)
guardsSdk('the openai SDK never accumulates a canary from Responses text after output_text.done', spec({ protocol: 'openai-responses-sse', kind: 'email', position: { name: 'after-finish' } }), responsesStream)
guardsSdk('the openai SDK never accumulates a canary from Responses function arguments', spec({ protocol: 'openai-responses-sse', kind: 'aws-key-id', position: { name: 'tool-args' } }), responsesStream)

// Found by canary-anywhere: dimensions that leak only together.
guards('\\u-escaped tool arguments of a whole body labelled application/x-ndjson are decoded and scanned', spec({ streamed: false, contentType: 'application/x-ndjson', kind: 'email', position: { name: 'tool-args' }, sendAs: 'buffer' }))
