/**
 * @module audit/hash-chain
 * The tamper-evident chain of the audit log, with no I/O: canonical JSON,
 * the link hash, sealing a record into a line and checking lines in order.
 *
 * Each record carries `prev` (the hash of the record before it; the first
 * record's `prev` is {@link GENESIS}) and `hash`:
 *
 *     hash = H(prev + B)
 *
 * where B is the record's line exactly as written, minus its trailing
 * `,"hash":"…"}` and newline, plus a closing `}` — i.e. the canonical JSON
 * of the record without `hash` (below). H is SHA-256, or HMAC-SHA256 under
 * a `chainKey` when one is given. `prev` is 64 hex characters, so the
 * concatenation is unambiguous. Editing, deleting, inserting or reordering
 * any line breaks the chain at the first line touched.
 *
 * Why both: an unkeyed chain is verifiable by anyone, auditors included,
 * without a secret — but someone who can write the file can also recompute
 * every hash after an edit. A keyed chain (HMAC) cannot be recomputed without
 * the key; the price is that verifying needs the key too. The chain alone
 * does not detect records cut off the END of the file (a shortened chain is
 * still a valid chain): signed checkpoints do (see checkpoint.ts).
 *
 * Canonical form. A line is canonical when it is byte for byte
 *
 *     B without its last "}"  +  ,"hash":"<64 lowercase hex>"}  +  LF
 *
 * where B is the RFC 8785 (JCS) serialization of the record without `hash`:
 * UTF-8 without a BOM; no whitespace between tokens; object members sorted
 * by key comparing UTF-16 code units, each key once; strings as ECMAScript's
 * `JSON.stringify` writes them (`"` and `\` escaped, `\b \f \n \r \t` as
 * such, other control characters and lone surrogates as `\u` with 4
 * lowercase hex digits, everything else — `/`, non-ASCII, U+2028 — as its
 * own UTF-8 bytes); numbers as ECMAScript's Number-to-String (shortest
 * round trip: `1` not `1.0`, `1e+21`, `-0` as `0`); `true`, `false`, `null`.
 * `hash` comes last, outside the sort order, so the hashed bytes are a
 * prefix of the line and nothing has to be rebuilt to hash them. The line
 * ends with one LF: no CR, no trailing space.
 *
 * Exactly one line is canonical for a given record, and the writer
 * produces it. A verifier hashes the line's own bytes — never a
 * re-serialization of what it parsed — and rejects a line unless parsing it
 * and serializing it again gives back the same line. So a line that a tool
 * re-indented, re-ordered, re-escaped or re-numbered is reported, even
 * though its parsed content is unchanged: the file is evidence, and its
 * bytes are what was signed.
 */
import { createHash, createHmac } from 'node:crypto'
import { isJsonObject } from '../json/json-object.js'

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

/** Computes the link hash of a record body (its canonical bytes) that follows `prev`. */
export type ChainHasher = (prev: string, body: string | Uint8Array) => string

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
  /** One JSON line in canonical form, newline included, ready for a single write. */
  line: string
  hash: string
}

/** `,"hash":"` + 64 hex + `"}`: what follows the hashed prefix of a canonical line. */
const HASH_SUFFIX_LENGTH = ',"hash":"'.length + 64 + '"}'.length
const CLOSE_BRACE = Buffer.from('}')

/** The canonical line (without newline) of a record whose body is `body` (canonical JSON without `hash`). */
function lineOf (body: string, hash: string): string {
  return `${body.slice(0, -1)},"hash":"${hash}"}`
}

/**
 * Links `fields` after `prev`: serializes once, hashes once, and returns
 * the canonical line whose bytes were hashed. `fields` must not contain
 * `prev` or `hash` (they are set here).
 */
export function sealRecord (fields: Record<string, unknown>, prev: string, hasher: ChainHasher): SealedRecord {
  const body = canonicalJson({ ...fields, prev })
  const hash = hasher(prev, body)
  return { line: lineOf(body, hash) + '\n', hash }
}

