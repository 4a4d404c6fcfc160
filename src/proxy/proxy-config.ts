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
import { Value } from '@sinclair/typebox/value'
import { parse as parseYaml } from 'yaml'
import { InvalidOptionsError } from '../errors.js'
import { defaultRulesDir } from '../rules/load-rules.js'

/** How the request side treats findings, per rule category. */
export interface InputPolicy {
  /** Categories whose findings reject the request with 400 `SLUICE_INPUT_REJECTED`. */
  reject: string[]
  /** Categories whose redact/cut rules rewrite the text before it leaves for the provider. */
  redact: string[]
  /** Scan requests at all. Every other category is only flagged (reported, audited). */
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

export interface ProxyConfig {
  /** Base URL of the provider, e.g. `https://api.openai.com` (paths are forwarded as they come). */
  upstream: string
  host: string
  port: number
  /** Rule files or directories. */
  rules: string[]
  /** Watch the rule files and reload on change (and on SIGHUP). */
  watchRules: boolean
  /** Audit log file, or false. */
  audit: string | false
  auditChainKey?: string
  /** Redis URL for a shared rate-limit store. */
  redis?: string
  /** Provider keys, used in turn; a 429 tries the next one. Never logged. */
  upstreamKeys: string[]
  /** Hex SHA-256 of each accepted client key; empty = no client key required. */
  apiKeyHashes: string[]
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
  watchRules: true,
  audit: false,
  upstreamKeys: [],
  apiKeyHashes: [],
  forwardClientAuth: false,
  retries: 2,
  retryBaseDelayMs: 100,
  retryMaxDelayMs: 2000,
  timeouts: { connectMs: 10_000, headersMs: 60_000, idleMs: 30_000, totalMs: 600_000 },
  bodyLimit: 1024 * 1024,
  maxBodySize: 8 * 1024 * 1024,
  input: { reject: ['injection'], redact: ['pii', 'secret'], enabled: true },
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
  watchRules: Type.Optional(Type.Boolean()),
  audit: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Literal(false)])),
  auditChainKey: Type.Optional(Type.String({ minLength: 1 })),
  redis: Type.Optional(Type.String({ minLength: 1 })),
  upstreamKeys: Type.Optional(StringList),
  apiKeys: Type.Optional(StringList),
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
  rules: 'rule file or directory, repeatable (default: shipped rules)',
  audit: 'audit log file',
  'audit-chain-key': 'HMAC key for the audit hash chain',
  config: 'config file, YAML or JSON',
  redis: 'Redis URL for the shared rate-limit store',
  'api-key': 'accepted client key, repeatable (prefer SLUICE_API_KEYS)',
  'upstream-key': 'provider key, repeatable (prefer SLUICE_UPSTREAM_KEYS)',
  'forward-client-auth': "send the client's own credentials upstream",
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

const multiple = new Set(['rules', 'api-key', 'upstream-key'])
const booleans = new Set(['forward-client-auth', 'no-watch'])

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

/** Splits a comma list (env vars), dropping empty items. */
function listOf (text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s.length > 0)
}

/** Reads and validates a config file; errors name the file and the field. */
export async function readProxyConfigFile (file: string): Promise<ProxyConfigFile> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new InvalidOptionsError(`cannot read config file ${file}: ${(err as Error).message}`)
  }
  let data: unknown
  try {
    data = extname(file) === '.json' ? JSON.parse(text) : parseYaml(text)
  } catch (err) {
    throw new InvalidOptionsError(`config file ${file} is not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0] ?? ''}`)
  }
  if (data === null || data === undefined) return {}
  const errors = [...Value.Errors(ProxyConfigFileSchema, data)]
  if (errors.length > 0) {
    // TypeBox reports a union failure once per branch; one line per field is enough.
    const seen = new Set<string>()
    const lines: string[] = []
    for (const e of errors) {
      const field = e.path === '' ? '(root)' : e.path.slice(1).replace(/\//g, '.')
      if (seen.has(field)) continue
      seen.add(field)
      lines.push(`${field}: ${e.message}`)
    }
    throw new InvalidOptionsError(`config file ${file}: ${lines.join('; ')}`)
  }
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
  const audit = get('SLUICE_AUDIT')
  if (audit !== undefined) layer.audit = audit
  const chainKey = get('SLUICE_AUDIT_CHAIN_KEY')
  if (chainKey !== undefined) layer.auditChainKey = chainKey
  const redis = get('SLUICE_REDIS')
  if (redis !== undefined) layer.redis = redis
  const upstreamKeys = get('SLUICE_UPSTREAM_KEYS')
  if (upstreamKeys !== undefined) layer.upstreamKeys = listOf(upstreamKeys)
  const apiKeys = get('SLUICE_API_KEYS')
  if (apiKeys !== undefined) layer.apiKeys = listOf(apiKeys)
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
  set('audit', str('audit'))
  set('auditChainKey', str('audit-chain-key'))
  set('config', str('config'))
  set('redis', str('redis'))
  set('apiKeys', strs('api-key'))
  set('upstreamKeys', strs('upstream-key'))
  if (values['forward-client-auth'] === true) layer.forwardClientAuth = true
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
  const input = { ...d.input, reject: [...d.input.reject], redact: [...d.input.redact] }
  for (const layer of layers) Object.assign(input, layer.input)
  const rules = pick('rules')
  const config: ProxyConfig = {
    upstream: checkUpstream(pick('upstream')),
    host: pick('host') ?? d.host,
    port: pick('port') ?? d.port,
    rules: rules === undefined ? [defaultRulesDir()] : typeof rules === 'string' ? [rules] : [...rules],
    watchRules: pick('watchRules') ?? d.watchRules,
    audit: pick('audit') ?? d.audit,
    upstreamKeys: pick('upstreamKeys') ?? [],
    apiKeyHashes: (pick('apiKeys') ?? []).map(hashApiKey),
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
  const redis = pick('redis')
  if (redis !== undefined) config.redis = redis
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(config.logLevel)) {
    throw new InvalidOptionsError(`logLevel must be one of fatal, error, warn, info, debug, trace, silent; got "${config.logLevel}"`)
  }
  return config
}
