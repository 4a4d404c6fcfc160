/**
 * @module proxy/settings/table
 * Every proxy setting, once: its command-line flag, environment variable,
 * config-file key, kind of value (how each of those is read and checked),
 * default and documentation. Everything else is built from this table: the
 * flags `parseArgs` accepts and the variables and file keys read
 * (layers.ts, config-file.ts), the defaults (proxy-config.ts), the usage
 * text of `sluice proxy --help` and the configuration reference,
 * docs/proxy-configuration.md (reference.ts, scripts/generate-docs.js).
 *
 * Every setting has a flag, a variable and a file key unless its `doc.why`
 * says why not. Names are kept once published: a new setting follows the
 * pattern (`--idle-timeout`, `SLUICE_IDLE_TIMEOUT`, `timeouts.idleMs`).
 *
 * A `--no-…` flag is a switch that turns a setting on by default off;
 * another switch turns its setting on. `doc.what` is Markdown (code in
 * backticks), read as plain text in the usage.
 */
import * as kind from './kinds.js'
import type { ValueKind } from './kinds.js'

export interface SettingDoc {
  /** What the setting is, in a few words: the usage's line and the reference's first words (lower case: the reference capitalises it). */
  what: string
  /** More, for the reference only: a sentence. */
  more?: string
  /** What the flag does, when `what` does not fit it: a `--no-…` switch turns the setting off. */
  flag?: string
  /** What the value is, when the kind's placeholder says less: `MS` for a duration. */
  value?: string
  /** How the default reads, when the value alone does not say it (`in memory`); the usage then leaves it to the reference. */
  default?: string
  /** Why the setting has no flag, variable or file key. */
  why?: string
}

export interface ProxySetting<K extends string = string, T = unknown, D extends T | undefined = T | undefined, F extends K | undefined = K | undefined> {
  /** The setting's name: its path in the config file (`timeouts.idleMs`) when it has one. */
  key: K
  /** The command-line flag, without `--`. */
  flag?: string
  /** The environment variable. */
  env?: string
  /** The config-file key path (`timeouts.idleMs`): the key, for a setting the file may hold. */
  file?: F
  /** The kind of value: how flag, variable and file write it, and its checks. */
  parse: ValueKind<T>
  /** The value when no layer sets it (undefined: unset). */
  default: D
  /** Each layer adds its entries to those below it and to the default, instead of replacing them (a mapping). */
  mergeLayers?: true
  doc: SettingDoc
}

/** A row of the table, typed: its key, its kind's value type, and whether it has a default (its value is then never undefined). */
function setting<const K extends string, T, F extends K | undefined = undefined> (row: Omit<ProxySetting<K, T, T, F>, 'default'> & { default: NoInfer<T> }): ProxySetting<K, T, T, F>
function setting<const K extends string, T, F extends K | undefined = undefined> (row: ProxySetting<K, T, undefined, F>): ProxySetting<K, T, undefined, F>
function setting (row: ProxySetting): ProxySetting {
  return row
}

const kLogLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
const ms = (bounds = {}): ValueKind<number> => kind.integer(bounds, 'MS')
const secretInArgv = 'A flag is visible to other users in `ps`: prefer the variable or the file.'

