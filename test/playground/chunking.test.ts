/**
 * @module test/playground/chunking
 * The pieces a simulated stream is cut into: they always join back to the
 * text, in every mode and size, and have the shape the mode promises.
 */
import t from 'tap'
import { kChunkingModes, splitText } from '../../src/playground/chunking.js'

const texts = [
  '',
  'Hello there, world 12345.',
  '  leading spaces\tand\ttabs\n\nnew lines  ',
  'Grüße, naïve café — 東京 👋🏽 and a flag 🏴󠁧󠁢󠁳󠁣󠁴󠁿.',
  'mail jo@acme.com; card 4111 1111 1111 1111; https://example.com/a?b=c'
]

t.test('the pieces join back to the text, in every mode and size', async (t) => {
  for (const text of texts) {
    for (const mode of kChunkingModes) {
      for (const size of [1, 2, 7, 1000]) {
        const pieces = splitText(text, mode, size, 42)
        t.equal(pieces.join(''), text, `${mode} ${size}: ${JSON.stringify(text.slice(0, 20))}`)
        t.ok(pieces.every((p) => p !== ''), 'no empty piece')
      }
    }
  }
})

t.test('each mode cuts where it says', async (t) => {
  t.same(splitText('abcdefg', 'chars', 3), ['abc', 'def', 'g'])
  t.same(splitText('👋🏽', 'chars', 1).length, 4, 'characters are UTF-16 units: a piece may end inside a surrogate pair')
  t.same(splitText('my card  is 4111', 'words', 1), ['my ', 'card  ', 'is ', '4111'])
  t.same(splitText('my card  is 4111', 'words', 2), ['my card  ', 'is 4111'])
  t.same(splitText('Hello there, world 12345.', 'tokens', 1), ['Hello', ' there', ',', ' world', ' 123', '45', '.'])
  t.same(splitText('internationalization', 'tokens', 1), ['internat', 'ionaliza', 'tion'], 'a long word is several tokens')
  const random = splitText('x'.repeat(200), 'random', 5, 7)
  t.ok(random.every((p) => p.length >= 1 && p.length <= 5), 'random sizes from 1 to the size')
  t.same(splitText('x'.repeat(200), 'random', 5, 7), random, 'the same for the same seed')
  t.not(splitText('x'.repeat(200), 'random', 5, 8).join('|'), random.join('|'), 'another for another seed')
})
