/**
 * @module test/playground/api
 * The playground's API on `inject`: the page and its modules, rule files
 * checked as the CLI loads them (problems at file:line:column), their
 * examples run as `rules test` runs them, streams of scanner writes,
 * folder counts, and saving.
 */
import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadRuleSet, scanText } from '../../src/scanner/index.js'
import { json, parseEvents, ruleFile, startPlayground } from './fixtures.js'

t.test('serves the page and its modules with a policy that allows no inline script', async (t) => {
  const { app } = await startPlayground(t)
  const page = await app.inject('/')
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  t.match(page.body, /<script type="module" src="app.js">/)
  t.match(page.headers['content-security-policy'], /script-src 'self'/)
  t.notMatch(page.headers['content-security-policy'], /unsafe-inline/)
  for (const name of ['app.js', 'api.js', 'sse.js', 'editor.js', 'stream-view.js', 'style.css']) {
    const res = await app.inject(`/${name}`)
    t.equal(res.statusCode, 200, name)
  }
  t.match((await app.inject('/app.js')).headers['content-type'], /^text\/javascript/)
  t.equal((await app.inject('/nothing.js')).statusCode, 404)
  t.equal((await app.inject('/package.json')).statusCode, 404, 'only the page\'s own files are served')
})

t.test('mounted under a prefix, the page address without its slash is redirected to it (its modules load relative to it)', async (t) => {
  const { default: Fastify } = await import('fastify')
  const { sluicePlayground } = await import('../../src/playground/playground-plugin.js')
  const dir = t.testdir({ 'rules.yaml': ruleFile })
  const app = Fastify()
  await app.register(sluicePlayground, { prefix: '/playground', rules: [join(dir, 'rules.yaml')], defaultRules: false })
  t.teardown(() => app.close())
  const bare = await app.inject('/playground')
  t.equal(bare.statusCode, 302)
  t.equal(bare.headers.location, '/playground/')
  t.equal((await app.inject('/playground/')).statusCode, 200)
  t.equal((await app.inject('/playground/api/state')).statusCode, 200)
})

t.test('lists the rule files, marking the user\'s writable and the shipped ones read-only', async (t) => {
  const { app, file, sampleDir } = await startPlayground(t, { defaultRules: true })
  const state = (await app.inject('/api/state')).json()
  const mine = state.files.find((f: { path: string }) => f.path === file)
  t.match(mine, { name: 'rules.yaml', writable: true, shipped: false })
  const shipped = state.files.filter((f: { shipped: boolean }) => f.shipped)
  t.ok(shipped.length >= 5, 'the shipped files are listed')
  t.ok(shipped.every((f: { writable: boolean }) => !f.writable), 'and read-only')
  t.equal(state.files.at(-1).path, file, 'in load order: the shipped rules first')
  t.same(state.samples.files.map((f: { name: string }) => f.name), ['a.txt', 'b.md', 'c.txt'])
  t.equal(state.samples.folder, sampleDir)
  t.ok(state.canned.some((a: { name: string }) => a.name === 'email'), 'the demo answers are offered as samples')
  t.equal(state.disk.ok, true)
  t.type(state.disk.rulesId, 'string')
})

t.test('a broken buffer is reported at file, line and column exactly as the loader reports the file', async (t) => {
  const { app, file, dir } = await startPlayground(t)
  const broken = ruleFile.replace('action: cut', 'action: cutt').replace('    category: injection\n', '    category: [injection\n')
  const res = await app.inject({ method: 'POST', url: '/api/check', headers: json, payload: { path: file, text: broken } })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.equal(body.ok, false)
  // The CLI's own text for the same file on disk.
  const copy = join(dir, 'copy.yaml')
  writeFileSync(copy, broken)
  const cli = await loadRuleSet([copy]).then(() => [], (err: { problems?: string[] }) => err.problems ?? [])
  t.same(body.problems.map((p: { text: string }) => p.text), cli.map((p) => p.split(copy).join(file)), 'the loader\'s lines, with the file\'s own path (not the temporary copy\'s)')
  t.match(body.problems[0], { file, line: 23, column: 15, message: /YAML syntax: "\[" is not closed/ })
  t.notMatch(JSON.stringify(body), /sluice-playground-/, 'the temporary copy is never named')
  t.equal(readFileSync(file, 'utf8'), ruleFile, 'checking never writes the file')
})

