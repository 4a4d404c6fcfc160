import t from 'tap'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createAuditLog } from '../../src/audit/create-audit-log.js'
import { verifyAuditLog } from '../../src/audit/verify-audit-log.js'
import { listRotatedFiles } from '../../src/audit/rotated-files.js'

const writer = fileURLToPath(new URL('./fixtures/audit-writer.ts', import.meta.url))

/** Runs the writer fixture through the same TypeScript loader as this test, with more log options if given. */
function startWriter (t: { teardown: (fn: () => void) => void }, args: string[], options: Record<string, unknown> = {}): ChildProcess {
  const env = { ...process.env, AUDIT_OPTIONS: JSON.stringify(options) }
  const child = spawn(process.execPath, [...process.execArgv, writer, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  return child
}

async function waitForOutput (child: ChildProcess, text: string): Promise<void> {
  let out = ''
  for await (const chunk of child.stdout!) {
    out += String(chunk)
    if (out.includes(text)) return
  }
  throw new Error(`writer exited before printing "${text}": ${out}`)
}

/**
 * Starts the writer in its endless loop, SIGKILLs it once the file holds at
 * least `lines` lines, and returns the file's complete lines and the bytes
 * after the last newline.
 */
async function killWriterAfter (t: { teardown: (fn: () => void) => void, equal: (a: unknown, b: unknown) => void }, file: string, lines: number, options: Record<string, unknown> = {}): Promise<{ lines: string[], tail: string }> {
  const child = startWriter(t, [file, 'loop'], options)
  const exited = once(child, 'exit')
  while (countNewlines(file) < lines) {
    if (child.exitCode !== null) throw new Error(`writer exited with ${child.exitCode}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  child.kill('SIGKILL')
  const [, signal] = await exited
  t.equal(signal, 'SIGKILL')
  const all = readFileSync(file, 'utf8').split('\n')
  const tail = all.pop() ?? ''
  return { lines: all, tail }
}

function countNewlines (file: string): number {
  try {
    let n = 0
    for (const byte of readFileSync(file)) if (byte === 0x0a) n++
    return n
  } catch {
    return 0
  }
}

t.test('a writer killed with SIGKILL leaves only complete records and a chain that verifies', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const { lines, tail } = await killWriterAfter(t, file, 200)
  t.ok(lines.length >= 200)
  for (const line of lines) JSON.parse(line)
  const result = await verifyAuditLog(file)
  if (tail === '') {
    t.same(result, { ok: true, records: lines.length, head: JSON.parse(lines.at(-1)!).hash })
  } else {
    // At most the record being written is lost, and it is reported as such.
    t.match(result, { ok: false, line: lines.length + 1, truncated: true })
  }

  // The next run continues the chain from the last complete record.
  const audit = createAuditLog({ destination: file })
  audit.event('restarted')
  await audit.close()
  const expected = lines.length + (tail === '' ? 1 : 2)
  t.match(await verifyAuditLog(file), { ok: true, records: expected })
})

t.test('a writer killed by SIGTERM without a handler has written every record it reported', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const child = startWriter(t, [file, 'count', '500'])
  const exited = once(child, 'exit')
  await waitForOutput(child, 'written 500')
  child.kill('SIGTERM')
  const [, signal] = await exited
  t.equal(signal, 'SIGTERM')
  t.match(await verifyAuditLog(file), { ok: true, records: 500 })
})

t.test('a writer that closes the log on SIGTERM keeps the records written during shutdown', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const child = startWriter(t, [file, 'graceful', '100'])
  const exited = once(child, 'exit')
  await waitForOutput(child, 'written 100')
  child.kill('SIGTERM')
  const [code] = await exited
  t.equal(code, 0)
  t.match(await verifyAuditLog(file), { ok: true, records: 101 })
  const last = JSON.parse(readFileSync(file, 'utf8').trimEnd().split('\n').at(-1)!)
  t.match(last, { kind: 'event', event: 'shutdown' })
})

t.test('a keyed writer killed with SIGKILL leaves an unsealed tail, not a broken chain, and a restarted writer seals and continues it', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const key = 'crash-test-key'
  const { lines, tail } = await killWriterAfter(t, file, 220, { checkpointKey: key, checkpointEvery: 50 })
  const records = lines.map((l) => JSON.parse(l) as { kind: string, reason?: string, hash: string })
  const lastCheckpoint = records.findLastIndex((r) => r.kind === 'checkpoint')
  t.ok(lastCheckpoint >= 199, 'interval checkpoints were written while it ran')
  t.notOk(records.some((r) => r.reason === 'close'), 'it was never closed')
  const unsealed = records.length - 1 - lastCheckpoint
  const crashed = await verifyAuditLog(file, { checkpointKey: key })
  t.match(crashed, { ok: false, unsealed: true, records: records.length, unsealedRecords: unsealed, reason: /unsealed tail/ })
  if (tail !== '') t.match(crashed, { truncated: true, line: lines.length + 1 })
  t.ok(unsealed < 50, `at most checkpointEvery records are unsealed (${unsealed})`)

  // The restarted writer continues the chain: a resume checkpoint first.
  const audit = createAuditLog({ destination: file, checkpointKey: key, checkpointEvery: 50 })
  audit.event('restarted')
  await audit.close()
  const after = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { kind: string, reason?: string, prev: string })
  t.match(after[records.length], { kind: 'checkpoint', reason: 'resume', prev: records.at(-1)!.hash }, 'continues from the last complete record')
  t.match(after.at(-1), { kind: 'checkpoint', reason: 'close' })
  t.match(await verifyAuditLog(file, { checkpointKey: key }), {
    ok: true,
    records: after.length,
    sealedBy: 'close',
    resumed: [{ file, line: records.length + 1, unsealedRecords: unsealed }]
  })
})

t.test('a keyed writer that closes on SIGTERM leaves a sealed log', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const child = startWriter(t, [file, 'graceful', '120'], { checkpointKey: 'k', checkpointEvery: 50 })
  const exited = once(child, 'exit')
  await waitForOutput(child, 'written 120')
  child.kill('SIGTERM')
  const [code] = await exited
  t.equal(code, 0)
  // 120 findings, 2 interval checkpoints, the shutdown event, the close checkpoint.
  t.match(await verifyAuditLog(file, { checkpointKey: 'k' }), { ok: true, records: 124, checkpoints: 3, sealedBy: 'close' })
})

t.test('a rotating writer killed with SIGKILL leaves a series that a restarted writer completes', async (t) => {
  const file = join(t.testdir(), 'audit.jsonl')
  const options = { checkpointKey: 'k', checkpointEvery: 7, rotate: { maxBytes: 4096 } }
  const child = startWriter(t, [file, 'loop'], options)
  const exited = once(child, 'exit')
  while (!existsSync(`${file}.5`)) {
    if (child.exitCode !== null) throw new Error(`writer exited with ${child.exitCode}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  child.kill('SIGKILL')
  await exited
  const killed = [...listRotatedFiles(file), ...(existsSync(file) ? [file] : [])]
  const crashed = await verifyAuditLog(killed, { checkpointKey: 'k' })
  // Wherever the kill landed, the complete records verify: at worst the end is unsealed.
  if (!crashed.ok) t.ok(crashed.unsealed === true || /continues it is missing/.test(crashed.reason), crashed.reason)

  const audit = createAuditLog({ destination: file, ...options })
  audit.event('restarted')
  await audit.close()
  const series = [...listRotatedFiles(file), file]
  t.ok(series.length >= 6)
  t.match(await verifyAuditLog(series, { checkpointKey: 'k' }), { ok: true, sealedBy: 'close' })
})
