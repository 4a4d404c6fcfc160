/**
 * @module proxy/proxy-config
 * The proxy's configuration, `ProxyConfig`, resolved from four layers,
 * highest first: command-line flags, environment variables (`SLUICE_*`), a
 * config file (`--config FILE`, YAML or JSON) and the defaults. Which
 * settings there are, how each layer writes them and their defaults is the
 * settings table's business (settings/table.ts); this module turns the
 * resolved settings into the config the proxy runs with, with the checks
 * that need several settings at once. Pure apart from reading the config
 * file: no sockets, no logging.
 *
 * Client API keys are hashed (SHA-256) here, as soon as they are read, so the
 * plain keys never reach the server's state or a log line.
 */
import { createHash } from 'node:crypto'
import { InvalidOptionsError } from '../errors.js'
import { defaultRulesDir } from '../rules/load-rules.js'
import type { ClientPolicy } from '../policy/policy-rule-sets.js'
import type { BudgetLimit } from '../usage/budgets.js'
import type { ModelPrice } from '../usage/price-table.js'
import type { ClientEntry, InputDecision, RateLimitValue } from './settings/kinds.js'
import { envLayer, fileLayer, flagLayer, resolveSettings } from './settings/layers.js'
import type { ResolvedSettings } from './settings/layers.js'
import { settingRows } from './settings/table.js'
import type { SettingKey, SettingValues } from './settings/table.js'

export { ProxyConfigFileSchema, readProxyConfigFile } from './settings/config-file.js'
export type { ProxyConfigFile } from './settings/table.js'

/**
 * How the request side treats findings (proxy/input-stage.ts): per rule
 * `rules[id]`, else per category `reject`, then `redact`, else flag
 * (reported, audited, sent unchanged).
 */
export interface InputPolicy {
  /** Categories whose findings reject the request with 400 `SLUICE_INPUT_REJECTED`. */
  reject: string[]
  /** Categories whose redact/cut rules rewrite the text before it leaves for the provider (their flag rules stay flags). */
  redact: string[]
  /** Per rule id, overriding its category: `reject`, `redact`, `pseudonymize`, `flag` or `off` (not run on requests). */
  rules: Record<string, InputDecision>
  /** Scan requests at all. */
  enabled: boolean
}

export interface ProxyTimeouts {
  /** TCP/TLS connect to the upstream. */
  connectMs: number
  /** From sending the request to the upstream's response headers (time to first byte). */
  headersMs: number
  /** Longest gap between two chunks of the upstream body. */
  idleMs: number
  /** Whole upstream exchange, headers and body; 0 = no cap. */
  totalMs: number
}

/**
 * Limits on the client side of the proxy: Node's HTTP server defaults (no
 * request timeout, no connection cap) suit a server behind a trusted load
 * balancer, not one a client reaches directly. A slow-body client is judged
 * by `requestTimeoutMs` (receiving the request, not the answer), so a long
 * SSE answer is never cut by it; a silent socket by `socketIdleMs`.
 */
export interface ConnectionLimits {
  /** Time to receive the whole request (headers and body). */
  requestTimeoutMs: number
  /** Time to receive the request headers. */
  headersTimeoutMs: number
  /** How long an idle kept-alive socket waits for its next request. */
  keepAliveTimeoutMs: number
  /** No byte either way for this long closes the socket (default: above the upstream's own timeouts). */
  socketIdleMs: number
  /** Concurrent client connections; the ones above are closed at accept. */
  maxConnections: number
  /** Requests served on one kept-alive socket before it is closed (0 = no cap). */
  maxRequestsPerSocket: number
}

/** A client key with its own settings. */
export interface ProxyClient {
  /** Names the client in metrics, budgets, policies and the audit (default `client-N`, its place in the list). */
  id: string
  /** Hex SHA-256 of the key. */
  keyHash: string
  /** Tokens and/or cost per period. */
  budget?: BudgetLimit
  /** Identity or billing headers this client may send upstream (e.g. `openai-organization`). */
  forwardHeaders: string[]
}

