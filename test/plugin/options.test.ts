/**
 * The plugin's options (src/plugin/options.ts): every bad value fails at
 * register time with SLUICE_INVALID_OPTIONS, before a rule file is read or
 * an audit file opened, and the settings the hooks read are the options
 * with their defaults, merged once.
 */
import t from 'tap'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import Fastify from 'fastify'
import type { Test } from 'tap'
import { sluice } from '../../src/plugin/index.js'
import type { SluicePluginOptions } from '../../src/plugin/index.js'
import { checkOptions, resolveOptions } from '../../src/plugin/options.js'
import { createRuleSetFromSources } from '../../src/rules/load-rules.js'
import { resolveHmacKey } from '../../src/scanner/digest.js'
import { createAuditLog } from '../../src/audit/create-audit-log.js'

const helloRules = createRuleSetFromSources([
  { id: 'test.hello', category: 'custom', description: 'hello', pattern: 'hello', boundary: 'word', action: 'redact', replacement: '[greeting]' }
])

/** Registers the plugin with `opts` and expects startup to fail with SLUICE_INVALID_OPTIONS and `message`. */
async function rejectsAtRegister (t: Test, name: string, opts: Record<string, unknown>, message: RegExp): Promise<void> {
  const app = Fastify()
  app.register(sluice, opts as SluicePluginOptions)
  await t.rejects(async () => await app.ready(), { code: 'SLUICE_INVALID_OPTIONS', statusCode: 500, message }, name)
  await app.close()
}

t.test('each bad option fails at register time with SLUICE_INVALID_OPTIONS', async (t) => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an unknown option', { rulez: 'x' }, /unknown option "rulez"/],
    ['onFinding not a function', { onFinding: 'log it' }, /"onFinding" must be a function/],
    ['onCut not a function', { onCut: 42 }, /"onCut" must be a function/],
    ['onStreamEnd not a function', { onStreamEnd: {} }, /"onStreamEnd" must be a function/],
    ['contentTypes not a list', { contentTypes: 'text/event-stream' }, /"contentTypes" must be an array of strings/],
    ['contentTypes with a non-string', { contentTypes: ['text/event-stream', 7] }, /"contentTypes" must be an array of strings/],
    ['binary neither refuse nor pass', { binary: 'allow' }, /"binary" must be "refuse" or "pass"/],
    ['maxBodySize zero', { maxBodySize: 0 }, /"maxBodySize" must be a positive integer/],
    ['maxBodySize not an integer', { maxBodySize: 1.5 }, /"maxBodySize" must be a positive integer/],
    ['maxBodySize a string', { maxBodySize: '1024' }, /"maxBodySize" must be a positive integer/],
    ['maxEventSize zero', { maxEventSize: 0 }, /"maxEventSize" must be a positive integer/],
    ['maxEventSize negative', { maxEventSize: -1 }, /"maxEventSize" must be a positive integer/],
    ['maxEventSize infinite', { maxEventSize: Infinity }, /"maxEventSize" must be a positive integer/],
    ['coalesce not a boolean', { coalesce: 'yes' }, /"coalesce" must be a boolean/],
    ['hmacKey not a string', { hmacKey: 7 }, /"hmacKey" must be a non-empty string/],
    ['hmacKey empty', { hmacKey: '' }, /"hmacKey" must be a non-empty string/],
    ['audit of the wrong type', { audit: 42 }, /"audit" must be a file path/],
    ['audit true', { audit: true }, /"audit" must be a file path/],
    ['audit options without a destination', { audit: { chainKey: 'k' } }, /"audit" must be a file path/],
    ['rules of the wrong type', { rules: 42 }, /"rules" must be a rule set, rule file path\(s\) or a function/],
    ['rules a list with a non-string', { rules: ['a.yaml', 42] }, /"rules" must be a rule set/],
    ['rules an object that is no rule set', { rules: { rules: [] } }, /"rules" must be a rule set/],
    ['defaultRules with a rule set', { rules: helloRules, defaultRules: false }, /"defaultRules" applies to "rules" given as paths/],
    ['defaultRules with a getter', { rules: () => helloRules, defaultRules: true }, /"defaultRules" applies to "rules" given as paths/],
    ['defaultRules not a boolean', { rules: 'x.yaml', defaultRules: 'no' }, /"defaultRules" must be a boolean/],
    ['defaultRules false without rules', { rules: undefined, defaultRules: false }, /"defaultRules" needs "rules" given as paths/]
  ]
  for (const [name, opts, message] of cases) {
    await rejectsAtRegister(t, name, { rules: helloRules, ...opts }, message)
  }
})

