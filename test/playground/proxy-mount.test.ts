/**
 * @module test/playground/proxy-mount
 * The playground mounted on the proxy's own app, as the proxy would mount
 * it: under `/playground`, behind the proxy's metrics token (the proxy
 * keeps its SHA-256), with the proxy's rule paths. The proxy's hooks leave
 * it alone: its sanitizer does not redact the rule files' examples, its
 * error shape does not replace the playground's, and the stream is the
 * playground's own.
 */
import t from 'tap'
import { join } from 'node:path'
import { createProxy } from '../../src/proxy/create-proxy.js'
import { resolveProxyConfig } from '../../src/proxy/proxy-config.js'
import { sluicePlayground } from '../../src/playground/playground-plugin.js'
import { createLogSink, startDemo } from '../proxy/fixtures/harness.js'
import { json, parseEvents, ruleFile } from './fixtures.js'

t.test('mounted on the proxy behind its metrics token', async (t) => {
  const token = 'metrics-token-0123456789'
  const dir = t.testdir({ 'rules.yaml': ruleFile })
  const file = join(dir, 'rules.yaml')
  const { url: upstream } = await startDemo(t)
  const config = await resolveProxyConfig({ argv: ['--upstream', upstream, '--port', '0', '--no-watch', '--rules', file, '--no-default-rules', '--metrics-token', token], env: {} })
  const app = await createProxy(config, { logStream: createLogSink().stream })
  t.teardown(() => app.close())
  const tokenHash = config.metrics.tokenHash
  t.type(tokenHash, 'string')
  await app.register(sluicePlayground, { prefix: '/playground', rules: config.rules, defaultRules: config.defaultRules, tokenHash })

  const auth = { authorization: `Bearer ${token}`, host: 'sluice.internal:8080' }
  const remote = { remoteAddress: '10.0.0.7' }
  const refused = await app.inject({ url: '/playground/api/state', ...remote })
  t.equal(refused.statusCode, 401)
  t.match(refused.json(), { statusCode: 401, code: 'SLUICE_UNAUTHORIZED' }, 'the playground\'s error shape, not the proxy\'s')
  t.equal((await app.inject({ url: '/playground/', ...remote })).statusCode, 200, 'the page itself holds nothing and is served')

  const state = await app.inject({ url: '/playground/api/state', headers: auth, ...remote })
  t.equal(state.statusCode, 200, 'the token opens it from any address')
  t.same(state.json().files.map((f: { path: string }) => f.path), [file])

  const opened = await app.inject({ url: `/playground/api/file?path=${encodeURIComponent(file)}`, headers: auth, ...remote })
  t.match(opened.json().text, /write to jo@acme\.com today/, 'the rule file\'s examples are not redacted by the proxy')

  const res = await app.inject({
    method: 'POST',
    url: '/playground/api/stream',
    headers: { ...auth, ...json },
    payload: { rulesId: state.json().disk.rulesId, text: 'Mail jo@acme.com now.', mode: 'words', size: 1, rate: 0 },
    ...remote
  })
  const events = parseEvents(res.body)
  t.equal(events.map((e) => e.data.released ?? '').join(''), 'Mail [email] now.')
  t.equal((await app.inject('/readyz')).json().status, 'ready', 'the proxy\'s own routes are untouched')
})