/** Where `/metrics` is served. */
export interface MetricsExposure {
  /** Required as `Authorization: Bearer TOKEN` on `/metrics` (stored as its SHA-256). */
  tokenHash?: string
  /** Serve `/metrics` on its own listener on this port instead of the proxy's (0 = ephemeral). */
  port?: number
  /** Address of that listener (default 127.0.0.1). */
  host: string
}

export interface ProxyConfig {
  /** Base URL of the provider, e.g. `https://api.openai.com` (paths are forwarded as they come). */
  upstream: string
  host: string
  port: number
  /** Rule files or directories, loaded after the shipped rules unless `defaultRules` is false (default: the shipped rules). */
  rules: string[]
  /** Load the shipped rules first, so `rules` add to them (and may disable or override them). */
  defaultRules: boolean
  /** Watch the rule files and reload on change (and on SIGHUP). */
  watchRules: boolean
  /** Audit log file, or false. */
  audit: string | false
  auditChainKey?: string
  /** Key of the audit checkpoints' HMAC (default: the chain key; none: no checkpoints). */
  auditCheckpointKey?: string
  /** A signed checkpoint every this many audit records. */
  auditCheckpointEvery: number
  /** Rotate the audit file by size and/or age. */
  auditRotate?: { maxBytes?: number, intervalMs?: number }
  /** Redis URL for a shared rate-limit store. */
  redis?: string
  /** Provider keys, used in turn; a 429 tries the next one. Never logged. */
  upstreamKeys: string[]
  /** Hex SHA-256 of each accepted client key; empty = no client key required. */
  apiKeyHashes: string[]
  /** Client keys with their own settings (also accepted keys). */
  clients: ProxyClient[]
  /** Identity or billing headers every client may send upstream (off by default). */
  forwardHeaders: string[]
  /**
   * Fastify's `trustProxy`: which peers' `X-Forwarded-For` gives the client
   * address that rate limits and logs use. false = the socket's peer.
   */
  trustProxy: boolean | number | string | string[]
  connections: ConnectionLimits
  /** Deepest JSON nesting a request body may have (400 above). */
  maxJsonDepth: number
  metrics: MetricsExposure
  /** Send the client's own `Authorization`/`x-api-key` upstream (instead of `upstreamKeys`). */
  forwardClientAuth: boolean
  /** Retries before the first byte (connection errors, 5xx, 429). */
  retries: number
  retryBaseDelayMs: number
  retryMaxDelayMs: number
  timeouts: ProxyTimeouts
  /** Largest request body, bytes (413 above). */
  bodyLimit: number
  /** Largest non-streamed answer body (JSON, text), decoded, bytes (502 SLUICE_BODY_TOO_LARGE above). */
  maxBodySize: number
  input: InputPolicy
  /** Requests per client key (or IP) and window; false = no limit. */
  rateLimit: RateLimitValue | false
  /** How long in-flight streams may run on after SIGTERM before they are cut. */
  shutdownGraceMs: number
  logLevel: string
  /** Ask OpenAI-style upstreams for stream usage, and drop the extra chunk a client did not ask for. */
  includeUsage: boolean
  prices: Record<string, ModelPrice>
  policies: ClientPolicy[]
  /** Rule ids or categories in monitor mode; `all` for every rule. */
  monitor: string[]
  pseudonyms: PseudonymSettings
  /** Serve HTTP/2 (with TLS beside HTTP/1.1; without TLS as h2c). */
  http2: boolean
  /** PEM certificate and key files: serve HTTPS (both or neither). */
  tlsCert?: string
  tlsKey?: string
  /** Offer HTTP/2 to a TLS upstream. */
  upstreamHttp2: boolean
  /** Compress event streams for clients that accept it. */
  compress: boolean
}

export interface PseudonymSettings {
  enabled: boolean
  key?: string
  categories: string[]
  template: string
  ttlMs: number
  unknown: 'keep' | 'redact'
  conversationHeader: string
}

