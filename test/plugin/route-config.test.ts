/**
 * Per-route `config.sluice` (src/plugin/route-config.ts): checked when the
 * route is added, merged over the plugin's settings once per config
 * object, each route given its own onSend hook with those settings, and
 * none at all for a route with `sluice: false`.
 */
import t from 'tap'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { sluice } from '../../src/plugin/index.js'
import { resolveOptions } from '../../src/plugin/options.js'
import { createRouteTable } from '../../src/plugin/route-config.js'
import type { SluiceRouteConfig } from '../../src/plugin/route-config.js'
import { createRuleSetFromSources } from '../../src/rules/load-rules.js'
import { routeRulesFile } from '../fixtures/plugin/streams.js'

const helloRules = createRuleSetFromSources([
  { id: 'test.hello', category: 'custom', description: 'hello', pattern: 'hello', boundary: 'word', action: 'redact', replacement: '[greeting]' }
])
const byeRules = createRuleSetFromSources([
  { id: 'test.bye', category: 'custom', description: 'bye', pattern: 'bye', boundary: 'word', action: 'redact', replacement: '[farewell]' }
])

/** The names of the onSend hooks each route has once added, by `METHOD url`, as onRoute hooks after the plugin's see them. */
function recordOnSend (app: FastifyInstance): Map<string, string[]> {
  const hooks = new Map<string, string[]>()
  app.addHook('onRoute', (route) => {
    const list = route.onSend === undefined ? [] : ([] as Array<{ name: string }>).concat(route.onSend)
    hooks.set(`${String(route.method)} ${route.url}`, list.map((hook) => hook.name))
  })
  return hooks
}

/** The app with the plugin (awaited, so every route passes its onRoute hook) and the given routes. */
async function build (t: Test, routes: (app: FastifyInstance) => void): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(sluice, { rules: helloRules })
  routes(app)
  await app.ready()
  return app
}

t.test('a route with sluice: false gets no onSend hook at all; every other route gets one, before its own', async (t) => {
  let hooks = new Map<string, string[]>()
  const app = await build(t, (app) => {
    hooks = recordOnSend(app)
    app.get('/on', async () => 'hello')
    app.get('/off', { config: { sluice: false } }, async () => 'hello')
    app.get('/tuned', { config: { sluice: { binary: 'pass' } } }, async () => 'hello')
    app.post('/own', { onSend: function ownHook (_request, _reply, payload, done) { done(null, payload) } }, async () => 'hello')
    app.post('/own-off', { config: { sluice: false }, onSend: [function ownHook (_request, _reply, payload, done) { done(null, payload) }] }, async () => 'hello')
  })
  t.same(hooks.get('GET /on'), ['sluiceOnSend'])
  t.same(hooks.get('GET /tuned'), ['sluiceOnSend'])
  t.same(hooks.get('GET /off'), [], 'sluice: false: no hook')
  t.same(hooks.get('HEAD /off'), ['headRouteOnSendHandler'], 'nor on its HEAD twin, which has fastify\'s only')
  t.same(hooks.get('HEAD /on'), ['sluiceOnSend', 'headRouteOnSendHandler'], 'the HEAD twin\'s hook runs after the body is sanitized')
  t.same(hooks.get('POST /own'), ['sluiceOnSend', 'ownHook'], 'first, before the route\'s own hooks')
  t.same(hooks.get('POST /own-off'), ['ownHook'], 'the route\'s own hooks are kept as they are')

  // The same seen from the router: what fastify will run for each route.
  const printed = app.printRoutes({ includeHooks: true, commonPrefix: false })
  const hooksOf = (line: string): string => {
    const lines = printed.split('\n')
    const at = lines.findIndex((l) => l.includes(line))
    const next = lines[at + 1] ?? ''
    return next.includes('(onSend)') ? next : ''
  }
  t.match(hooksOf('/on (GET)'), 'sluiceOnSend')
  t.notMatch(hooksOf('/off (GET)'), 'sluiceOnSend')
  t.notMatch(hooksOf('/off (HEAD)'), 'sluiceOnSend')
  t.notMatch(hooksOf('/own-off (POST)'), 'sluiceOnSend')
  t.equal(printed.split('sluiceOnSend').length - 1, 5, 'GET and HEAD /on, GET and HEAD /tuned, POST /own: five routes, no more')

  t.equal((await app.inject('/on')).body, '[greeting]')
  t.equal((await app.inject('/off')).body, 'hello')
  t.equal((await app.inject({ method: 'POST', url: '/own-off' })).body, 'hello')
})

