/**
 * @module test/protocols/sanitize-json-value
 * The generic pass over a parsed JSON body: values at any depth, keys and
 * numbers are scanned; `__proto__` stays a plain field; nesting is capped.
 */
import t from 'tap'
import { sanitizeJsonValue, maxJsonDepth } from '../../src/protocols/sanitize-json-value.js'
import { scanText } from '../../src/scanner/scan-text.js'
import type { Finding } from '../../src/scanner/types.js'
import { kEmail, testRules } from '../fixtures/plugin/streams.js'

const ruleSet = await testRules()
const scan = (text: string): ReturnType<typeof scanText> => scanText(ruleSet, text, { hmacKey: 'k' })

t.test('scans values at any depth, keys and numbers, and reports findings', async (t) => {
  const findings: Finding[] = []
  const input = JSON.parse(`{"a":[{"b":"mail ${kEmail}"}],"${kEmail}":1,"n":4111111111111111,"ok":12,"__proto__":{"x":"${kEmail}"}}`)
  const { value, changed } = sanitizeJsonValue(input, { scan, onFinding: (f) => findings.push(f) })
  t.equal(changed, true)
  const text = JSON.stringify(value)
  t.notOk(text.includes(kEmail))
  t.notOk(text.includes('4111111111111111'))
  t.match(text, /"ok":12/, 'a clean number stays a number')
  t.equal(Object.getPrototypeOf(value), Object.prototype, 'the prototype is untouched')
  t.ok(Object.prototype.hasOwnProperty.call(value, '__proto__'), '__proto__ stays a field')
  t.ok(findings.length >= 4)
})

t.test('skips strings the protocol sanitizer released, and leaves a clean value unchanged', async (t) => {
  const findings: Finding[] = []
  const { changed } = sanitizeJsonValue({ a: 'hello', b: [1, true, null] }, { scan, onFinding: (f) => findings.push(f), released: new Set(['hello']) })
  t.equal(changed, false)
  t.same(findings, [])
})

t.test('refuses nesting deeper than maxJsonDepth', async (t) => {
  const deep = JSON.parse('['.repeat(maxJsonDepth + 1) + ']'.repeat(maxJsonDepth + 1))
  t.throws(() => sanitizeJsonValue(deep, { scan }), { code: 'SLUICE_UNSCANNABLE_BODY' })
})
