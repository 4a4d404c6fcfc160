/**
 * @module test/docs
 * The documentation that is generated or mirrors code: the generated pages
 * match their sources (scripts/generate-docs.js --check), the proxy settings
 * reference and usage name every flag, variable and file key of the settings
 * table, and the example config file in docs/proxy.md is a valid
 * configuration.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { readProxyConfigFile } from '../src/proxy/proxy-config.js'
import { proxyUsage } from '../src/proxy/run-proxy.js'
import { proxySettings } from '../src/proxy/settings/table.js'
import { runChild } from './helpers/run-child.js'
import { projectRoot } from './proxy/fixtures/harness.js'

t.test('the generated reference pages are up to date', async (t) => {
  const run = await runChild(t, [join(projectRoot, 'scripts', 'generate-docs.js'), '--check'], { cwd: projectRoot })
  t.equal(run.code, 0, run.stderr)
})

t.test('the reference page and the usage name every flag, variable and config-file key of the settings table', async (t) => {
  // The parser reads the same table (test/proxy/proxy-config.test.ts sets every one of them).
  const page = readFileSync(join(projectRoot, 'docs', 'proxy-configuration.md'), 'utf8')
  const usageFlags = [...proxyUsage.matchAll(/^ {2}(--[a-z0-9-]+)/gm)].map((m) => m[1] as string)
  for (const s of proxySettings) {
    if (s.flag !== undefined) {
      t.ok(page.includes(`\`--${s.flag}`), `--${s.flag} in the reference`)
      t.ok(usageFlags.includes(`--${s.flag}`), `--${s.flag} in the usage`)
    }
    if (s.env !== undefined) {
      t.ok(page.includes(`\`${s.env}\``), `${s.env} in the reference`)
      t.ok(proxyUsage.includes(`[$${s.env}]`), `${s.env} in the usage`)
    }
    if (s.file !== undefined) t.ok(page.includes(`\`${s.file}\``), `${s.file} in the reference`)
    if (s.flag === undefined || s.env === undefined || s.file === undefined) t.ok(s.doc.why !== undefined, `${s.key} says why it lacks a flag, variable or file key`)
  }
  t.same(usageFlags.filter((f) => f !== '--help').sort(), proxySettings.flatMap((s) => s.flag === undefined ? [] : [`--${s.flag}`]).sort(), 'the usage lists the table\'s flags and no other')
})

t.test('the example config file in docs/proxy.md is a valid configuration', async (t) => {
  const page = readFileSync(join(projectRoot, 'docs', 'proxy.md'), 'utf8')
  const example = /```yaml\n(# sluice\.yaml[\s\S]*?)```/.exec(page)?.[1]
  t.ok(example !== undefined, 'docs/proxy.md shows a sluice.yaml')
  const dir = t.testdir({ 'sluice.yaml': example ?? '' })
  const file = await readProxyConfigFile(join(dir, 'sluice.yaml'))
  t.equal(file.upstream, 'https://api.openai.com')
  t.ok(Array.isArray(file.clients))
})

t.test('the jq recipes in docs/audit.md run on a real audit log', async (t) => {
  const { createAuditLog } = await import('../src/audit/create-audit-log.js')
  const dir = t.testdir({})
  const log = createAuditLog({ destination: join(dir, 'audit.jsonl'), chainKey: 'k' })
  const requestId = '46b3208c-899c-4d97-817d-5878fab9acac'
  log.finding({ requestId, route: '/v1/chat/completions', stream: '0:content' }, { ruleId: 'pii.email', category: 'pii', action: 'redact', severity: 'medium', start: 3, length: 16, digest: 'a'.repeat(64) })
  log.finding({ requestId, route: '/v1/chat/completions', stream: 'input' }, { ruleId: 'injection.unicode_tags', category: 'injection', action: 'cut', severity: 'high', start: 0, length: 4, digest: 'b'.repeat(64) })
  log.summary({ requestId, route: '/v1/chat/completions' }, { finishReason: 'error', charsIn: 10, charsOut: 5, findings: { redact: 1, cut: 1, flag: 0 }, durationMs: 3, cancelled: false, error: { code: 'SLUICE_UPSTREAM', message: 'reset' } })
  await log.close()
  const page = readFileSync(join(projectRoot, 'docs', 'audit.md'), 'utf8')
  const recipes = [...page.matchAll(/^(jq .*)$/gm)].map((m) => m[1] as string)
  t.ok(recipes.length >= 5, `${recipes.length} recipes`)
  for (const recipe of recipes) {
    const run = await runChild(t, ['-e', `process.stdout.write(require('node:child_process').execSync(${JSON.stringify(recipe)}, { shell: '/bin/bash', cwd: ${JSON.stringify(dir)} }))`])
    t.equal(run.code, 0, `${recipe}: ${run.stderr}`)
    t.ok(run.stdout.trim().length > 0, `${recipe} prints something`)
  }
})