t.test('no hook is attached for sluice: false whatever the route\'s method, prefix or encapsulation', async (t) => {
  let hooks = new Map<string, string[]>()
  await build(t, (app) => {
    hooks = recordOnSend(app)
    void app.register(async (child) => {
      child.route({ method: ['GET', 'POST'], url: '/off', config: { sluice: false }, handler: async () => 'hello' })
      child.route({ method: ['GET', 'POST'], url: '/on', handler: async () => 'hello' })
    }, { prefix: '/api' })
  })
  t.same(hooks.get('GET,POST /api/off'), [])
  t.same(hooks.get('HEAD /api/off'), ['headRouteOnSendHandler'])
  t.same(hooks.get('GET,POST /api/on'), ['sluiceOnSend'])
})

t.test('the route\'s own onSend hooks see the sanitized payload, as with an instance hook', async (t) => {
  const seen: unknown[] = []
  const app = await build(t, (app) => {
    app.get('/json', { onSend: (_request, _reply, payload, done) => { seen.push(payload); done(null, payload) } }, async () => ({ text: 'hello there' }))
  })
  t.same((await app.inject('/json')).json(), { text: '[greeting] there' })
  t.same(seen, ['{"text":"[greeting] there"}'])
})

t.test('a HEAD twin answers with the headers of the sanitized body, or the refusal', async (t) => {
  const app = await build(t, (app) => {
    app.get('/json', async () => ({ text: 'hello there' }))
    app.get('/octets', async (_request, reply) => reply.type('application/octet-stream').send(Buffer.from('hello')))
    app.get('/sse', async (_request, reply) => reply.type('text/event-stream').send(Readable.from(['data: {"text":"hello"}\n\n'])))
  })
  const get = await app.inject('/json')
  const head = await app.inject({ method: 'HEAD', url: '/json' })
  t.equal(head.statusCode, 200)
  t.equal(head.body, '')
  t.equal(head.headers['content-length'], String(get.rawPayload.length), 'the length of the body GET sends')
  t.equal(head.headers['content-type'], get.headers['content-type'])
  t.equal((await app.inject({ method: 'HEAD', url: '/octets' })).statusCode, 502, 'a binary type is refused on HEAD too')
  const sse = await app.inject({ method: 'HEAD', url: '/sse' })
  t.equal(sse.statusCode, 200)
  t.match(sse.headers['content-type'], /^text\/event-stream; charset=utf-8/)
})

t.test('a route\'s config overrides the plugin\'s options for that route only', async (t) => {
  const app = await build(t, (app) => {
    app.get('/bye', { config: { sluice: { rules: byeRules } } }, async () => 'hello and bye')
    app.get('/binary', { config: { sluice: { binary: 'pass' } } }, async (_request, reply) => reply.type('image/png').send(Buffer.from('hello')))
    app.get('/default', async () => 'hello and bye')
    app.get('/default-binary', async (_request, reply) => reply.type('image/png').send(Buffer.from('hello')))
  })
  t.equal((await app.inject('/bye')).body, 'hello and [farewell]')
  t.equal((await app.inject('/default')).body, '[greeting] and bye')
  t.equal((await app.inject('/binary')).body, 'hello')
  t.equal((await app.inject('/default-binary')).statusCode, 502)
})

