/**
 * @module proxy/proxy-config
 * Resolves the proxy's configuration from four layers, highest first:
 * command-line flags, environment variables (`SLUICE_*`), a config file
 * (`--config FILE`, YAML or JSON) and defaults. Pure apart from reading the
 * config file: no sockets, no logging, so every layer and every error message
 * is testable on its own.
 *
 * Client API keys are hashed (SHA-256) here, as soon as they are read, so the
 * plain keys never reach the server's state or a log line.
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { parseArgs } from 'node:util'
import { Type } from '@sinclair/typebox'
import type { Static } from '@sinclair/typebox'
import { InvalidOptionsError } from '../errors.js'
import { defaultRulesDir } from '../rules/load-rules.js'
import { schemaProblems } from '../schema-messages.js'
import { formatLocation, parseLocated } from '../source-positions.js'

/** How the request side treats findings, per rule category. */
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
  /** Per rule id, overriding its category: `reject`, `redact`, `flag` or `off` (not run on requests). */
  rules: Record<string, 'reject' | 'redact' | 'flag' | 'off'>
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
  /** Hex SHA-256 of the key. */
  keyHash: string
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
  rateLimit: { max: number, timeWindow: string | number } | false
  /** How long in-flight streams may run on after SIGTERM before they are cut. */
  shutdownGraceMs: number
  logLevel: string
}

export const defaultProxyConfig: Omit<ProxyConfig, 'upstream' | 'rules'> = {
  host: '127.0.0.1',
  port: 8080,
  defaultRules: true,
  watchRules: true,
  audit: false,
  auditCheckpointEvery: 1000,
  upstreamKeys: [],
  apiKeyHashes: [],
  clients: [],
  forwardHeaders: [],
  trustProxy: false,
  connections: {
    requestTimeoutMs: 30_000,
    headersTimeoutMs: 10_000,
    // Above the 60 s idle timeout of common load balancers (fastify's reason for 72 s).
    keepAliveTimeoutMs: 72_000,
    socketIdleMs: 0,
    maxConnections: 4096,
    maxRequestsPerSocket: 1000
  },
  maxJsonDepth: 128,
  metrics: { host: '127.0.0.1' },
  forwardClientAuth: false,
  retries: 2,
  retryBaseDelayMs: 100,
  retryMaxDelayMs: 2000,
  timeouts: { connectMs: 10_000, headersMs: 60_000, idleMs: 30_000, totalMs: 600_000 },
  bodyLimit: 1024 * 1024,
  maxBodySize: 8 * 1024 * 1024,
  // Reject only what has no innocent reading (invisible ASCII, bytes hidden
  // in variation selectors), redact PII and secrets, flag the rest: see the
  // policy in proxy/input-stage.ts.
  input: {
    reject: [],
    redact: ['pii', 'secret'],
    rules: { 'injection.unicode_tags': 'reject', 'injection.variation_selector_run': 'reject' },
    enabled: true
  },
  rateLimit: false,
  shutdownGraceMs: 10_000,
  logLevel: 'info'
}

/** The hex SHA-256 of a client key, as stored and compared. */
export function hashApiKey (key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex')
}

const PositiveInt = (description: string): ReturnType<typeof Type.Integer> => Type.Integer({ minimum: 0, description })
const StringList = Type.Array(Type.String({ minLength: 1 }))

