import t from 'tap'
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pino from 'pino'
import { createAuditLog } from '../../src/audit/create-audit-log.js'
import type { AuditRecord, StreamSummary } from '../../src/audit/create-audit-log.js'
import { verifyAuditLog } from '../../src/audit/verify-audit-log.js'
import { GENESIS } from '../../src/audit/hash-chain.js'
import { createRuleSetFromSources } from '../../src/rules/load-rules.js'
import { createScanner } from '../../src/scanner/create-scanner.js'
import type { Finding } from '../../src/scanner/types.js'

/** The JSON-lines sink: every complete line of the file, parsed. */
function readRecords (file: string): AuditRecord[] {
  const text = readFileSync(file, 'utf8')
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as AuditRecord)
}

const aFinding: Finding = {
  ruleId: 'email',
  category: 'pii',
  action: 'redact',
  severity: 'medium',
  start: 12,
  length: 17,
  digest: 'ab'.repeat(32)
}

const aSummary: StreamSummary = {
  finishReason: 'content_filter',
  upstreamFinishReason: 'stop',
  charsIn: 120,
  charsOut: 80,
  findings: { redact: 2, cut: 1, flag: 0 },
  ttftMs: 42,
  durationMs: 900,
  cancelled: false
}

t.test('writes one finding record with its context, position and digest', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const audit = createAuditLog({ destination: file })
  const before = Date.now()
  audit.finding({ requestId: 'req-1', route: '/v1/chat/completions', stream: 'choice:0' }, aFinding)
  await audit.close()
  const [record, ...rest] = readRecords(file)
  t.equal(rest.length, 0)
  t.match(record, {
    kind: 'finding',
    requestId: 'req-1',
    route: '/v1/chat/completions',
    stream: 'choice:0',
    ruleId: 'email',
    category: 'pii',
    action: 'redact',
    severity: 'medium',
    offset: 12,
    length: 17,
    digest: 'ab'.repeat(32),
    prev: GENESIS,
    hash: /^[0-9a-f]{64}$/
  })
  t.ok(record!.time >= before && record!.time <= Date.now())
  t.notOk('start' in record!, 'the offset is named offset')
})

t.test('omits route and stream when the context has none, and keeps numeric streams', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const audit = createAuditLog({ destination: file })
  audit.finding({ requestId: 'a' }, aFinding)
  audit.finding({ requestId: 'b', stream: 1 }, aFinding)
  await audit.close()
  const [a, b] = readRecords(file)
  t.notOk('route' in a! || 'stream' in a!)
  t.equal((b as { stream?: unknown }).stream, 1)
})

t.test('copies only the known fields of a finding, never extra ones', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const audit = createAuditLog({ destination: file })
  const leaky = { ...aFinding, value: 'alice@example.com', context: 'mail alice@example.com now' }
  audit.finding({ requestId: 'r' }, leaky)
  await audit.close()
  const text = readFileSync(file, 'utf8')
  t.notOk(text.includes('alice'), 'the value is not in the file')
  t.notOk(text.includes('value'))
})

t.test('writes a summary per stream with both finish reasons, counts and timings', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const audit = createAuditLog({ destination: file })
  audit.summary({ requestId: 'req-2', route: '/v1/chat/completions', stream: 'choice:0' }, aSummary)
  await audit.close()
  const [record] = readRecords(file)
  t.match(record, {
    kind: 'summary',
    requestId: 'req-2',
    stream: 'choice:0',
    finishReason: 'content_filter',
    upstreamFinishReason: 'stop',
    charsIn: 120,
    charsOut: 80,
    findings: { redact: 2, cut: 1, flag: 0 },
    ttftMs: 42,
    durationMs: 900,
    cancelled: false
  })
  t.notOk('error' in record!)
})

t.test('a summary of a cancelled or failed stream records nulls and the error code and message', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const audit = createAuditLog({ destination: file })
  const err = Object.assign(new Error('upstream reset'), { code: 'SLUICE_UPSTREAM' })
  audit.summary({ requestId: 'c' }, { ...aSummary, finishReason: null, upstreamFinishReason: undefined, ttftMs: undefined, cancelled: true, error: err })
  audit.summary({ requestId: 'd' }, { ...aSummary, error: 'aborted' })
  await audit.close()
  const [c, d] = readRecords(file)
  t.match(c, { finishReason: null, upstreamFinishReason: null, ttftMs: null, cancelled: true })
  t.same((c as { error?: unknown }).error, { code: 'SLUICE_UPSTREAM', message: 'upstream reset' })
  t.same((d as { error?: unknown }).error, { message: 'aborted' })
})

