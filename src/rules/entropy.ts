/**
 * @module rules/entropy
 * Shannon entropy of a text: what a rule's `minEntropy` compares (the
 * scanner, scanner/find-match.ts) and what some validators weigh
 * (rules/validators.ts). Pure, and below both.
 */

/**
 * Shannon entropy of `s` in bits per character (code point). Used by
 * `minEntropy` to tell random secrets from words and placeholders.
 * @example shannonEntropy('aaaa') === 0; shannonEntropy('abcd') === 2
 */
export function shannonEntropy (s: string): number {
  const counts = new Map<string, number>()
  let n = 0
  for (const ch of s) {
    counts.set(ch, (counts.get(ch) ?? 0) + 1)
    n++
  }
  if (n === 0) return 0
  let bits = 0
  for (const c of counts.values()) {
    const p = c / n
    bits -= p * Math.log2(p)
  }
  return bits
}