/** The config file format (YAML or JSON). Unknown fields are errors: a typo must not silently do nothing. */
export const ProxyConfigFileSchema = Type.Object({
  upstream: Type.Optional(Type.String({ minLength: 1 })),
  host: Type.Optional(Type.String({ minLength: 1 })),
  port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  rules: Type.Optional(Type.Union([Type.String({ minLength: 1 }), StringList])),
  defaultRules: Type.Optional(Type.Boolean()),
  watchRules: Type.Optional(Type.Boolean()),
  audit: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Literal(false)])),
  auditChainKey: Type.Optional(Type.String({ minLength: 1 })),
  auditCheckpointKey: Type.Optional(Type.String({ minLength: 1 })),
  auditCheckpointEvery: Type.Optional(Type.Integer({ minimum: 1 })),
  auditRotate: Type.Optional(Type.Object({
    maxBytes: Type.Optional(Type.Integer({ minimum: 1 })),
    intervalMs: Type.Optional(Type.Integer({ minimum: 1 }))
  }, { additionalProperties: false, minProperties: 1 })),
  redis: Type.Optional(Type.String({ minLength: 1 })),
  upstreamKeys: Type.Optional(StringList),
  apiKeys: Type.Optional(StringList),
  clients: Type.Optional(Type.Array(Type.Object({
    key: Type.Optional(Type.String({ minLength: 1 })),
    keySha256: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{64}$' })),
    forwardHeaders: Type.Optional(StringList)
  }, { additionalProperties: false }))),
  forwardHeaders: Type.Optional(StringList),
  trustProxy: Type.Optional(Type.Union([Type.Boolean(), Type.Integer({ minimum: 1 }), Type.String({ minLength: 1 }), StringList])),
  connections: Type.Optional(Type.Object({
    requestTimeoutMs: Type.Optional(Type.Integer({ minimum: 1 })),
    headersTimeoutMs: Type.Optional(Type.Integer({ minimum: 1 })),
    keepAliveTimeoutMs: Type.Optional(Type.Integer({ minimum: 1 })),
    socketIdleMs: Type.Optional(PositiveInt('0 = above the upstream timeouts')),
    maxConnections: Type.Optional(Type.Integer({ minimum: 1 })),
    maxRequestsPerSocket: Type.Optional(PositiveInt('0 = no cap'))
  }, { additionalProperties: false })),
  maxJsonDepth: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
  metrics: Type.Optional(Type.Object({
    token: Type.Optional(Type.String({ minLength: 16 })),
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    host: Type.Optional(Type.String({ minLength: 1 }))
  }, { additionalProperties: false })),
  forwardClientAuth: Type.Optional(Type.Boolean()),
  retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 })),
  retryBaseDelayMs: Type.Optional(PositiveInt('first backoff, ms')),
  retryMaxDelayMs: Type.Optional(PositiveInt('largest backoff, ms')),
  timeouts: Type.Optional(Type.Object({
    connectMs: Type.Optional(Type.Integer({ minimum: 1 })),
    headersMs: Type.Optional(Type.Integer({ minimum: 1 })),
    idleMs: Type.Optional(Type.Integer({ minimum: 1 })),
    totalMs: Type.Optional(PositiveInt('0 = no cap'))
  }, { additionalProperties: false })),
  bodyLimit: Type.Optional(Type.Integer({ minimum: 1 })),
  maxBodySize: Type.Optional(Type.Integer({ minimum: 1 })),
  input: Type.Optional(Type.Object({
    reject: Type.Optional(StringList),
    redact: Type.Optional(StringList),
    rules: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.Union([Type.Literal('reject'), Type.Literal('redact'), Type.Literal('flag'), Type.Literal('off')]))),
    enabled: Type.Optional(Type.Boolean())
  }, { additionalProperties: false })),
  rateLimit: Type.Optional(Type.Union([
    Type.Literal(false),
    Type.Object({
      max: Type.Integer({ minimum: 1 }),
      timeWindow: Type.Union([Type.String({ minLength: 1 }), Type.Integer({ minimum: 1 })])
    }, { additionalProperties: false })
  ])),
  shutdownGraceMs: Type.Optional(PositiveInt('grace period after SIGTERM, ms')),
  logLevel: Type.Optional(Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l))))
}, { additionalProperties: false })

export type ProxyConfigFile = Static<typeof ProxyConfigFileSchema>