t.test('writes events with their name and data', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const audit = createAuditLog({ destination: file })
  audit.event('rules_reloaded', { rules: 42, files: ['a.yaml'] })
  audit.event('started')
  await audit.close()
  const [a, b] = readRecords(file)
  t.match(a, { kind: 'event', event: 'rules_reloaded', data: { rules: 42, files: ['a.yaml'] } })
  t.match(b, { kind: 'event', event: 'started', data: {} })
})

t.test('adds base fields to every record without letting them override record fields', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const audit = createAuditLog({ destination: file, base: { service: 'sluice', instance: 'w1', requestId: 'base-id' } })
  audit.finding({ requestId: 'real-id' }, aFinding)
  audit.event('x')
  await audit.close()
  const [a, b] = readRecords(file)
  t.match(a, { service: 'sluice', instance: 'w1', requestId: 'real-id' })
  t.match(b, { service: 'sluice', instance: 'w1' })
  t.match(await verifyAuditLog(file), { ok: true, records: 2 })
})

t.test('links each record to the one before it', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const audit = createAuditLog({ destination: file })
  audit.finding({ requestId: 'r' }, aFinding)
  audit.finding({ requestId: 'r' }, { ...aFinding, start: 40 })
  audit.summary({ requestId: 'r' }, aSummary)
  t.equal(audit.records, 3)
  const head = audit.head
  await audit.close()
  const records = readRecords(file)
  t.equal(records[0]!.prev, GENESIS)
  t.equal(records[1]!.prev, records[0]!.hash)
  t.equal(records[2]!.prev, records[1]!.hash)
  t.equal(head, records[2]!.hash)
  t.same(await verifyAuditLog(file), { ok: true, records: 3, head })
})

t.test('continues the chain when the same file is opened again', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const first = createAuditLog({ destination: file })
  first.finding({ requestId: 'r1' }, aFinding)
  first.summary({ requestId: 'r1' }, aSummary)
  const head = first.head
  await first.close()
  const second = createAuditLog({ destination: file })
  t.equal(second.head, head, 'the new log starts from the old head')
  second.finding({ requestId: 'r2' }, aFinding)
  await second.close()
  const records = readRecords(file)
  t.equal(records.length, 3)
  t.equal(records[2]!.prev, head)
  t.match(await verifyAuditLog(file), { ok: true, records: 3 })
})

t.test('continues a keyed chain only with the same key', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const first = createAuditLog({ destination: file, chainKey: 'k' })
  first.event('a')
  await first.close()
  t.throws(() => createAuditLog({ destination: file }), { code: 'SLUICE_AUDIT_FILE' })
  t.throws(() => createAuditLog({ destination: file, chainKey: 'other' }), { code: 'SLUICE_AUDIT_FILE' })
  const second = createAuditLog({ destination: file, chainKey: Buffer.from('k') })
  second.event('b')
  await second.close()
  // a, its close checkpoint, b, its close checkpoint.
  t.match(await verifyAuditLog(file, { chainKey: 'k' }), { ok: true, records: 4, checkpoints: 2, sealedBy: 'close' })
})

t.test('refuses to append to a file whose last line is not a record', async (t) => {
  const dir = t.testdir({ 'notes.txt': 'hello\nworld\n', 'partial.txt': 'hello\nworld' })
  t.throws(() => createAuditLog({ destination: join(dir, 'notes.txt') }), { code: 'SLUICE_AUDIT_FILE' })
  t.throws(() => createAuditLog({ destination: join(dir, 'partial.txt') }), { code: 'SLUICE_AUDIT_FILE' })
  t.equal(readFileSync(join(dir, 'partial.txt'), 'utf8'), 'hello\nworld', 'a foreign file is left untouched')
})

t.test('cuts an interrupted last record on reopen and records the repair in the chain', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const first = createAuditLog({ destination: file })
  first.finding({ requestId: 'r1' }, aFinding)
  first.finding({ requestId: 'r2' }, aFinding)
  await first.close()
  appendFileSync(file, '{"action":"redact","categ')
  t.match(await verifyAuditLog(file), { ok: false, line: 3, truncated: true })
  const second = createAuditLog({ destination: file })
  second.finding({ requestId: 'r3' }, aFinding)
  await second.close()
  const records = readRecords(file)
  t.match(records.map((r) => r.kind), ['finding', 'finding', 'event', 'finding'])
  t.match(records[2], { kind: 'event', event: 'audit_tail_repaired', data: { droppedBytes: 25 } })
  t.match(await verifyAuditLog(file), { ok: true, records: 4 })
})

