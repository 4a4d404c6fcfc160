import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { defaultRulesDir } from '../../src/rules/load-rules.js'
import { defaultProxyConfig, hashApiKey, resolveProxyConfig } from '../../src/proxy/proxy-config.js'
import * as kinds from '../../src/proxy/settings/kinds.js'
import { proxySettings } from '../../src/proxy/settings/table.js'
import type { ProxySetting } from '../../src/proxy/settings/table.js'

const upstream = 'http://127.0.0.1:9999'

t.test('uses the defaults when only the upstream is given', async (t) => {
  const config = await resolveProxyConfig({ argv: ['--upstream', upstream] })
  t.equal(config.upstream, upstream)
  t.equal(config.host, '127.0.0.1')
  t.equal(config.port, 8080)
  t.same(config.rules, [defaultRulesDir()])
  t.equal(config.retries, 2)
  t.equal(config.timeouts.idleMs, 30_000)
  t.equal(config.bodyLimit, 1024 * 1024)
  t.same(config.apiKeyHashes, [])
  t.equal(config.forwardClientAuth, false)
  t.same(config.input, defaultProxyConfig.input)
})

t.test('lets flags win over env and env over the config file', async (t) => {
  const dir = t.testdir({
    'proxy.yaml': 'upstream: http://file.example:1\nport: 7001\nhost: 0.0.0.0\nretries: 5\ntimeouts:\n  idleMs: 1234\n  headersMs: 99\n'
  })
  const file = join(dir, 'proxy.yaml')
  const fromFile = await resolveProxyConfig({ argv: ['--config', file] })
  t.equal(fromFile.upstream, 'http://file.example:1')
  t.equal(fromFile.port, 7001)
  t.equal(fromFile.timeouts.idleMs, 1234)
  t.equal(fromFile.timeouts.headersMs, 99)
  t.equal(fromFile.timeouts.connectMs, defaultProxyConfig.timeouts.connectMs, 'unset timeouts keep their defaults')

  const env = { SLUICE_PORT: '7002', SLUICE_UPSTREAM: 'http://env.example:2', SLUICE_CONFIG: file }
  const fromEnv = await resolveProxyConfig({ argv: [], env })
  t.equal(fromEnv.port, 7002)
  t.equal(fromEnv.upstream, 'http://env.example:2')
  t.equal(fromEnv.host, '0.0.0.0', 'the file still fills what env leaves out')

  const fromFlags = await resolveProxyConfig({ argv: ['--port', '7003', '--idle-timeout', '50'], env })
  t.equal(fromFlags.port, 7003)
  t.equal(fromFlags.timeouts.idleMs, 50)
  t.equal(fromFlags.retries, 5)
})

t.test('reads comma lists from env and keeps client keys only as hashes', async (t) => {
  const config = await resolveProxyConfig({
    argv: ['--upstream', upstream],
    env: { SLUICE_RULES: 'a.yaml, b.yaml', SLUICE_UPSTREAM_KEYS: 'up1,up2', SLUICE_API_KEYS: 'client-one,client-two' }
  })
  t.same(config.rules, ['a.yaml', 'b.yaml'])
  t.same(config.upstreamKeys, ['up1', 'up2'])
  t.same(config.apiKeyHashes, [hashApiKey('client-one'), hashApiKey('client-two')])
  t.notMatch(JSON.stringify(config), /client-one|client-two/, 'no plain client key in the resolved config')
})

t.test('accepts a JSON config file', async (t) => {
  const dir = t.testdir({ 'proxy.json': JSON.stringify({ upstream, apiKeys: ['k'], input: { reject: [] }, rateLimit: { max: 10, timeWindow: '1 minute' } }) })
  const config = await resolveProxyConfig({ argv: ['--config', join(dir, 'proxy.json')] })
  t.same(config.apiKeyHashes, [hashApiKey('k')])
  t.same(config.input.reject, [])
  t.same(config.input.redact, defaultProxyConfig.input.redact)
  t.same(config.rateLimit, { max: 10, timeWindow: '1 minute' })
})

t.test('names the field at fault in a config file', async (t) => {
  const dir = t.testdir({})
  const bad = join(dir, 'bad.yaml')
  writeFileSync(bad, 'upstream: http://x\nport: "eighty"\n')
  await t.rejects(resolveProxyConfig({ argv: ['--config', bad] }), { code: 'SLUICE_INVALID_OPTIONS', message: /port/ })
  writeFileSync(bad, 'upstream: http://x\ntimeouts:\n  idelMs: 5\n')
  await t.rejects(resolveProxyConfig({ argv: ['--config', bad] }), { message: /timeouts/ })
  writeFileSync(bad, 'upstream: [unclosed\n')
  await t.rejects(resolveProxyConfig({ argv: ['--config', bad] }), { message: /not valid YAML/ })
  await t.rejects(resolveProxyConfig({ argv: ['--config', join(dir, 'missing.yaml')] }), { message: /cannot read config file/ })
})

