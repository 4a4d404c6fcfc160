/**
 * @module test/audit/create-audit-log-checkpoints
 * Signed checkpoints end to end: what the writer seals, and what `verify`
 * makes of a file cut anywhere, or re-sealed by someone without the key.
 */
import t from 'tap'
import { createHmac } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createAuditLog } from '../../src/audit/create-audit-log.js'
import type { AuditLogOptions } from '../../src/audit/create-audit-log.js'
import { verifyAuditLog } from '../../src/audit/verify-audit-log.js'
import { canonicalJson, createChainHasher, sealRecord } from '../../src/audit/hash-chain.js'
import type { Finding } from '../../src/scanner/types.js'

const KEY = 'checkpoint-secret'

function finding (n: number): Finding {
  return { ruleId: 'email', category: 'pii', action: 'redact', severity: 'medium', start: n, length: 5, digest: 'd'.repeat(64) }
}

type Line = Record<string, unknown>

/** Lines of the file, without their newlines (a last line without one included). */
function linesOf (text: string): string[] {
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  return lines
}

/** Writes `n` findings with the real log, closes it, and returns the file and its lines. */
async function writeLog (dir: string, n: number, options: AuditLogOptions = {}): Promise<{ file: string, text: string, lines: string[] }> {
  const file = join(dir, 'audit.jsonl')
  const audit = createAuditLog({ destination: file, ...options })
  for (let i = 0; i < n; i++) audit.finding({ requestId: `r${i}` }, finding(i))
  await audit.close()
  const text = readFileSync(file, 'utf8')
  return { file, text, lines: linesOf(text) }
}

t.test('without a key no checkpoint is written, and verify says nothing about the end', async (t) => {
  const { file, lines } = await writeLog(t.testdir(), 5)
  t.notOk(lines.some((l) => (JSON.parse(l) as Line).kind === 'checkpoint'))
  t.same(await verifyAuditLog(file), { ok: true, records: 5, head: (JSON.parse(lines[4]!) as Line).hash })
})

t.test('writes a checkpoint after every N records and one at close, each sealing the record before it', async (t) => {
  const { file, lines } = await writeLog(t.testdir(), 10, { checkpointKey: KEY, checkpointEvery: 4 })
  const records = lines.map((l) => JSON.parse(l) as Line)
  t.same(records.map((r) => r.kind === 'checkpoint' ? r.reason : r.kind), [
    'finding', 'finding', 'finding', 'finding', 'interval',
    'finding', 'finding', 'finding', 'finding', 'interval',
    'finding', 'finding', 'close'
  ])
  for (const [i, r] of records.entries()) {
    if (r.kind === 'checkpoint') t.equal(r.prev, records[i - 1]!.hash, `the checkpoint on line ${i + 1} seals the head before it`)
  }
  t.same(await verifyAuditLog(file, { checkpointKey: KEY }), {
    ok: true, records: 13, head: records[12]!.hash, checkpoints: 3, sealedBy: 'close'
  })
})

t.test('checkpoints every 1000 records by default', async (t) => {
  const { lines } = await writeLog(t.testdir(), 1001, { checkpointKey: KEY })
  const kinds = lines.map((l) => (JSON.parse(l) as Line).kind)
  t.equal(kinds.indexOf('checkpoint'), 1000, 'the first checkpoint follows the 1000th record')
  t.equal(kinds.length, 1003, 'and the close checkpoint the 1001st')
})

t.test('close writes a close checkpoint even when nothing else was written', async (t) => {
  const { file, lines } = await writeLog(t.testdir(), 0, { checkpointKey: KEY })
  t.equal(lines.length, 1)
  t.match(JSON.parse(lines[0]!), { kind: 'checkpoint', reason: 'close', mac: /^[0-9a-f]{64}$/ })
  t.match(await verifyAuditLog(file, { checkpointKey: KEY }), { ok: true, records: 1, checkpoints: 1, sealedBy: 'close' })
})

t.test('checkpoint() seals the head now; it is a no-op without a key and after close', async (t) => {
  const dir = t.testdir()
  const keyed = createAuditLog({ destination: join(dir, 'a.jsonl'), checkpointKey: KEY })
  keyed.finding({ requestId: 'r' }, finding(1))
  keyed.checkpoint()
  t.equal(keyed.records, 2)
  await keyed.close()
  keyed.checkpoint()
  t.same(linesOf(readFileSync(join(dir, 'a.jsonl'), 'utf8')).map((l) => (JSON.parse(l) as Line).reason ?? 'finding'), ['finding', 'interval', 'close'])

  const plain = createAuditLog({ destination: join(dir, 'b.jsonl') })
  plain.finding({ requestId: 'r' }, finding(1))
  plain.checkpoint()
  await plain.close()
  t.equal(plain.records, 1)
})