t.test('cuts an interrupted first record of an otherwise empty file', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  writeFileSync(file, '{"action":"red')
  const audit = createAuditLog({ destination: file })
  await audit.close()
  const records = readRecords(file)
  t.equal(records.length, 1)
  t.equal(audit.head, records[0]!.hash)
  t.match(readRecords(file), [{ kind: 'event', event: 'audit_tail_repaired', prev: GENESIS }])
  t.match(await verifyAuditLog(file), { ok: true, records: 1 })
})

t.test('creates the directory and a file readable by its owner only', async (t) => {
  const file = join(t.testdir(), 'deep', 'er', 'audit.jsonl')
  const audit = createAuditLog({ destination: file })
  audit.event('x')
  await audit.close()
  t.equal(readRecords(file).length, 1)
  t.equal(statSync(file).mode & 0o077, 0)
})

t.test('never writes matched values: findings from the real scanner leave only digests', async (t) => {
  const ruleSet = createRuleSetFromSources([
    { id: 'email', category: 'pii', description: 'e-mail address', pattern: '[a-z]+@[a-z]+\\.com', maxLength: 64, action: 'redact', replacement: '[EMAIL]' },
    { id: 'codeword', category: 'abuse', description: 'a flagged word', words: ['bluefalcon'], action: 'flag' },
    { id: 'cut-phrase', category: 'danger', description: 'cut phrase', pattern: 'launch codes', action: 'cut' }
  ])
  const scanner = createScanner(ruleSet, { hmacKey: 'test-key' })
  const values = ['alice@example.com', 'bob@corp.com', 'bluefalcon', 'launch codes']
  const text = 'mail alice@example.com or bob@corp.com, say bluefalcon, then the launch codes are 1234'
  const findings: Finding[] = []
  let released = ''
  for (const piece of text.match(/.{1,7}/gs) ?? []) {
    const r = scanner.write(piece)
    released += r.text
    findings.push(...r.findings)
  }
  const end = scanner.end()
  released += end.text
  findings.push(...end.findings)
  t.same(new Set(findings.map((f) => f.ruleId)), new Set(['email', 'codeword', 'cut-phrase']), 'the scanner found every kind')
  t.notOk(released.includes('alice@example.com'), 'the scanner redacted')

  const file = join(t.testdir(), 'audit.jsonl')
  const audit = createAuditLog({ destination: file })
  for (const f of findings) audit.finding({ requestId: 'req', route: '/v1/chat/completions', stream: 'choice:0' }, f)
  audit.summary({ requestId: 'req' }, {
    ...aSummary,
    charsIn: scanner.charsIn,
    charsOut: scanner.charsOut,
    findings: {
      redact: findings.filter((f) => f.action === 'redact').length,
      cut: findings.filter((f) => f.action === 'cut').length,
      flag: findings.filter((f) => f.action === 'flag').length
    }
  })
  await audit.close()

  const content = readFileSync(file, 'utf8')
  for (const value of values) {
    t.notOk(content.includes(value), `"${value}" is not in the audit file`)
    t.notOk(content.toLowerCase().includes(value.slice(0, 6).toLowerCase()), `no part of "${value}" is in the audit file`)
  }
  t.notOk(content.includes('1234'), 'nor text around a match')
  const records = readRecords(file)
  t.equal(records.length, findings.length + 1)
  t.same(records.filter((r) => r.kind === 'finding').map((r) => (r as { digest: string }).digest), findings.map((f) => f.digest))
})

t.test('writes to any pino destination stream, continuing from a given head', async (t) => {
  const lines: string[] = []
  const prev = 'f'.repeat(64)
  const audit = createAuditLog({ destination: { write (s: string) { lines.push(s) } }, prev })
  audit.event('a')
  audit.event('b')
  await audit.close()
  t.equal(lines.length, 2)
  t.ok(lines.every((l) => l.endsWith('\n') && l.indexOf('\n') === l.length - 1), 'one newline-terminated line per write')
  t.equal(JSON.parse(lines[0]!).prev, prev)
  t.equal(JSON.parse(lines[1]!).prev, JSON.parse(lines[0]!).hash)
})