/** The hex SHA-256 of a client key, as stored and compared. */
export function hashApiKey (key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex')
}

/** `{ [key]: value }`, or nothing when the value is unset (the config leaves optional fields out). */
function ifSet<K extends string, V> (key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }
}

function lowerCased (names: readonly string[]): string[] {
  return names.map((name) => name.trim().toLowerCase())
}

function clientOf (client: ClientEntry, index: number): ProxyClient {
  return {
    id: client.id ?? `client-${index}`,
    ...ifSet('budget', client.budget),
    keyHash: client.key === undefined ? (client.keySha256 ?? '').toLowerCase() : hashApiKey(client.key),
    forwardHeaders: lowerCased(client.forwardHeaders ?? [])
  }
}

/**
 * The config the settings give, setting by setting. What needs the upstream
 * or several settings at once (the rule paths, the derived connection
 * limits) is `resolveProxyConfig`'s.
 */
function configOf (v: SettingValues): Omit<ProxyConfig, 'upstream' | 'rules'> {
  const rotate = { ...ifSet('maxBytes', v['auditRotate.maxBytes']), ...ifSet('intervalMs', v['auditRotate.intervalMs']) }
  return {
    host: v.host,
    port: v.port,
    defaultRules: v.defaultRules,
    watchRules: v.watchRules,
    audit: v.audit,
    ...ifSet('auditChainKey', v.auditChainKey),
    ...ifSet('auditCheckpointKey', v.auditCheckpointKey),
    auditCheckpointEvery: v.auditCheckpointEvery,
    ...(Object.keys(rotate).length === 0 ? {} : { auditRotate: rotate }),
    ...ifSet('redis', v.redis),
    upstreamKeys: v.upstreamKeys,
    apiKeyHashes: v.apiKeys.map(hashApiKey),
    clients: v.clients.map(clientOf),
    forwardHeaders: lowerCased(v.forwardHeaders),
    trustProxy: v.trustProxy,
    connections: {
      requestTimeoutMs: v['connections.requestTimeoutMs'],
      headersTimeoutMs: v['connections.headersTimeoutMs'],
      keepAliveTimeoutMs: v['connections.keepAliveTimeoutMs'],
      socketIdleMs: v['connections.socketIdleMs'],
      maxConnections: v['connections.maxConnections'],
      maxRequestsPerSocket: v['connections.maxRequestsPerSocket']
    },
    maxJsonDepth: v.maxJsonDepth,
    metrics: {
      host: v['metrics.host'],
      ...ifSet('port', v['metrics.port']),
      ...ifSet('tokenHash', v['metrics.token'] === undefined ? undefined : hashApiKey(v['metrics.token']))
    },
    forwardClientAuth: v.forwardClientAuth,
    retries: v.retries,
    retryBaseDelayMs: v.retryBaseDelayMs,
    retryMaxDelayMs: v.retryMaxDelayMs,
    timeouts: {
      connectMs: v['timeouts.connectMs'],
      headersMs: v['timeouts.headersMs'],
      idleMs: v['timeouts.idleMs'],
      totalMs: v['timeouts.totalMs']
    },
    bodyLimit: v.bodyLimit,
    maxBodySize: v.maxBodySize,
    input: { reject: v['input.reject'], redact: v['input.redact'], rules: v['input.rules'], enabled: v['input.enabled'] },
    rateLimit: v.rateLimit,
    shutdownGraceMs: v.shutdownGraceMs,
    logLevel: v.logLevel,
    http2: v.http2,
    ...ifSet('tlsCert', v['tls.cert']),
    ...ifSet('tlsKey', v['tls.key']),
    upstreamHttp2: v.upstreamHttp2,
    compress: v.compress,
    includeUsage: v.includeUsage,
    prices: v.prices,
    policies: v.policies,
    monitor: v.monitor,
    pseudonyms: {
      enabled: v['pseudonyms.enabled'],
      ...ifSet('key', v['pseudonyms.key']),
      categories: v['pseudonyms.categories'],
      template: v['pseudonyms.template'],
      ttlMs: v['pseudonyms.ttlMs'],
      unknown: v['pseudonyms.unknown'],
      conversationHeader: v['pseudonyms.conversationHeader'].toLowerCase()
    }
  }
}