/** The outcome of checking one line on its own (not yet against its neighbour). */
export type LineCheck =
  | { ok: true, prev: string, hash: string, record: Record<string, unknown> }
  | { ok: false, reason: string }

// fatal: a byte sequence that is not UTF-8 is an error, not U+FFFD;
// ignoreBOM: a BOM stays in the text, where JSON.parse refuses it.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function firstDifference (a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a.charCodeAt(i) !== b.charCodeAt(i)) return i
  return n
}

/**
 * Checks one line (without its newline) on its own: that it is an audit
 * record in canonical form and that its `hash` is the hash of its own bytes.
 * Give the bytes as read from the file: a string is encoded as UTF-8 first.
 */
export function checkRecordLine (line: string | Uint8Array, hasher: ChainHasher): LineCheck {
  const bytes = typeof line === 'string' ? Buffer.from(line, 'utf8') : Buffer.from(line.buffer, line.byteOffset, line.byteLength)
  if (bytes.length === 0) return { ok: false, reason: 'empty line' }
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    return { ok: false, reason: 'not valid UTF-8' }
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return { ok: false, reason: 'not valid JSON' }
  }
  if (!isJsonObject(parsed)) return { ok: false, reason: 'not a JSON object' }
  const record = parsed
  const { hash, ...rest } = record
  const prev = rest.prev
  if (!isChainHash(hash) || !isChainHash(prev)) {
    return { ok: false, reason: 'not an audit record (no "prev" and "hash")' }
  }
  const canonical = lineOf(canonicalJson(rest), hash)
  if (canonical !== text) {
    const at = firstDifference(canonical, text)
    return {
      ok: false,
      reason: `not in canonical form from character ${at + 1} (key order, whitespace, number or string formatting, or line ending changed after writing)`
    }
  }
  // The line is canonical, so its bytes up to the hash member are the body
  // that was hashed: hash those very bytes.
  const body = Buffer.concat([bytes.subarray(0, bytes.length - HASH_SUFFIX_LENGTH), CLOSE_BRACE])
  if (hasher(prev, body) !== hash) {
    return { ok: false, reason: 'hash does not match the record (edited, or written with another chain key)' }
  }
  return { ok: true, prev, hash, record }
}

export type ChainCheck = { ok: true } | { ok: false, reason: string }

export interface ChainVerifier {
  /** Checks the next line (without its newline) against the chain so far. */
  push(line: string | Uint8Array): ChainCheck
  /** Lines accepted so far. */
  readonly records: number
  /** Hash of the last accepted record ({@link GENESIS} before any). */
  readonly head: string
}

/**
 * Checks lines of one chain in order, from {@link GENESIS}. The first
 * failing line is the first one an edit, deletion, insertion or move
 * touched: an edited line fails its own hash; a line after a deletion, an
 * inserted line and a moved line fail their `prev` link. Stop at the first
 * failure: the state does not advance. (verify-audit-log.ts adds
 * checkpoints and rotated files on top of this.)
 */
export function createChainVerifier (options: { chainKey?: string | Buffer } = {}): ChainVerifier {
  const hasher = createChainHasher(options.chainKey)
  let head = GENESIS
  let records = 0
  return {
    push: function pushLine (line) {
      const check = checkRecordLine(line, hasher)
      if (!check.ok) return check
      if (check.prev !== head) return { ok: false, reason: brokenLinkReason(records) }
      head = check.hash
      records++
      return { ok: true }
    },
    get records () { return records },
    get head () { return head }
  }
}

/** Why a record whose `prev` is not the head failed, given how many records came before it. */
export function brokenLinkReason (recordsBefore: number): string {
  return recordsBefore === 0
    ? '"prev" is not the genesis value (records before this one are missing)'
    : '"prev" does not match the previous record (a record was deleted, inserted or moved)'
}