/** The proxy's settings, in the order the usage text and the reference list them. */
export const proxySettings = [
  // Where it listens and what it forwards to.
  setting({ key: 'upstream', flag: 'upstream', env: 'SLUICE_UPSTREAM', file: 'upstream', parse: kind.httpUrl, default: undefined, doc: { what: 'provider base URL (required)', more: 'http(s), no query or credentials; a path prefix is kept.', default: '—' } }),
  setting({ key: 'host', flag: 'host', env: 'SLUICE_HOST', file: 'host', parse: kind.text('HOST'), default: '127.0.0.1', doc: { what: 'address to listen on' } }),
  setting({ key: 'port', flag: 'port', env: 'SLUICE_PORT', file: 'port', parse: kind.port, default: 8080, doc: { what: 'port to listen on' } }),

  // Rules.
  setting({ key: 'rules', flag: 'rules', env: 'SLUICE_RULES', file: 'rules', parse: kind.rulePaths, default: undefined, doc: { what: 'rule file or directory, loaded after the shipped rules', more: 'In the file: one path, or a list.', default: 'none (the shipped rules only)' } }),
  setting({ key: 'defaultRules', flag: 'no-default-rules', env: 'SLUICE_DEFAULT_RULES', file: 'defaultRules', parse: kind.boolean, default: true, doc: { what: 'load the shipped rules before the rule paths', more: 'Your files add to them, and may disable or override them.', flag: 'leave the shipped rules out: only the --rules paths' } }),
  setting({ key: 'watchRules', flag: 'no-watch', env: 'SLUICE_WATCH_RULES', file: 'watchRules', parse: kind.boolean, default: true, doc: { what: 'reload the rules when their files change, and on SIGHUP', flag: 'do not reload the rules when their files change' } }),

  // Clients.
  setting({ key: 'apiKeys', flag: 'api-key', env: 'SLUICE_API_KEYS', file: 'apiKeys', parse: kind.list('KEY'), default: [], doc: { what: 'accepted client key (none: no key required)', more: `Kept as SHA-256. ${secretInArgv}`, default: 'none' } }),
  setting({ key: 'clients', file: 'clients', parse: kind.clientList, default: [], doc: { what: 'client keys with their own settings: `[{ key or keySha256, forwardHeaders }]`', default: 'none', why: 'config file only: a list of objects has no one-line form (plain keys: `--api-key`, `SLUICE_API_KEYS`)' } }),
  setting({ key: 'forwardHeaders', flag: 'forward-header', env: 'SLUICE_FORWARD_HEADERS', file: 'forwardHeaders', parse: kind.headerNames, default: [], doc: { what: 'identity/billing header every client may send upstream', default: 'none' } }),
  setting({ key: 'trustProxy', flag: 'trust-proxy', env: 'SLUICE_TRUST_PROXY', file: 'trustProxy', parse: kind.trustProxy, default: false, doc: { what: 'trust `X-Forwarded-For` from: `true`, a hop count, or addresses/CIDRs (comma list)' } }),

  // The upstream call.
  setting({ key: 'upstreamKeys', flag: 'upstream-key', env: 'SLUICE_UPSTREAM_KEYS', file: 'upstreamKeys', parse: kind.list('KEY'), default: [], doc: { what: 'provider key, used in turn (a 429 moves to the next)', more: secretInArgv, default: 'none' } }),
  setting({ key: 'forwardClientAuth', flag: 'forward-client-auth', env: 'SLUICE_FORWARD_CLIENT_AUTH', file: 'forwardClientAuth', parse: kind.boolean, default: false, doc: { what: "send the client's own credentials upstream", more: '`Authorization`, `x-api-key` or `x-goog-api-key`, instead of the provider keys.' } }),
  setting({ key: 'retries', flag: 'retries', env: 'SLUICE_RETRIES', file: 'retries', parse: kind.integer({ min: 0, max: 10 }), default: 2, doc: { what: 'retries before the first byte', more: 'On connection errors, 5xx and 429; 0 to 10.' } }),
  setting({ key: 'retryBaseDelayMs', flag: 'retry-base-delay', env: 'SLUICE_RETRY_BASE_DELAY', file: 'retryBaseDelayMs', parse: ms(), default: 100, doc: { what: 'first backoff before a retry, ms', more: 'Doubles with each retry, with equal jitter.' } }),
  setting({ key: 'retryMaxDelayMs', flag: 'retry-max-delay', env: 'SLUICE_RETRY_MAX_DELAY', file: 'retryMaxDelayMs', parse: ms(), default: 2000, doc: { what: 'largest backoff before a retry, ms' } }),
  setting({ key: 'timeouts.connectMs', flag: 'connect-timeout', env: 'SLUICE_CONNECT_TIMEOUT', file: 'timeouts.connectMs', parse: ms(), default: 10_000, doc: { what: 'upstream connect timeout, ms' } }),
  setting({ key: 'timeouts.headersMs', flag: 'headers-timeout', env: 'SLUICE_HEADERS_TIMEOUT', file: 'timeouts.headersMs', parse: ms(), default: 60_000, doc: { what: "time to the upstream's response headers, ms", more: 'Not retried: the provider may still be working on it.' } }),
  setting({ key: 'timeouts.idleMs', flag: 'idle-timeout', env: 'SLUICE_IDLE_TIMEOUT', file: 'timeouts.idleMs', parse: ms(), default: 30_000, doc: { what: 'largest gap between upstream body chunks, ms' } }),
  setting({ key: 'timeouts.totalMs', flag: 'total-timeout', env: 'SLUICE_TOTAL_TIMEOUT', file: 'timeouts.totalMs', parse: ms({ min: 0 }), default: 600_000, doc: { what: 'cap on a whole upstream exchange, ms (0: none)' } }),
  setting({ key: 'maxBodySize', flag: 'max-body-size', env: 'SLUICE_MAX_BODY_SIZE', file: 'maxBodySize', parse: kind.integer(), default: 8 * 1024 * 1024, doc: { what: 'largest non-streamed answer body, bytes', more: 'A larger one is a 502.' } }),

  // Requests and connections of clients.
  setting({ key: 'bodyLimit', flag: 'body-limit', env: 'SLUICE_BODY_LIMIT', file: 'bodyLimit', parse: kind.integer(), default: 1024 * 1024, doc: { what: 'largest request body, bytes', more: 'A larger one is a 413.' } }),
  setting({ key: 'maxJsonDepth', flag: 'max-json-depth', env: 'SLUICE_MAX_JSON_DEPTH', file: 'maxJsonDepth', parse: kind.integer({ max: 10_000 }), default: 128, doc: { what: 'deepest JSON nesting of a request body', more: 'A deeper one is a 400; at most 10000.' } }),
  setting({ key: 'connections.requestTimeoutMs', flag: 'request-timeout', env: 'SLUICE_REQUEST_TIMEOUT', file: 'connections.requestTimeoutMs', parse: ms(), default: 30_000, doc: { what: 'time to receive a whole request, ms', more: 'Headers and body; a long streamed answer is not cut by it.' } }),
  setting({ key: 'connections.headersTimeoutMs', flag: 'request-headers-timeout', env: 'SLUICE_REQUEST_HEADERS_TIMEOUT', file: 'connections.headersTimeoutMs', parse: ms(), default: 10_000, doc: { what: 'time to receive the request headers, ms', default: '`10000` (at most the request timeout)' } }),
  setting({ key: 'connections.keepAliveTimeoutMs', flag: 'keep-alive-timeout', env: 'SLUICE_KEEP_ALIVE_TIMEOUT', file: 'connections.keepAliveTimeoutMs', parse: ms(), default: 72_000, doc: { what: 'how long an idle kept-alive socket waits for a request, ms' } }),
  setting({ key: 'connections.socketIdleMs', flag: 'socket-idle-timeout', env: 'SLUICE_SOCKET_IDLE_TIMEOUT', file: 'connections.socketIdleMs', parse: ms({ min: 0 }), default: 0, doc: { what: 'close a socket silent both ways this long, ms (0: above the upstream timeouts)', default: 'above the upstream timeouts: max(120000, headers, idle) + 10000' } }),
  setting({ key: 'connections.maxConnections', flag: 'max-connections', env: 'SLUICE_MAX_CONNECTIONS', file: 'connections.maxConnections', parse: kind.integer(), default: 4096, doc: { what: 'concurrent client connections', more: 'Those above are closed at accept.' } }),
  setting({ key: 'connections.maxRequestsPerSocket', flag: 'max-requests-per-socket', env: 'SLUICE_MAX_REQUESTS_PER_SOCKET', file: 'connections.maxRequestsPerSocket', parse: kind.integer({ min: 0 }), default: 1000, doc: { what: 'requests served on one kept-alive socket (0: no cap)' } }),
  setting({ key: 'rateLimit', flag: 'rate-limit', env: 'SLUICE_RATE_LIMIT', file: 'rateLimit', parse: kind.rateLimit, default: false, doc: { what: 'requests per minute per client key (or address)', more: 'In the file: `{ max, timeWindow }` (any window: `10 seconds`, `1 hour`), or `false`.', default: '`false` (none)' } }),
  setting({ key: 'redis', flag: 'redis', env: 'SLUICE_REDIS', file: 'redis', parse: kind.text('URL'), default: undefined, doc: { what: 'Redis URL: rate limits, budgets and the pseudonym vault shared by every instance', default: 'in memory' } }),

  // The input stage (proxy/input-stage.ts).
  setting({ key: 'input.enabled', flag: 'no-input-stage', env: 'SLUICE_INPUT_STAGE', file: 'input.enabled', parse: kind.boolean, default: true, doc: { what: 'scan requests before they are forwarded (the input stage)', flag: 'do not scan requests (the input stage)' } }),
  setting({ key: 'input.reject', flag: 'input-reject', env: 'SLUICE_INPUT_REJECT', file: 'input.reject', parse: kind.list('CATEGORY'), default: [], doc: { what: 'rule category whose findings reject the request (400)' } }),
  setting({ key: 'input.redact', flag: 'input-redact', env: 'SLUICE_INPUT_REDACT', file: 'input.redact', parse: kind.list('CATEGORY'), default: ['pii', 'secret'], doc: { what: 'rule category redacted before the request is forwarded' } }),
  // Reject only what has no innocent reading (invisible ASCII, bytes hidden
  // in variation selectors), redact PII and secrets, flag the rest: see the
  // policy in proxy/input-stage.ts.
  setting({ key: 'input.rules', flag: 'input-rule', env: 'SLUICE_INPUT_RULES', file: 'input.rules', parse: kind.inputDecisions, default: { 'injection.unicode_tags': 'reject', 'injection.variation_selector_run': 'reject' }, mergeLayers: true, doc: { what: 'per rule id: `reject`, `redact`, `flag` or `off`, over its category', more: 'Added to the defaults. In the file: a mapping `{ rule.id: decision }`.' } }),

  // HTTP versions and compression.
  setting({ key: 'http2', flag: 'http2', env: 'SLUICE_HTTP2', file: 'http2', parse: kind.boolean, default: false, doc: { what: 'serve HTTP/2: with TLS beside HTTP/1.1 (ALPN), without TLS as h2c (prior knowledge, behind a load balancer)' } }),
  setting({ key: 'tls.cert', flag: 'tls-cert', env: 'SLUICE_TLS_CERT', file: 'tls.cert', parse: kind.text('FILE'), default: undefined, doc: { what: 'PEM certificate (chain) file: serve HTTPS', default: 'none (plain HTTP)' } }),
  setting({ key: 'tls.key', flag: 'tls-key', env: 'SLUICE_TLS_KEY', file: 'tls.key', parse: kind.text('FILE'), default: undefined, doc: { what: 'PEM private key file of the certificate', default: 'none' } }),
  setting({ key: 'upstreamHttp2', flag: 'upstream-http2', env: 'SLUICE_UPSTREAM_HTTP2', file: 'upstreamHttp2', parse: kind.boolean, default: false, doc: { what: 'offer HTTP/2 to a TLS upstream (ALPN)' } }),
  setting({ key: 'compress', flag: 'compress', env: 'SLUICE_COMPRESS', file: 'compress', parse: kind.boolean, default: false, doc: { what: 'compress SSE and NDJSON answers (br, gzip) for clients that accept it, flushed per event' } }),

  // Usage, cost, budgets, policies, monitor mode.
  setting({ key: 'includeUsage', flag: 'no-include-usage', env: 'SLUICE_INCLUDE_USAGE', file: 'includeUsage', parse: kind.boolean, default: true, doc: { what: 'ask OpenAI-style upstreams for stream usage (`stream_options.include_usage`) and drop the extra chunk when the client did not ask', flag: 'do not ask upstreams for stream usage' } }),
  setting({ key: 'prices', file: 'prices', parse: kind.prices, default: {}, doc: { what: 'price per million tokens by model: `{ model: { input, output, cachedInput } }` (a model family by prefix, `*` for the rest)', default: 'none (cost 0)', why: 'config file only: a table has no one-line form' } }),
  setting({ key: 'policies', file: 'policies', parse: kind.policies, default: [], doc: { what: 'rule policies by client id or route: `[{ name, clients, routes, files, disable, actions, monitor }]`', default: 'none', why: 'config file only: a list of objects has no one-line form' } }),
  setting({ key: 'monitor', flag: 'monitor', env: 'SLUICE_MONITOR', file: 'monitor', parse: kind.list('RULE'), default: [], doc: { what: 'rule id or category in monitor mode (`all`: every rule): its redactions and cuts only flag, the would-be action goes to the audit', default: 'none' } }),

  // Reversible pseudonyms (pseudonym/).
  setting({ key: 'pseudonyms.enabled', flag: 'pseudonyms', env: 'SLUICE_PSEUDONYMS', file: 'pseudonyms.enabled', parse: kind.boolean, default: false, doc: { what: 'replace personal data in requests by placeholders, and restore them in answers' } }),
  setting({ key: 'pseudonyms.key', flag: 'pseudonym-key', env: 'SLUICE_PSEUDONYM_KEY', file: 'pseudonyms.key', parse: kind.text('KEY', { minLength: 16 }), default: undefined, doc: { what: 'secret the vault encrypts values and names conversations with (16 characters or more)', more: secretInArgv, default: 'none (required with pseudonyms)' } }),
  setting({ key: 'pseudonyms.categories', flag: 'pseudonym-category', env: 'SLUICE_PSEUDONYM_CATEGORIES', file: 'pseudonyms.categories', parse: kind.list('CATEGORY'), default: ['pii'], doc: { what: 'rule category whose values get placeholders instead of redactions' } }),
  setting({ key: 'pseudonyms.template', flag: 'pseudonym-template', env: 'SLUICE_PSEUDONYM_TEMPLATE', file: 'pseudonyms.template', parse: kind.text('TEMPLATE'), default: '<{TYPE}_{N}>', doc: { what: 'placeholder format, with `{TYPE}` and `{N}` once each' } }),
  setting({ key: 'pseudonyms.ttlMs', flag: 'pseudonym-ttl', env: 'SLUICE_PSEUDONYM_TTL', file: 'pseudonyms.ttlMs', parse: ms(), default: 86_400_000, doc: { what: 'how long an idle conversation keeps its placeholders, ms' } }),
  setting({ key: 'pseudonyms.unknown', flag: 'pseudonym-unknown', env: 'SLUICE_PSEUDONYM_UNKNOWN', file: 'pseudonyms.unknown', parse: kind.oneOf(['keep', 'redact'] as const, 'keep|redact'), default: 'keep', doc: { what: 'a placeholder in an answer the conversation does not know: `keep` or `redact`' } }),
  setting({ key: 'pseudonyms.conversationHeader', flag: 'conversation-header', env: 'SLUICE_CONVERSATION_HEADER', file: 'pseudonyms.conversationHeader', parse: kind.text('NAME'), default: 'x-sluice-conversation', doc: { what: 'request header naming the conversation (else it is derived from the history)' } }),

  // Metrics.
  setting({ key: 'metrics.token', flag: 'metrics-token', env: 'SLUICE_METRICS_TOKEN', file: 'metrics.token', parse: kind.text('TOKEN', { minLength: 16 }), default: undefined, doc: { what: 'bearer token required on `/metrics` (16 characters or more)', more: secretInArgv, default: 'none' } }),
  setting({ key: 'metrics.port', flag: 'metrics-port', env: 'SLUICE_METRICS_PORT', file: 'metrics.port', parse: kind.port, default: undefined, doc: { what: 'serve `/metrics` on its own listener on this port', default: "on the proxy's port" } }),
  setting({ key: 'metrics.host', flag: 'metrics-host', env: 'SLUICE_METRICS_HOST', file: 'metrics.host', parse: kind.text('HOST'), default: '127.0.0.1', doc: { what: 'address of that `/metrics` listener' } }),

  // The audit log.
  setting({ key: 'audit', flag: 'audit', env: 'SLUICE_AUDIT', file: 'audit', parse: kind.auditFile, default: false, doc: { what: 'audit log file', more: 'In the file, `false`: none.', default: '`false` (none)' } }),
  setting({ key: 'auditChainKey', flag: 'audit-chain-key', env: 'SLUICE_AUDIT_CHAIN_KEY', file: 'auditChainKey', parse: kind.text('KEY'), default: undefined, doc: { what: 'HMAC key of the audit hash chain', more: secretInArgv, default: 'unkeyed SHA-256' } }),
  setting({ key: 'auditCheckpointKey', flag: 'audit-checkpoint-key', env: 'SLUICE_AUDIT_CHECKPOINT_KEY', file: 'auditCheckpointKey', parse: kind.text('KEY'), default: undefined, doc: { what: 'HMAC key of the signed audit checkpoints', more: secretInArgv, default: 'the chain key (none: no checkpoints)' } }),
  setting({ key: 'auditCheckpointEvery', flag: 'audit-checkpoint-every', env: 'SLUICE_AUDIT_CHECKPOINT_EVERY', file: 'auditCheckpointEvery', parse: kind.integer(), default: 1000, doc: { what: 'a signed audit checkpoint every N records' } }),
  setting({ key: 'auditRotate.maxBytes', flag: 'audit-rotate-bytes', env: 'SLUICE_AUDIT_ROTATE_BYTES', file: 'auditRotate.maxBytes', parse: kind.integer(), default: undefined, doc: { what: 'rotate the audit file at this size, bytes', default: 'never' } }),
  setting({ key: 'auditRotate.intervalMs', flag: 'audit-rotate-interval', env: 'SLUICE_AUDIT_ROTATE_INTERVAL', file: 'auditRotate.intervalMs', parse: ms(), default: undefined, doc: { what: 'rotate the audit file at this age, ms', default: 'never' } }),

  // The process.
  setting({ key: 'shutdownGraceMs', flag: 'grace', env: 'SLUICE_SHUTDOWN_GRACE', file: 'shutdownGraceMs', parse: ms({ min: 0 }), default: 10_000, doc: { what: 'shutdown grace period, ms (0: none)', more: 'After SIGTERM, streams in flight run on this long; then their sockets are closed.' } }),
  setting({ key: 'logLevel', flag: 'log-level', env: 'SLUICE_LOG_LEVEL', file: 'logLevel', parse: kind.oneOf(kLogLevels, 'LEVEL'), default: 'info', doc: { what: `log level: ${kLogLevels.slice(0, -1).join(', ')} or ${kLogLevels.at(-1) ?? ''}` } }),
  setting({ key: 'config', flag: 'config', env: 'SLUICE_CONFIG', parse: kind.text('FILE'), default: undefined, doc: { what: 'config file, YAML, or JSON by its `.json` extension', default: 'none', why: 'no file key: the file cannot name itself' } })
]

