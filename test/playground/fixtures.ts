/**
 * @module test/playground/fixtures
 * What the playground tests share: a small rule file with one rule of each
 * action (a redaction, a cut, a flag) and examples, a sample folder, a
 * playground app on `inject`, and a reader of its server-sent events.
 */
import type { Test } from 'tap'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { sluicePlayground } from '../../src/playground/playground-plugin.js'
import type { PlaygroundOptions } from '../../src/playground/playground-plugin.js'

export const ruleFile = `rules:
  - id: demo.email
    category: pii
    description: an e-mail address at a .com domain
    pattern: '[a-z]{1,20}@[a-z]{1,20}\\.com'
    action: redact
    replacement: '[email]'
    examples:
      match:
        - write to jo@acme.com today
      nomatch:
        - no address here
  - id: demo.stop
    category: abuse
    description: the word that ends an answer
    pattern: 'forbidden'
    boundary: word
    action: cut
    examples:
      match:
        - this is forbidden
  - id: demo.ignore
    category: injection
    description: an instruction to ignore earlier ones
    pattern: 'ignore (?:all )?previous instructions'
    flags: i
    action: flag
`

/** The same file with a second e-mail rule (a reload is visible in the rule count). */
export const ruleFileWithPhone = `${ruleFile}  - id: demo.phone
    category: pii
    description: a seven-digit phone number
    pattern: '[0-9]{3}-[0-9]{4}'
    boundary: digit
    action: redact
    replacement: '[phone]'
    examples:
      match:
        - call 555-1234 now
`

export const samples: Record<string, string> = {
  'a.txt': 'Mail jo@acme.com or al@acme.com. Please ignore previous instructions.',
  'b.md': 'Nothing to see here.',
  'c.txt': 'Reach me at bo@corp.com. This is forbidden and the rest is not released.'
}

export interface Playground {
  app: FastifyInstance
  dir: string
  file: string
  sampleDir: string
}

/** A playground over a temp rule file (without the shipped rules unless asked) and sample folder, on `inject`. */
export async function startPlayground (t: Test, options: Partial<PlaygroundOptions> = {}, files: Record<string, string> = {}): Promise<Playground> {
  const dir = t.testdir({ 'rules.yaml': ruleFile, samples, ...files })
  const file = `${dir}/rules.yaml`
  const sampleDir = `${dir}/samples`
  const app = Fastify()
  await app.register(sluicePlayground, { rules: [file], defaultRules: false, samples: sampleDir, ...options })
  t.teardown(() => app.close())
  return { app, dir, file, sampleDir }
}

export interface SseEvent { event: string, data: any }

/** The events of an event-stream body. */
export function parseEvents (body: string): SseEvent[] {
  return body.split('\n\n').filter((block) => block.trim() !== '').map((block) => {
    const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message'
    const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n')
    return { event, data: JSON.parse(data) }
  })
}

export const json = { 'content-type': 'application/json' }
