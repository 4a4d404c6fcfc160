import t from 'tap'
import fc from 'fast-check'
import { createRestorer } from '../../src/pseudonym/create-restorer.js'
import { createPlaceholderFormat } from '../../src/pseudonym/placeholder-format.js'

const format = createPlaceholderFormat()
const values: Record<string, string> = {
  '<EMAIL_1>': 'jane.doe@acme-corp.com',
  '<EMAIL_2>': 'j.smith@example.org',
  '<IBAN_1>': 'DE89 3704 0044 0532 0130 00',
  '<PHONE_12>': '+44 20 7946 0958'
}
const lookup = (p: string): string | undefined => values[p]

/** The reference: every complete placeholder of the whole text replaced, left to right. */
function reference (text: string, unknown: 'keep' | 'redact' = 'keep'): string {
  return text.replace(new RegExp(format.pattern.source, 'g'), (p) => values[p] ?? (unknown === 'redact' ? '[redacted]' : p))
}

function streamed (pieces: readonly string[], unknown: 'keep' | 'redact' = 'keep'): { text: string, maxHeld: number, restored: number } {
  const r = createRestorer({ format, lookup, unknown })
  let text = ''
  let maxHeld = 0
  for (const piece of pieces) {
    text += r.write(piece)
    maxHeld = Math.max(maxHeld, r.held)
  }
  text += r.end()
  return { text, maxHeld, restored: r.restored }
}

/** Cuts `text` at the given fractions. */
function cut (text: string, points: readonly number[]): string[] {
  const at = [...new Set(points.map((p) => Math.floor(p * (text.length + 1))))].sort((a, b) => a - b)
  const pieces: string[] = []
  let last = 0
  for (const i of at) {
    pieces.push(text.slice(last, i))
    last = i
  }
  pieces.push(text.slice(last))
  return pieces
}

// Text made to look like placeholders: known ones, unknown ones, broken ones, and prose with the same characters.
const fragment = fc.oneof(
  fc.constantFrom(...Object.keys(values)),
  fc.constantFrom('<EMAIL_3>', '<CARD_1>', '<EMAIL_>', '<EMAIL_0>', '<email_1>', '<EMAIL_1', 'EMAIL_1>', '<<EMAIL_1>>', '<EMAIL_1_2>', '<A_1>'),
  fc.stringMatching(/^[<>A-Z_0-9 a-z.]{0,12}$/),
  fc.constantFrom(' ', 'Write to ', ' about ', '\n', 'x < y > z', 'a<b')
)
const text = fc.array(fragment, { maxLength: 24 }).map((parts) => parts.join(''))

t.test('any chunking restores exactly what the whole text restores', async () => {
  fc.assert(fc.property(text, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }), fc.constantFrom<'keep' | 'redact'>('keep', 'redact'), (whole, points, unknown) => {
    const out = streamed(cut(whole, points), unknown)
    if (out.text !== reference(whole, unknown)) throw new Error(`${JSON.stringify(whole)} → ${JSON.stringify(out.text)}`)
    if (out.maxHeld > format.maxLength) throw new Error(`held ${out.maxHeld}`)
  }), { numRuns: 3000 })
})

t.test('a placeholder split at every position, in two or in single characters, is restored exactly once', async (t) => {
  const answer = 'Sure — I will write to <EMAIL_1> and wire the money to <IBAN_1>.'
  const expected = 'Sure — I will write to jane.doe@acme-corp.com and wire the money to DE89 3704 0044 0532 0130 00.'
  for (let i = 0; i <= answer.length; i++) {
    const out = streamed([answer.slice(0, i), answer.slice(i)])
    if (out.text !== expected || out.restored !== 2) t.fail(`split at ${i}: ${out.text}`)
  }
  t.equal(streamed([...answer]).text, expected, 'one character at a time')
  t.equal(streamed([answer]).restored, 2)
})

t.test('unknown placeholders are kept, or redacted by policy', async (t) => {
  t.equal(streamed(['Ask <EMAIL_9> or <PHONE_12>']).text, 'Ask <EMAIL_9> or +44 20 7946 0958')
  t.equal(streamed(['Ask <EMAIL_9> or <PHONE_12>'], 'redact').text, 'Ask [redacted] or +44 20 7946 0958')
})

t.test('holds only what could still become a placeholder', async (t) => {
  const r = createRestorer({ format, lookup })
  t.equal(r.write('a < b and <EM'), 'a < b and ')
  t.equal(r.held, 3)
  t.equal(r.write('AIL_1'), '')
  t.equal(r.write('x'), '<EMAIL_1x', 'a letter after the number breaks the placeholder')
  t.equal(r.held, 0)
  t.equal(r.write('<EMAIL_2> <'), 'j.smith@example.org ')
  t.equal(r.end(), '<', 'the end releases a partial placeholder as text')
})