/** `--flag` name → what it sets; the usage text is built from it so the two cannot drift. */
const flagHelp = {
  upstream: 'URL of the provider (required)',
  port: 'port to listen on (default 8080)',
  host: 'address to listen on (default 127.0.0.1)',
  rules: 'rule file or directory, repeatable, loaded after the shipped rules',
  'no-default-rules': 'leave the shipped rules out: only the --rules paths',
  audit: 'audit log file',
  'audit-chain-key': 'HMAC key for the audit hash chain',
  config: 'config file, YAML or JSON',
  redis: 'Redis URL for the shared rate-limit store',
  'api-key': 'accepted client key, repeatable (prefer SLUICE_API_KEYS)',
  'upstream-key': 'provider key, repeatable (prefer SLUICE_UPSTREAM_KEYS)',
  'forward-client-auth': "send the client's own credentials upstream",
  'forward-header': 'identity/billing header every client may send upstream, repeatable',
  'trust-proxy': 'trust X-Forwarded-For from: true, a hop count, or addresses/CIDRs (comma list)',
  'max-connections': 'concurrent client connections (default 4096)',
  'request-timeout': 'time to receive a whole request, ms (default 30000)',
  'metrics-port': 'serve /metrics on its own listener on this port',
  'metrics-token': 'bearer token required on /metrics (prefer SLUICE_METRICS_TOKEN)',
  retries: 'retries before the first byte (default 2)',
  'connect-timeout': 'upstream connect timeout, ms',
  'headers-timeout': 'time to first byte timeout, ms',
  'idle-timeout': 'largest gap between upstream chunks, ms (default 30000)',
  'total-timeout': 'cap on a whole upstream exchange, ms (0 = none)',
  'body-limit': 'largest request body, bytes (default 1 MiB)',
  'max-body-size': 'largest non-streamed answer body, bytes (default 8 MiB)',
  'rate-limit': 'requests per minute per client key or IP',
  'no-watch': 'do not reload rules when their files change',
  grace: 'shutdown grace period, ms (default 10000)',
  'log-level': 'fatal, error, warn, info, debug, trace or silent'
} as const

export const proxyUsage = 'Usage: sluice proxy --upstream URL [options]\n\n' +
  Object.entries(flagHelp).map(([flag, help]) => `  --${flag.padEnd(20)} ${help}`).join('\n') + '\n'

const multiple = new Set(['rules', 'api-key', 'upstream-key', 'forward-header'])
const booleans = new Set(['forward-client-auth', 'no-watch', 'no-default-rules'])

function integerOf (field: string, text: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const value = Number(text)
  if (text.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionsError(`${field} must be an integer from ${min} to ${max}, got "${text}"`)
  }
  return value
}

function booleanOf (field: string, text: string): boolean {
  if (/^(1|true|yes|on)$/i.test(text)) return true
  if (/^(0|false|no|off)$/i.test(text)) return false
  throw new InvalidOptionsError(`${field} must be true or false, got "${text}"`)
}

/** `true`/`false`, a hop count, or a comma list of addresses and CIDRs (what Fastify's `trustProxy` takes). */
function trustProxyOf (text: string): boolean | number | string[] {
  if (/^(true|false)$/i.test(text)) return text.toLowerCase() === 'true'
  if (/^\d+$/.test(text)) return integerOf('trust-proxy', text, 1)
  return listOf(text)
}

/** Splits a comma list (env vars), dropping empty items. */
function listOf (text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s.length > 0)
}

/**
 * Reads and validates a config file; errors name the file, the line and
 * column (`file:line:column`, as rule-file errors do) and the field.
 */
