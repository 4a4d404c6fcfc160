/**
 * @module plugin
 * The Fastify plugin: `app.register(sluice, options)` and every answer a
 * route sends is sanitized, deny by default: whatever its status, payload
 * type, media type, charset or content encoding, a body is scanned (event
 * streams on the fly, everything else whole, see on-send.ts) or refused
 * with a coded error; only `config: { sluice: false }` opts a route out.
 *
 * Modelled on @fastify/compress: options checked and merged once at
 * register time (options.ts); each route added gets its own onSend hook,
 * built with its `config.sluice` merged over those options
 * (route-config.ts), and a route with `sluice: false` gets none; the reply
 * state lives in declared decorators (decorators.ts, symbols.ts).
 *
 * A route added before the plugin runs (the plugin registered after
 * routes, or `register` not awaited before them) never reaches onRoute,
 * and would go out unscanned. So when routes already exist at register
 * time, one hook on the whole instance sanitizes every route instead,
 * looking its settings up by its `config.sluice`: the same behaviour, at
 * the cost of one call per response on routes that opted out.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { RuleSet } from '../rules/rule-set.js'
import { openAuditLog } from './audit.js'
import { decorateSluice } from './decorators.js'
import { createOnSend, sendSanitized } from './on-send.js'
import { checkOptions, resolveOptions } from './options.js'
import type { SluicePluginOptions } from './options.js'
import { createRouteTable } from './route-config.js'
import { resolveRules } from './rules.js'

export type { SluicePluginOptions, StreamOutcome } from './options.js'
export type { SluiceRouteConfig } from './route-config.js'
export type { SluiceDecorator } from './decorators.js'

/** What `printRoutes()` says of a router without routes (find-my-way's prettyPrint). */
const kEmptyRouter = '(empty tree)'

/** A route's own hooks of one kind as a list, whichever way they were given (one, a list or none). */
function listOf<T> (hooks: T | readonly T[] | undefined): T[] {
  const list: T[] = []
  return hooks === undefined ? list : list.concat(hooks)
}

async function sluicePlugin (fastify: FastifyInstance, opts: SluicePluginOptions): Promise<void> {
  checkOptions(opts)
  let rules = await resolveRules(opts.rules, opts.defaultRules)
  // Stable, so the settings can hold it: reads `rules` as `setRuleSet` left it.
  const settings = resolveOptions(opts, () => rules(), openAuditLog(fastify, opts.audit))
  const routes = createRouteTable(settings)
  decorateSluice(fastify, settings, routes, (ruleSet: RuleSet) => { rules = () => ruleSet })

  // Read with the onRoute hook added in the same tick: every route added
  // later passes it, every route added earlier is in the router now.
  const routesBefore = fastify.printRoutes().trim() !== kEmptyRouter
  fastify.addHook('onRoute', function sluiceOnRoute (routeOptions) {
    const route = routes.add(routeOptions.config?.sluice, routeOptions.url)
    if (route === undefined || routesBefore) return
    // First among the route's own hooks, as an instance hook would run:
    // before them, and before the one fastify gives a GET route's HEAD
    // twin, which drains the body and sets content-length from it.
    routeOptions.onSend = [createOnSend(route), ...listOf(routeOptions.onSend)]
  })
  fastify.addHook('onReady', async function loadRouteRules () { await routes.loadRules() })

  if (routesBefore) {
    fastify.addHook('onSend', function sluiceOnSendAnyRoute (request, reply, payload, done) {
      const cfg = request.routeOptions.config.sluice
      if (cfg === false) done(null, payload)
      else sendSanitized(routes.of(cfg), request, reply, payload, done)
    })
  }
}

/**
 * The Sluice Fastify plugin.
 * @example
 * import Fastify from 'fastify'
 * import sluice from 'sluice'
 * const app = Fastify()
 * await app.register(sluice, { audit: './audit.jsonl' })
 */
export const sluice = fp(sluicePlugin, { fastify: '5.x', name: 'sluice' })