t.test('the chain key is the checkpoint key when no other is given', async (t) => {
  const { file } = await writeLog(t.testdir(), 3, { chainKey: 'chain' })
  t.match(await verifyAuditLog(file, { chainKey: 'chain' }), { ok: true, checkpoints: 1, sealedBy: 'close' })
  t.match(await verifyAuditLog(file, { chainKey: 'chain', checkpointKey: 'other' }), { ok: false, line: 4, reason: /MAC does not match/ })
})

t.test('a checkpoint key of its own leaves an unkeyed chain verifiable by anyone', async (t) => {
  const { file } = await writeLog(t.testdir(), 3, { checkpointKey: KEY })
  t.match(await verifyAuditLog(file), { ok: true, records: 4, uncheckedCheckpoints: 1 })
  t.notOk('checkpoints' in await verifyAuditLog(file), 'without the key the end is not vouched for')
  t.match(await verifyAuditLog(file, { checkpointKey: KEY }), { ok: true, records: 4, checkpoints: 1, sealedBy: 'close' })
  t.match(await verifyAuditLog(file, { checkpointKey: 'guess' }), { ok: false, line: 4, reason: /MAC does not match/ })
})

t.test('a file cut at any record boundary or inside any record is never reported as complete', async (t) => {
  const { text } = await writeLog(t.testdir(), 10, { checkpointKey: KEY, checkpointEvery: 3 })
  const cutFile = join(t.testdir(), 'cut.jsonl')
  const bytes = Buffer.from(text)
  const boundaries = [0]
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) boundaries.push(i + 1)
  t.equal(boundaries.at(-1), bytes.length)
  const totalLines = boundaries.length - 1
  let cuts = 0
  for (let cut = 0; cut < bytes.length; cut++) {
    writeFileSync(cutFile, bytes.subarray(0, cut))
    const result = await verifyAuditLog(cutFile, { checkpointKey: KEY })
    const completeLines = boundaries.filter((b) => b > 0 && b <= cut).length
    const atBoundary = boundaries.includes(cut)
    if (result.ok || result.unsealed !== true || result.records !== completeLines || (result.truncated === true) === atBoundary) {
      t.fail(`cut at byte ${cut} of ${bytes.length}: ${JSON.stringify(result)}`)
      return
    }
    cuts++
  }
  t.equal(cuts, bytes.length, `every one of ${bytes.length} cuts (${totalLines} lines) is reported unsealed, with the records before it counted`)
  writeFileSync(cutFile, bytes)
  t.match(await verifyAuditLog(cutFile, { checkpointKey: KEY }), { ok: true, sealedBy: 'close' }, 'the uncut file is complete')
})

t.test('an unsealed tail is reported from the first record after the last checkpoint', async (t) => {
  const { file, lines } = await writeLog(t.testdir(), 10, { checkpointKey: KEY, checkpointEvery: 4 })
  // Lines 1-4 findings, 5 checkpoint, 6-9 findings, 10 checkpoint, 11-12 findings, 13 close.
  writeFileSync(file, lines.slice(0, 8).map((l) => l + '\n').join(''))
  t.match(await verifyAuditLog(file, { checkpointKey: KEY }), {
    ok: false, file, line: 6, unsealed: true, records: 8, unsealedRecords: 3, reason: /unsealed tail: 3 records after the last checkpoint, and the last checkpoint is "interval"/
  })
  writeFileSync(file, lines.slice(0, 10).map((l) => l + '\n').join(''))
  t.match(await verifyAuditLog(file, { checkpointKey: KEY }), {
    ok: false, line: 11, unsealed: true, records: 10, unsealedRecords: 0, reason: /"interval", not "close"/
  }, 'a file that ends at an interval checkpoint was not closed')
  writeFileSync(file, lines.slice(0, 3).map((l) => l + '\n').join(''))
  t.match(await verifyAuditLog(file, { checkpointKey: KEY }), {
    ok: false, line: 1, unsealed: true, records: 3, unsealedRecords: 3, reason: /there is no checkpoint/
  })
})

