/**
 * @module test/rules/entropy
 * Shannon entropy (src/rules/entropy.ts), what `minEntropy` compares.
 */
import t from 'tap'
import { shannonEntropy } from '../../src/rules/entropy.js'

t.test('shannonEntropy measures bits per code point', async (t) => {
  t.equal(shannonEntropy(''), 0)
  t.equal(shannonEntropy('aaaa'), 0)
  t.equal(shannonEntropy('abcd'), 2)
  t.equal(shannonEntropy('aabb'), 1)
  t.equal(shannonEntropy('😀😀🎉🎉'), 1, 'astral characters count once each')
  t.ok(shannonEntropy('ghp_dIjKt9WILleTLdtbIYgQMinTxqkNCktJnz1z') > 4, 'a random token is dense')
})
