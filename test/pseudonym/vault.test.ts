import t from 'tap'
import type { Test } from 'tap'
import { Redis } from 'ioredis'
import { createPlaceholderFormat } from '../../src/pseudonym/placeholder-format.js'
import { createRedisVault } from '../../src/pseudonym/redis-vault.js'
import { createMemoryVault } from '../../src/pseudonym/vault.js'
import type { PseudonymVault } from '../../src/pseudonym/vault.js'
import { startRedisServer } from '../helpers/redis-server.js'

const format = createPlaceholderFormat()
const entry = (valueKey: string, type: string): { valueKey: string, type: string, sealed: string } => ({ valueKey, type, sealed: `sealed-${valueKey}` })

async function sharedBehaviour (t: Test, make: () => PseudonymVault): Promise<void> {
  const vault = make()
  t.same(await vault.assign('s1', [entry('a', 'EMAIL'), entry('b', 'EMAIL'), entry('c', 'IBAN'), entry('a', 'EMAIL')]), ['<EMAIL_1>', '<EMAIL_2>', '<IBAN_1>', '<EMAIL_1>'], 'numbered per type; a known value keeps its placeholder')
  t.same(await vault.assign('s1', [entry('d', 'EMAIL'), entry('b', 'EMAIL')]), ['<EMAIL_3>', '<EMAIL_2>'], 'a later turn continues the numbering')
  const stored = await vault.load('s1')
  t.same([...stored.placeholders].sort(), [['a', '<EMAIL_1>'], ['b', '<EMAIL_2>'], ['c', '<IBAN_1>'], ['d', '<EMAIL_3>']])
  t.equal(stored.sealed.get('<IBAN_1>'), 'sealed-c')
  t.equal((await vault.load('s2')).placeholders.size, 0, 'another scope sees nothing')
  t.same(await vault.assign('s2', [entry('a', 'EMAIL')]), ['<EMAIL_1>'], 'scopes number apart')
}

t.test('memory vault', async (t) => {
  await sharedBehaviour(t, () => createMemoryVault({ format, ttlMs: 60_000 }))
})

t.test('memory vault forgets a conversation idle longer than the TTL, and keeps a used one', async (t) => {
  let now = 0
  const vault = createMemoryVault({ format, ttlMs: 1000, now: () => now })
  await vault.assign('s', [entry('a', 'EMAIL')])
  now = 900
  t.equal((await vault.load('s')).placeholders.size, 1)
  now = 1800
  t.equal((await vault.load('s')).placeholders.size, 1, 'the load at 900 renewed it')
  now = 2801
  t.equal((await vault.load('s')).placeholders.size, 0, 'expired')
})

t.test('memory vault keeps at most maxConversations, dropping the least recently used', async (t) => {
  const vault = createMemoryVault({ format, ttlMs: 60_000, maxConversations: 2 })
  await vault.assign('a', [entry('x', 'EMAIL')])
  await vault.assign('b', [entry('x', 'EMAIL')])
  await vault.load('a')
  await vault.assign('c', [entry('x', 'EMAIL')])
  t.equal((await vault.load('a')).placeholders.size, 1)
  t.equal((await vault.load('b')).placeholders.size, 0, 'b was the least recently used')
})

t.test('redis vault: the same behaviour, shared by two connections, agreeing under races, with a TTL', async (t) => {
  const server = await startRedisServer()
  t.teardown(server.stop)
  const one = new Redis(server.url)
  const two = new Redis(server.url)
  t.teardown(() => { one.disconnect(); two.disconnect() })
  await sharedBehaviour(t, () => createRedisVault({ redis: one, format, ttlMs: 60_000 }))

  const a = createRedisVault({ redis: one, format, ttlMs: 60_000 })
  const b = createRedisVault({ redis: two, format, ttlMs: 60_000 })
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).assign('race', [entry(`v${i % 5}`, 'PHONE')])))
  const byValue = new Map<string, Set<string>>()
  results.forEach((r, i) => byValue.set(`v${i % 5}`, (byValue.get(`v${i % 5}`) ?? new Set()).add(r[0] as string)))
  t.ok([...byValue.values()].every((s) => s.size === 1), 'every value got one placeholder across both instances')
  t.same(new Set([...byValue.values()].map((s) => [...s][0])), new Set(['<PHONE_1>', '<PHONE_2>', '<PHONE_3>', '<PHONE_4>', '<PHONE_5>']), 'numbers given once each')
  t.equal((await b.load('race')).sealed.size, 5)

  const short = createRedisVault({ redis: one, format, ttlMs: 200 })
  await short.assign('brief', [entry('a', 'EMAIL')])
  t.equal((await short.load('brief')).placeholders.size, 1)
  await new Promise((resolve) => setTimeout(resolve, 400))
  t.equal((await short.load('brief')).placeholders.size, 0, 'expired after the TTL')
})

t.test('redis vault errors are coded, so the request fails instead of leaking', async (t) => {
  const redis = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false })
  t.teardown(() => redis.disconnect())
  const vault = createRedisVault({ redis, format, ttlMs: 1000 })
  await t.rejects(vault.load('x'), { code: 'SLUICE_PSEUDONYM_VAULT' })
  await t.rejects(vault.assign('x', [entry('a', 'EMAIL')]), { code: 'SLUICE_PSEUDONYM_VAULT' })
})
