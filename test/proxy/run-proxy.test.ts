/**
 * @module test/proxy/run-proxy
 * The process shell of `sluice proxy` and `sluice demo`, started as a user
 * starts them (`node bin/sluice.js …`, which loads dist/): the startup log
 * (one line per record, none empty) and the warnings about settings that
 * make a real provider refuse every request or make pseudonyms change at
 * every restart. Each process is stopped with SIGTERM, so its whole output
 * is read once it has exited.
 */
import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import t from 'tap'
import type { Test } from 'tap'
import { projectRoot, spawnNode } from './fixtures/harness.js'

interface Run {
  code: number | string
  records: Array<Record<string, unknown>>
  stdout: string
  stderr: string
}

// No NODE_OPTIONS (tap's loader would slow the child for nothing); an empty
// variable is an unset one for the proxy's config and for SLUICE_HMAC_KEY.
const unset = { NODE_OPTIONS: '', SLUICE_HMAC_KEY: '', SLUICE_UPSTREAM_KEYS: '', SLUICE_FORWARD_CLIENT_AUTH: '', SLUICE_CONFIG: '', SLUICE_LOG_LEVEL: '' }

/** Starts `sluice ARGS`, waits for `ready`, stops it with SIGTERM and returns everything it wrote. */
async function runUntilReady (t: Test, args: string[], ready: RegExp, env: Record<string, string> = {}): Promise<Run> {
  const child = await spawnNode(t, ['bin/sluice.js', ...args], ready, { ...unset, ...env })
  child.child.kill('SIGTERM')
  const code = await child.exited
  const stdout = child.stdout()
  // The demo writes its curl lines to stdout between the log records.
  const records = stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>)
  return { code, records, stdout, stderr: child.stderr() }
}

function proxy (t: Test, extra: string[], env: Record<string, string> = {}): Promise<Run> {
  return runUntilReady(t, ['proxy', '--upstream', 'https://api.example.com', '--port', '0', '--no-watch', ...extra], /sluice proxy listening on/, env)
}

/** The `warning` field of each warn record, sorted. */
function warnings (run: Run): string[] {
  return run.records.filter((r) => r.level === 40).map((r) => String(r.warning)).sort()
}

t.test('sluice proxy warns, in its log and on stderr, when requests would leave without a key and pseudonyms would change at restart', async (t) => {
  const run = await proxy(t, [])
  t.equal(run.code, 0, run.stderr)
  t.same(warnings(run), ['no_hmac_key', 'no_upstream_credentials'])
  const credentials = run.records.find((r) => r.warning === 'no_upstream_credentials')
  t.match(credentials?.msg, /without credentials/)
  t.match(credentials?.msg, /https:\/\/api\.example\.com/, 'names the upstream')
  t.match(credentials?.msg, /401/, 'says what the provider will answer')
  t.match(credentials?.msg, /SLUICE_UPSTREAM_KEYS.*--forward-client-auth/, 'says how to fix it')
  t.match(run.records.find((r) => r.warning === 'no_hmac_key')?.msg, /SLUICE_HMAC_KEY is not set: pseudonyms and audit digests .* change at every restart/)
  const human = run.stderr.split('\n').filter((line) => line.startsWith('sluice proxy: warning: '))
  t.equal(human.length, 2, `two warnings for a person on stderr: ${run.stderr}`)
  t.match(human[0], /no upstream key/)
  t.match(human[1], /SLUICE_HMAC_KEY is not set/)
})

t.test('sluice proxy with an upstream key and SLUICE_HMAC_KEY warns of nothing, and logs one startup line and no empty record', async (t) => {
  const key = 'sk-test-upstream-0123456789abcdef'
  const run = await proxy(t, [], { SLUICE_UPSTREAM_KEYS: key, SLUICE_HMAC_KEY: 'run-proxy-test-key' })
  t.equal(run.code, 0, run.stderr)
  t.same(warnings(run), [])
  t.equal(run.stderr, '')
  t.notOk(run.stdout.includes(key), 'the upstream key is never logged')
  t.ok(run.records.length >= 3, 'startup, shutdown and closed lines')
  t.same(run.records.filter((r) => typeof r.msg !== 'string' || r.msg.trim() === ''), [], 'every record has a message')
  const startup = run.records.filter((r) => String(r.msg).startsWith('sluice proxy listening on'))
  t.equal(startup.length, 1, 'one startup line')
  t.match(startup[0]?.msg, /^sluice proxy listening on http:\/\/127\.0\.0\.1:\d+, forwarding to https:\/\/api\.example\.com; \d+ rules; no client keys required; 1 upstream key\(s\)$/)
  t.equal(run.records[0], startup[0], 'it is the first record')
})

t.test('sluice proxy takes --forward-client-auth as upstream credentials; the HMAC warning stands on its own', async (t) => {
  const run = await proxy(t, ['--forward-client-auth'])
  t.equal(run.code, 0, run.stderr)
  t.same(warnings(run), ['no_hmac_key'])
  t.match(run.stderr, /^sluice proxy: warning: SLUICE_HMAC_KEY is not set/)
  t.notMatch(run.stderr, /no upstream key/)
  t.match(run.records[0]?.msg, /; client's own key forwarded$/, 'the startup line says where credentials come from')
})

t.test('sluice demo does not warn about upstream keys (its upstream needs none), only about SLUICE_HMAC_KEY', async (t) => {
  const run = await runUntilReady(t, ['demo', '--port', '0', '--no-watch'], /Ctrl-C to stop/)
  t.equal(run.code, 0, run.stderr)
  t.same(warnings(run), ['no_hmac_key'])
  t.same(run.records.filter((r) => typeof r.msg !== 'string' || r.msg.trim() === ''), [], 'every record has a message')
  t.equal(run.stderr, '', 'nothing for a person to act on: the demo runs as it is')
  const quiet = await runUntilReady(t, ['demo', '--port', '0', '--no-watch'], /Ctrl-C to stop/, { SLUICE_HMAC_KEY: 'k' })
  t.same(warnings(quiet), [], 'no warning at all with a key')
})

t.test('sluice proxy does not load the demo upstream: runDemo imports it when it runs', async (t) => {
  // The static imports (and re-exports) of run-proxy.ts, followed through the source tree; `import type` is erased.
  const loaded = new Set<string>()
  const follow = (file: string): void => {
    if (loaded.has(file)) return
    loaded.add(file)
    for (const m of readFileSync(file, 'utf8').matchAll(/^(?:import|export) (?!type )[^'"]*?from '(\.[^']+)\.js'/gm)) {
      follow(resolve(dirname(file), `${m[1] ?? ''}.ts`))
    }
  }
  follow(join(projectRoot, 'src', 'proxy', 'run-proxy.ts'))
  t.ok(loaded.has(join(projectRoot, 'src', 'proxy', 'create-proxy.ts')), 'the walk follows the imports')
  t.same([...loaded].filter((file) => file.includes(`${join('src', 'demo')}`)), [], 'no module of src/demo')
})
