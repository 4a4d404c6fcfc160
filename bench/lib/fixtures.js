// The answers the end-to-end benches stream, fixed so every contender and
// every round sees the same bytes. `cleanProse` holds nothing a default rule
// redacts (ordinary assistant prose, with digits, dates, an accent or two and
// punctuation that can start a partial match), so the text that reaches the
// client equals the upstream's, character for character, and per-chunk
// latency can be matched by character offset. `mixedProse` adds an e-mail
// address and a payment card, so the saturation runs also pay for redactions.
// `randomRuns` makes seeded base64 or digit runs (holdback, healthz-under-load).
import { rng } from './stats.js'

export const cleanProse = [
  'Sure. Here is a short summary of the release notes for version 2.4 of the service, published on 14 March 2025.',
  'The scheduler now retries failed jobs up to 3 times, waiting 250 ms, then 1 s, then 4 s between attempts.',
  'Memory use per worker dropped by about 18% after the cache was moved out of process; the p99 latency of the',
  'public API went from 412 ms to 296 ms over the same week. A café in Zürich reported the first bug: the',
  'export button ignored the time zone, so reports for 23:30 showed up under the next day. That is fixed.',
  'To upgrade, stop the workers, run the migration (it takes 2 to 5 minutes on a database of 40 GB), and start',
  'them again. Nothing else changes for clients. If you have questions, the team reads the forum every day.'
].join(' ')

export const mixedProse = cleanProse.replace('If you have questions,', 'If you have questions, write to maria.keller@northwind-traders.com or pay with 4111 1111 1111 1111;')

/** A streaming chat completion whose answer is `text` (the demo upstream's `demo_text`). */
export function chatBody (text, stream = true) {
  return JSON.stringify({
    model: 'sluice-demo-1',
    stream,
    messages: [{ role: 'user', content: 'Summarize the release notes, please.' }],
    demo_text: text
  })
}

/**
 * `length` characters of seeded random runs drawn from `alphabet`, a space
 * every 200–2,000 characters: the shape of keys and long numbers, where a
 * rule's candidate match can run on for the whole run.
 */
export function randomRuns (alphabet, length, seed) {
  const random = rng(seed)
  let out = ''
  while (out.length < length) {
    const run = 200 + Math.floor(random() * 1801)
    let word = ''
    for (let i = 0; i < run; i++) word += alphabet[Math.floor(random() * alphabet.length)]
    out += word + ' '
  }
  return out.slice(0, length)
}

export const base64Alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
export const digitAlphabet = '0123456789'