export async function readProxyConfigFile (file: string): Promise<ProxyConfigFile> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new InvalidOptionsError(`cannot read config file ${file}: ${(err as Error).message}`)
  }
  // JSON is YAML: one document API gives the positions of both; JSON.parse keeps a .json file strict.
  const located = parseLocated(text)
  let data: unknown
  if (extname(file) === '.json') {
    try {
      data = JSON.parse(text)
    } catch (err) {
      const message = (err as Error).message.split('\n')[0] ?? ''
      const offset = /at position (\d+)/.exec(message)?.[1]
      const position = offset === undefined ? located.syntaxErrors[0]?.position : located.positionAt(Number(offset))
      throw new InvalidOptionsError(`config file ${position === undefined ? file : formatLocation(file, position)}: not valid JSON: ${message}`)
    }
  } else {
    const syntax = located.syntaxErrors[0]
    if (syntax !== undefined) throw new InvalidOptionsError(`config file ${formatLocation(file, syntax.position)}: not valid YAML: ${syntax.message}`)
    data = located.doc.toJS()
  }
  if (data === null || data === undefined) return {}
  const problems = schemaProblems(ProxyConfigFileSchema, data, { max: 10 })
    .map((p) => ({ at: located.positionOf(p.path, { key: p.atKey }), message: p.message }))
    .sort((a, b) => a.at.line - b.at.line || a.at.column - b.at.column)
    .map((p) => `${formatLocation(file, p.at)}: ${p.message}`)
  if (problems.length === 1) throw new InvalidOptionsError(`config file ${problems[0] ?? ''}`)
  if (problems.length > 1) throw new InvalidOptionsError(`config file ${file}: ${problems.length} problems:\n  ${problems.join('\n  ')}`)
  return data as ProxyConfigFile
}

/** One layer of settings, in the config file's shape (env and flags are turned into it). */
type Layer = ProxyConfigFile & { config?: string }

function layerFromEnv (env: Record<string, string | undefined>): Layer {
  const get = (name: string): string | undefined => {
    const value = env[name]
    return value === undefined || value.trim() === '' ? undefined : value.trim()
  }
  const layer: Layer = {}
  const upstream = get('SLUICE_UPSTREAM')
  if (upstream !== undefined) layer.upstream = upstream
  const host = get('SLUICE_HOST')
  if (host !== undefined) layer.host = host
  const port = get('SLUICE_PORT')
  if (port !== undefined) layer.port = integerOf('SLUICE_PORT', port, 0, 65535)
  const rules = get('SLUICE_RULES')
  if (rules !== undefined) layer.rules = listOf(rules)
  const defaultRules = get('SLUICE_DEFAULT_RULES')
  if (defaultRules !== undefined) layer.defaultRules = booleanOf('SLUICE_DEFAULT_RULES', defaultRules)
  const audit = get('SLUICE_AUDIT')
  if (audit !== undefined) layer.audit = audit
  const chainKey = get('SLUICE_AUDIT_CHAIN_KEY')
  if (chainKey !== undefined) layer.auditChainKey = chainKey
  const checkpointKey = get('SLUICE_AUDIT_CHECKPOINT_KEY')
  if (checkpointKey !== undefined) layer.auditCheckpointKey = checkpointKey
  const redis = get('SLUICE_REDIS')
  if (redis !== undefined) layer.redis = redis
  const upstreamKeys = get('SLUICE_UPSTREAM_KEYS')
  if (upstreamKeys !== undefined) layer.upstreamKeys = listOf(upstreamKeys)
  const apiKeys = get('SLUICE_API_KEYS')
  if (apiKeys !== undefined) layer.apiKeys = listOf(apiKeys)
  const forwardHeaders = get('SLUICE_FORWARD_HEADERS')
  if (forwardHeaders !== undefined) layer.forwardHeaders = listOf(forwardHeaders)
  const trustProxy = get('SLUICE_TRUST_PROXY')
  if (trustProxy !== undefined) layer.trustProxy = trustProxyOf(trustProxy)
  const metricsToken = get('SLUICE_METRICS_TOKEN')
  if (metricsToken !== undefined) layer.metrics = { token: metricsToken }
  const forward = get('SLUICE_FORWARD_CLIENT_AUTH')
  if (forward !== undefined) layer.forwardClientAuth = booleanOf('SLUICE_FORWARD_CLIENT_AUTH', forward)
  const retries = get('SLUICE_RETRIES')
  if (retries !== undefined) layer.retries = integerOf('SLUICE_RETRIES', retries, 0, 10)
  const idle = get('SLUICE_IDLE_TIMEOUT')
  if (idle !== undefined) layer.timeouts = { idleMs: integerOf('SLUICE_IDLE_TIMEOUT', idle, 1) }
  const bodyLimit = get('SLUICE_BODY_LIMIT')
  if (bodyLimit !== undefined) layer.bodyLimit = integerOf('SLUICE_BODY_LIMIT', bodyLimit, 1)
  const maxBodySize = get('SLUICE_MAX_BODY_SIZE')
  if (maxBodySize !== undefined) layer.maxBodySize = integerOf('SLUICE_MAX_BODY_SIZE', maxBodySize, 1)
  const logLevel = get('SLUICE_LOG_LEVEL')
  if (logLevel !== undefined) layer.logLevel = logLevel
  const config = get('SLUICE_CONFIG')
  if (config !== undefined) layer.config = config
  return layer
}