t.test('settings are merged once per config object, over the plugin\'s', async (t) => {
  const onCut = (): void => {}
  const settings = resolveOptions({ onCut, binary: 'refuse', contentTypes: ['text/event-stream'] }, () => helloRules, undefined)
  const routes = createRouteTable(settings)
  t.equal(routes.of(undefined), settings, 'a route without config runs with the plugin\'s settings')
  t.equal(routes.of(false), settings, 'reply.sanitize() on a route with sluice: false too')
  t.equal(routes.add(undefined, '/plain'), settings)
  t.equal(routes.add(false, '/off'), undefined, 'sluice: false: nothing to attach')

  const onFinding = (): void => {}
  const cfg: SluiceRouteConfig = { rules: byeRules, binary: 'pass', contentTypes: ['Application/X-Acme'], protocol: 'ndjson', onFinding }
  const merged = routes.add(cfg, '/tuned')
  t.equal(routes.add(cfg, '/tuned-too'), merged, 'one config object, one merge (its HEAD twin and other routes share it)')
  t.equal(routes.of(cfg), merged, 'the same object a request of the route finds')
  t.not(merged, settings)
  t.equal(merged?.rules(), byeRules)
  t.match(merged, { binary: 'pass', contentTypes: ['application/x-acme'], protocol: 'ndjson', onFinding, onCut })
  t.equal(merged?.scannerOptions, settings.scannerOptions, 'what a route cannot override is the plugin\'s')
  t.equal(settings.binary, 'refuse', 'the plugin\'s settings are left as they were')

  const getter = (): typeof byeRules => byeRules
  t.equal(routes.of({ rules: getter }).rules, getter, 'a rules getter is used as given')
  t.equal(routes.of({ binary: 'pass' }).rules, settings.rules, 'no rules of its own: the plugin\'s, swaps included')
})

t.test('rules given as paths load at ready, once per distinct list', async (t) => {
  const settings = resolveOptions({}, () => helloRules, undefined)
  const routes = createRouteTable(settings)
  const a = routes.add({ rules: routeRulesFile, defaultRules: false }, '/a')
  const b = routes.add({ rules: routeRulesFile, defaultRules: false }, '/b')
  t.throws(() => a?.rules(), { code: 'SLUICE_INVALID_OPTIONS' }, 'not loaded yet')
  await routes.loadRules()
  const loaded = a?.rules()
  t.same(loaded?.rules.map((r) => r.id), ['test.wombat'])
  t.equal(b?.rules(), loaded, 'one load for two routes with the same list')
  const unseen = routes.of({ rules: routeRulesFile })
  t.throws(() => unseen.rules(), { code: 'SLUICE_INVALID_OPTIONS', message: /register the sluice plugin before the route/ }, 'a route never added is not loaded')
})

t.test('invalid per-route config fails when the route is added', async (t) => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['an unknown key', { rulez: helloRules }, /route \/x: unknown route option "rulez"/],
    ['a plugin-only option', { maxBodySize: 10 }, /unknown route option "maxBodySize"/],
    ['true', true, /"config.sluice" must be false or an object/],
    ['null', null, /"config.sluice" must be false or an object/],
    ['a list', [], /"config.sluice" must be false or an object/],
    ['a string', 'off', /"config.sluice" must be false or an object/],
    ['onFinding not a function', { onFinding: true }, /"onFinding" must be a function/],
    ['onCut not a function', { onCut: 'x' }, /"onCut" must be a function/],
    ['contentTypes not a list', { contentTypes: 'text/event-stream' }, /"contentTypes"/],
    ['binary neither refuse nor pass', { binary: true }, /"binary" must be "refuse" or "pass"/],
    ['rules of the wrong type', { rules: 42 }, /"rules" must be a rule set/],
    ['an unknown protocol', { protocol: 'smoke-signals' }, /"protocol"/],
    ['defaultRules without rules', { defaultRules: false }, /route \/x: "defaultRules" needs "rules" given as paths/],
    ['defaultRules with a rule set', { rules: helloRules, defaultRules: true }, /"defaultRules" applies to "rules" given as paths/]
  ]
  for (const [name, sluiceConfig, message] of cases) {
    const app = Fastify()
    await app.register(sluice, { rules: helloRules })
    t.throws(() => app.get('/x', { config: { sluice: sluiceConfig as never } }, async () => 'x'), { code: 'SLUICE_INVALID_OPTIONS', message }, name)
    await app.close()
  }
})

t.test('a per-route rules path that does not load fails startup, not a request', async (t) => {
  const app = Fastify()
  await app.register(sluice, { rules: helloRules })
  app.get('/x', { config: { sluice: { rules: join(t.testdirName, 'missing.yaml') } } }, async () => 'x')
  await t.rejects(async () => await app.ready(), { code: 'SLUICE_RULE_FILE' })
  await app.close()
})
