/**
 * @module demo/chunks
 * How the demo upstream cuts an answer into content chunks, and draws ids:
 * from the request's seeded generator, so a run replays for a seed.
 */

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

export function randomId (rng: () => number, prefix: string, length: number): string {
  let out = prefix
  for (let i = 0; i < length; i++) out += ID_ALPHABET[Math.floor(rng() * ID_ALPHABET.length)]
  return out
}

/** Splits by code points, never inside a surrogate pair: "chars" means what a reader sees. */
export function splitIntoChunks (text: string, rng: () => number, [min, max]: readonly [number, number]): string[] {
  const points = Array.from(text)
  const chunks: string[] = []
  for (let i = 0; i < points.length;) {
    const size = min + Math.floor(rng() * (max - min + 1))
    chunks.push(points.slice(i, i + size).join(''))
    i += size
  }
  return chunks
}

/** Endless chunks of `text` repeated, for `never-ends`. */
export function * endlessChunks (text: string, rng: () => number, size: readonly [number, number]): Generator<string> {
  const source = text.length > 0 ? text + ' ' : 'and on '
  for (;;) yield * splitIntoChunks(source, rng, size)
}

/** The chunks of all choices, interleaved by choice index (as the API does for `n` > 1). */
export function * interleave (perChoice: ReadonlyArray<Iterator<string>>): Generator<{ index: number, text: string }> {
  const live = perChoice.map((iterator, index) => ({ iterator, index }))
  while (live.length > 0) {
    for (let i = 0; i < live.length;) {
      const entry = live[i]
      if (entry === undefined) break
      const next = entry.iterator.next()
      if (next.done === true) {
        live.splice(i, 1)
        continue
      }
      yield { index: entry.index, text: next.value }
      i++
    }
  }
}
