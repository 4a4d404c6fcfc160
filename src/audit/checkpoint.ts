/**
 * @module audit/checkpoint
 * Signed checkpoints: the records that let a verifier tell a complete audit
 * file from one whose end was cut off. No I/O.
 *
 * A hash chain proves that nothing was changed, inserted or removed BEFORE
 * its last line, but a file cut back to any earlier line is still a valid
 * chain. So the writer seals the chain head from time to time with a
 * checkpoint record — a chain record like any other, with
 *
 *     kind: "checkpoint", reason, time, prev, mac, hash
 *
 * where `prev` is the head being sealed and
 *
 *     mac = HMAC-SHA256(checkpointKey, "sluice-audit-checkpoint\n" + canonicalJson(record without mac and hash))
 *
 * (the prefix keeps a checkpoint MAC from ever equalling a chain link under
 * the same key: a link's input starts with 64 hex characters). Reasons:
 *
 * - `interval`: every N records (`checkpointEvery`), or on `checkpoint()`;
 * - `close`: the last record of a log that was closed cleanly;
 * - `rotate`: the last record of a file that was rotated (its successor
 *   continues the chain, see rotated-files.ts);
 * - `resume`: written by a writer that reopened a file that did NOT end with
 *   `close` or `rotate` — the previous writer crashed (or the tail was cut
 *   before the restart: from the file alone the two look the same). It
 *   seals what was found, and leaves a permanent mark of the unclean end.
 *
 * A file is complete when its last line is a `close` (or, for a rotated
 * file, `rotate`) checkpoint with a valid MAC. Cut the file anywhere else
 * and it no longer is; to make it end in a valid checkpoint again one needs
 * the key. Hence checkpoints require a key: one anybody could compute would
 * let anybody who can cut the file also re-seal it, and prove nothing. The
 * key defaults to the chain key; a separate `checkpointKey` lets an unkeyed,
 * publicly verifiable chain still have its end vouched for.
 *
 * What a checkpoint cannot do: a file cut back exactly to an EARLIER clean
 * `close` (from a previous run, before the file was reopened) ends in a
 * valid checkpoint again. Only a head kept elsewhere catches that: publish
 * `AuditLog.head` (or the last checkpoint's `mac`) from time to time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { canonicalJson, isChainHash } from './hash-chain.js'

export const CHECKPOINT_REASONS = ['interval', 'close', 'rotate', 'resume'] as const
export type CheckpointReason = typeof CHECKPOINT_REASONS[number]

const DOMAIN = 'sluice-audit-checkpoint\n'

/** True for a record of kind `checkpoint` (whatever its MAC). */
export function isCheckpointRecord (record: Record<string, unknown> | undefined): boolean {
  return record !== undefined && record.kind === 'checkpoint'
}

/** True for a checkpoint that ends a file cleanly: `close`, or `rotate` for a rotated file. */
export function isFinalCheckpoint (record: Record<string, unknown> | undefined): boolean {
  return isCheckpointRecord(record) && (record?.reason === 'close' || record?.reason === 'rotate')
}

export interface CheckpointSigner {
  /** The `mac` of a checkpoint record given without `mac` and `hash` (with its `prev`). */
  sign(record: Record<string, unknown>): string
  /**
   * Checks a parsed checkpoint record (with `mac`; `hash` is ignored).
   * Returns why it fails, or undefined when it holds.
   */
  check(record: Record<string, unknown>): string | undefined
}

/** Signs and checks checkpoints under `key` (non-empty). */
export function createCheckpointSigner (key: string | Buffer): CheckpointSigner {
  const secret = typeof key === 'string' ? Buffer.from(key) : key
  function sign (record: Record<string, unknown>): string {
    return createHmac('sha256', secret).update(DOMAIN).update(canonicalJson(record)).digest('hex')
  }
  return {
    sign,
    check: function checkCheckpoint (record) {
      const { hash: _hash, mac, ...rest } = record
      if (!(CHECKPOINT_REASONS as readonly unknown[]).includes(rest.reason)) {
        return `checkpoint with an unknown reason ${JSON.stringify(rest.reason)}`
      }
      if (!isChainHash(mac)) return 'checkpoint without a MAC'
      const expected = Buffer.from(sign(rest), 'hex')
      if (!timingSafeEqual(expected, Buffer.from(mac, 'hex'))) {
        return 'checkpoint MAC does not match (forged, or written with another checkpoint key)'
      }
      return undefined
    }
  }
}
