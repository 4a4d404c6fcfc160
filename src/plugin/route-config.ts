/**
 * @module plugin/route-config
 * A route's `config: { sluice: … }`: `false` opts the route out (no hook is
 * attached to it), an object overrides the plugin's options for that route.
 * Checked when the route is added, so a typo fails at startup; merged over
 * the plugin's settings once per config object, not per request.
 *
 * The table is keyed by the `config.sluice` object itself: fastify copies a
 * route's `config` shallowly, so a request sees the very object onRoute
 * saw, and one entry serves every method, the HEAD twin of a GET route and
 * any prefix. Rules given as paths load in onReady (each distinct list
 * once), so a broken file fails startup, not a request.
 */
import { InvalidOptionsError } from '../errors.js'
import { mediaTypeOf } from '../http/media-types.js'
import { selectFraming } from '../protocols/select-codec.js'
import type { ProtocolOption } from '../protocols/types.js'
import type { RuleSet } from '../rules/rule-set.js'
import { checkSharedOptions } from './options.js'
import type { SluicePluginOptions, SluiceSettings } from './options.js'
import { isRulePaths, resolveRules } from './rules.js'

/**
 * Per-route `config: { sluice: … }`: `false` turns sanitizing off. Checked
 * when the route is added (an unknown key or a bad value throws
 * SLUICE_INVALID_OPTIONS); rules given as paths load at `ready`, once per
 * distinct list. Register the plugin before the routes that use this.
 */
export type SluiceRouteConfig = false | Pick<SluicePluginOptions, 'rules' | 'defaultRules' | 'contentTypes' | 'binary' | 'onFinding' | 'onCut'> & { protocol?: string }

type RouteOverrides = Exclude<SluiceRouteConfig, false>

declare module 'fastify' {
  interface FastifyContextConfig {
    sluice?: SluiceRouteConfig
  }
}

const knownRouteOptions = new Set(['rules', 'defaultRules', 'contentTypes', 'binary', 'onFinding', 'onCut', 'protocol'])

/** Throws SLUICE_INVALID_OPTIONS, naming the route, for a `config.sluice` that is not `false` or a valid object. */
function checkRouteConfig (cfg: unknown, url: string): asserts cfg is SluiceRouteConfig | undefined {
  if (cfg === undefined || cfg === false) return
  const where = `route ${url}: `
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw new InvalidOptionsError(`${where}"config.sluice" must be false or an object`)
  for (const key of Object.keys(cfg)) {
    if (!knownRouteOptions.has(key)) throw new InvalidOptionsError(`${where}unknown route option "${key}"`)
  }
  checkSharedOptions(cfg as Record<string, unknown>, where)
  const protocol = (cfg as { protocol?: unknown }).protocol
  if (protocol !== undefined) {
    try {
      selectFraming(protocol as ProtocolOption)
    } catch {
      throw new InvalidOptionsError(`${where}"protocol" must be one of the supported protocols or "auto", not ${JSON.stringify(protocol)}`)
    }
  }
}

/**
 * Rules given as a path on a route this plugin never saw added (one added
 * before the plugin was registered): the request fails rather than quietly
 * use other rules.
 */
function rulesNotLoaded (): RuleSet {
  throw new InvalidOptionsError('route rules given as a path were not loaded: register the sluice plugin before the route')
}

/** The plugin's settings with a route's overrides on top. */
function mergeRouteConfig (settings: SluiceSettings, cfg: RouteOverrides): SluiceSettings {
  const rules = cfg.rules
  return {
    ...settings,
    // Paths get their getter once they load (RouteTable.loadRules).
    rules: rules === undefined ? settings.rules : typeof rules === 'function' ? rules : isRulePaths(rules) ? rulesNotLoaded : () => rules,
    // Only adds stream types, so a bad value (on a route never checked) can be left out.
    contentTypes: Array.isArray(cfg.contentTypes) ? cfg.contentTypes.map((c) => mediaTypeOf(c)) : settings.contentTypes,
    binary: cfg.binary ?? settings.binary,
    protocol: (cfg.protocol as ProtocolOption | undefined) ?? settings.protocol,
    onFinding: cfg.onFinding ?? settings.onFinding,
    onCut: cfg.onCut ?? settings.onCut
  }
}

export interface RouteTable {
  /**
   * A route being added: its config checked, and its settings, merged once
   * per config object (rules given as paths queued for `loadRules`), or
   * undefined for a route with `sluice: false`.
   */
  add: (cfg: unknown, url: string) => SluiceSettings | undefined
  /**
   * The settings a request's route runs with, for `reply.sanitize()` (a
   * route with `sluice: false` gets the plugin's) and for routes added
   * before the plugin (merged on first use, unchecked, as they come).
   */
  of: (cfg: SluiceRouteConfig | undefined) => SluiceSettings
  /** Loads the rule paths of the routes added so far (onReady). */
  loadRules: () => Promise<void>
}

export function createRouteTable (settings: SluiceSettings): RouteTable {
  const merged = new WeakMap<object, SluiceSettings>()
  const pending = new Map<SluiceSettings, { paths: string | readonly string[], defaultRules: boolean }>()

  // Never throws: the onSend hook of routes added before the plugin calls
  // it before it can fail a reply (and free its stream) in an orderly way.
  function of (cfg: SluiceRouteConfig | undefined): SluiceSettings {
    // `false`, none, or (on a route never checked) anything but an object.
    if (typeof cfg !== 'object' || cfg === null) return settings
    let route = merged.get(cfg)
    if (route === undefined) merged.set(cfg, (route = mergeRouteConfig(settings, cfg)))
    return route
  }

  return {
    of,
    add (cfg, url) {
      checkRouteConfig(cfg, url)
      if (cfg === false) return undefined
      const route = of(cfg)
      if (cfg !== undefined && isRulePaths(cfg.rules)) {
        pending.set(route, { paths: cfg.rules, defaultRules: cfg.defaultRules ?? settings.defaultRules })
      }
      return route
    },
    async loadRules () {
      const loaded = new Map<string, Promise<() => RuleSet>>()
      for (const [route, { paths, defaultRules }] of pending) {
        const key = JSON.stringify([paths, defaultRules])
        let getter = loaded.get(key)
        if (getter === undefined) loaded.set(key, (getter = resolveRules(paths, defaultRules)))
        route.rules = await getter
      }
      pending.clear()
    }
  }
}
