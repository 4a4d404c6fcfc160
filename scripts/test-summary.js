// Reads tap's output and prints the plain "N passed, N failed" line CI looks for.
// tap closes with "# { total: N, pass: P, fail: F, ... }"; a type-check or
// build failure before tap ran counts as one failure.
import { readFileSync } from 'node:fs'

const [file, rcText] = process.argv.slice(2)
if (file === undefined) {
  console.error('usage: node scripts/test-summary.js TAP_OUTPUT_FILE [EXIT_CODE]')
  process.exit(2)
}
const text = readFileSync(file, 'utf8')
const m = /# \{ total: (\d+)(.*)\}/.exec(text)
let passed = 0
let failed = 0
if (m) {
  const [, totalText, counts = ''] = m
  const total = Number(totalText)
  /** @param {string} name */
  const field = (name) => Number(new RegExp(`${name}: (\\d+)`).exec(counts)?.[1] ?? 0)
  passed = field('pass')
  failed = field('fail') + field('todo') + field('skip')
  if (passed + failed === 0 && total > 0) failed = total
}
if (Number(rcText) !== 0 && failed === 0) failed = 1
console.log(`${passed} passed, ${failed} failed`)
