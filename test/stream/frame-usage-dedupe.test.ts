import t from 'tap'
import fc from 'fast-check'
import { createStreamSanitizer } from '../../src/stream/create-stream-sanitizer.js'
import type { StreamSanitizerOptions } from '../../src/stream/create-stream-sanitizer.js'
import { createRuleSetFromSources } from '../../src/rules/load-rules.js'
import { createScanner } from '../../src/scanner/create-scanner.js'

const ruleSet = createRuleSetFromSources([{ id: 'email', category: 'pii', description: 'e-mail', severity: 'medium', pattern: '[a-z]{1,20}@[a-z]{1,20}\\.com', action: 'redact', replacement: '[EMAIL]' }])

function run (body: string, options: Partial<StreamSanitizerOptions> = {}, pieces?: readonly string[]): { out: string, stats: ReturnType<ReturnType<typeof createStreamSanitizer>['stats']> } {
  const s = createStreamSanitizer({ newScanner: () => createScanner(ruleSet), contentType: 'text/event-stream', ...options })
  let out = ''
  for (const piece of pieces ?? [body]) out += s.write(piece)
  out += s.end()
  return { out, stats: s.stats() }
}

const chunk = (content: string): string => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content } }] })}\n\n`
const usageChunk = `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 } })}\n\n`
const finish = `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`

function contentOf (out: string): string {
  return out.split('\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)) as { choices: Array<{ delta?: { content?: string } }> }).map((c) => c.choices[0]?.delta?.content ?? '').join('')
}

t.test('reads usage off an OpenAI stream, and drops the usage chunk the client did not ask for', async (t) => {
  const body = chunk('Hello') + finish + usageChunk + 'data: [DONE]\n\n'
  const kept = run(body)
  t.same(kept.stats.usage, { input: 12, cachedInput: 0, output: 5 })
  t.ok(kept.stats.usageReported)
  t.match(kept.out, /"usage"/, 'kept when the client asked')
  const stripped = run(body, { stripUsageChunk: true })
  t.same(stripped.stats.usage, { input: 12, cachedInput: 0, output: 5 })
  t.notMatch(stripped.out, /usage/, 'dropped when it did not')
  t.match(stripped.out, /\[DONE\]/)
})

t.test('reads Anthropic usage from message_start and message_delta', async (t) => {
  const ev = (event: string, data: object): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
  const body = ev('message_start', { type: 'message_start', message: { id: 'm', type: 'message', role: 'assistant', content: [], model: 'claude', usage: { input_tokens: 20, output_tokens: 1 } } }) +
    ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }) +
    ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi' } }) +
    ev('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 9 } })
  const { stats } = run(body)
  t.same(stats.usage, { input: 20, cachedInput: 0, output: 9 })
})

t.test('a frame repeated by a reconnect (same id) or repeated as it was is dropped and counted', async (t) => {
  const withId = (id: number, content: string): string => `id: ${id}\n${chunk(content)}`
  const body = withId(1, 'Mail ') + withId(2, 'bob@') + withId(1, 'Mail ') + withId(2, 'bob@') + withId(3, 'acme.com') + chunk(' ok') + chunk(' ok') + finish + 'data: [DONE]\n\n'
  const { out, stats } = run(body, { dedupe: 'frames' })
  t.equal(contentOf(out), 'Mail [EMAIL] ok')
  t.equal(stats.duplicates, 3)
  const idsOnly = run(body)
  t.equal(contentOf(idsOnly.out), 'Mail [EMAIL] ok ok', 'by default a repeated token without a position is kept')
  t.equal(idsOnly.stats.duplicates, 2)
  const off = run(body, { dedupe: 'off' })
  t.equal(off.stats.duplicates, 0)
})

t.test('a Responses event resent with a sequence number already seen is dropped', async (t) => {
  const ev = (n: number, delta: string): string => `event: response.output_text.delta\ndata: ${JSON.stringify({ type: 'response.output_text.delta', sequence_number: n, item_id: 'msg_1', output_index: 0, content_index: 0, delta })}\n\n`
  const done = `event: response.completed\ndata: ${JSON.stringify({ type: 'response.completed', sequence_number: 9, response: { id: 'r', status: 'completed', output: [], usage: { input_tokens: 3, output_tokens: 4 } } })}\n\n`
  const { out, stats } = run(ev(1, 'Hi ') + ev(2, 'there') + ev(1, 'Hi ') + ev(2, 'there') + ev(3, '!') + done, { protocol: 'openai-responses' })
  const text = out.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as { type: string, delta?: string }).filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('')
  t.equal(text, 'Hi there!')
  t.equal(stats.duplicates, 2)
  t.same(stats.usage, { input: 3, cachedInput: 0, output: 4 })
})

t.test('property: duplicates are dropped the same in any chunking', async () => {
  const frames = fc.array(fc.tuple(fc.constantFrom('a', 'b', 'a b', 'x@y.com'), fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined })), { maxLength: 12 })
  fc.assert(fc.property(frames, fc.array(fc.nat(), { maxLength: 6 }), (list, cuts) => {
    const body = list.map(([c, id]) => (id === undefined ? '' : `id: ${id}\n`) + chunk(c)).join('') + finish + 'data: [DONE]\n\n'
    const whole = run(body, { dedupe: 'frames' })
    const points = [...new Set(cuts.map((c) => c % (body.length + 1)))].sort((a, b) => a - b)
    const pieces: string[] = []
    let last = 0
    for (const p of points) { pieces.push(body.slice(last, p)); last = p }
    pieces.push(body.slice(last))
    const split = run(body, { dedupe: 'frames' }, pieces)
    if (contentOf(split.out) !== contentOf(whole.out) || split.stats.duplicates !== whole.stats.duplicates) throw new Error('chunking changed the result')
  }), { numRuns: 300 })
})
