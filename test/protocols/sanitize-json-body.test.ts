import t from 'tap'
import { sanitizeJsonBody, sniffJsonProtocol } from '../../src/protocols/sanitize-json-body.js'
import { scannerFactory, scanWhole, testRules } from '../stream/replay.js'

// What each protocol's body sanitizer does is tested beside its codec
// (openai-chat.test.ts, anthropic-messages.test.ts…); here, that a body
// reaches the right one.
const ruleSet = await testRules()
const newScanner = scannerFactory(ruleSet)
const text = 'Reach jane.doe@acme.io or (415) 555-2671.'
const clean = scanWhole(ruleSet, text).text

t.test('a chat completion goes to the Chat Completions sanitizer', async (t) => {
  const r = sanitizeJsonBody({ object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: text }, logprobs: { content: [] }, finish_reason: 'stop' }] }, newScanner)
  t.equal(r.protocol, 'openai-chat')
  t.equal((r.body as any).choices[0].message.content, clean)
  t.equal((r.body as any).choices[0].logprobs, null)
})

t.test('an NDJSON body is read as a chat completion', async (t) => {
  const r = sanitizeJsonBody({ choices: [{ index: 0, message: { role: 'assistant', content: text } }] }, newScanner, { protocol: 'ndjson' })
  t.equal(r.protocol, 'openai-chat')
  t.equal((r.body as any).choices[0].message.content, clean)
})

t.test('a text completion goes to the Completions sanitizer', async (t) => {
  const r = sanitizeJsonBody({ object: 'text_completion', choices: [{ text, index: 0, logprobs: null, finish_reason: 'stop' }] }, newScanner)
  t.equal(r.protocol, 'openai-completions')
  t.equal((r.body as any).choices[0].text, clean)
})

t.test('a response goes to the Responses sanitizer, which marks a cut its way', async (t) => {
  const r = sanitizeJsonBody({ object: 'response', status: 'completed', output: [{ type: 'message', content: [{ type: 'output_text', text }] }] }, newScanner)
  t.equal(r.protocol, 'openai-responses')
  t.equal((r.body as any).output[0].content[0].text, clean)
  const cut = sanitizeJsonBody({ object: 'response', status: 'completed', output: [{ type: 'message', content: [{ type: 'output_text', text: 'launch the missiles' }] }] }, newScanner).body as any
  t.equal(cut.status, 'incomplete')
})

t.test('an Anthropic message goes to the Messages sanitizer, which marks a cut its way', async (t) => {
  const r = sanitizeJsonBody({ type: 'message', role: 'assistant', content: [{ type: 'text', text }] }, newScanner)
  t.equal(r.protocol, 'anthropic-messages')
  t.equal((r.body as any).content[0].text, clean)
  const cut = sanitizeJsonBody({ type: 'message', role: 'assistant', content: [{ type: 'text', text: 'launch the missiles' }] }, newScanner).body as any
  t.equal(cut.stop_reason, 'refusal')
})

t.test('vercel-ai has no body form: the generic pass alone, no protocol', async (t) => {
  const r = sanitizeJsonBody({ choices: [{ message: { content: 'jane.doe@acme.io' } }] }, newScanner, { protocol: 'vercel-ai' })
  t.equal(r.protocol, undefined)
  t.match((r.body as any).choices[0].message.content, /^\[email:[0-9a-f]+\]$/)
})

t.test('recognises bodies; an unknown one is still scanned, string by string', async (t) => {
  t.equal(sniffJsonProtocol({ object: 'chat.completion' }), 'openai-chat')
  t.equal(sniffJsonProtocol({ object: 'response' }), 'openai-responses')
  t.equal(sniffJsonProtocol({ type: 'message', content: [] }), 'anthropic-messages')
  t.equal(sniffJsonProtocol([1]), undefined)
  const body = { hello: 'jane.doe@acme.io', plain: 'nothing here' }
  const r = sanitizeJsonBody(body, newScanner)
  t.equal(r.protocol, undefined)
  t.ok(r.changed)
  t.match((r.body as any).hello, /^\[email:[0-9a-f]+\]$/)
  t.equal((r.body as any).plain, 'nothing here')
  t.same(body, { hello: 'jane.doe@acme.io', plain: 'nothing here' }, 'the input is not modified')
  const clean = { hello: 'world' }
  t.equal(sanitizeJsonBody(clean, newScanner).body, clean, 'a clean unknown body comes back as it was')
  t.equal((sanitizeJsonBody({ choices: [{ message: { content: 'jane.doe@acme.io' } }] }, newScanner, { protocol: 'openai-chat' }).body as any).choices[0].message.content.startsWith('[email:'), true)
})
