/**
 * The README's plugin example (test/fixtures/plugin/readme-example.ts) run
 * for real: the demo upstream on 127.0.0.1, the example app on an
 * ephemeral port, an undici client reading the stream. It proves what the
 * README promises: redaction on the fly, the upstream's content type kept,
 * a cut that aborts the upstream call, a client that leaves aborting it
 * too, and an audit file that verifies without holding a finding's value.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import type { Test } from 'tap'
import { verifyAuditLog } from '../../src/audit/verify-audit-log.js'
import { cannedAnswers, DEMO_CARD_NUMBER, DEMO_EMAIL } from '../../src/demo/canned-answers.js'
import { createDemoUpstream } from '../../src/demo/create-demo-upstream.js'
import type { DemoResponseRecord, DemoUpstream, DemoUpstreamOptions } from '../../src/demo/create-demo-upstream.js'
import { assembledContent, finishTrail } from '../fixtures/plugin/streams.js'
import { buildApp } from '../fixtures/plugin/readme-example.js'

function answerText (name: string): string {
  const found = cannedAnswers.find((a) => a.name === name)
  if (found === undefined) throw new Error(`no canned answer ${name}`)
  return found.text
}

async function startDemo (t: Test, options: DemoUpstreamOptions): Promise<{ demo: DemoUpstream, url: string }> {
  const demo = createDemoUpstream(options)
  const url = await demo.listen(0, '127.0.0.1')
  t.teardown(() => demo.close())
  return { demo, url }
}

async function startExample (t: Test, upstream: string): Promise<{ app: Awaited<ReturnType<typeof buildApp>>, url: string, auditFile: string }> {
  const auditFile = join(t.testdir(), 'audit.jsonl')
  const app = await buildApp(upstream, auditFile)
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => app.close())
  return { app, url, auditFile }
}

function ask (url: string, content: string) {
  return request(`${url}/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: content })
  })
}

/** Waits for the demo's record of its last response to settle (completed or aborted). */
async function lastResponse (demo: DemoUpstream): Promise<DemoResponseRecord> {
  for (;;) {
    const record = demo.stats.responses.at(-1)
    if (record !== undefined && (record.completed || record.aborted)) return record
    await sleep(10)
  }
}

t.test('the README example redacts the upstream stream and keeps its content type', async (t) => {
  const { demo, url: upstream } = await startDemo(t, { chunksPerSecond: 0 })
  const { app, url, auditFile } = await startExample(t, upstream)

  for (const [prompt, name, secret] of [['What is the contact email?', 'email', DEMO_EMAIL], ['Which card did I pay with?', 'card', DEMO_CARD_NUMBER]] as const) {
    const res = await ask(url, prompt)
    t.equal(res.statusCode, 200)
    t.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8', 'the upstream\'s content type')
    const body = await res.body.text()
    t.notMatch(body, secret, `${name}: the value never reaches the client`)
    t.equal(assembledContent(body), app.sluice.scan(answerText(name)).text, `${name}: the text as scanned whole`)
    t.same(finishTrail(body), ['stop', '[DONE]'])
    t.equal((demo.stats.lastRequest?.body as { stream?: unknown }).stream, true, 'the upstream was asked to stream')
  }

  await app.close()
  const text = readFileSync(auditFile, 'utf8')
  const records = text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
  t.same(records.filter((r) => r.kind === 'finding').map((r) => r.ruleId), ['pii.email', 'pii.credit_card'])
  t.equal(records.filter((r) => r.kind === 'summary').length, 2)
  t.notOk(text.includes(DEMO_EMAIL) || text.includes(DEMO_CARD_NUMBER) || text.includes(DEMO_CARD_NUMBER.replaceAll(' ', '')), 'no value in the audit file')
  t.match(await verifyAuditLog(auditFile), { ok: true, records: records.length })
})

t.test('a cut in the README example ends the answer and aborts the upstream call', async (t) => {
  // Paced, so the upstream is still mid-answer when the cut comes.
  const { demo, url: upstream } = await startDemo(t, { chunksPerSecond: 10 })
  const { url } = await startExample(t, upstream)
  const res = await ask(url, 'Why so rude?')
  const body = await res.body.text()
  t.same(finishTrail(body), ['content_filter', '[DONE]'])
  const text = assembledContent(body)
  t.ok(answerText('abuse').startsWith(text), 'the client got the start of the answer')
  t.notMatch(text, 'idiot')
  t.notMatch(text, 'Let me know', 'nothing after the cut')
  const record = await lastResponse(demo)
  t.match(record, { aborted: true, completed: false }, 'the upstream call was aborted')
})

t.test('a client that leaves the README example aborts the upstream call', async (t) => {
  const { demo, url: upstream } = await startDemo(t, { chunksPerSecond: 10 })
  const { url } = await startExample(t, upstream)
  const res = await ask(url, 'hello')
  // eslint-disable-next-line no-unreachable-loop -- reads one chunk, then leaves
  for await (const chunk of res.body) {
    t.ok(String(chunk).length > 0, 'a first chunk arrived')
    break // destroys the body: the client leaves
  }
  const record = await lastResponse(demo)
  t.match(record, { aborted: true, completed: false }, 'the upstream call was aborted')
})
