import t from 'tap'
import RE2 from 're2'
import type { Finding } from '../src/scanner/types.js'

t.test('re2 loads', async (t) => {
  const f: Finding | undefined = undefined
  t.equal(f, undefined)
  t.ok(new RE2('a+').test('caa'))
})
