/**
 * @module usage/budgets
 * Spending limits per client key: tokens, cost or both per calendar period
 * (UTC minute, hour, day, week from Monday, month). A request is refused
 * once the period's spend has reached the limit; what a request spends is
 * known only when its answer ends, so one request may cross the limit, and
 * the next is refused. Several proxy instances share the spend through
 * Redis (the same one as the rate limit); one instance keeps it in memory.
 *
 * Cost is kept in millionths of the currency unit, as integers, so that
 * many small additions do not drift (Redis HINCRBYFLOAT would).
 */
import type { Redis } from 'ioredis'

export type BudgetPeriod = 'minute' | 'hour' | 'day' | 'week' | 'month'

export interface BudgetLimit {
  period: BudgetPeriod
  /** Most tokens (input, cached input and output together) per period. */
  tokens?: number
  /** Most cost per period, in the price table's currency. */
  cost?: number
}

export interface Spend { tokens: number, cost: number }

export interface BudgetStore {
  /** What `client` spent in the window that starts at `window`. */
  spent: (client: string, window: string) => Promise<Spend>
  /** Adds to it; the window is forgotten after `ttlMs`. */
  add: (client: string, window: string, spend: Spend, ttlMs: number) => Promise<void>
}

export interface BudgetCheck {
  /** The limit is reached: refuse. */
  exceeded: boolean
  /** Seconds until the window ends (for `Retry-After`). */
  retryAfterS: number
  limit: BudgetLimit | undefined
  spent: Spend
}

export interface Budgets {
  check: (client: string | undefined) => Promise<BudgetCheck>
  record: (client: string | undefined, spend: Spend) => Promise<void>
}

/** The UTC window containing `now`: its name and its end. */
export function windowOf (period: BudgetPeriod, now: number): { name: string, end: number } {
  const d = new Date(now)
  const y = d.getUTCFullYear()
  const m = d.getUTCMonth()
  const day = d.getUTCDate()
  let start: number
  let end: number
  switch (period) {
    case 'minute': start = Math.floor(now / 60_000) * 60_000; end = start + 60_000; break
    case 'hour': start = Math.floor(now / 3_600_000) * 3_600_000; end = start + 3_600_000; break
    case 'day': start = Date.UTC(y, m, day); end = Date.UTC(y, m, day + 1); break
    case 'week': {
      const sinceMonday = (d.getUTCDay() + 6) % 7
      start = Date.UTC(y, m, day - sinceMonday)
      end = Date.UTC(y, m, day - sinceMonday + 7)
      break
    }
    case 'month': start = Date.UTC(y, m, 1); end = Date.UTC(y, m + 1, 1); break
  }
  return { name: `${period}:${new Date(start).toISOString()}`, end }
}

const kMicro = 1e6

export function createMemoryBudgetStore (now: () => number = Date.now): BudgetStore {
  const windows = new Map<string, { tokens: number, micro: number, expiresAt: number }>()
  return {
    async spent (client, window) {
      const entry = windows.get(`${client}\u0000${window}`)
      if (entry === undefined || entry.expiresAt <= now()) return { tokens: 0, cost: 0 }
      return { tokens: entry.tokens, cost: entry.micro / kMicro }
    },
    async add (client, window, spend, ttlMs) {
      const key = `${client}\u0000${window}`
      const entry = windows.get(key)
      if (entry === undefined || entry.expiresAt <= now()) {
        windows.set(key, { tokens: spend.tokens, micro: Math.round(spend.cost * kMicro), expiresAt: now() + ttlMs })
        // Forget ended windows now and then, so the map holds the current ones.
        for (const [k, e] of windows) if (e.expiresAt <= now()) windows.delete(k)
        return
      }
      entry.tokens += spend.tokens
      entry.micro += Math.round(spend.cost * kMicro)
    }
  }
}

export function createRedisBudgetStore (redis: Redis, prefix = 'sluice:budget:'): BudgetStore {
  return {
    async spent (client, window) {
      const [tokens, micro] = await redis.hmget(`${prefix}${client}:${window}`, 'tokens', 'micro')
      return { tokens: Number(tokens ?? 0), cost: Number(micro ?? 0) / kMicro }
    },
    async add (client, window, spend, ttlMs) {
      const key = `${prefix}${client}:${window}`
      await redis.multi()
        .hincrby(key, 'tokens', Math.round(spend.tokens))
        .hincrby(key, 'micro', Math.round(spend.cost * kMicro))
        .pexpire(key, ttlMs)
        .exec()
    }
  }
}

/**
 * Creates the budget checks for configured limits by client id.
 *
 * @example
 * const budgets = createBudgets({ limits: { web: { period: 'day', cost: 5 } }, store: createMemoryBudgetStore() })
 * if ((await budgets.check('web')).exceeded) reply.code(429)
 */
export function createBudgets (options: { limits: Readonly<Record<string, BudgetLimit>>, store: BudgetStore, now?: () => number }): Budgets {
  const { limits, store, now = Date.now } = options
  return {
    async check (client) {
      const limit = client === undefined ? undefined : limits[client]
      if (client === undefined || limit === undefined) return { exceeded: false, retryAfterS: 0, limit: undefined, spent: { tokens: 0, cost: 0 } }
      const at = now()
      const window = windowOf(limit.period, at)
      const spent = await store.spent(client, window.name)
      const exceeded = (limit.tokens !== undefined && spent.tokens >= limit.tokens) || (limit.cost !== undefined && spent.cost >= limit.cost)
      return { exceeded, retryAfterS: Math.max(1, Math.ceil((window.end - at) / 1000)), limit, spent }
    },
    async record (client, spend) {
      const limit = client === undefined ? undefined : limits[client]
      if (client === undefined || limit === undefined || (spend.tokens === 0 && spend.cost === 0)) return
      const at = now()
      const window = windowOf(limit.period, at)
      // Kept a minute past its end, so a request that ends late still finds it.
      await store.add(client, window.name, spend, window.end - at + 60_000)
    }
  }
}
