/**
 * @module A seeded pseudo-random generator (mulberry32): small, fast and good
 * enough for chunk sizes, ids and fixtures that must replay for a seed. Not
 * for secrets.
 */

/** Returns a generator of floats in [0, 1) that repeats for the same seed. */
export function createSeededRandom (seed: number): () => number {
  let state = seed >>> 0
  return function next () {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
