/**
 * @module test/protocols/owned-paths
 * A codec tells the generic JSON guard which strings it scanned itself
 * (`ownsPath`); the guard skips exactly those. Regression tests for shapes
 * where a codec's claim and what it actually scanned came apart: an object
 * where the codec reads an array, a text field in an event of a type the
 * codec does not handle. Each stream runs with its protocol named (no
 * sniffing to fall back on), and the client's view — every string of every
 * frame, joined per JSON path — must not hold the value.
 */
import t from 'tap'
import type { Test } from 'tap'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { defaultRulesDir, loadRuleSet } from '../../src/rules/load-rules.js'
import { createSanitizeStream } from '../../src/stream/create-sanitize-stream.js'
import type { Protocol } from '../../src/protocols/types.js'
import { parseSse } from '../stream/replay.js'

const ruleSet = await loadRuleSet([defaultRulesDir()])
const kEmail = 'jane.doe@acme-corp.com'

async function sanitize (protocol: Protocol, events: readonly unknown[]): Promise<string> {
  const stream = createSanitizeStream({ ruleSet, protocol, contentType: 'text/event-stream' })
  let output = ''
  stream.on('data', (chunk: Buffer) => { output += chunk.toString('utf8') })
  const body = events.map((e) => `data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`).join('')
  await pipeline(Readable.from([Buffer.from(body)]), stream)
  return output
}

/** Every string a client can read: each leaf, and the leaves of one path joined across frames. */
function clientStrings (output: string): string[] {
  const byPath = new Map<string, string>()
  const all: string[] = []
  const visit = (v: unknown, path: string): void => {
    if (typeof v === 'string') {
      all.push(v)
      byPath.set(path, (byPath.get(path) ?? '') + v)
    } else if (Array.isArray(v)) {
      v.forEach((e, i) => visit(e, `${path}[${i}]`))
    } else if (v !== null && typeof v === 'object') {
      for (const [k, e] of Object.entries(v)) {
        all.push(k)
        visit(e, `${path}.${k}`)
      }
    }
  }
  for (const frame of parseSse(output).frames) {
    if (frame.data === '[DONE]') continue
    visit(JSON.parse(frame.data), '')
  }
  return [...all, ...byPath.values()]
}

function assertClean (t: Test, output: string): void {
  const hits = clientStrings(output).filter((s) => s.includes(kEmail))
  t.same(hits, [], 'no string the client reads holds the address')
  t.notOk(output.includes(kEmail), 'nor do the raw bytes')
}

t.test('chat: an object `choices` is not taken for the array the codec scans', async (t) => {
  for (const key of ['#0', '0', 'x']) {
    const out = await sanitize('openai-chat', [
      { id: 'c1', object: 'chat.completion.chunk', choices: { [key]: { index: 0, delta: { content: `write to ${kEmail} now` } } } },
      '[DONE]'
    ])
    assertClean(t, out)
  }
})

t.test('chat: tool_calls as an object is scanned, not claimed', async (t) => {
  const out = await sanitize('openai-chat', [
    { id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { tool_calls: { '#0': { index: 0, function: { arguments: `{"to":"${kEmail}"}` } } } } }] },
    '[DONE]'
  ])
  assertClean(t, out)
})

t.test('responses: a part or item in an event of an unhandled type is scanned', async (t) => {
  const out = await sanitize('openai-responses', [
    { type: 'response.created', sequence_number: 0, response: { id: 'r1', status: 'in_progress', output: [] } },
    { type: 'response.foo', sequence_number: 1, part: { type: 'output_text', text: `mail ${kEmail}` } },
    { type: 'response.bar', sequence_number: 2, item: { type: 'message', content: [{ type: 'output_text', text: `mail ${kEmail}` }] } },
    { type: 'response.baz', sequence_number: 3, response: { output: [{ type: 'message', content: [{ type: 'output_text', text: `mail ${kEmail}` }] }] } },
    { type: 'response.completed', sequence_number: 4, response: { id: 'r1', status: 'completed', output: [] } }
  ])
  assertClean(t, out)
})

t.test('gemini: an object `candidates` next to promptFeedback is scanned', async (t) => {
  const out = await sanitize('gemini', [
    { promptFeedback: { blockReason: 'OTHER' }, candidates: { '#0': { index: 0, content: { role: 'model', parts: [{ text: `mail ${kEmail}` }] } } } }
  ])
  assertClean(t, out)
})

t.test('cohere: a whole body with \\u-escaped tool arguments is redacted', async (t) => {
  const { sanitizeCohereBody } = await import('../../src/protocols/cohere.js')
  const { createScanner } = await import('../../src/scanner/create-scanner.js')
  const body = {
    id: 'x',
    finish_reason: 'TOOL_CALL',
    message: { role: 'assistant', tool_calls: [{ id: 't1', type: 'function', function: { name: 'send', arguments: '{"to":"jane.doe\\u0040acme-corp.com"}' } }] }
  }
  const result = sanitizeCohereBody(body, () => createScanner(ruleSet), {})
  const args = JSON.parse((result.body as { message: { tool_calls: Array<{ function: { arguments: string } }> } }).message.tool_calls[0]!.function.arguments) as { to: string }
  t.notOk(args.to.includes(kEmail), `arguments as a client parses them: ${args.to}`)
  t.ok(result.changed)
})
