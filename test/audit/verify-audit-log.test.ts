import t from 'tap'
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createAuditLog } from '../../src/audit/create-audit-log.js'
import { verifyAuditLog } from '../../src/audit/verify-audit-log.js'
import { GENESIS, createChainHasher, sealRecord } from '../../src/audit/hash-chain.js'
import type { Finding } from '../../src/scanner/types.js'

function finding (n: number): Finding {
  return { ruleId: 'email', category: 'pii', action: 'redact', severity: 'medium', start: n, length: 5, digest: 'd'.repeat(64) }
}

/** Writes `n` records with the real audit log; returns the file and its lines (without newlines). */
async function writeLog (dir: string, n: number, chainKey?: string): Promise<{ file: string, lines: string[] }> {
  const file = join(dir, 'audit.jsonl')
  const audit = createAuditLog(chainKey === undefined ? { destination: file } : { destination: file, chainKey })
  for (let i = 0; i < n; i++) audit.finding({ requestId: `r${i}`, stream: 'choice:0' }, finding(i))
  await audit.close()
  const lines = readFileSync(file, 'utf8').split('\n')
  lines.pop()
  return { file, lines }
}

function rewrite (file: string, lines: string[]): void {
  writeFileSync(file, lines.map((l) => l + '\n').join(''))
}

t.test('a file written by the audit log verifies, with its record count and head', async (t) => {
  const { file, lines } = await writeLog(t.testdir(), 5)
  const result = await verifyAuditLog(file)
  t.same(result, { ok: true, records: 5, head: JSON.parse(lines[4]!).hash })
})

t.test('an empty file verifies with zero records', async (t) => {
  const file = join(t.testdir(), 'empty.jsonl')
  writeFileSync(file, '')
  t.same(await verifyAuditLog(file), { ok: true, records: 0, head: GENESIS })
})

t.test('a missing file rejects', async (t) => {
  await t.rejects(verifyAuditLog(join(t.testdir(), 'nope.jsonl')), { code: 'ENOENT' })
})

t.test('an edited field is reported at the edited line', async (t) => {
  const { file, lines } = await writeLog(t.testdir(), 5)
  const record = JSON.parse(lines[2]!)
  record.ruleId = 'nothing-to-see'
  lines[2] = JSON.stringify(record)
  rewrite(file, lines)
  t.match(await verifyAuditLog(file), { ok: false, line: 3, reason: /hash does not match/ })
})

t.test('an edit with a recomputed hash is reported at the next line of an unkeyed chain', async (t) => {
  const { file, lines } = await writeLog(t.testdir(), 5)
  const { hash: _hash, ...record } = JSON.parse(lines[1]!)
  record.action = 'flag'
  // What an attacker without a key can do: re-seal the edited record.
  lines[1] = sealRecord(record, record.prev, createChainHasher()).line.trimEnd()
  rewrite(file, lines)
  t.match(await verifyAuditLog(file), { ok: false, line: 3, reason: /previous record/ })
})

t.test('an edit re-sealed without the key is reported at the edited line of a keyed chain', async (t) => {
  const { file, lines } = await writeLog(t.testdir(), 5, 'chain-secret')
  const { hash: _hash, ...record } = JSON.parse(lines[1]!)
  record.action = 'flag'
  lines[1] = sealRecord(record, record.prev, createChainHasher()).line.trimEnd()
  rewrite(file, lines)
  t.match(await verifyAuditLog(file, { chainKey: 'chain-secret' }), { ok: false, line: 2, reason: /hash does not match/ })
})

t.test('a keyed chain verifies with its key and fails at line 1 without it', async (t) => {
  const { file } = await writeLog(t.testdir(), 3, 'chain-secret')
  t.match(await verifyAuditLog(file, { chainKey: 'chain-secret' }), { ok: true, records: 4, checkpoints: 1 }, 'three findings and the close checkpoint')
  t.match(await verifyAuditLog(file), { ok: false, line: 1, reason: /chain key/ })
  t.match(await verifyAuditLog(file, { chainKey: 'other' }), { ok: false, line: 1 })
})

t.test('a deleted line is reported at the line that followed it', async (t) => {
  const { file, lines } = await writeLog(t.testdir(), 5)
  lines.splice(2, 1)
  rewrite(file, lines)
  t.match(await verifyAuditLog(file), { ok: false, line: 3, reason: /previous record/ })
})

t.test('a deleted first line is reported at line 1', async (t) => {
  const { file, lines } = await writeLog(t.testdir(), 3)
  lines.shift()
  rewrite(file, lines)
  t.match(await verifyAuditLog(file), { ok: false, line: 1, reason: /genesis/ })
})

t.test('an inserted copy of a valid line is reported where it was inserted', async (t) => {
  const { file, lines } = await writeLog(t.testdir(), 5)
  lines.splice(3, 0, lines[0]!)
  rewrite(file, lines)
  t.match(await verifyAuditLog(file), { ok: false, line: 4, reason: /previous record/ })
})