/** The defaults of every setting, as a config (`upstream` and `rules` have none). */
export const defaultProxyConfig: Omit<ProxyConfig, 'upstream' | 'rules'> = configOf(resolveSettings([]).values)

/** Where a setting may be given, for a message: `--rules, SLUICE_RULES or rules in the config file`. */
function whereToSet (key: SettingKey): string {
  const row = settingRows.find((r) => r.key === key)
  const places = [
    ...(row?.flag === undefined ? [] : [`--${row.flag}`]),
    ...(row?.env === undefined ? [] : [row.env]),
    ...(row?.file === undefined ? [] : [`${row.file} in the config file`])
  ]
  return places.length <= 1 ? places.join('') : `${places.slice(0, -1).join(', ')} or ${places.at(-1) ?? ''}`
}

/**
 * The client-side limits that follow from others: a silent socket waits
 * longer than the upstream may legitimately be silent, and a shorter
 * request timeout shortens the header deadline with it unless that was set
 * on its own.
 */
function connectionLimits ({ values: v, sourceOf }: ResolvedSettings, base: ConnectionLimits): ConnectionLimits {
  const connections = { ...base }
  if (connections.socketIdleMs === 0) connections.socketIdleMs = Math.max(120_000, v['timeouts.headersMs'], v['timeouts.idleMs']) + 10_000
  const headersSource = sourceOf('connections.headersTimeoutMs')
  if (headersSource === undefined) connections.headersTimeoutMs = Math.min(connections.headersTimeoutMs, connections.requestTimeoutMs)
  if (connections.headersTimeoutMs > connections.requestTimeoutMs) {
    throw new InvalidOptionsError(`connections.headersTimeoutMs (${connections.headersTimeoutMs}) must not exceed connections.requestTimeoutMs (${connections.requestTimeoutMs}): ` +
      `set by ${headersSource ?? 'default'} and ${sourceOf('connections.requestTimeoutMs') ?? 'default'}`)
  }
  return connections
}

export interface ResolveProxyConfigInput {
  /** Arguments after `sluice proxy`. */
  argv: readonly string[]
  env?: Record<string, string | undefined>
}

/**
 * Resolves the proxy configuration: flags > env > config file > defaults.
 * Throws `InvalidOptionsError` naming the flag, variable or file field at fault.
 *
 * @example
 * const config = await resolveProxyConfig({ argv: ['--upstream', 'http://127.0.0.1:9000'], env: process.env })
 */
export async function resolveProxyConfig ({ argv, env = {} }: ResolveProxyConfigInput): Promise<ProxyConfig> {
  const flags = flagLayer(argv)
  const vars = envLayer(env)
  const configFile = (flags.get('config') ?? vars.get('config'))?.value as string | undefined
  const file = configFile === undefined ? new Map() : await fileLayer(configFile)
  const settings = resolveSettings([flags, vars, file])
  const { upstream, rules, defaultRules } = settings.values
  if (upstream === undefined) throw new InvalidOptionsError(`upstream is required (${whereToSet('upstream')})`)
  if (!defaultRules && rules === undefined) {
    throw new InvalidOptionsError(`defaultRules is false (${settings.sourceOf('defaultRules') ?? 'default'}) but no rules are given (${whereToSet('rules')})`)
  }
  const config = configOf(settings.values)
  return {
    ...config,
    upstream: new URL(upstream).href.replace(/\/+$/, ''),
    rules: rules === undefined ? [defaultRulesDir()] : typeof rules === 'string' ? [rules] : [...rules],
    connections: connectionLimits(settings, config.connections)
  }
}