function layerFromArgv (argv: readonly string[]): Layer {
  const options: Record<string, { type: 'string' | 'boolean', multiple?: boolean }> = {}
  for (const flag of Object.keys(flagHelp)) {
    options[flag] = booleans.has(flag) ? { type: 'boolean' } : { type: 'string', ...(multiple.has(flag) ? { multiple: true } : {}) }
  }
  let values: Record<string, string | boolean | Array<string | boolean> | undefined>
  try {
    ({ values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }))
  } catch (err) {
    throw new InvalidOptionsError((err as Error).message)
  }
  const str = (flag: string): string | undefined => {
    const v = values[flag]
    return typeof v === 'string' ? v : undefined
  }
  const strs = (flag: string): string[] | undefined => {
    const v = values[flag]
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined
  }
  const layer: Layer = {}
  const set = <K extends keyof Layer>(key: K, value: Layer[K] | undefined): void => {
    if (value !== undefined) layer[key] = value
  }
  set('upstream', str('upstream'))
  set('host', str('host'))
  const port = str('port')
  if (port !== undefined) layer.port = integerOf('--port', port, 0, 65535)
  set('rules', strs('rules'))
  if (values['no-default-rules'] === true) layer.defaultRules = false
  set('audit', str('audit'))
  set('auditChainKey', str('audit-chain-key'))
  set('config', str('config'))
  set('redis', str('redis'))
  set('apiKeys', strs('api-key'))
  set('upstreamKeys', strs('upstream-key'))
  if (values['forward-client-auth'] === true) layer.forwardClientAuth = true
  set('forwardHeaders', strs('forward-header'))
  const trustProxy = str('trust-proxy')
  if (trustProxy !== undefined) layer.trustProxy = trustProxyOf(trustProxy)
  const connections: NonNullable<Layer['connections']> = {}
  const maxConnections = str('max-connections')
  if (maxConnections !== undefined) connections.maxConnections = integerOf('--max-connections', maxConnections, 1)
  const requestTimeout = str('request-timeout')
  if (requestTimeout !== undefined) connections.requestTimeoutMs = integerOf('--request-timeout', requestTimeout, 1)
  if (Object.keys(connections).length > 0) layer.connections = connections
  const metrics: NonNullable<Layer['metrics']> = {}
  const metricsPort = str('metrics-port')
  if (metricsPort !== undefined) metrics.port = integerOf('--metrics-port', metricsPort, 0, 65535)
  const metricsToken = str('metrics-token')
  if (metricsToken !== undefined) metrics.token = metricsToken
  if (Object.keys(metrics).length > 0) layer.metrics = metrics
  if (values['no-watch'] === true) layer.watchRules = false
  const retries = str('retries')
  if (retries !== undefined) layer.retries = integerOf('--retries', retries, 0, 10)
  const timeouts: NonNullable<Layer['timeouts']> = {}
  const connect = str('connect-timeout')
  if (connect !== undefined) timeouts.connectMs = integerOf('--connect-timeout', connect, 1)
  const headers = str('headers-timeout')
  if (headers !== undefined) timeouts.headersMs = integerOf('--headers-timeout', headers, 1)
  const idle = str('idle-timeout')
  if (idle !== undefined) timeouts.idleMs = integerOf('--idle-timeout', idle, 1)
  const total = str('total-timeout')
  if (total !== undefined) timeouts.totalMs = integerOf('--total-timeout', total, 0)
  if (Object.keys(timeouts).length > 0) layer.timeouts = timeouts
  const bodyLimit = str('body-limit')
  if (bodyLimit !== undefined) layer.bodyLimit = integerOf('--body-limit', bodyLimit, 1)
  const maxBodySize = str('max-body-size')
  if (maxBodySize !== undefined) layer.maxBodySize = integerOf('--max-body-size', maxBodySize, 1)
  const rate = str('rate-limit')
  if (rate !== undefined) layer.rateLimit = { max: integerOf('--rate-limit', rate, 1), timeWindow: '1 minute' }
  const grace = str('grace')
  if (grace !== undefined) layer.shutdownGraceMs = integerOf('--grace', grace, 0)
  set('logLevel', str('log-level'))
  return layer
}