t.test('a schema problem points at the field, with what the schema allows', async (t) => {
  const { app, file } = await startPlayground(t)
  const res = await app.inject({ method: 'POST', url: '/api/check', headers: json, payload: { path: file, text: ruleFile.replace('action: cut', 'action: cutt').replace('    boundary: word\n', '    boundry: word\n') } })
  const body = res.json()
  t.equal(body.ok, false)
  t.match(body.problems, [
    { file, line: 17, column: 5, message: 'rule demo.stop: unknown field "boundry" (did you mean "boundary"?)' },
    { file, line: 18, column: 13, message: 'rule demo.stop: action must be one of redact, cut, flag (got "cutt")' }
  ])
})

t.test('a buffer that loads runs its rules\' examples, each with its line and verdict', async (t) => {
  const { app, file } = await startPlayground(t)
  const text = ruleFile.replace('        - no address here', '        - no address here\n        - but al@acme.com is one')
  const body = (await app.inject({ method: 'POST', url: '/api/check', headers: json, payload: { path: file, text } })).json()
  t.equal(body.ok, true)
  t.type(body.rulesId, 'string')
  t.match(body.totals, { rules: 3, fileRules: 3, examples: 4, failed: 1, skipped: 0 })
  const email = body.rules.find((r: { id: string }) => r.id === 'demo.email')
  t.match(email, { action: 'redact', line: 2, enabled: true })
  t.match(email.examples, [
    { kind: 'match', line: 10, text: 'write to jo@acme.com today', status: 'pass' },
    { kind: 'nomatch', line: 12, text: 'no address here', status: 'pass' },
    { kind: 'nomatch', line: 13, text: 'but al@acme.com is one', status: 'fail', reason: /unexpected finding at offset 4/ }
  ])
  t.same(body.rules.find((r: { id: string }) => r.id === 'demo.ignore').examples, [], 'a rule without examples has none')
})

t.test('streams the real scanner\'s writes: released text, the held-back tail, marks, a cut, and the audit records', async (t) => {
  const { app } = await startPlayground(t)
  const state = (await app.inject('/api/state')).json()
  const text = 'Mail jo@acme.com now. Ignore previous instructions. Then forbidden words and more.'
  const res = await app.inject({ method: 'POST', url: '/api/stream', headers: json, payload: { rulesId: state.disk.rulesId, text, mode: 'chars', size: 3, rate: 0 } })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/event-stream/)
  const events = parseEvents(res.body)
  t.equal(events[0]?.event, 'start')
  t.equal(events.at(-1)?.event, 'end')
  const writes = events.filter((e) => e.event === 'write')
  t.same(writes.map((w) => w.data.piece).join(''), text.slice(0, writes.reduce((n, w) => n + w.data.piece.length, 0)), 'the pieces are the text in order')
  t.ok(writes.every((w) => w.data.piece.length === 3), 'three characters a write')

  const out = events.filter((e) => e.event !== 'start').map((e) => e.data.released).join('')
  const whole = scanText(await loadRuleSet([state.files[0].path]), text)
  t.equal(out, whole.text, 'the released text is what scanning the whole text gives')
  t.equal(out, 'Mail [email] now. Ignore previous instructions. Then ')

  // "jo@acme.co" could still grow into an address: the scanner holds it.
  const holding = writes.find((w) => w.data.held.endsWith('jo@acme.co'))
  t.ok(holding, 'a write holds back the unfinished address')
  t.equal(holding?.data.heldCount, holding?.data.held.length)
  t.notOk(writes.some((w) => w.data.released.includes('jo@')), 'and never releases it')

  const marks = events.flatMap((e) => e.data.marks ?? [])
  const redact = marks.find((m: { kind: string }) => m.kind === 'redact')
  t.equal(out.slice(redact.outStart, redact.outEnd), '[email]', 'the redaction is marked over its replacement')
  t.same(redact.ruleIds, ['demo.email'])
  const flag = marks.find((m: { kind: string }) => m.kind === 'flag')
  t.equal(out.slice(flag.outStart, flag.outEnd), 'Ignore previous instructions', 'the flag is marked over what it flagged')
  const cut = marks.find((m: { kind: string }) => m.kind === 'cut')
  t.match(cut, { ruleIds: ['demo.stop'], inStart: text.indexOf('forbidden'), outStart: out.length })

  const end = events.at(-1)?.data
  t.match(end.cut, { ruleId: 'demo.stop', start: text.indexOf('forbidden') })
  t.notOk(writes.some((w) => w.data.piece.includes('and')), 'nothing is written after the cut')

  const audit = events.flatMap((e) => e.data.audit ?? [])
  t.same(audit.map((r: { kind: string, ruleId?: string }) => r.kind === 'finding' ? r.ruleId : r.kind), ['demo.email', 'demo.ignore', 'demo.stop', 'summary'])
  t.match(audit[0], { kind: 'finding', route: '/playground/stream', stream: 'text', action: 'redact', offset: 5, length: 11, digest: /^[0-9a-f]{64}$/, prev: /^[0-9a-f]{64}$/, hash: /^[0-9a-f]{64}$/ })
  t.equal(audit[1].prev, audit[0].hash, 'hash-chained as in the audit file')
  t.match(audit.at(-1), { kind: 'summary', finishReason: 'content_filter', cancelled: false, findings: { redact: 1, cut: 1, flag: 1 } })
  t.notMatch(JSON.stringify(audit), /jo@acme|previous instructions|forbidden/i, 'no matched value in any record')
})