t.test('without a key, a cut at a record boundary goes unnoticed: only the chain is checked', async (t) => {
  const { file, lines } = await writeLog(t.testdir(), 6)
  writeFileSync(file, lines.slice(0, 4).map((l) => l + '\n').join(''))
  t.match(await verifyAuditLog(file), { ok: true, records: 4 })
})

/** What someone who can edit the file but lacks the key can make of a cut: the chain re-sealed, the checkpoint guessed. */
function forgeClose (lines: string[], keep: number, mac: string): string {
  const last = JSON.parse(lines[keep - 1]!) as Line
  const sealed = sealRecord({ time: Date.now(), kind: 'checkpoint', reason: 'close', mac }, last.hash as string, createChainHasher())
  return lines.slice(0, keep).map((l) => l + '\n').join('') + sealed.line
}

t.test('a close checkpoint forged after a cut fails without the key, even on a chain anyone can extend', async (t) => {
  const { file, lines } = await writeLog(t.testdir(), 6, { checkpointKey: KEY, checkpointEvery: 100 })
  const head = (JSON.parse(lines[3]!) as Line).hash as string
  const fields = { time: Date.now(), kind: 'checkpoint', reason: 'close', prev: head }
  const guessed = createHmac('sha256', 'guess').update('sluice-audit-checkpoint\n' + canonicalJson(fields)).digest('hex')
  writeFileSync(file, forgeClose(lines, 4, guessed))
  t.match(await verifyAuditLog(file, { checkpointKey: KEY }), { ok: false, line: 5, reason: /MAC does not match/ })

  const realMac = (JSON.parse(lines.at(-1)!) as Line).mac as string
  writeFileSync(file, forgeClose(lines, 4, realMac))
  t.match(await verifyAuditLog(file, { checkpointKey: KEY }), { ok: false, line: 5, reason: /MAC does not match/ }, 'the real MAC moved to another head')

  writeFileSync(file, [...lines.slice(0, 4), lines.at(-1)!].map((l) => l + '\n').join(''))
  t.match(await verifyAuditLog(file, { checkpointKey: KEY }), { ok: false, line: 5, reason: /previous record/ }, 'the real close checkpoint replayed')
})

t.test('on a keyed chain a forged checkpoint fails its own hash', async (t) => {
  const { file, lines } = await writeLog(t.testdir(), 6, { chainKey: KEY })
  writeFileSync(file, forgeClose(lines, 4, 'ab'.repeat(32)))
  t.match(await verifyAuditLog(file, { chainKey: KEY }), { ok: false, line: 5, reason: /hash does not match/ })
})

t.test('reopening a cleanly closed file continues without a resume checkpoint', async (t) => {
  const { file } = await writeLog(t.testdir(), 2, { checkpointKey: KEY })
  const again = createAuditLog({ destination: file, checkpointKey: KEY })
  again.finding({ requestId: 'r' }, finding(9))
  await again.close()
  const reasons = linesOf(readFileSync(file, 'utf8')).map((l) => (JSON.parse(l) as Line).reason ?? 'finding')
  t.same(reasons, ['finding', 'finding', 'close', 'finding', 'close'])
  const result = await verifyAuditLog(file, { checkpointKey: KEY })
  t.match(result, { ok: true, records: 5, checkpoints: 2 })
  t.notOk('resumed' in result)
})

t.test('reopening a file that was not closed seals what it finds with a resume checkpoint, which verify lists', async (t) => {
  const { file, lines } = await writeLog(t.testdir(), 7, { checkpointKey: KEY, checkpointEvery: 4 })
  // What a crash after the 6th finding leaves: lines 1-4, checkpoint, 2 findings.
  writeFileSync(file, lines.slice(0, 7).map((l) => l + '\n').join(''))
  t.match(await verifyAuditLog(file, { checkpointKey: KEY }), { ok: false, unsealed: true, unsealedRecords: 2 })
  const again = createAuditLog({ destination: file, checkpointKey: KEY, checkpointEvery: 4 })
  again.finding({ requestId: 'r' }, finding(9))
  await again.close()
  const records = linesOf(readFileSync(file, 'utf8')).map((l) => JSON.parse(l) as Line)
  t.match(records[7], { kind: 'checkpoint', reason: 'resume', prev: records[6]!.hash })
  t.match(await verifyAuditLog(file, { checkpointKey: KEY }), {
    ok: true, records: 10, checkpoints: 3, sealedBy: 'close', resumed: [{ file, line: 8, unsealedRecords: 2 }]
  })
})
