/**
 * @module pseudonym/redis-vault
 * The vault shared by several proxy instances, in the Redis they already
 * share for rate limits. One hash per conversation scope: `v:<value key>` →
 * placeholder, `p:<placeholder>` → sealed value, `n:<TYPE>` → the last
 * number given. Assignment runs as one Lua script, so two instances that
 * see a new value at once agree on its placeholder; every write renews the
 * hash's TTL, and a read renews it too, so a conversation lives while it is
 * used.
 */
import type { Redis } from 'ioredis'
import { PseudonymVaultError } from '../errors.js'
import type { PlaceholderFormat } from './placeholder-format.js'
import type { PseudonymVault, StoredConversation } from './vault.js'

// KEYS[1] the hash; ARGV[1] TTL ms, ARGV[2] template, then triples
// (value key, type, sealed). Returns the placeholders in order.
const kAssign = `
local out = {}
for i = 3, #ARGV, 3 do
  local field = 'v:' .. ARGV[i]
  local placeholder = redis.call('HGET', KEYS[1], field)
  if not placeholder then
    local n = redis.call('HINCRBY', KEYS[1], 'n:' .. ARGV[i + 1], 1)
    placeholder = string.gsub(string.gsub(ARGV[2], '{TYPE}', ARGV[i + 1]), '{N}', tostring(n))
    redis.call('HSET', KEYS[1], field, placeholder, 'p:' .. placeholder, ARGV[i + 2])
  end
  out[#out + 1] = placeholder
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return out
`

export interface RedisVaultOptions {
  redis: Redis
  format: PlaceholderFormat
  ttlMs: number
  /** Key prefix (default `sluice:pseudonyms:`). */
  prefix?: string
}

type RedisWithAssign = Redis & { sluicePseudonymAssign?: (key: string, ...args: string[]) => Promise<string[]> }

/**
 * Creates a vault on a Redis connection the caller owns (closing the vault
 * does not close it). A Redis error becomes PseudonymVaultError: the
 * request fails rather than go out with values in clear.
 */
export function createRedisVault (options: RedisVaultOptions): PseudonymVault {
  const { format, ttlMs, prefix = 'sluice:pseudonyms:' } = options
  const redis = options.redis as RedisWithAssign
  if (typeof redis.sluicePseudonymAssign !== 'function') redis.defineCommand('sluicePseudonymAssign', { numberOfKeys: 1, lua: kAssign })

  async function guarded<T> (what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run()
    } catch (err) {
      throw new PseudonymVaultError(`${what}: ${(err as Error).message}`)
    }
  }

  return {
    load (scope) {
      return guarded('load', async () => {
        const key = prefix + scope
        const fields = await redis.hgetall(key)
        const placeholders = new Map<string, string>()
        const sealed = new Map<string, string>()
        for (const [field, value] of Object.entries(fields)) {
          if (field.startsWith('v:')) placeholders.set(field.slice(2), value)
          else if (field.startsWith('p:')) sealed.set(field.slice(2), value)
        }
        if (placeholders.size > 0) await redis.pexpire(key, ttlMs)
        const stored: StoredConversation = { placeholders, sealed }
        return stored
      })
    },
    assign (scope, entries) {
      if (entries.length === 0) return Promise.resolve([])
      return guarded('assign', async () => {
        const args = entries.flatMap((e) => [e.valueKey, e.type, e.sealed])
        const assign = redis.sluicePseudonymAssign as (key: string, ...args: string[]) => Promise<string[]>
        return assign.call(redis, prefix + scope, String(ttlMs), format.template, ...args)
      })
    },
    async close () {}
  }
}