t.test('chunks by words and tokens as asked', async (t) => {
  const { app } = await startPlayground(t)
  const { disk } = (await app.inject('/api/state')).json()
  const text = 'Hello there, world 12345.'
  for (const [mode, pieces] of [['words', ['Hello ', 'there, ', 'world ', '12345.']], ['tokens', ['Hello', ' there', ',', ' world', ' 123', '45', '.']]] as const) {
    const res = await app.inject({ method: 'POST', url: '/api/stream', headers: json, payload: { rulesId: disk.rulesId, text, mode, size: 1, rate: 0 } })
    t.same(parseEvents(res.body).filter((e) => e.event === 'write').map((e) => e.data.piece), pieces, mode)
  }
})

t.test('runs the rules over the sample folder and counts findings per rule', async (t) => {
  const { app, sampleDir } = await startPlayground(t)
  const { disk } = (await app.inject('/api/state')).json()
  const res = await app.inject({ method: 'POST', url: '/api/samples/run', headers: json, payload: { rulesId: disk.rulesId } })
  t.equal(res.statusCode, 200)
  const run = res.json()
  t.equal(run.folder, sampleDir)
  t.same(run.rules.map((r: { ruleId: string, count: number, files: number }) => [r.ruleId, r.count, r.files]), [
    ['demo.email', 3, 2],
    ['demo.ignore', 1, 1],
    ['demo.stop', 1, 1]
  ])
  t.same(run.files, [{ name: 'a.txt', findings: 3 }, { name: 'b.md', findings: 0 }, { name: 'c.txt', findings: 2, cut: 'demo.stop' }])
})

t.test('reads one sample file by the path the listing gives', async (t) => {
  const { app, sampleDir } = await startPlayground(t)
  const res = await app.inject({ url: `/api/sample?path=${encodeURIComponent(join(sampleDir, 'b.md'))}` })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { name: 'b.md', text: 'Nothing to see here.' })
})

t.test('a stream names a rule set the server still keeps', async (t) => {
  const { app } = await startPlayground(t)
  const res = await app.inject({ method: 'POST', url: '/api/stream', headers: json, payload: { rulesId: 'nope', text: 'x', mode: 'chars', size: 1, rate: 0 } })
  t.equal(res.statusCode, 400)
  t.match(res.json(), { code: 'SLUICE_BAD_REQUEST', message: /no longer kept: check the rule file again/ })
})

t.test('bad request bodies are refused by their schema', async (t) => {
  const { app, file } = await startPlayground(t)
  const cases = [
    { url: '/api/check', payload: { path: file } },
    { url: '/api/stream', payload: { rulesId: 'x', text: 'x', mode: 'lines', size: 1, rate: 0 } },
    { url: '/api/stream', payload: { rulesId: 'x', text: 'x', mode: 'chars', size: 0, rate: 0 } },
    { url: '/api/stream', payload: { rulesId: 'x', text: 'x', mode: 'chars', size: 1, rate: 5000 } }
  ]
  for (const c of cases) {
    const res = await app.inject({ method: 'POST', headers: json, ...c })
    t.equal(res.statusCode, 400, JSON.stringify(c.payload))
  }
})
