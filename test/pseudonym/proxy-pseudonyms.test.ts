import t from 'tap'
import type { Test } from 'tap'
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import { defaultRulesDir } from '../../src/rules/load-rules.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { startProxy } from '../proxy/fixtures/harness.js'

/**
 * An upstream that answers with what it received: the last user message,
 * word by word, as OpenAI chat or Anthropic messages, streamed or whole.
 * It records every body, so the test can check what the provider saw.
 */
async function startEchoUpstream (t: Test): Promise<{ url: string, bodies: string[] }> {
  const bodies: string[] = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => { raw += c })
    req.on('end', () => {
      bodies.push(raw)
      const body = JSON.parse(raw) as { stream?: boolean, messages: Array<{ role: string, content: unknown }> }
      const last = body.messages.filter((m) => m.role === 'user').at(-1)
      const text = `You wrote: ${typeof last?.content === 'string' ? last.content : JSON.stringify(last?.content)} Also mail ceo@initech-corp.com.`
      // Pieces of 3 characters: placeholders are split across chunks.
      const pieces = text.match(/[\s\S]{1,3}/g) ?? []
      if (req.url?.startsWith('/v1/messages') === true) {
        if (body.stream !== true) {
          res.setHeader('content-type', 'application/json')
          res.end(JSON.stringify({ id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-x', content: [{ type: 'text', text }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 10, output_tokens: 20 } }))
          return
        }
        res.setHeader('content-type', 'text/event-stream')
        const ev = (type: string, data: object): string => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`
        res.write(ev('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-x', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1 } } }))
        res.write(ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }))
        for (const p of pieces) res.write(ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: p } }))
        res.write(ev('content_block_stop', { index: 0 }))
        res.write(ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 20 } }))
        res.end(ev('message_stop', {}))
        return
      }
      if (body.stream !== true) {
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ id: 'c1', object: 'chat.completion', created: 1, model: 'gpt-x', choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }], usage: { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 } }))
        return
      }
      res.setHeader('content-type', 'text/event-stream')
      const chunk = (delta: object, finish: string | null): string => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-x', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`
      res.write(chunk({ role: 'assistant', content: '' }, null))
      for (const p of pieces) res.write(chunk({ content: p }, null))
      res.write(chunk({}, 'stop'))
      res.end('data: [DONE]\n\n')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const address = server.address() as { port: number }
  return { url: `http://127.0.0.1:${address.port}`, bodies }
}

const email = 'jane.doe@acme-corp.com'
const iban = 'DE89 3704 0044 0532 0130 00'
const question = `Draft a reply to ${email} about invoice ${iban}.`
const pseudonymArgs = ['--rules', defaultRulesDir(), '--pseudonyms', '--pseudonym-key', 'a test key of enough length', '--api-key', 'client-a', '--api-key', 'client-b']

async function collectOpenAi (client: OpenAI, stream: boolean, content: string, conversation?: string): Promise<string> {
  const headers = conversation === undefined ? {} : { 'x-sluice-conversation': conversation }
  if (!stream) {
    const r = await client.chat.completions.create({ model: 'gpt-x', messages: [{ role: 'user', content }] }, { headers })
    return r.choices[0]?.message.content ?? ''
  }
  const s = await client.chat.completions.create({ model: 'gpt-x', stream: true, messages: [{ role: 'user', content }] }, { headers })
  let text = ''
  for await (const c of s) text += c.choices[0]?.delta.content ?? ''
  return text
}

t.test('the provider never sees the values; the client reads them back, streamed and whole, with OpenAI and Anthropic SDKs', async (t) => {
  const upstream = await startEchoUpstream(t)
  const { url } = await startProxy(t, upstream.url, pseudonymArgs)
  const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'client-a', maxRetries: 0 })
  for (const stream of [true, false]) {
    const text = await collectOpenAi(openai, stream, question)
    t.match(text, `You wrote: Draft a reply to ${email} about invoice ${iban}.`, `openai stream=${stream}: values restored`)
    t.notMatch(text, /ceo@initech-corp\.com/, 'other personal data the model writes is still redacted')
    t.notMatch(text, /<EMAIL_|<IBAN_/, 'no placeholder reaches the client')
  }
  const anthropic = new Anthropic({ baseURL: url, apiKey: 'client-a', maxRetries: 0 })
  const whole = await anthropic.messages.create({ model: 'claude-x', max_tokens: 100, messages: [{ role: 'user', content: question }] })
  t.match(whole.content[0]?.type === 'text' ? whole.content[0].text : '', `${email} about invoice ${iban}`, 'anthropic whole')
  const stream = anthropic.messages.stream({ model: 'claude-x', max_tokens: 100, messages: [{ role: 'user', content: question }] })
  t.match(await stream.finalText(), `${email} about invoice ${iban}`, 'anthropic streamed')
  for (const body of upstream.bodies) {
    t.notMatch(body, /jane\.doe|DE89/, 'the upstream saw no value')
    t.match(body, /<EMAIL_1>.*<IBAN_1>/, 'it saw typed placeholders')
  }
})

t.test('another client key gets nothing restored; turns keep their placeholders', async (t) => {
  const upstream = await startEchoUpstream(t)
  const { url } = await startProxy(t, upstream.url, pseudonymArgs)
  const a = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'client-a', maxRetries: 0 })
  const b = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'client-b', maxRetries: 0 })
  await collectOpenAi(a, true, question, 'conv-1')
  const turn2 = await collectOpenAi(a, true, `And cc bob@globex-mail.com, not ${email}`, 'conv-1')
  t.match(turn2, `And cc bob@globex-mail.com, not ${email}`)
  t.match(upstream.bodies.at(-1) ?? '', /cc <EMAIL_2>, not <EMAIL_1>/, 'turn 2 reuses turn 1\'s placeholder and numbers on')
  const stolen = await collectOpenAi(b, false, 'Repeat <EMAIL_1> please', 'conv-1')
  t.match(stolen, 'Repeat <EMAIL_1> please', 'client b cannot open client a\'s conversation')
})

t.test('two proxy instances share one vault through Redis', async (t) => {
  const redis = await startRedisServer()
  t.teardown(redis.stop)
  const upstream = await startEchoUpstream(t)
  const one = await startProxy(t, upstream.url, [...pseudonymArgs, '--redis', redis.url])
  const two = await startProxy(t, upstream.url, [...pseudonymArgs, '--redis', redis.url])
  const onOne = new OpenAI({ baseURL: `${one.url}/v1`, apiKey: 'client-a', maxRetries: 0 })
  const onTwo = new OpenAI({ baseURL: `${two.url}/v1`, apiKey: 'client-a', maxRetries: 0 })
  await collectOpenAi(onOne, true, question, 'shared')
  const back = await collectOpenAi(onTwo, true, 'Who is <EMAIL_1>?', 'shared')
  t.match(back, `Who is ${email}?`, 'instance two restores what instance one named')
})
