/**
 * Two proxy instances behind one (imaginary) load balancer share one rate
 * limit through a real redis-server: the scaling story of the README's
 * deployment note.
 */
import t from 'tap'
import { request } from 'undici'
import { startRedisServer } from '../helpers/redis-server.js'
import { startDemo, startProxy } from './fixtures/harness.js'

t.test('two proxy instances share one limit per client key through Redis', async (t) => {
  const redis = await startRedisServer()
  t.teardown(() => redis.stop())
  const { url: upstream } = await startDemo(t)
  const argv = ['--redis', redis.url, '--rate-limit', '3', '--api-key', 'key-a', '--api-key', 'key-b']
  const one = await startProxy(t, upstream, argv)
  const two = await startProxy(t, upstream, argv)

  const ask = async (base: string, key: string): Promise<{ status: number, body: any }> => {
    const res = await request(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sluice-demo-1', messages: [{ role: 'user', content: 'answer:haiku' }] })
    })
    return { status: res.statusCode, body: await res.body.json() }
  }

  const statuses: number[] = []
  for (const base of [one.url, two.url, one.url]) statuses.push((await ask(base, 'key-a')).status)
  t.same(statuses, [200, 200, 200], 'three requests alternated over both instances pass')
  const fourth = await ask(two.url, 'key-a')
  t.equal(fourth.status, 429, 'the fourth, on the other instance, is limited: the count is shared')
  t.equal(fourth.body.error.code, 'SLUICE_RATE_LIMITED')
  t.equal((await ask(one.url, 'key-b')).status, 200, 'another client key has its own budget')
})
