/**
 * What the plugin adds to fastify's objects (src/plugin/decorators.ts):
 * `fastify.sluice`, `reply.sanitize()` and the reply's state, each
 * declared with a `decorate*` call when the plugin registers, the state
 * null until a route sanitizes a stream itself.
 */
import t from 'tap'
import { Readable } from 'node:stream'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { sluice } from '../../src/plugin/index.js'
import { kSanitizedStream } from '../../src/plugin/symbols.js'
import { createRuleSetFromSources } from '../../src/rules/load-rules.js'

const helloRules = createRuleSetFromSources([
  { id: 'test.hello', category: 'custom', description: 'hello', pattern: 'hello', boundary: 'word', action: 'redact', replacement: '[greeting]' }
])

async function build (t: Test, routes: (app: FastifyInstance) => void = () => {}): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(sluice, { rules: helloRules })
  routes(app)
  await app.ready()
  return app
}

t.test('the decorators are declared when the plugin registers', async (t) => {
  const bare = Fastify()
  t.notOk(bare.hasDecorator('sluice'), 'none without the plugin')
  t.notOk(bare.hasReplyDecorator('sanitize'))
  t.notOk(bare.hasReplyDecorator(kSanitizedStream))
  await bare.close()

  const app = await build(t)
  t.ok(app.hasDecorator('sluice'), 'fastify.sluice')
  t.ok(app.hasReplyDecorator('sanitize'), 'reply.sanitize')
  t.ok(app.hasReplyDecorator(kSanitizedStream), 'the reply state, under its symbol')
  t.notOk(app.hasRequestDecorator(kSanitizedStream), 'the state is the reply\'s, not the request\'s')
  t.type(app.sluice.scan, 'function')
  t.equal(app.sluice.ruleSet, helloRules)
})

t.test('the decorators reach the app around the plugin and every encapsulated child', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  let childSees = false
  await app.register(sluice, { rules: helloRules })
  await app.register(async (child) => {
    childSees = child.hasDecorator('sluice') && child.hasReplyDecorator('sanitize') && child.hasReplyDecorator(kSanitizedStream)
  })
  await app.ready()
  t.ok(app.hasDecorator('sluice'), 'fastify-plugin: declared on the instance it is registered on')
  t.ok(childSees)
})

t.test('the reply state is null until reply.sanitize(), then the stream it returned', async (t) => {
  const states: Array<{ before: unknown, after: unknown, returned: unknown }> = []
  const app = await build(t, (app) => {
    app.get('/explicit', async (_request, reply) => {
      const before = reply[kSanitizedStream]
      void reply.type('text/event-stream')
      const returned = reply.sanitize(Readable.from(['data: {"text":"hello"}\n\n']))
      states.push({ before, after: reply[kSanitizedStream], returned })
      return returned
    })
    app.get('/plain', async (_request, reply) => {
      states.push({ before: reply[kSanitizedStream], after: null, returned: null })
      return 'hello'
    })
  })
  const res = await app.inject('/explicit')
  t.match(res.body, '[greeting]')
  t.notMatch(res.body, 'hello')
  t.equal(states[0]?.before, null)
  t.ok(states[0]?.returned instanceof Readable)
  t.equal(states[0]?.after, states[0]?.returned)
  t.equal((await app.inject('/plain')).body, '[greeting]')
  t.equal(states[1]?.before, null, 'each reply starts with its own null state')
})

t.test('the reply state is declared, not added on the fly', async (t) => {
  const app = await build(t, (app) => {
    app.get('/plain', async (_request, reply) => {
      // Declared by decorateReply: present (null) on every reply before any
      // code sets it, so fastify's replies keep one shape.
      return { has: kSanitizedStream in reply, value: reply[kSanitizedStream] }
    })
  })
  t.same((await app.inject('/plain')).json(), { has: true, value: null })
})
