import t from 'tap'
import { Buffer } from 'node:buffer'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import OpenAI from 'openai'
import { request } from 'undici'
import { defaultRulesDir } from '../../src/rules/load-rules.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { startDemo, startProxy } from '../proxy/fixtures/harness.js'

function configFile (config: object): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-usage-'))
  const file = join(dir, 'proxy.json')
  writeFileSync(file, JSON.stringify(config))
  return file
}

const clients = [{ id: 'web', key: 'key-web', budget: { period: 'hour', tokens: 100 } }, { id: 'internal', key: 'key-internal' }]
const prices = { 'gpt-4o': { input: 2.5, output: 10 } }

async function metricsOf (url: string): Promise<string> {
  const res = await request(`${url}/metrics`)
  return await res.body.text()
}

t.test('usage is asked for on the client\'s behalf, read, priced and counted; the client gets no chunk it did not ask for', async (t) => {
  const { url: upstream } = await startDemo(t)
  const { url } = await startProxy(t, upstream, ['--config', configFile({ clients: [{ id: 'internal', key: 'key-internal' }], prices })])
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'key-internal', maxRetries: 0 })
  const stream = await client.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hello' }] })
  let sawUsage = false
  for await (const chunk of stream) if (chunk.usage != null) sawUsage = true
  t.notOk(sawUsage, 'no usage chunk for a client that did not ask')
  const asked = await client.chat.completions.create({ model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hello' }] })
  let usage: OpenAI.CompletionUsage | undefined
  for await (const chunk of asked) if (chunk.usage != null) usage = chunk.usage
  t.ok(usage !== undefined && usage.completion_tokens > 0, 'the usage chunk for a client that asked')
  const whole = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] })
  t.ok((whole.usage?.total_tokens ?? 0) > 0)
  const text = await metricsOf(url)
  const output = /sluice_tokens_total\{key="internal",model="gpt-4o",kind="output"\} (\d+)/.exec(text)
  t.ok(output !== null && Number(output[1]) >= 3 * (usage?.completion_tokens ?? 1) - 3, 'output tokens of all three answers counted for the key id')
  const cost = /sluice_cost_total\{key="internal",model="gpt-4o"\} ([0-9.e-]+)/.exec(text)
  t.ok(cost !== null && Number(cost[1]) > 0, 'cost at the configured price')
  t.notMatch(text, /key-internal/, 'the key itself is never a label')
})

t.test('a budget shared by two instances through Redis ends in an OpenAI-shaped 429 the SDK reads', async (t) => {
  const redis = await startRedisServer()
  t.teardown(redis.stop)
  const { url: upstream } = await startDemo(t)
  const file = configFile({ clients, prices, redis: redis.url })
  const one = await startProxy(t, upstream, ['--config', file])
  const two = await startProxy(t, upstream, ['--config', file])
  const onOne = new OpenAI({ baseURL: `${one.url}/v1`, apiKey: 'key-web', maxRetries: 0 })
  const onTwo = new OpenAI({ baseURL: `${two.url}/v1`, apiKey: 'key-web', maxRetries: 0 })
  // Each answer spends more than half the budget: the second request crosses it, the third is refused.
  await onOne.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Tell me a long story about the sea and the sky' }] })
  await onTwo.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Tell me a long story about the sea and the sky' }] })
  // Recording the spend is asynchronous: give it a moment.
  await new Promise((resolve) => setTimeout(resolve, 200))
  const refused = await onOne.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] }).then(() => undefined, (err: unknown) => err)
  t.ok(refused instanceof OpenAI.RateLimitError, 'the SDK reads a RateLimitError')
  const err = refused as InstanceType<typeof OpenAI.RateLimitError>
  t.equal(err.status, 429)
  t.equal(err.code, 'SLUICE_BUDGET_EXCEEDED')
  t.match(err.headers?.get('retry-after') ?? '', /^\d+$/)
  const other = new OpenAI({ baseURL: `${two.url}/v1`, apiKey: 'key-internal', maxRetries: 0 })
  await t.resolves(other.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] }), 'another key is not limited')
})

t.test('per-key policies and monitor mode change what is redacted, and the policy is named in a header', async (t) => {
  const { url: upstream } = await startDemo(t)
  const file = configFile({ clients, policies: [{ name: 'internal-tools', clients: ['internal'], actions: { pii: 'flag' } }], monitor: ['pii.phone_nanp', 'pii.phone_intl', 'pii.phone_national', 'pii.phone_in_context'] })
  const { url } = await startProxy(t, upstream, ['--config', file, '--rules', defaultRulesDir()])
  const ask = async (key: string): Promise<{ text: string, policy: string | undefined }> => {
    const res = await request(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-demo-text': Buffer.from('Mail jane.doe@acme-corp.com or call (415) 867-5309 today.').toString('base64') },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] })
    })
    const body = await res.body.json() as { choices: Array<{ message: { content: string } }> }
    return { text: body.choices[0]?.message.content ?? '', policy: res.headers['x-sluice-policy'] as string | undefined }
  }
  const web = await ask('key-web')
  t.equal(web.policy, 'default')
  t.notMatch(web.text, /jane\.doe/, 'redacted for the default policy')
  t.match(web.text, '(415) 867-5309', 'a monitored rule lets its match through')
  const internal = await ask('key-internal')
  t.equal(internal.policy, 'internal-tools')
  t.match(internal.text, 'jane.doe@acme-corp.com', 'the internal key\'s policy flags pii instead')
})
