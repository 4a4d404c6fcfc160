/**
 * @module scanner/digest
 * Keyed digests of matched values: the audit log and pseudonyms correlate
 * equal values without ever storing them. The key comes from options, else
 * `SLUICE_HMAC_KEY`, else a random per-process key (pseudonyms then change
 * on restart: set a key in production).
 */
import { createHmac, randomBytes } from 'node:crypto'

let processKey: Buffer | undefined

/**
 * The key `SLUICE_HMAC_KEY` sets, if any (an empty value sets none). Without
 * it `resolveHmacKey()` falls back to the per-process key, which is why the
 * proxy warns at start when this is undefined.
 */
export function hmacKeyFromEnv (env: Record<string, string | undefined> = process.env): string | undefined {
  const value = env.SLUICE_HMAC_KEY
  return value === undefined || value === '' ? undefined : value
}

export function resolveHmacKey (key?: string | Buffer): Buffer {
  if (key !== undefined) return typeof key === 'string' ? Buffer.from(key) : key
  const env = hmacKeyFromEnv()
  if (env !== undefined) return Buffer.from(env)
  processKey ??= randomBytes(32)
  return processKey
}

/** Hex HMAC-SHA256 of `value` under `key`. */
export function digestValue (key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value).digest('hex')
}