t.test('rejects a missing or malformed upstream and bad flag values', async (t) => {
  await t.rejects(resolveProxyConfig({ argv: [] }), { code: 'SLUICE_INVALID_OPTIONS', message: /upstream is required/ })
  await t.rejects(resolveProxyConfig({ argv: ['--upstream', 'ftp://x'] }), { message: /http\(s\) URL/ })
  await t.rejects(resolveProxyConfig({ argv: ['--upstream', 'http://u:p@x'] }), { message: /credentials/ })
  await t.rejects(resolveProxyConfig({ argv: ['--upstream', upstream, '--port', '70000'] }), { message: /--port/ })
  await t.rejects(resolveProxyConfig({ argv: ['--upstream', upstream, '--bogus'] }), { code: 'SLUICE_INVALID_OPTIONS' })
  await t.rejects(resolveProxyConfig({ argv: ['--upstream', upstream], env: { SLUICE_PORT: 'x' } }), { message: /SLUICE_PORT/ })
})

t.test('reads the client-facing limits, header grants, trustProxy and metrics exposure from every layer', async (t) => {
  const dir = t.testdir({
    'proxy.yaml': [
      'upstream: http://file.example:1',
      'clients:',
      '  - key: team-key',
      '    forwardHeaders: [OpenAI-Organization]',
      `  - keySha256: ${'ab'.repeat(32)}`,
      'forwardHeaders: [openai-project]',
      'trustProxy: [10.0.0.0/8]',
      'connections:',
      '  requestTimeoutMs: 5000',
      '  maxConnections: 10',
      'maxJsonDepth: 32',
      'metrics:',
      '  port: 9100',
      '  host: 0.0.0.0',
      ''
    ].join('\n')
  })
  const config = await resolveProxyConfig({ argv: ['--config', join(dir, 'proxy.yaml')] })
  t.same(config.clients, [
    { id: 'client-0', keyHash: hashApiKey('team-key'), forwardHeaders: ['openai-organization'] },
    { id: 'client-1', keyHash: 'ab'.repeat(32), forwardHeaders: [] }
  ])
  t.notMatch(JSON.stringify(config), /team-key/, 'client keys are kept as hashes')
  t.same(config.forwardHeaders, ['openai-project'])
  t.same(config.trustProxy, ['10.0.0.0/8'])
  t.equal(config.connections.requestTimeoutMs, 5000)
  t.equal(config.connections.headersTimeoutMs, 5000, 'the header deadline follows a shorter request timeout')
  t.equal(config.connections.maxConnections, 10)
  t.equal(config.connections.keepAliveTimeoutMs, defaultProxyConfig.connections.keepAliveTimeoutMs)
  t.ok(config.connections.socketIdleMs > config.timeouts.headersMs && config.connections.socketIdleMs > config.timeouts.idleMs, 'a silent socket outlasts the upstream timeouts')
  t.equal(config.maxJsonDepth, 32)
  t.same(config.metrics, { host: '0.0.0.0', port: 9100 })

  const env = { SLUICE_TRUST_PROXY: '2', SLUICE_FORWARD_HEADERS: 'anthropic-beta, x-goog-user-project', SLUICE_METRICS_TOKEN: 'a-token-of-16-chars' }
  const fromEnv = await resolveProxyConfig({ argv: ['--config', join(dir, 'proxy.yaml'), '--max-connections', '7', '--trust-proxy', 'true'], env })
  t.equal(fromEnv.trustProxy, true, 'the flag wins over env')
  t.same(fromEnv.forwardHeaders, ['anthropic-beta', 'x-goog-user-project'])
  t.equal(fromEnv.metrics.tokenHash, hashApiKey('a-token-of-16-chars'))
  t.equal(fromEnv.connections.maxConnections, 7)
  t.equal(fromEnv.connections.requestTimeoutMs, 5000, 'the file fills what flags leave out')
})

