/**
 * @module test/audit/create-audit-log-rotation
 * Rotation by size and by age, on real files: the chain carries across
 * files, `verify` checks a series and notices a file missing, out of order
 * or cut, and a rotation interrupted between its steps is finished on reopen.
 */
import t from 'tap'
import type { Test } from 'tap'
import { existsSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createAuditLog } from '../../src/audit/create-audit-log.js'
import type { AuditLogOptions } from '../../src/audit/create-audit-log.js'
import { listRotatedFiles } from '../../src/audit/rotated-files.js'
import { verifyAuditLog } from '../../src/audit/verify-audit-log.js'
import { GENESIS } from '../../src/audit/hash-chain.js'
import type { Finding } from '../../src/scanner/types.js'

const KEY = 'rotation-key'

type Line = Record<string, unknown>

function finding (n: number): Finding {
  return { ruleId: 'email', category: 'pii', action: 'redact', severity: 'medium', start: n, length: 5, digest: 'd'.repeat(64) }
}

function recordsOf (file: string): Line[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Line)
}

/** The rotated files, oldest first, then the active one. */
function seriesOf (file: string): string[] {
  return [...listRotatedFiles(file), file]
}

/** Writes `n` findings into a rotating log and closes it. */
async function writeRotated (dir: string, n: number, options: AuditLogOptions): Promise<string> {
  const file = join(dir, 'audit.jsonl')
  const audit = createAuditLog({ destination: file, ...options })
  for (let i = 0; i < n; i++) audit.finding({ requestId: `r${i}` }, finding(i))
  await audit.close()
  return file
}

t.test('rotates by size: each file ends with a rotate checkpoint, and the next one continues it', async (t) => {
  const maxBytes = 2000
  const file = await writeRotated(t.testdir(), 30, { checkpointKey: KEY, rotate: { maxBytes } })
  const files = seriesOf(file)
  t.ok(files.length >= 4, `${files.length} files`)
  t.same(files.slice(0, -1).map((f) => basename(f)), files.slice(0, -1).map((_, i) => `audit.jsonl.${i + 1}`), 'numbered from 1, oldest first')
  const longest = Math.max(...files.flatMap((f) => readFileSync(f, 'utf8').split('\n').map((l) => l.length + 1)))
  for (const [i, f] of files.entries()) {
    const records = recordsOf(f)
    if (i < files.length - 1) {
      t.match(records.at(-1), { kind: 'checkpoint', reason: 'rotate' }, `${basename(f)} ends with a rotate checkpoint`)
      t.ok(statSync(f).size <= maxBytes + 2 * longest, `${basename(f)} holds about maxBytes (${statSync(f).size})`)
    } else {
      t.match(records.at(-1), { kind: 'checkpoint', reason: 'close' })
    }
    if (i === 0) {
      t.equal(records[0]!.prev, GENESIS)
    } else {
      const before = recordsOf(files[i - 1]!)
      t.match(records[0], { kind: 'continue', continues: basename(files[i - 1]!), prev: before.at(-1)!.hash }, `${basename(f)} continues ${basename(files[i - 1]!)}`)
    }
  }
  const all = files.flatMap(recordsOf)
  t.equal(all.filter((r) => r.kind === 'finding').length, 30, 'no finding lost or doubled')
  const result = await verifyAuditLog(files, { checkpointKey: KEY })
  t.match(result, { ok: true, records: all.length, head: all.at(-1)!.hash, sealedBy: 'close', files: files.map((f) => ({ file: f })) })
})

t.test('rotates by age, counted from the first record of the file', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const audit = createAuditLog({ destination: file, checkpointKey: KEY, rotate: { intervalMs: 150 } })
  audit.finding({ requestId: 'a' }, finding(1))
  audit.finding({ requestId: 'b' }, finding(2))
  await sleep(200)
  audit.finding({ requestId: 'c' }, finding(3))
  audit.finding({ requestId: 'd' }, finding(4))
  await sleep(200)
  audit.finding({ requestId: 'e' }, finding(5))
  await audit.close()
  const files = seriesOf(file)
  t.same(files.map((f) => recordsOf(f).map((r) => r.requestId ?? r.reason ?? r.kind)), [
    ['a', 'b', 'rotate'],
    ['continue', 'c', 'd', 'rotate'],
    ['continue', 'e', 'close']
  ])
  t.match(await verifyAuditLog(files, { checkpointKey: KEY }), { ok: true, records: 10, checkpoints: 3 })
})

