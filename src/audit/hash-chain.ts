/**
 * @module audit/hash-chain
 * The tamper-evident chain of the audit log, with no I/O: canonical JSON,
 * the link hash, sealing a record into a line and checking lines in order.
 *
 * Each record carries `prev` (the hash of the record before it; the first
 * record's `prev` is {@link GENESIS}) and `hash`:
 *
 *     hash = H(prev + canonicalJson(record without `hash`))
 *
 * where H is SHA-256, or HMAC-SHA256 under a `chainKey` when one is given.
 * `prev` is 64 hex characters, so the concatenation is unambiguous. Editing,
 * deleting, inserting or reordering any line breaks the chain at the first
 * line touched.
 *
 * Why both: an unkeyed chain is verifiable by anyone, auditors included,
 * without a secret — but someone who can write the file can also recompute
 * every hash after an edit. A keyed chain (HMAC) cannot be recomputed without
 * the key, so keep the key away from the host that writes the log; the price
 * is that verifying needs the key too. Neither detects records cut off the
 * END of the file (the shortened chain is still valid): anchor the latest
 * `head` hash elsewhere (request log, metrics, a remote store) to catch that.
 *
 * Canonical JSON follows RFC 8785 (JCS) in spirit: object keys sorted by
 * UTF-16 code units, no whitespace, numbers and strings as `JSON.stringify`
 * writes them. What matters is that `canonicalJson(JSON.parse(c)) === c` for
 * every `c` it produces, so a verifier re-derives exactly the hashed bytes
 * from the parsed line, whatever a reader does to key order.
 */
import { createHash, createHmac } from 'node:crypto'

/** The `prev` of the first record of a chain. */
export const GENESIS = '0'.repeat(64)

const HASH_RE = /^[0-9a-f]{64}$/

/** True for a well-formed link hash (64 lowercase hex characters). */
export function isChainHash (value: unknown): value is string {
  return typeof value === 'string' && HASH_RE.test(value)
}

/**
 * Serializes JSON-compatible data with sorted keys. Follows
 * `JSON.stringify` for everything else (`undefined`, functions and symbols
 * are dropped from objects and become `null` in arrays; non-finite numbers
 * become `null`; `toJSON` is honoured), except that a bigint is written as
 * its decimal string instead of throwing: an audit write must not fail on
 * the shape of event data. Throws a `TypeError` on circular data.
 *
 * @example
 * canonicalJson({ b: 1, a: [true, null] }) // '{"a":[true,null],"b":1}'
 */
export function canonicalJson (value: unknown): string {
  return serialize(value, new Set()) ?? 'null'
}

function serialize (value: unknown, seen: Set<object>): string | undefined {
  switch (typeof value) {
    case 'string': return JSON.stringify(value)
    case 'number': return Number.isFinite(value) ? JSON.stringify(value) : 'null'
    case 'boolean': return value ? 'true' : 'false'
    case 'bigint': return JSON.stringify(value.toString())
    case 'undefined': case 'function': case 'symbol': return undefined
  }
  if (value === null) return 'null'
  const obj = value as Record<string, unknown>
  if (typeof obj.toJSON === 'function') return serialize((obj.toJSON as () => unknown)(), seen)
  if (seen.has(obj)) throw new TypeError('canonicalJson: circular data')
  seen.add(obj)
  try {
    if (Array.isArray(obj)) {
      const items: string[] = []
      for (const item of obj) items.push(serialize(item, seen) ?? 'null')
      return `[${items.join(',')}]`
    }
    const parts: string[] = []
    // Default sort compares UTF-16 code units, as JCS asks.
    for (const key of Object.keys(obj).sort()) {
      const s = serialize(obj[key], seen)
      if (s !== undefined) parts.push(`${JSON.stringify(key)}:${s}`)
    }
    return `{${parts.join(',')}}`
  } finally {
    seen.delete(obj)
  }
}

/** Computes the link hash of a record body that follows `prev`. */
export type ChainHasher = (prev: string, body: string) => string

/** SHA-256 without a key, HMAC-SHA256 with one (see the module header for the choice). */
export function createChainHasher (chainKey?: string | Buffer): ChainHasher {
  if (chainKey === undefined) {
    return function sha256Link (prev, body) {
      return createHash('sha256').update(prev).update(body).digest('hex')
    }
  }
  const key = typeof chainKey === 'string' ? Buffer.from(chainKey) : chainKey
  return function hmacLink (prev, body) {
    return createHmac('sha256', key).update(prev).update(body).digest('hex')
  }
}

export interface SealedRecord {
  /** One JSON line, newline included, ready for a single write. */
  line: string
  hash: string
}

/**
 * Links `fields` after `prev`: serializes once, hashes once. `fields` must
 * not contain `prev` or `hash` (they are set here).
 */
export function sealRecord (fields: Record<string, unknown>, prev: string, hasher: ChainHasher): SealedRecord {
  const body = canonicalJson({ ...fields, prev })
  const hash = hasher(prev, body)
  // `hash` goes last rather than in sorted position: the verifier removes
  // it before re-deriving the body, so its place does not matter.
  return { line: `${body.slice(0, -1)},"hash":"${hash}"}\n`, hash }
}

/** The outcome of checking one line on its own (not yet against its neighbour). */
export type LineCheck =
  | { ok: true, prev: string, hash: string }
  | { ok: false, reason: string }

/** Parses one line and checks that its `hash` matches its content. */
export function checkRecordLine (line: string, hasher: ChainHasher): LineCheck {
  if (line.length === 0) return { ok: false, reason: 'empty line' }
  let parsed: unknown
  try {
    parsed = JSON.parse(line)
  } catch {
    return { ok: false, reason: 'not valid JSON' }
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { ok: false, reason: 'not a JSON object' }
  }
  const { hash, ...rest } = parsed as Record<string, unknown>
  const prev = rest.prev
  if (!isChainHash(hash) || !isChainHash(prev)) {
    return { ok: false, reason: 'not an audit record (no "prev" and "hash")' }
  }
  if (hasher(prev, canonicalJson(rest)) !== hash) {
    return { ok: false, reason: 'hash does not match the record (edited, or written with another chain key)' }
  }
  return { ok: true, prev, hash }
}

export type ChainCheck = { ok: true } | { ok: false, reason: string }

export interface ChainVerifier {
  /** Checks the next line (without its newline) against the chain so far. */
  push(line: string): ChainCheck
  /** Lines accepted so far. */
  readonly records: number
  /** Hash of the last accepted record ({@link GENESIS} before any). */
  readonly head: string
}

/**
 * Checks lines in file order. The first failing line is the first one an
 * edit, deletion, insertion or move touched: an edited line fails its own
 * hash; a line after a deletion, an inserted line and a moved line fail
 * their `prev` link. Stop at the first failure: the state does not advance.
 */
export function createChainVerifier (options: { chainKey?: string | Buffer } = {}): ChainVerifier {
  const hasher = createChainHasher(options.chainKey)
  let head = GENESIS
  let records = 0
  return {
    push: function pushLine (line) {
      const check = checkRecordLine(line, hasher)
      if (!check.ok) return check
      if (check.prev !== head) {
        return {
          ok: false,
          reason: records === 0
            ? '"prev" is not the genesis value (records before this one are missing)'
            : '"prev" does not match the previous record (a record was deleted, inserted or moved)'
        }
      }
      head = check.hash
      records++
      return { ok: true }
    },
    get records () { return records },
    get head () { return head }
  }
}
