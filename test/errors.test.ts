/**
 * @module test/errors
 * The error catalogue (src/errors.ts), as fastify's
 * test/internals/errors.test.js: every export is a coded error with a
 * unique SLUICE_ code, an HTTP status and a message, and every code is
 * documented in docs/errors.md's "Error codes" section.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import * as errors from '../src/errors.js'

interface CodedError extends Error {
  code: string
  statusCode: number
}

const catalogue = Object.entries(errors) as Array<[string, new (...args: unknown[]) => CodedError]>

/**
 * The text under the heading "Error codes", up to the next heading of
 * the same or a higher level. Lines in fenced code blocks are not headings
 * (a shell comment starts with "#" too).
 */
function errorCodesSection (readme: string): string | undefined {
  const lines = readme.split('\n')
  let inFence = false
  let level = 0
  let start = -1
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? ''
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence
    if (inFence) continue
    const heading = /^(#{1,6})\s+(.*?)\s*$/.exec(line)
    if (heading === null) continue
    const depth = heading[1]?.length ?? 1
    if (start < 0) {
      if (heading[2] === 'Error codes') {
        start = i + 1
        level = depth
      }
    } else if (depth <= level) {
      return lines.slice(start, i).join('\n')
    }
  }
  return start < 0 ? undefined : lines.slice(start).join('\n')
}

t.test('the catalogue is not empty and exports only error classes', async (t) => {
  t.ok(catalogue.length >= 10, `${catalogue.length} errors`)
  for (const [name, E] of catalogue) {
    t.type(E, 'function', `${name} is a constructor`)
    t.match(name, /Error$/, `${name} ends with "Error"`)
  }
})

t.test('every error has a unique SLUICE_ code, a status code and a message', async (t) => {
  const seen = new Map<string, string>()
  for (const [name, E] of catalogue) {
    const err = new E(7, 8, 9)
    t.ok(err instanceof Error, `${name} makes an Error`)
    t.ok(err instanceof E, `${name} makes instances of itself`)
    t.match(err.code, /^SLUICE_[A-Z0-9_]+$/, `${name} has a SLUICE_ code`)
    t.notOk(seen.has(err.code), `${name}: code ${err.code} is unique${seen.has(err.code) ? ` (also ${seen.get(err.code)})` : ''}`)
    seen.set(err.code, name)
    t.ok(Number.isInteger(err.statusCode) && err.statusCode >= 400 && err.statusCode <= 599, `${name} has an HTTP error status (${err.statusCode})`)
    const template = new E().message
    t.ok(template.trim().length > 0, `${name} has a message template`)
    t.ok(err.message.length > 0 && !/%[sdifjoO]/.test(err.message), `${name} renders its message with arguments: ${JSON.stringify(err.message)}`)
  }
})

t.test('every code is documented in docs/errors.md under "Error codes"', async (t) => {
  const readmeUrl = new URL('../docs/errors.md', import.meta.url)
  let readme = ''
  try {
    readme = readFileSync(readmeUrl, 'utf8')
  } catch (err) {
    t.fail(`docs/errors.md cannot be read: ${(err as Error).message}`)
    return
  }
  const section = errorCodesSection(readme)
  t.ok(section !== undefined, 'docs/errors.md has an "Error codes" section')
  for (const [name, E] of catalogue) {
    const { code, statusCode } = new E()
    t.ok(section?.includes(code), `${code} (${name}) is documented`)
    const line = section?.split('\n').find((l) => l.includes(code)) ?? ''
    t.ok(new RegExp(`\\b${statusCode}\\b`).test(line), `${code} is documented with its status ${statusCode}`)
  }
})
