/**
 * @module test/rules/cli-rules-compose
 * Rule paths given to the CLI add to the shipped rules, as users run it:
 * `node bin/sluice.js …` in a child process (bin/ loads dist/: build first
 * with `npm run build`). `--no-default-rules` leaves the shipped rules out;
 * a user file disables or overrides shipped rules; a broken file is
 * reported as `file:line:column`.
 */
import t from 'tap'
import type { Test } from 'tap'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { digestValue } from '../../src/scanner/digest.js'
import { runChild } from '../helpers/run-child.js'
import type { ChildRun } from '../helpers/run-child.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const bin = join(root, 'bin', 'sluice.js')
const hmacKey = 'sluice-cli-compose-test'
// No NODE_OPTIONS: tap's process-info loader there would slow every child down.
const { NODE_OPTIONS: _nodeOptions, ...baseEnv } = process.env

function sluice (t: Test, args: readonly string[], input = ''): Promise<ChildRun> {
  return runChild(t, [bin, ...args], { cwd: root, env: { ...baseEnv, SLUICE_HMAC_KEY: hmacKey }, input })
}

const label = (value: string): string => digestValue(Buffer.from(hmacKey), value).slice(0, 6)

const empRules = [
  'rules:',
  '  - id: acme.employee_id',
  '    category: pii',
  '    description: ACME employee ids',
  "    pattern: 'EMP-[0-9]{6}'",
  '    action: redact',
  "    replacement: '[EMPLOYEE]'",
  '    examples:',
  "      match: ['badge EMP-123456']",
  ''
].join('\n')

t.test('scan --rules DIR adds the rules to the shipped ones', async (t) => {
  const dir = t.testdir({ 'acme.yaml': empRules })
  const r = await sluice(t, ['scan', '--rules', dir], 'EMP-123456, jane@acme.com\n')
  t.equal(r.stderr, '')
  t.equal(r.code, 0)
  t.equal(r.stdout, `[EMPLOYEE], [email:${label('jane@acme.com')}]\n`, 'the shipped e-mail rule still redacts')
})

t.test('scan --no-default-rules uses the given rules alone', async (t) => {
  const dir = t.testdir({ 'acme.yaml': empRules })
  const r = await sluice(t, ['scan', '--no-default-rules', '--rules', dir], 'EMP-123456, jane@acme.com\n')
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stdout, '[EMPLOYEE], jane@acme.com\n')
  const none = await sluice(t, ['scan', '--no-default-rules'], 'x')
  t.equal(none.code, 2, 'without paths it is a usage error')
  t.match(none.stderr, 'sluice scan: --no-default-rules needs --rules PATH')
})

t.test('a user file disables and overrides shipped rules', async (t) => {
  const dir = t.testdir({
    'acme.yaml': empRules,
    'policy.yaml': [
      'disable: [pii.ipv4]',
      'overrides:',
      '  - id: pii.email',
      '    action: flag',
      "    allow: ['noreply@acme.com']",
      ''
    ].join('\n')
  })
  const r = await sluice(t, ['scan', '--json', '--rules', dir], 'EMP-123456, jane@acme.com, noreply@acme.com from 81.2.69.142')
  t.equal(r.code, 0, r.stderr)
  const out = JSON.parse(r.stdout) as { text: string, findings: Array<{ ruleId: string, action: string }> }
  t.equal(out.text, '[EMPLOYEE], jane@acme.com, noreply@acme.com from 81.2.69.142')
  t.same(out.findings.map((f) => [f.ruleId, f.action]), [['acme.employee_id', 'redact'], ['pii.email', 'flag']])

  const list = await sluice(t, ['rules', 'list', dir])
  t.equal(list.code, 0, list.stderr)
  t.match(list.stdout, new RegExp(`pii\\.email +pii +flag .*\\(overridden at ${join(dir, 'policy.yaml')}:3\\)`))
  t.match(list.stdout, new RegExp(`pii\\.ipv4 .*\\(disabled at ${join(dir, 'policy.yaml')}:1\\)`))
  t.match(list.stdout, /acme\.employee_id/)
  t.match(list.stdout, /rules from 7 file\(s\)\n$/)

  const test = await sluice(t, ['rules', 'test', dir])
  t.equal(test.code, 0, test.stderr)
  t.match(test.stdout, /^\d+ rules, \d+ examples, 0 failed\n$/, 'every example, shipped and user, passes on the composed set')
})

t.test('rules test reports an example an override allows as skipped, not failed', async (t) => {
  // pii.yaml has the match example "write to jane.doe@acme.io today"; allowing the domain lets it through.
  const dir = t.testdir({ 'policy.yaml': "overrides:\n  - id: pii.email\n    allowPatterns: ['@acme\\.io$']\n" })
  const r = await sluice(t, ['rules', 'test', dir])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /^\d+ rules, \d+ examples, 0 failed, 1 skipped\n$/)
  t.match(r.stderr, `pii.email: match example "write to jane.doe@acme.io today" skipped: its value is allowed by the override at ${join(dir, 'policy.yaml')}:2:5`)
})

t.test('a broken user rule file is reported at its line and column', async (t) => {
  const dir = t.testdir({
    'acme.yaml': empRules.replace('    description: ACME employee ids', '   description: ACME employee ids'),
    'policy.yaml': 'overrides:\n  - id: pii.emial\n    action: flag\n'
  })
  const r = await sluice(t, ['scan', '--rules', dir], 'x')
  t.equal(r.code, 1)
  t.match(r.stderr, `${join(dir, 'acme.yaml')}:4:4: YAML syntax: `)
  t.match(r.stderr, `${join(dir, 'policy.yaml')}:2:9: override: unknown rule id "pii.emial" (did you mean "pii.email"?)`)
  t.equal(r.stdout, '', 'nothing is scanned with a half-loaded set')
})
