import t from 'tap'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createAuditLog } from '../../src/audit/create-audit-log.js'
import { verifyAuditLog } from '../../src/audit/verify-audit-log.js'

const writer = fileURLToPath(new URL('./fixtures/audit-writer.ts', import.meta.url))

/** Runs the writer fixture through the same TypeScript loader as this test. */
function startWriter (t: { teardown: (fn: () => void) => void }, args: string[]): ChildProcess {
  const child = spawn(process.execPath, [...process.execArgv, writer, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
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
  const child = startWriter(t, [file, 'loop'])
  const exited = once(child, 'exit')
  while (countNewlines(file) < 200) {
    if (child.exitCode !== null) throw new Error(`writer exited with ${child.exitCode}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  child.kill('SIGKILL')
  const [, signal] = await exited
  t.equal(signal, 'SIGKILL')

  const text = readFileSync(file, 'utf8')
  const lines = text.split('\n')
  const tail = lines.pop()!
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
