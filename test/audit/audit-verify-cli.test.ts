/**
 * @module test/audit/audit-verify-cli
 * `sluice audit verify` over rotated files, as users run it: a real child
 * process (the CLI from src/, through the test's TypeScript loader), exit
 * code, stdout and stderr read back. The rest of the CLI is tested in
 * test/cli.test.ts.
 */
import t from 'tap'
import type { Test } from 'tap'
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createAuditLog } from '../../src/audit/create-audit-log.js'
import type { AuditLogOptions } from '../../src/audit/create-audit-log.js'
import { listRotatedFiles } from '../../src/audit/rotated-files.js'
import type { Finding } from '../../src/scanner/types.js'
import { runChild } from '../helpers/run-child.js'
import type { ChildRun } from '../helpers/run-child.js'

const cli = fileURLToPath(new URL('./fixtures/run-cli.ts', import.meta.url))
const KEY = 'cli-checkpoint-key'
const { SLUICE_AUDIT_CHAIN_KEY: _chainKey, SLUICE_AUDIT_CHECKPOINT_KEY: _checkpointKey, ...baseEnv } = process.env

function sluice (t: Test, args: readonly string[], env: Record<string, string> = {}): Promise<ChildRun> {
  return runChild(t, [...process.execArgv, cli, ...args], { env: { ...baseEnv, ...env } })
}

function finding (n: number): Finding {
  return { ruleId: 'email', category: 'pii', action: 'redact', severity: 'medium', start: n, length: 5, digest: 'd'.repeat(64) }
}

/** A closed, rotated log; returns its files oldest first and its line count. */
async function rotatedLog (dir: string, options: AuditLogOptions = { checkpointKey: KEY }): Promise<{ file: string, files: string[], lines: number }> {
  const file = join(dir, 'audit.jsonl')
  const audit = createAuditLog({ destination: file, ...options, rotate: { maxBytes: 1500 } })
  for (let i = 0; i < 40; i++) audit.finding({ requestId: `r${i}` }, finding(i))
  await audit.close()
  const files = [...listRotatedFiles(file), file]
  return { file, files, lines: audit.records }
}

t.test('verifies rotated files given in glob order, and says how the log is sealed', async (t) => {
  const { files, lines } = await rotatedLog(t.testdir())
  t.ok(files.length >= 10, `${files.length} files, so a glob puts .10 before .2`)
  const globOrder = [...files].sort()
  t.not(globOrder.join(), files.join())
  const r = await sluice(t, ['audit', 'verify', '--checkpoint-key', KEY, ...globOrder])
  t.equal(r.code, 0, r.stderr)
  const checkpoints = files.length
  t.equal(r.stdout, `ok: ${lines} records in ${files.length} files, sealed by a "close" checkpoint (${checkpoints} checkpoints)\n`)
  t.equal(r.stderr, '')
})

t.test('--rotated finds the series from the active file; the key may come from the environment', async (t) => {
  const { file, files, lines } = await rotatedLog(t.testdir())
  const r = await sluice(t, ['audit', 'verify', '--rotated', file], { SLUICE_AUDIT_CHECKPOINT_KEY: KEY })
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, `ok: ${lines} records in ${files.length} files`)
})

t.test('a deleted middle file exits 1 and names the file and line where the chain breaks', async (t) => {
  const { file, files } = await rotatedLog(t.testdir())
  unlinkSync(files[3]!)
  const r = await sluice(t, ['audit', 'verify', '--rotated', '--checkpoint-key', KEY, file])
  t.equal(r.code, 1)
  t.match(r.stderr, `${files[4]}:1: does not continue audit.jsonl.3`)
  t.equal(r.stdout, '')
})

t.test('an unsealed end exits 3: the records verify, but the log was not closed or was cut', async (t) => {
  const { file } = await rotatedLog(t.testdir())
  const lines = readFileSync(file, 'utf8').split('\n')
  writeFileSync(file, lines.slice(0, -2).join('\n') + '\n')
  const r = await sluice(t, ['audit', 'verify', '--rotated', '--checkpoint-key', KEY, file])
  t.equal(r.code, 3, r.stderr)
  t.match(r.stderr, /unsealed tail/)
})

t.test('a chain key is also the checkpoint key', async (t) => {
  const { file } = await rotatedLog(t.testdir(), { chainKey: KEY })
  const r = await sluice(t, ['audit', 'verify', '--rotated', '--chain-key', KEY, file])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /sealed by a "close" checkpoint/)
})

t.test('without a key it verifies the chain and warns that a cut end would go unnoticed', async (t) => {
  const { file, files } = await rotatedLog(t.testdir(), {})
  const r = await sluice(t, ['audit', 'verify', ...files])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /^ok: \d+ records in \d+ files\n$/)
  t.match(r.stderr, /no checkpoint key: records cut off the end of the log cannot be detected/)
  const alone = await sluice(t, ['audit', 'verify', file])
  t.equal(alone.code, 0, alone.stderr)
  t.match(alone.stderr, `continues audit.jsonl.${files.length - 1}, which was not checked`)
})

t.test('audit verify without a file exits 2, names what is missing, and shows the usage', async (t) => {
  const r = await sluice(t, ['audit', 'verify'])
  t.equal(r.code, 2)
  t.match(r.stderr, /^sluice audit verify: missing FILE/)
  t.match(r.stderr, 'Usage: sluice audit verify [options] FILE...')
  t.match(r.stderr, '--rotated')
})