t.test('rotates without a key too: the chain alone links the files', async (t) => {
  const file = await writeRotated(t.testdir(), 12, { rotate: { maxBytes: 1500 } })
  const files = seriesOf(file)
  t.ok(files.length >= 3)
  t.notOk(files.flatMap(recordsOf).some((r) => r.kind === 'checkpoint'))
  t.match(await verifyAuditLog(files), { ok: true, records: 12 + files.length - 1 })
})

t.test('reopening continues the active file, and its age counts from its first record', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const options = { destination: file, checkpointKey: KEY, rotate: { intervalMs: 300 } }
  const first = createAuditLog(options)
  first.finding({ requestId: 'a' }, finding(1))
  await first.close()
  const second = createAuditLog(options)
  second.finding({ requestId: 'b' }, finding(2))
  await second.close()
  t.same(listRotatedFiles(file), [], 'young enough: not rotated')
  await sleep(350)
  const third = createAuditLog(options)
  third.finding({ requestId: 'c' }, finding(3))
  await third.close()
  t.same(seriesOf(file).map((f) => recordsOf(f).map((r) => r.requestId ?? r.reason ?? r.kind)), [
    ['a', 'close', 'b', 'close', 'rotate'],
    ['continue', 'c', 'close']
  ])
  t.match(await verifyAuditLog(seriesOf(file), { checkpointKey: KEY }), { ok: true })
})

/** A keyed series of at least 4 files. */
async function series (t: Test, options: AuditLogOptions = { checkpointKey: KEY }): Promise<string[]> {
  const file = await writeRotated(t.testdir(), 24, { ...options, rotate: { maxBytes: 1500 } })
  const files = seriesOf(file)
  t.ok(files.length >= 4, `${files.length} files`)
  return files
}

t.test('a deleted middle file is reported where the chain resumes', async (t) => {
  const files = await series(t)
  unlinkSync(files[1]!)
  const left = seriesOf(files.at(-1)!)
  t.match(await verifyAuditLog(left, { checkpointKey: KEY }), { ok: false, file: files[2], line: 1, reason: /does not continue audit.jsonl.1/ })
})

t.test('files out of order are reported', async (t) => {
  const files = await series(t)
  // Swap the contents of .1 and .2 on disk.
  renameSync(files[0]!, files[0]! + '.tmp')
  renameSync(files[1]!, files[0]!)
  renameSync(files[0]! + '.tmp', files[1]!)
  t.match(await verifyAuditLog(files, { checkpointKey: KEY }), { ok: false, file: files[1], line: 1, reason: /not a "continue" record/ })
  t.match(await verifyAuditLog([files[0]!, files[2]!, files[1]!, files[3]!], { checkpointKey: KEY }), { ok: false, line: 1, reason: /does not continue/ }, 'or given out of order')
})

t.test('a middle file cut at its end is reported, with or without a key', async (t) => {
  const keyed = await series(t)
  const lines = readFileSync(keyed[1]!, 'utf8').split('\n')
  writeFileSync(keyed[1]!, lines.slice(0, -2).join('\n') + '\n')
  t.match(await verifyAuditLog(keyed, { checkpointKey: KEY }), { ok: false, file: keyed[1], reason: /does not end with a "rotate" checkpoint/ })

  const plain = await series(t, {})
  const plainLines = readFileSync(plain[1]!, 'utf8').split('\n')
  writeFileSync(plain[1]!, plainLines.slice(0, -2).join('\n') + '\n')
  t.match(await verifyAuditLog(plain), { ok: false, file: plain[2], line: 1, reason: /does not continue/ })
})

t.test('a middle file cut mid-line is reported as a cut, not as an interrupted write', async (t) => {
  const files = await series(t)
  const text = readFileSync(files[1]!, 'utf8')
  writeFileSync(files[1]!, text.slice(0, -10))
  const result = await verifyAuditLog(files, { checkpointKey: KEY })
  t.match(result, { ok: false, file: files[1], reason: /later files continue this one/ })
  t.notOk('truncated' in result)
})

t.test('a series whose active file is missing is reported', async (t) => {
  const files = await series(t)
  unlinkSync(files.at(-1)!)
  t.match(await verifyAuditLog(files.slice(0, -1), { checkpointKey: KEY }), { ok: false, file: files.at(-2), reason: /the file that continues it is missing/ })
})

t.test('a rotated file checked alone verifies, naming the file it continues', async (t) => {
  const files = await series(t)
  t.match(await verifyAuditLog(files[1]!, { checkpointKey: KEY }), {
    ok: true, sealedBy: 'rotate', continues: { file: 'audit.jsonl.1', prev: recordsOf(files[0]!).at(-1)!.hash }
  })
})