t.test('close flushes a buffered destination it was given, and leaves it open', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const dest = pino.destination({ dest: file, sync: false, minLength: 8192 })
  await new Promise((resolve) => dest.once('ready', resolve))
  const audit = createAuditLog({ destination: dest })
  for (let i = 0; i < 20; i++) audit.finding({ requestId: `r${i}` }, aFinding)
  t.equal(readFileSync(file, 'utf8'), '', 'still buffered before close')
  await audit.close()
  t.equal(readRecords(file).length, 20)
  t.match(await verifyAuditLog(file), { ok: true, records: 20 })
  t.doesNotThrow(() => dest.write(''), 'the stream is left open for its owner')
  dest.end()
  await new Promise((resolve) => dest.once('close', resolve))
})

t.test('flush pushes a buffered destination without closing the log', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const dest = pino.destination({ dest: file, sync: false, minLength: 8192 })
  await new Promise((resolve) => dest.once('ready', resolve))
  const audit = createAuditLog({ destination: dest })
  audit.event('a')
  audit.flush()
  await new Promise((resolve) => dest.once('drain', resolve))
  t.equal(readRecords(file).length, 1)
  audit.event('b')
  await audit.close()
  t.equal(readRecords(file).length, 2)
  dest.end()
  await new Promise((resolve) => dest.once('close', resolve))
})

t.test('each record is in the file as soon as the call returns', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const audit = createAuditLog({ destination: file })
  audit.finding({ requestId: 'r' }, aFinding)
  t.equal(readRecords(file).length, 1)
  audit.summary({ requestId: 'r' }, aSummary)
  t.equal(readRecords(file).length, 2)
  await audit.close()
})

t.test('drops records after close with one warning, and close can be called again', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const audit = createAuditLog({ destination: file })
  audit.event('a')
  const warnings: Error[] = []
  const onWarning = (w: Error): void => { warnings.push(w) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })
  await audit.close()
  audit.event('late')
  audit.finding({ requestId: 'r' }, aFinding)
  await audit.close()
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(readRecords(file).length, 1)
  t.equal(audit.records, 1)
  t.equal(warnings.filter((w) => (w as { code?: string }).code === 'SLUICE_AUDIT_CLOSED').length, 1)
})

t.test('reports a failing destination to onError instead of throwing into the stream', async (t) => {
  const errors: Error[] = []
  const audit = createAuditLog({
    destination: { write () { throw new Error('disk full') } },
    onError: (err) => { errors.push(err) }
  })
  t.doesNotThrow(() => audit.finding({ requestId: 'r' }, aFinding))
  t.equal(errors.length, 1)
  t.equal(errors[0]!.message, 'disk full')
  await audit.close()
})

t.test('is a no-op when disabled', async (t) => {
  const dir = t.testdir()
  for (const audit of [createAuditLog({ enabled: false, destination: join(dir, 'a.jsonl') }), createAuditLog({ destination: false })]) {
    t.equal(audit.enabled, false)
    audit.finding({ requestId: 'r' }, aFinding)
    audit.summary({ requestId: 'r' }, aSummary)
    audit.event('x', {})
    audit.flush()
    await audit.close()
    t.equal(audit.records, 0)
  }
  t.throws(() => statSync(join(dir, 'a.jsonl')), { code: 'ENOENT' })
})

t.test('rejects options that would break the chain', async (t) => {
  t.throws(() => createAuditLog({ destination: { write () {} }, base: { hash: 'x' } }), { code: 'SLUICE_INVALID_OPTIONS' })
  t.throws(() => createAuditLog({ destination: { write () {} }, base: { prev: 'x' } }), { code: 'SLUICE_INVALID_OPTIONS' })
  t.throws(() => createAuditLog({ destination: { write () {} }, prev: 'nothex' }), { code: 'SLUICE_INVALID_OPTIONS' })
  t.throws(() => createAuditLog({ destination: { write () {} }, chainKey: '' }), { code: 'SLUICE_INVALID_OPTIONS' })
})

t.test('reports a failing destination as a process warning by default', async (t) => {
  const warnings: Error[] = []
  const onWarning = (w: Error): void => { warnings.push(w) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })
  const audit = createAuditLog({ destination: { write () { throw new Error('disk full') } } })
  audit.event('a')
  await new Promise((resolve) => setImmediate(resolve))
  t.match(warnings, [{ name: 'SluiceAuditWarning', code: 'SLUICE_AUDIT_WRITE', message: /disk full/ }])
  await audit.close()
})