/**
 * The same rows, each as a setting of unknown value: for the code that treats every setting alike.
 * @alias the typed table under a wider type (knip: not a second export by mistake)
 */
export const settingRows: readonly ProxySetting[] = proxySettings

/** Options of the config file's objects beyond "no unknown field" (an empty `auditRotate` says nothing: an error). */
export const fileObjectOptions: Readonly<Record<string, { minProperties?: number }>> = {
  auditRotate: { minProperties: 1 }
}

export type ProxySettingRow = typeof proxySettings[number]
export type SettingKey = ProxySettingRow['key']

/** The type of a setting's kind of value. */
type KindOf<R> = R extends ProxySetting<string, infer T> ? T : never

/** A setting's value once every layer is read: its kind's type, or undefined when it has no default. */
type ValueOf<R> = R extends ProxySetting<string, infer T, infer D> ? (undefined extends D ? T | undefined : T) : never

/** Every setting's value, by key, once resolved (proxy-config.ts turns them into a `ProxyConfig`). */
export type SettingValues = { [R in ProxySettingRow as R['key']]: ValueOf<R> }

/** The config-file key path of a setting, or never. */
type FileKeyOf<R> = R extends { file?: infer F } ? (F extends string ? F : never) : never

/** `{ 'timeouts.idleMs'?: number }` as `{ timeouts?: { idleMs?: number } }`. */
type Nested<V> = {
  [K in keyof V as K extends `${infer Head}.${string}` ? Head : K]?: K extends `${infer Head}.${string}` ? Nested<Below<V, Head>> : V[K]
}
type Below<V, Head extends string> = { [K in keyof V as K extends `${Head}.${infer Rest}` ? Rest : never]: V[K] }

/** What the config file holds (every key optional), as its schema (config-file.ts) checks it. */
export type ProxyConfigFile = Nested<{ [R in ProxySettingRow as FileKeyOf<R>]: KindOf<R> }>