t.test('refuses inconsistent client-facing settings with the field at fault', async (t) => {
  const file = (body: string): string => join(t.testdir({ 'proxy.yaml': `upstream: http://x.example:1\n${body}` }), 'proxy.yaml')
  await t.rejects(resolveProxyConfig({ argv: ['--config', file('clients:\n  - forwardHeaders: [a]\n')] }), { message: /clients\[0\] needs exactly one of key or keySha256/ })
  await t.rejects(resolveProxyConfig({ argv: ['--config', file('clients:\n  - key: k\n    forwardHeaders: [x-api-key]\n')] }), { message: /clients\[0\]\.forwardHeaders: "x-api-key" is never taken/ })
  await t.rejects(resolveProxyConfig({ argv: ['--config', file('connections:\n  requestTimeoutMs: 1000\n  headersTimeoutMs: 2000\n')] }), { message: /headersTimeoutMs \(2000\) must not exceed/ })
  await t.rejects(resolveProxyConfig({ argv: ['--config', file('connections:\n  idle: 5\n')] }), { message: /connections/ })
  await t.rejects(resolveProxyConfig({ argv: ['--config', file('metrics:\n  token: short\n')] }), { message: /metrics\.token/ })
})

t.test('config file errors name the line and column of the field at fault', async (t) => {
  const dir = t.testdir({})
  const bad = join(dir, 'bad.yaml')
  const fails = async (body: string, message: string): Promise<void> => {
    writeFileSync(bad, body)
    await t.rejects(resolveProxyConfig({ argv: ['--config', bad] }), { code: 'SLUICE_INVALID_OPTIONS', message: `Invalid options: config file ${bad}:${message}` }, body)
  }
  await fails('upstream: http://x\nport: "eighty"\n', '2:7: port must be an integer (got "eighty")')
  await fails('upstream: http://x\ntimeouts:\n  idelMs: 5\n', '3:3: unknown field "timeouts.idelMs" (did you mean "idleMs"?)')
  await fails('upstream: http://x\nlogLevel: loud\n', '2:11: logLevel must be one of fatal, error, warn, info, debug, trace, silent (got "loud")')
  await fails('upstream: http://x\ninput:\n  rules:\n    pii.email: block\n', '4:16: input.rules.pii.email must be one of reject, redact, pseudonymize, flag, off (got "block")')
  // Line 3 is indented deeper than the key above it: the YAML error is on line 3, not line 1.
  await fails('upstream: http://x\nport: 8080\n  host: 0.0.0.0\n', '3:3: not valid YAML: this line is indented deeper than the key above it, so it reads as the rest of that value: check its indentation')
  await fails('upstream: [http://x\n', '1:11: not valid YAML: "[" is not closed: a flow list must end with "]"')

  writeFileSync(bad, 'upstream: http://x\nretries: -1\nlogLevel: loud\n')
  await t.rejects(resolveProxyConfig({ argv: ['--config', bad] }), {
    message: `config file ${bad}: 2 problems:\n  ${bad}:2:10: retries: expected integer to be greater or equal to 0 (got -1)\n  ${bad}:3:11: logLevel must be one of`
  })
})

t.test('JSON config file errors name the line and column too', async (t) => {
  const dir = t.testdir({})
  const bad = join(dir, 'bad.json')
  writeFileSync(bad, '{\n  "upstream": "http://x",\n  "port": "x"\n}\n')
  await t.rejects(resolveProxyConfig({ argv: ['--config', bad] }), { message: `config file ${bad}:3:11: port must be an integer (got "x")` })
  writeFileSync(bad, '{\n  "upstream": "http://x",\n}\n')
  await t.rejects(resolveProxyConfig({ argv: ['--config', bad] }), { message: `config file ${bad}:3:1: not valid JSON: ` })
})

t.test('defaultRules: on by default, off by flag, env or config file, and off needs rules', async (t) => {
  const base = ['--upstream', upstream]
  t.equal((await resolveProxyConfig({ argv: base })).defaultRules, true)
  t.equal((await resolveProxyConfig({ argv: [...base, '--rules', 'mine', '--no-default-rules'] })).defaultRules, false)
  t.equal((await resolveProxyConfig({ argv: [...base, '--rules', 'mine'], env: { SLUICE_DEFAULT_RULES: 'false' } })).defaultRules, false)
  const dir = t.testdir({ 'proxy.yaml': 'defaultRules: false\nrules: [mine]\n' })
  const fromFile = await resolveProxyConfig({ argv: [...base, '--config', join(dir, 'proxy.yaml')] })
  t.equal(fromFile.defaultRules, false)
  t.same(fromFile.rules, ['mine'])
  t.equal((await resolveProxyConfig({ argv: [...base, '--config', join(dir, 'proxy.yaml')], env: { SLUICE_DEFAULT_RULES: 'yes' } })).defaultRules, true, 'env wins over the file')
  await t.rejects(resolveProxyConfig({ argv: [...base, '--no-default-rules'] }), { code: 'SLUICE_INVALID_OPTIONS', message: /no rules are given/ })
  await t.rejects(resolveProxyConfig({ argv: base, env: { SLUICE_DEFAULT_RULES: 'maybe' } }), { message: /SLUICE_DEFAULT_RULES must be true or false/ })
})