t.test('an inserted foreign line is reported where it was inserted', async (t) => {
  const { file, lines } = await writeLog(t.testdir(), 5)
  lines.splice(1, 0, '{"kind":"finding","ruleId":"fake"}')
  rewrite(file, lines)
  t.match(await verifyAuditLog(file), { ok: false, line: 2, reason: /not an audit record/ })
})

t.test('two swapped lines are reported at the first of them', async (t) => {
  const { file, lines } = await writeLog(t.testdir(), 5)
  const a = lines[1]!
  lines[1] = lines[2]!
  lines[2] = a
  rewrite(file, lines)
  t.match(await verifyAuditLog(file), { ok: false, line: 2, reason: /previous record/ })
})

t.test('an empty line in the middle is reported', async (t) => {
  const { file, lines } = await writeLog(t.testdir(), 3)
  lines.splice(1, 0, '')
  rewrite(file, lines)
  t.match(await verifyAuditLog(file), { ok: false, line: 2, reason: /empty line/ })
})

t.test('a last line without newline is reported apart, as truncated', async (t) => {
  const { file, lines } = await writeLog(t.testdir(), 4)
  appendFileSync(file, lines[0]!.slice(0, 40))
  const result = await verifyAuditLog(file)
  t.match(result, { ok: false, line: 5, truncated: true, reason: /truncated.*4 records/ })
})

t.test('an edit before a truncated tail is reported at the edit, not as truncation', async (t) => {
  const { file, lines } = await writeLog(t.testdir(), 4)
  lines[1] = lines[1]!.replace('"r1"', '"rX"')
  writeFileSync(file, lines.map((l) => l + '\n').join('') + '{"kind":')
  const result = await verifyAuditLog(file)
  t.match(result, { ok: false, line: 2, reason: /hash does not match/ })
  t.notOk('truncated' in result)
})

t.test('lines longer than a read chunk verify', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const audit = createAuditLog({ destination: file })
  audit.event('big', { blob: 'x'.repeat(200_000) })
  audit.event('small', {})
  audit.event('big', { blob: 'é'.repeat(100_000) })
  await audit.close()
  t.match(await verifyAuditLog(file), { ok: true, records: 3 })
})

t.test('a file converted to CRLF line endings is reported at line 1, as not canonical', async (t) => {
  const { file, lines } = await writeLog(t.testdir(), 3)
  writeFileSync(file, lines.map((l) => l + '\r\n').join(''))
  t.match(await verifyAuditLog(file), { ok: false, line: 1, reason: /canonical form/ })
})

t.test('a line re-serialized by a tool is reported, though its content is unchanged', async (t) => {
  const { file, lines } = await writeLog(t.testdir(), 3)
  lines[1] = JSON.stringify(JSON.parse(lines[1]!), null, 1).replace(/\n/g, '')
  rewrite(file, lines)
  t.match(await verifyAuditLog(file), { ok: false, line: 2, reason: /canonical form/ })
})

t.test('bytes that are not UTF-8 are reported, not replaced and re-hashed', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const audit = createAuditLog({ destination: file })
  audit.event('name', { who: 'Zoë' })
  await audit.close()
  const bytes = readFileSync(file)
  const at = bytes.indexOf(Buffer.from('ë'))
  // U+FFFD's bytes would decode to a different string; a lone 0xEB must be refused outright.
  writeFileSync(file, Buffer.concat([bytes.subarray(0, at), Buffer.from([0xeb]), bytes.subarray(at + 2)]))
  t.match(await verifyAuditLog(file), { ok: false, line: 1, reason: /UTF-8/ })
})

t.test('checks several files as one chain, and names the file of a failure', async (t) => {
  const dir = t.testdir()
  const { file, lines } = await writeLog(dir, 4)
  // Two files that do not continue each other.
  const other = join(dir, 'other.jsonl')
  writeFileSync(other, lines.map((l) => l + '\n').join(''))
  t.match(await verifyAuditLog([file, other]), { ok: false, file: other, line: 1, reason: /does not continue audit\.jsonl/ })
  t.match(await verifyAuditLog([file]), { ok: true, records: 4 })
  t.notOk('files' in await verifyAuditLog([file]), 'one file: no per-file list')
})

t.test('an empty file between files is reported', async (t) => {
  const dir = t.testdir()
  const { file } = await writeLog(dir, 2)
  const empty = join(dir, 'empty.jsonl')
  writeFileSync(empty, '')
  t.match(await verifyAuditLog([file, empty, file]), { ok: false, file: empty, line: 1, reason: /empty/ })
})

t.test('verifying no file at all is an error', async (t) => {
  await t.rejects(verifyAuditLog([]), { code: 'SLUICE_INVALID_OPTIONS' })
})