t.test('a series may start after files removed by retention, and says so', async (t) => {
  const files = await series(t)
  unlinkSync(files[0]!)
  t.match(await verifyAuditLog(files.slice(1), { checkpointKey: KEY }), { ok: true, sealedBy: 'close', continues: { file: 'audit.jsonl.1' } })
})

t.test('a rotation interrupted after its checkpoint is finished on reopen', async (t) => {
  const dir = t.testdir()
  const file = join(dir, 'audit.jsonl')
  const options = { destination: file, checkpointKey: KEY, rotate: { maxBytes: 1200 } }
  const crashed = createAuditLog(options)
  let n = 0
  while (!existsSync(file + '.1')) crashed.finding({ requestId: `r${n}` }, finding(n++))
  // As if the writer died after the rotate checkpoint, before the rename.
  unlinkSync(file)
  renameSync(file + '.1', file)
  t.match(recordsOf(file).at(-1), { kind: 'checkpoint', reason: 'rotate' })
  const audit = createAuditLog(options)
  audit.finding({ requestId: 'after' }, finding(99))
  await audit.close()
  t.same(seriesOf(file).map((f) => basename(f)), ['audit.jsonl.1', 'audit.jsonl'])
  t.match(recordsOf(file)[0], { kind: 'continue', continues: 'audit.jsonl.1', prev: recordsOf(file + '.1').at(-1)!.hash })
  t.match(await verifyAuditLog(seriesOf(file), { checkpointKey: KEY }), { ok: true, sealedBy: 'close' })
  await crashed.close()
})

t.test('a rotation interrupted after the rename continues the newest rotated file on reopen', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const options = { destination: file, checkpointKey: KEY, rotate: { maxBytes: 1200 } }
  const crashed = createAuditLog(options)
  let n = 0
  while (!existsSync(file + '.2')) crashed.finding({ requestId: `r${n}` }, finding(n++))
  // As if the writer died after renaming the file, before starting the next one.
  unlinkSync(file)
  const audit = createAuditLog(options)
  audit.finding({ requestId: 'after' }, finding(99))
  await audit.close()
  t.match(recordsOf(file)[0], { kind: 'continue', continues: 'audit.jsonl.2', prev: recordsOf(file + '.2').at(-1)!.hash })
  const result = await verifyAuditLog(seriesOf(file), { checkpointKey: KEY })
  t.match(result, { ok: true, sealedBy: 'close' })
  t.notOk('resumed' in result, 'the rotated file was sealed: nothing to resume')
  await crashed.close()
})

t.test('a failed rotation is reported once to onError as SLUICE_AUDIT_ROTATE, and the log goes on', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const errors: Error[] = []
  const audit = createAuditLog({ destination: file, checkpointKey: KEY, rotate: { maxBytes: 600 }, onError: (err) => { errors.push(err) } })
  audit.finding({ requestId: 'r' }, finding(0))
  // Someone deleted the active file: renaming it fails.
  unlinkSync(file)
  for (let i = 1; i < 20; i++) audit.finding({ requestId: 'r' }, finding(i))
  t.equal(errors.length, 1, 'reported once, not at every record')
  t.match(errors[0], { code: 'SLUICE_AUDIT_ROTATE', message: /Cannot rotate audit log .*audit\.jsonl: .*ENOENT/ })
  t.equal(audit.records, 21, 'the records and the one rotate checkpoint were written')
  await audit.close()
})

t.test('rotation options are checked', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const invalid = { code: 'SLUICE_INVALID_OPTIONS' }
  t.throws(() => createAuditLog({ destination: { write () {} }, rotate: { maxBytes: 10 } }), invalid)
  t.throws(() => createAuditLog({ destination: file, rotate: {} }), invalid)
  t.throws(() => createAuditLog({ destination: file, rotate: { maxBytes: 0 } }), invalid)
  t.throws(() => createAuditLog({ destination: file, rotate: { maxBytes: 1.5 } }), invalid)
  t.throws(() => createAuditLog({ destination: file, rotate: { intervalMs: -1 } }), invalid)
  t.throws(() => createAuditLog({ destination: file, rotate: { intervalMs: Infinity } }), invalid)
  t.throws(() => createAuditLog({ destination: file, checkpointEvery: 0 }), invalid)
  t.throws(() => createAuditLog({ destination: file, checkpointEvery: 2.5 }), invalid)
  t.throws(() => createAuditLog({ destination: file, checkpointKey: '' }), invalid)
  t.notOk(existsSync(file), 'nothing was opened')
})
