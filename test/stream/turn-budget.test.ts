/**
 * @module test/stream/turn-budget
 * The scanning budget of one event-loop turn: once spent, streams wait for
 * the next turn, so I/O (a health check, a new connection) gets in between.
 */
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { budgetSpent, spend } from '../../src/stream/turn-budget.js'
import { createSanitizeStream } from '../../src/stream/create-sanitize-stream.js'
import { testRules } from './replay.js'

t.test('the budget is spent by work in one turn and renewed by the next timers phase', async (t) => {
  await sleep(5)
  t.notOk(budgetSpent(), 'an idle process has budget')
  spend(1)
  t.notOk(budgetSpent(), 'a little work leaves some')
  spend(100)
  t.ok(budgetSpent(), 'a long piece of work spends it')
  await new Promise((resolve) => setImmediate(resolve))
  t.ok(budgetSpent(), 'still spent in the check phase of the same turn')
  await sleep(2)
  t.notOk(budgetSpent(), 'renewed once a timer ran')
})

t.test('two streams busy at once: while the budget is spent, their chunks wait, and all of the text still arrives', async (t) => {
  const ruleSet = await testRules()
  const frame = (text: string): Buffer => Buffer.from(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: text }, finish_reason: null }] })}\n\n`)
  const text = '0123456789 '.repeat(200)
  const outs = [0, 1].map(() => {
    const stream = createSanitizeStream({ ruleSet, contentType: 'text/event-stream', coalesce: false })
    let out = ''
    stream.on('data', (c: Buffer) => { out += String(c) })
    return { stream, out: () => out }
  })
  await sleep(5)
  spend(100)
  for (const { stream } of outs) stream.write(frame(text))
  // Nothing is scanned in this turn: the budget is spent.
  t.same(outs.map((o) => o.out()), ['', ''], 'both writes wait for the next turn')
  for (const { stream } of outs) stream.end(Buffer.from('data: [DONE]\n\n'))
  await Promise.all(outs.map(({ stream }) => new Promise((resolve) => stream.once('end', resolve))))
  for (const o of outs) {
    const content = o.out().split('\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)).choices[0].delta.content ?? '').join('')
    t.equal(content, text, 'the text arrived whole once the budget was renewed')
  }
})