t.test('options are checked before anything is loaded or opened', async (t) => {
  const dir = t.testdir()
  const audit = join(dir, 'audit.jsonl')
  // A rules path that does not exist would fail with SLUICE_RULE_FILE if it were read first.
  await rejectsAtRegister(t, 'bad option with a missing rules path', { rules: join(dir, 'missing.yaml'), audit, coalesce: 1 }, /"coalesce"/)
  t.notOk(existsSync(audit), 'no audit file was opened')
})

t.test('a rules path that does not load fails startup', async (t) => {
  const app = Fastify()
  app.register(sluice, { rules: join(t.testdirName, 'no-such-rules') })
  await t.rejects(async () => await app.ready(), { code: 'SLUICE_RULE_FILE' })
  await app.close()
})

t.test('valid options pass, with fastify\'s own register options', async (t) => {
  const audit = createAuditLog({ enabled: false })
  t.teardown(() => audit.close())
  const valid: SluicePluginOptions[] = [
    {},
    { rules: helloRules },
    { rules: () => helloRules },
    { defaultRules: true },
    { contentTypes: [], binary: 'pass', maxBodySize: 1, maxEventSize: 1, coalesce: false, hmacKey: 'k' },
    { audit: false },
    { audit },
    { onFinding: () => {}, onCut: () => {}, onStreamEnd: () => {} }
  ]
  for (const opts of valid) t.doesNotThrow(() => { checkOptions(opts) }, JSON.stringify(Object.keys(opts)))
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(sluice, { rules: helloRules, prefix: '/api', logLevel: 'warn' } as SluicePluginOptions)
  await app.ready()
  t.ok(app.hasDecorator('sluice'))
})

t.test('the settings are the options with their defaults, merged once', async (t) => {
  const rules = (): typeof helloRules => helloRules
  const defaults = resolveOptions({}, rules, undefined)
  t.equal(defaults.rules, rules, 'the rules getter is kept as given')
  t.same(defaults.contentTypes, ['text/event-stream', 'application/x-ndjson', 'application/json'])
  t.equal(defaults.binary, 'refuse')
  t.equal(defaults.maxBodySize, 8 * 1024 * 1024)
  t.equal(defaults.maxEventSize, undefined, 'the stream\'s own default applies')
  t.equal(defaults.coalesce, undefined, 'the stream\'s own default applies')
  t.equal(defaults.defaultRules, true)
  t.equal(defaults.protocol, undefined, 'each body says its protocol, unless a route says otherwise')
  t.equal(defaults.audit, undefined)

  const onFinding = (): void => {}
  const set = resolveOptions({
    contentTypes: ['Application/VND.Acme-Events; charset=utf-8'],
    binary: 'pass',
    maxBodySize: 10,
    maxEventSize: 20,
    coalesce: false,
    hmacKey: 'a key',
    defaultRules: false,
    onFinding
  }, rules, undefined)
  t.same(set.contentTypes, ['application/vnd.acme-events'], 'media types lower-cased, parameters dropped, once')
  t.match(set, { binary: 'pass', maxBodySize: 10, maxEventSize: 20, coalesce: false, defaultRules: false })
  t.equal(set.onFinding, onFinding)
  t.same(set.scannerOptions.hmacKey, resolveHmacKey('a key'), 'the HMAC key is resolved once')
})
