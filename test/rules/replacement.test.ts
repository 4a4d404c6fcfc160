/**
 * @module test/rules/replacement
 * What a redaction is replaced with: every placeholder of a `replacement`
 * template, the escapes for literal braces, and the error for a placeholder
 * that does not exist (at load time, never mid-stream).
 */
import t from 'tap'
import { ReplacementTemplateError } from '../../src/errors.js'
import { compileReplacement } from '../../src/rules/replacement.js'
import type { ReplacementContext } from '../../src/rules/replacement.js'

let digests = 0
const ctx = (value: string): ReplacementContext => ({
  value,
  id: 'pii.card',
  category: 'pii',
  digest: () => { digests++; return '0123456789abcdef' }
})
const render = (template: string, value = '4111-1111-1111-1234'): string => compileReplacement(template)(ctx(value))

t.test('a template without placeholders is its own text, and never computes the digest', async (t) => {
  digests = 0
  t.equal(render('[REDACTED]'), '[REDACTED]')
  t.equal(render(''), '')
  t.equal(digests, 0)
})

t.test('{hmac} is a stable pseudonym: the first 6 hex characters of the digest, or N of them', async (t) => {
  t.equal(render('<{hmac}>'), '<012345>')
  t.equal(render('{hmac:10}'), '0123456789')
  t.equal(render('{hmac:0}'), '')
})

t.test('{mask} stars letters and digits except the last 4, or N, and keeps separators', async (t) => {
  t.equal(render('{mask}'), '****-****-****-1234')
  t.equal(render('{mask:2}'), '****-****-****-**34')
  t.equal(render('{mask:0}'), '****-****-****-****')
  t.equal(render('{mask}', 'jöh.n@x'), '*öh.n@x', 'letters of any script count')
})

t.test('{last} keeps the last 4 code points, or N', async (t) => {
  t.equal(render('…{last}'), '…1234')
  t.equal(render('{last:2}'), '34')
  t.equal(render('{last:3}', 'ab😀'), 'ab😀', 'an astral character is one')
})

t.test('{len}, {id} and {category} describe the match', async (t) => {
  t.equal(render('[{category}:{id}:{len}]'), '[pii:pii.card:19]')
})

t.test('doubled braces are literal braces', async (t) => {
  t.equal(render('{{hmac}}'), '{hmac}')
  t.equal(render('{{{hmac}}}'), '{012345}')
  t.equal(render('a}}b{{c'), 'a}b{c')
})

t.test('an unknown placeholder is refused when the template is compiled', async (t) => {
  t.throws(() => compileReplacement('[{secret}]'), { code: 'SLUICE_REPLACEMENT_TEMPLATE', message: 'Invalid replacement template: unknown placeholder "{secret}" in "[{secret}]"' })
  t.throws(() => compileReplacement('{value:3}'), ReplacementTemplateError)
  t.equal(compileReplacement('{Mask}')(ctx('x')), '{Mask}', 'what is not a placeholder\'s shape is literal text')
  t.equal(compileReplacement('{mask:x}')(ctx('x')), '{mask:x}')
  t.equal(compileReplacement('{mask:1234}')(ctx('abcd')), '{mask:1234}', 'nor is a count of four digits')
})