/**
 * Header names an operator may let clients send upstream. Credentials,
 * cookies, the host and hop-by-hop headers stay the proxy's whatever the
 * config says: the proxy sets them itself or never sends them.
 */
const kNeverForwarded = new Set(['authorization', 'x-api-key', 'x-goog-api-key', 'cookie', 'host', 'content-length',
  'transfer-encoding', 'connection', 'keep-alive', 'te', 'trailer', 'upgrade', 'expect', 'proxy-authorization', 'accept-encoding'])

function forwardableHeaderNames (names: readonly string[], field: string): string[] {
  return names.map((name) => {
    const lower = name.trim().toLowerCase()
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(lower)) throw new InvalidOptionsError(`${field}: "${name}" is not a header name`)
    if (kNeverForwarded.has(lower) || lower.startsWith('x-sluice-')) {
      throw new InvalidOptionsError(`${field}: "${name}" is never taken from the client (the proxy sets it or drops it)`)
    }
    return lower
  })
}

function checkUpstream (value: string | undefined): string {
  if (value === undefined) throw new InvalidOptionsError('upstream is required (--upstream URL or SLUICE_UPSTREAM)')
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new InvalidOptionsError(`upstream must be an http(s) URL, got "${value}"`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidOptionsError(`upstream must be an http(s) URL, got "${value}"`)
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new InvalidOptionsError('upstream must not carry a query, fragment or credentials (use upstreamKeys for keys)')
  }
  return url.href.replace(/\/+$/, '')
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
  const cli = layerFromArgv(argv)
  const fromEnv = layerFromEnv(env)
  const configFile = cli.config ?? fromEnv.config
  const file: Layer = configFile === undefined ? {} : await readProxyConfigFile(configFile)
  // Highest layer last, so it wins.
  const layers = [file, fromEnv, cli]
  const pick = <K extends keyof Layer>(key: K): Layer[K] | undefined => {
    let value: Layer[K] | undefined
    for (const layer of layers) if (layer[key] !== undefined) value = layer[key]
    return value
  }
  const d = defaultProxyConfig
  const timeouts = { ...d.timeouts }
  for (const layer of layers) Object.assign(timeouts, layer.timeouts)
  const input = { ...d.input, reject: [...d.input.reject], redact: [...d.input.redact], rules: { ...d.input.rules } }
  for (const layer of layers) Object.assign(input, layer.input, { rules: { ...input.rules, ...layer.input?.rules } })
  const connections = { ...d.connections }
  for (const layer of layers) Object.assign(connections, layer.connections)
  // Silent sockets wait longer than the upstream may legitimately be silent.
  if (connections.socketIdleMs === 0) connections.socketIdleMs = Math.max(120_000, timeouts.headersMs, timeouts.idleMs) + 10_000
  // A shorter request timeout shortens the header deadline with it, unless that was set on its own.
  const headersSet = layers.some((layer) => layer.connections?.headersTimeoutMs !== undefined)
  if (!headersSet) connections.headersTimeoutMs = Math.min(connections.headersTimeoutMs, connections.requestTimeoutMs)
  if (connections.headersTimeoutMs > connections.requestTimeoutMs) {
    throw new InvalidOptionsError(`connections.headersTimeoutMs (${connections.headersTimeoutMs}) must not exceed connections.requestTimeoutMs (${connections.requestTimeoutMs})`)
  }
  const metricsLayer: NonNullable<Layer['metrics']> = {}
  for (const layer of layers) Object.assign(metricsLayer, layer.metrics)
  if (metricsLayer.token !== undefined && metricsLayer.token.length < 16) {
    throw new InvalidOptionsError('the metrics token must be at least 16 characters')
  }
  const metrics: MetricsExposure = {
    host: metricsLayer.host ?? d.metrics.host,
    ...(metricsLayer.port === undefined ? {} : { port: metricsLayer.port }),
    ...(metricsLayer.token === undefined ? {} : { tokenHash: hashApiKey(metricsLayer.token) })
  }
  const clients = (pick('clients') ?? []).map((client, i): ProxyClient => {
    if ((client.key === undefined) === (client.keySha256 === undefined)) {
      throw new InvalidOptionsError(`clients[${i}] needs exactly one of key or keySha256`)
    }
    return {
      keyHash: client.key === undefined ? (client.keySha256 ?? '').toLowerCase() : hashApiKey(client.key),
      forwardHeaders: forwardableHeaderNames(client.forwardHeaders ?? [], `clients[${i}].forwardHeaders`)
    }
  })
  const rules = pick('rules')
  const defaultRules = pick('defaultRules') ?? d.defaultRules
  if (!defaultRules && rules === undefined) {
    throw new InvalidOptionsError('defaultRules is false (--no-default-rules, SLUICE_DEFAULT_RULES) but no rules are given (--rules, SLUICE_RULES or rules in the config file)')
  }
  const config: ProxyConfig = {
    upstream: checkUpstream(pick('upstream')),
    host: pick('host') ?? d.host,
    port: pick('port') ?? d.port,
    rules: rules === undefined ? [defaultRulesDir()] : typeof rules === 'string' ? [rules] : [...rules],
    defaultRules,
    watchRules: pick('watchRules') ?? d.watchRules,
    audit: pick('audit') ?? d.audit,
    upstreamKeys: pick('upstreamKeys') ?? [],
    apiKeyHashes: (pick('apiKeys') ?? []).map(hashApiKey),
    clients,
    forwardHeaders: forwardableHeaderNames(pick('forwardHeaders') ?? [], 'forwardHeaders'),
    trustProxy: pick('trustProxy') ?? d.trustProxy,
    connections,
    maxJsonDepth: pick('maxJsonDepth') ?? d.maxJsonDepth,
    auditCheckpointEvery: pick('auditCheckpointEvery') ?? d.auditCheckpointEvery,
    metrics,
    forwardClientAuth: pick('forwardClientAuth') ?? d.forwardClientAuth,
    retries: pick('retries') ?? d.retries,
    retryBaseDelayMs: pick('retryBaseDelayMs') ?? d.retryBaseDelayMs,
    retryMaxDelayMs: pick('retryMaxDelayMs') ?? d.retryMaxDelayMs,
    timeouts,
    bodyLimit: pick('bodyLimit') ?? d.bodyLimit,
    maxBodySize: pick('maxBodySize') ?? d.maxBodySize,
    input,
    rateLimit: pick('rateLimit') ?? d.rateLimit,
    shutdownGraceMs: pick('shutdownGraceMs') ?? d.shutdownGraceMs,
    logLevel: pick('logLevel') ?? d.logLevel
  }
  const chainKey = pick('auditChainKey')
  if (chainKey !== undefined) config.auditChainKey = chainKey
  const checkpointKey = pick('auditCheckpointKey')
  if (checkpointKey !== undefined) config.auditCheckpointKey = checkpointKey
  const rotate = pick('auditRotate')
  if (rotate !== undefined) config.auditRotate = { ...rotate }
  const redis = pick('redis')
  if (redis !== undefined) config.redis = redis
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(config.logLevel)) {
    throw new InvalidOptionsError(`logLevel must be one of fatal, error, warn, info, debug, trace, silent; got "${config.logLevel}"`)
  }
  return config
}