/** A value for a setting's flag or variable that differs from its default. */
function sampleText (s: ProxySetting): string {
  const { parse } = s
  if (parse === kinds.httpUrl) return 'http://sample.example:1'
  if (parse === kinds.trustProxy) return '2'
  if (parse === kinds.headerNames) return 'openai-project'
  if (parse === kinds.inputDecisions) return 'pii.email=off'
  if (parse.form === 'switch') return String(s.default !== true)
  const schema = parse.schema as { type?: string, minimum?: number, anyOf?: Array<{ const?: unknown }> }
  if (schema.type === 'integer' || parse === kinds.rateLimit) return String((schema.minimum ?? 1) + 1)
  const word = schema.anyOf?.map((a) => a.const).find((c) => typeof c === 'string' && c !== s.default)
  if (typeof word === 'string') return word
  return 'sample-value-of-16-characters-or-more'
}

t.test('every flag and every variable of the settings table reaches the config', async (t) => {
  // Rules in a variable, so that --no-default-rules has some and --rules, a flag, wins over them.
  const env = { SLUICE_RULES: 'r' }
  const baseline = JSON.stringify(await resolveProxyConfig({ argv: ['--upstream', upstream], env }))
  // --config names a file: read in the tests above.
  for (const s of proxySettings.filter((s) => s.key !== 'config')) {
    const text = sampleText(s)
    if (s.flag !== undefined) {
      const argv = s.parse.form === 'switch' ? [`--${s.flag}`] : [`--${s.flag}`, text]
      const config = await resolveProxyConfig({ argv: ['--upstream', upstream, ...argv], env })
      t.not(JSON.stringify(config), baseline, `--${s.flag} changes the config`)
    }
    if (s.env !== undefined) {
      const config = await resolveProxyConfig({ argv: s.key === 'upstream' ? [] : ['--upstream', upstream], env: { ...env, [s.env]: text } })
      t.not(JSON.stringify(config), baseline, `${s.env} changes the config`)
    }
  }
})

t.test('every config-file key of the settings table reaches the config', async (t) => {
  const dir = t.testdir({ 'base.json': JSON.stringify({ rules: ['r'] }) })
  const baseline = JSON.stringify(await resolveProxyConfig({ argv: ['--upstream', upstream, '--config', join(dir, 'base.json')] }))
  for (const s of proxySettings) {
    if (s.file === undefined) continue
    // The file-only kinds have no text form: a sample object each.
    const fileOnly: Record<string, unknown> = {
      clients: [{ key: 'a-client-key' }],
      prices: { 'gpt-4o': { input: 2.5, output: 10 } },
      policies: [{ name: 'internal', clients: ['client-0'], actions: { secret: 'flag' } }]
    }
    const value = Object.hasOwn(fileOnly, s.key)
      ? fileOnly[s.key]
      : s.parse.form === 'switch' ? s.default !== true : s.parse.read(sampleText(s).split(','), s.file)
    const data: Record<string, unknown> = { rules: ['r'] }
    const path = s.file.split('.')
    let holder = data
    for (const segment of path.slice(0, -1)) holder = (holder[segment] ??= {}) as Record<string, unknown>
    holder[path.at(-1) ?? ''] = value
    const file = join(dir, `${s.key}.json`)
    writeFileSync(file, JSON.stringify(data))
    const config = await resolveProxyConfig({ argv: s.key === 'upstream' ? ['--config', file] : ['--upstream', upstream, '--config', file] })
    t.not(JSON.stringify(config), baseline, `${s.file} changes the config`)
  }
})

