import t from 'tap'
import { Redis } from 'ioredis'
import { createBudgets, createMemoryBudgetStore, createRedisBudgetStore, windowOf } from '../../src/usage/budgets.js'
import { startRedisServer } from '../helpers/redis-server.js'

t.test('windows are UTC calendar periods', async (t) => {
  const at = Date.UTC(2026, 11, 9, 13, 45, 30) // a Wednesday
  t.same(windowOf('minute', at), { name: 'minute:2026-12-09T13:45:00.000Z', end: Date.UTC(2026, 11, 9, 13, 46) })
  t.same(windowOf('hour', at).name, 'hour:2026-12-09T13:00:00.000Z')
  t.same(windowOf('day', at), { name: 'day:2026-12-09T00:00:00.000Z', end: Date.UTC(2026, 11, 10) })
  t.same(windowOf('week', at), { name: 'week:2026-12-07T00:00:00.000Z', end: Date.UTC(2026, 11, 14) }, 'weeks start on Monday')
  t.same(windowOf('week', Date.UTC(2026, 11, 13, 23)).name, 'week:2026-12-07T00:00:00.000Z', 'Sunday is the week\'s last day')
  t.same(windowOf('month', at), { name: 'month:2026-12-01T00:00:00.000Z', end: Date.UTC(2027, 0, 1) })
})

t.test('a client is refused once its period\'s spend reaches a limit, and served again in the next period', async (t) => {
  let now = Date.UTC(2026, 11, 9, 13, 0, 10)
  const budgets = createBudgets({ limits: { web: { period: 'minute', tokens: 100 }, paid: { period: 'day', cost: 0.5 } }, store: createMemoryBudgetStore(() => now), now: () => now })
  t.equal((await budgets.check('web')).exceeded, false)
  await budgets.record('web', { tokens: 60, cost: 0 })
  t.equal((await budgets.check('web')).exceeded, false)
  await budgets.record('web', { tokens: 60, cost: 0 })
  const refused = await budgets.check('web')
  t.ok(refused.exceeded, 'the request that crossed it was served; the next is refused')
  t.equal(refused.retryAfterS, 50)
  t.same(refused.spent, { tokens: 120, cost: 0 })
  now += 60_000
  t.equal((await budgets.check('web')).exceeded, false, 'a new minute')
  for (let i = 0; i < 5; i++) await budgets.record('paid', { tokens: 1, cost: 0.1 })
  t.ok((await budgets.check('paid')).exceeded, 'cost adds up without drift (5 × 0.1 reaches 0.5)')
  t.equal((await budgets.check('free')).exceeded, false, 'no limit, no refusal')
  t.equal((await budgets.check(undefined)).exceeded, false)
})

t.test('two instances share a budget through one Redis', async (t) => {
  const server = await startRedisServer()
  t.teardown(server.stop)
  const a = new Redis(server.url)
  const b = new Redis(server.url)
  t.teardown(() => { a.disconnect(); b.disconnect() })
  const limits = { web: { period: 'hour' as const, tokens: 1000, cost: 1 } }
  const one = createBudgets({ limits, store: createRedisBudgetStore(a) })
  const two = createBudgets({ limits, store: createRedisBudgetStore(b) })
  await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? one : two).record('web', { tokens: 50, cost: 0.05 })))
  const seen = await two.check('web')
  t.same(seen.spent, { tokens: 500, cost: 0.5 })
  t.equal(seen.exceeded, false)
  await one.record('web', { tokens: 10, cost: 0.5 })
  t.ok((await two.check('web')).exceeded, 'the cost limit reached on one instance refuses on the other')
  t.ok(await a.pttl('sluice:budget:web:' + windowOf('hour', Date.now()).name) > 0, 'the window expires')
})
