/**
 * @module test/client/split-bytes
 * Test helpers for the client's decoders: byte arrays cut at given offsets
 * (anywhere, so inside a UTF-8 sequence and between a CR and its LF too),
 * and a fast-check arbitrary of such cuts.
 */
import fc from 'fast-check'

/** `bytes` cut at the given offsets (any order, duplicates and out-of-range ones ignored). */
export function cut (bytes: Uint8Array, offsets: readonly number[]): Uint8Array[] {
  const points = [...new Set(offsets)].filter((at) => at > 0 && at < bytes.length).sort((a, b) => a - b)
  const pieces: Uint8Array[] = []
  let last = 0
  for (const at of points) {
    pieces.push(bytes.subarray(last, at))
    last = at
  }
  pieces.push(bytes.subarray(last))
  return pieces
}

/** Offsets into a byte array of `length` bytes: a few, many, or every one. */
export function offsetsOf (length: number): fc.Arbitrary<number[]> {
  const max = Math.max(1, length - 1)
  return fc.oneof(
    fc.array(fc.integer({ min: 1, max }), { maxLength: 12 }),
    fc.array(fc.integer({ min: 1, max }), { maxLength: 200 }),
    fc.constant(Array.from({ length: max }, (_, i) => i + 1))
  )
}

export const encode = (text: string): Uint8Array => new TextEncoder().encode(text)