t.test('a flag wins over its variable and the variable over the file, for the settings that had no variable before', async (t) => {
  const dir = t.testdir({ 'proxy.yaml': 'upstream: http://x.example:1\ntimeouts:\n  connectMs: 111\nrateLimit: { max: 9, timeWindow: 1 hour }\nshutdownGraceMs: 5\n' })
  const argv = ['--config', join(dir, 'proxy.yaml')]
  const fromFile = await resolveProxyConfig({ argv })
  t.equal(fromFile.timeouts.connectMs, 111)
  t.same(fromFile.rateLimit, { max: 9, timeWindow: '1 hour' })
  const env = { SLUICE_CONNECT_TIMEOUT: '222', SLUICE_RATE_LIMIT: '8', SLUICE_SHUTDOWN_GRACE: '0' }
  const fromEnv = await resolveProxyConfig({ argv, env })
  t.equal(fromEnv.timeouts.connectMs, 222)
  t.same(fromEnv.rateLimit, { max: 8, timeWindow: '1 minute' })
  t.equal(fromEnv.shutdownGraceMs, 0, 'a grace of 0 closes at once: allowed')
  const fromFlags = await resolveProxyConfig({ argv: [...argv, '--connect-timeout', '333', '--rate-limit', '7'], env })
  t.equal(fromFlags.timeouts.connectMs, 333)
  t.same(fromFlags.rateLimit, { max: 7, timeWindow: '1 minute' })
})

t.test('input rules add up across the layers, over the default ones', async (t) => {
  const dir = t.testdir({ 'proxy.yaml': 'upstream: http://x.example:1\ninput:\n  rules:\n    pii.email: off\n    pii.phone: flag\n' })
  const config = await resolveProxyConfig({
    argv: ['--config', join(dir, 'proxy.yaml'), '--input-rule', 'pii.phone=reject'],
    env: { SLUICE_INPUT_RULES: 'secret.aws=redact, pii.email=flag' }
  })
  t.same(config.input.rules, { ...defaultProxyConfig.input.rules, 'pii.email': 'flag', 'pii.phone': 'reject', 'secret.aws': 'redact' })
  await t.rejects(resolveProxyConfig({ argv: ['--upstream', upstream, '--input-rule', 'pii.email=block'] }), { message: /--input-rule takes RULE_ID=DECISION .*got "pii.email=block"/ })
})

t.test('a positive integer refuses 0 from a flag, a variable or the file, naming where', async (t) => {
  const base = ['--upstream', upstream]
  await t.rejects(resolveProxyConfig({ argv: [...base, '--connect-timeout', '0'] }), { message: 'Invalid options: --connect-timeout must be a positive integer, got "0"' })
  await t.rejects(resolveProxyConfig({ argv: base, env: { SLUICE_BODY_LIMIT: '0' } }), { message: 'Invalid options: SLUICE_BODY_LIMIT must be a positive integer, got "0"' })
  const file = join(t.testdir({ 'proxy.yaml': 'retryBaseDelayMs: 0\n' }), 'proxy.yaml')
  await t.rejects(resolveProxyConfig({ argv: [...base, '--config', file] }), { message: `Invalid options: config file ${file}:1:19: retryBaseDelayMs: expected integer to be greater or equal to 1 (got 0)` })
  await t.rejects(resolveProxyConfig({ argv: [...base, '--port', '1e3'] }), { message: /--port must be an integer from 0 to 65535, got "1e3"/ })
  t.equal((await resolveProxyConfig({ argv: [...base, '--total-timeout', '0', '--max-requests-per-socket', '0'] })).timeouts.totalMs, 0, '0 is allowed where it means "no cap"')
})

t.test('a value the file would refuse is refused from a flag or a variable too, naming it', async (t) => {
  const base = ['--upstream', upstream]
  await t.rejects(resolveProxyConfig({ argv: [...base, '--forward-header', 'Authorization'] }), { message: /--forward-header: "Authorization" is never taken from the client/ })
  await t.rejects(resolveProxyConfig({ argv: base, env: { SLUICE_METRICS_TOKEN: 'short' } }), { message: /SLUICE_METRICS_TOKEN must be at least 16 characters/ })
  await t.rejects(resolveProxyConfig({ argv: [...base, '--log-level', 'loud'] }), { message: /--log-level must be one of fatal, error, warn, info, debug, trace, silent, got "loud"/ })
  await t.rejects(resolveProxyConfig({ argv: [], env: { SLUICE_UPSTREAM: 'ftp://x' } }), { message: /SLUICE_UPSTREAM must be an http\(s\) URL/ })
  const file = join(t.testdir({ 'proxy.yaml': 'upstream: http://x.example:1\nforwardHeaders:\n  - openai-project\n  - cookie\n' }), 'proxy.yaml')
  await t.rejects(resolveProxyConfig({ argv: ['--config', file] }), { message: `Invalid options: config file ${file}:4:5: forwardHeaders: "cookie" is never taken from the client (the proxy sets it or drops it)` })
})
