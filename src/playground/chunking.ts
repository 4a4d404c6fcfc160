/**
 * @module playground/chunking
 * How the playground cuts a sample answer into the pieces a model would
 * stream: fixed runs of characters (UTF-16 units, so a piece may end inside
 * a surrogate pair, as a byte-level decoder's output can), whole words,
 * token-like pieces (a word's letters with the space before them, a few
 * digits, a punctuation run: the shape of a BPE tokenizer's pre-split), or
 * random sizes from a seed. Pure: text in, pieces out; the pieces always
 * join back to the text.
 */
import { createSeededRandom } from '../json/seeded-random.js'

export type ChunkingMode = 'chars' | 'words' | 'tokens' | 'random'

export const kChunkingModes: readonly ChunkingMode[] = ['chars', 'words', 'tokens', 'random']

/** A word with the spaces after it, or leading spaces. */
const kWord = /\S+\s*|\s+/gu
/**
 * Token-like units: up to 8 letters with one space before them (tokenizers
 * glue the space to the next word), up to 3 digits, a run of punctuation,
 * other spaces.
 */
const kToken = /[ ]?[\p{L}\p{M}]{1,8}|[ ]?\p{N}{1,3}|[ ]?[^\s\p{L}\p{M}\p{N}]{1,4}|\s+/gu

function groups (units: readonly string[], size: number): string[] {
  const pieces: string[] = []
  for (let i = 0; i < units.length; i += size) pieces.push(units.slice(i, i + size).join(''))
  return pieces
}

/**
 * Cuts `text` into the pieces of one simulated stream: `size` characters,
 * words or tokens per piece, or for `random` a size from 1 to `size` drawn
 * from `seed` each time.
 * @example
 * splitText('my card is 4111', 'words', 1) // ['my ', 'card ', 'is ', '4111']
 */
export function splitText (text: string, mode: ChunkingMode, size: number, seed = 1): string[] {
  const n = Math.max(1, Math.floor(size))
  switch (mode) {
    case 'words': return groups(text.match(kWord) ?? [], n)
    case 'tokens': return groups(text.match(kToken) ?? [], n)
    case 'random': {
      const random = createSeededRandom(seed)
      const pieces: string[] = []
      for (let i = 0; i < text.length;) {
        const take = 1 + Math.floor(random() * n)
        pieces.push(text.slice(i, i + take))
        i += take
      }
      return pieces
    }
    default: {
      const pieces: string[] = []
      for (let i = 0; i < text.length; i += n) pieces.push(text.slice(i, i + n))
      return pieces
    }
  }
}
