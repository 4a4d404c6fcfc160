/**
 * @module scanner/digest
 * Keyed digests of matched values: the audit log and pseudonyms correlate
 * equal values without ever storing them. The key comes from options, else
 * `SLUICE_HMAC_KEY`, else a random per-process key (pseudonyms then change
 * on restart: set a key in production).
 */
import { createHmac, randomBytes } from 'node:crypto'

let processKey: Buffer | undefined

export function resolveHmacKey (key?: string | Buffer): Buffer {
  if (key !== undefined) return typeof key === 'string' ? Buffer.from(key) : key
  const env = process.env.SLUICE_HMAC_KEY
  if (env !== undefined && env !== '') return Buffer.from(env)
  processKey ??= randomBytes(32)
  return processKey
}

/** Hex HMAC-SHA256 of `value` under `key`. */
export function digestValue (key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value).digest('hex')
}
