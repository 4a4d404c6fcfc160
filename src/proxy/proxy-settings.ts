/**
 * @module proxy/proxy-settings
 * Every proxy setting as an operator meets it: what it does, its flag,
 * environment variable and config-file key, and its default. The
 * configuration reference (docs/proxy-configuration.md) is generated from
 * this table (scripts/generate-docs.js), and a test checks it against the
 * parser (proxy-config.ts): every flag, variable and config-file key the
 * parser reads is listed here, and nothing else.
 *
 * Cells are Markdown: code in backticks, several names separated by `/` or
 * `,`.
 */

export interface ProxySettingDoc {
  /** What the setting does. */
  doc: string
  /** The command-line flag(s), with a placeholder for the value. */
  flag?: string
  /** The environment variable(s). */
  env?: string
  /** The config-file key path(s). */
  file?: string
  default: string
}

export const proxySettings: readonly ProxySettingDoc[] = [
  { doc: 'Provider base URL (required; http(s), no query or credentials; a path prefix is kept)', flag: '`--upstream URL`', env: '`SLUICE_UPSTREAM`', file: '`upstream`', default: '—' },
  { doc: 'Listen address', flag: '`--host H`', env: '`SLUICE_HOST`', file: '`host`', default: '`127.0.0.1`' },
  { doc: 'Listen port', flag: '`--port N`', env: '`SLUICE_PORT`', file: '`port`', default: '`8080`' },
  { doc: 'Rule files/directories, loaded after the shipped rules', flag: '`--rules PATH` (repeatable)', env: '`SLUICE_RULES` (comma list)', file: '`rules` (string or list)', default: 'none (the shipped rules only)' },
  { doc: 'Load the shipped rules before the rule paths (your files add to them, and may disable or override them)', flag: '`--no-default-rules` turns off', env: '`SLUICE_DEFAULT_RULES` (true/false)', file: '`defaultRules`', default: '`true`' },
  { doc: 'Reload rules on file change and SIGHUP', flag: '`--no-watch` turns off', file: '`watchRules`', default: '`true`' },
  { doc: 'Audit log file', flag: '`--audit FILE`', env: '`SLUICE_AUDIT`', file: '`audit` (a path, or false)', default: '`false` (none)' },
  { doc: 'HMAC key of the audit chain', flag: '`--audit-chain-key KEY`', env: '`SLUICE_AUDIT_CHAIN_KEY`', file: '`auditChainKey`', default: 'unkeyed SHA-256' },
  { doc: 'HMAC key of the audit checkpoints', env: '`SLUICE_AUDIT_CHECKPOINT_KEY`', file: '`auditCheckpointKey`', default: 'the chain key (none: no checkpoints)' },
  { doc: 'A signed audit checkpoint every N records', file: '`auditCheckpointEvery`', default: '`1000`' },
  { doc: 'Rotate the audit file by size and/or age', file: '`auditRotate: { maxBytes, intervalMs }`', default: 'never' },
  { doc: 'Redis URL for shared rate limits', flag: '`--redis URL`', env: '`SLUICE_REDIS`', file: '`redis`', default: 'in memory' },
  { doc: 'Accepted client keys (stored as SHA-256; none = no key required)', flag: '`--api-key K` (repeatable)', env: '`SLUICE_API_KEYS` (comma list)', file: '`apiKeys`', default: 'none' },
  { doc: 'Client keys with their own settings (`key` or `keySha256`, `forwardHeaders`)', file: '`clients: [{ key, forwardHeaders }]`', default: 'none' },
  { doc: 'Identity/billing headers every client may send upstream', flag: '`--forward-header H` (repeatable)', env: '`SLUICE_FORWARD_HEADERS` (comma list)', file: '`forwardHeaders`', default: 'none' },
  { doc: 'Trust `X-Forwarded-For` from (`true`, a hop count, addresses/CIDRs)', flag: '`--trust-proxy V`', env: '`SLUICE_TRUST_PROXY`', file: '`trustProxy`', default: '`false`' },
  { doc: 'Provider keys, used in turn; a 429 moves to the next', flag: '`--upstream-key K` (repeatable)', env: '`SLUICE_UPSTREAM_KEYS` (comma list)', file: '`upstreamKeys`', default: 'none' },
  { doc: "Send the client's own `Authorization`/`x-api-key` upstream", flag: '`--forward-client-auth`', env: '`SLUICE_FORWARD_CLIENT_AUTH`', file: '`forwardClientAuth`', default: '`false`' },
  { doc: 'Retries before the first byte (connection errors, 5xx, 429), 0–10', flag: '`--retries N`', env: '`SLUICE_RETRIES`', file: '`retries`', default: '`2`' },
  { doc: 'First / largest backoff, ms (equal jitter)', file: '`retryBaseDelayMs` / `retryMaxDelayMs`', default: '`100` / `2000`' },
  { doc: 'Connect timeout, ms', flag: '`--connect-timeout MS`', file: '`timeouts.connectMs`', default: '`10000`' },
  { doc: 'Time to response headers, ms (not retried)', flag: '`--headers-timeout MS`', file: '`timeouts.headersMs`', default: '`60000`' },
  { doc: 'Largest gap between upstream body chunks, ms', flag: '`--idle-timeout MS`', env: '`SLUICE_IDLE_TIMEOUT`', file: '`timeouts.idleMs`', default: '`30000`' },
  { doc: 'Cap on a whole upstream exchange, ms (0 = none)', flag: '`--total-timeout MS`', file: '`timeouts.totalMs`', default: '`600000`' },
  { doc: 'Largest request body, bytes (413 above)', flag: '`--body-limit N`', env: '`SLUICE_BODY_LIMIT`', file: '`bodyLimit`', default: '`1048576`' },
  { doc: 'Deepest JSON nesting of a request body (400 above)', file: '`maxJsonDepth`', default: '`128`' },
  { doc: 'Time to receive a whole request (headers and body), ms', flag: '`--request-timeout MS`', file: '`connections.requestTimeoutMs`', default: '`30000`' },
  { doc: 'Time to receive the request headers, ms', file: '`connections.headersTimeoutMs`', default: '`10000` (at most the request timeout)' },
  { doc: 'Idle kept-alive socket, ms', file: '`connections.keepAliveTimeoutMs`', default: '`72000`' },
  { doc: 'Socket with no byte either way, ms', file: '`connections.socketIdleMs`', default: 'above the upstream timeouts: max(120000, headers, idle) + 10000' },
  { doc: 'Concurrent client connections', flag: '`--max-connections N`', file: '`connections.maxConnections`', default: '`4096`' },
  { doc: 'Requests per kept-alive socket (0 = no cap)', file: '`connections.maxRequestsPerSocket`', default: '`1000`' },
  { doc: '`/metrics` behind `Authorization: Bearer TOKEN` (16+ characters)', flag: '`--metrics-token T`', env: '`SLUICE_METRICS_TOKEN`', file: '`metrics.token`', default: 'none' },
  { doc: '`/metrics` on its own listener', flag: '`--metrics-port N`', file: '`metrics.port`, `metrics.host`', default: "on the proxy's port; host `127.0.0.1`" },
  { doc: 'Largest non-streamed answer body, bytes (502 above)', flag: '`--max-body-size N`', env: '`SLUICE_MAX_BODY_SIZE`', file: '`maxBodySize`', default: '`8388608`' },
  { doc: 'Input stage: categories that reject the request', file: '`input.reject`', default: '`[]`' },
  { doc: 'Input stage: categories redacted before forwarding', file: '`input.redact`', default: "`['pii', 'secret']`" },
  { doc: 'Input stage: per rule id, `reject`, `redact`, `flag` or `off` (wins over the category; entries are added to the default ones)', file: '`input.rules`', default: '`{ injection.unicode_tags: reject, injection.variation_selector_run: reject }`' },
  { doc: 'Input stage on/off', file: '`input.enabled`', default: '`true`' },
  { doc: 'Rate limit per client key (or address)', flag: '`--rate-limit N` (per minute)', file: '`rateLimit: { max, timeWindow }` (or false)', default: '`false` (none)' },
  { doc: 'Shutdown grace period, ms', flag: '`--grace MS`', file: '`shutdownGraceMs`', default: '`10000`' },
  { doc: 'Log level (`fatal` … `trace`, `silent`)', flag: '`--log-level L`', env: '`SLUICE_LOG_LEVEL`', file: '`logLevel`', default: '`info`' },
  { doc: 'Config file', flag: '`--config FILE`', env: '`SLUICE_CONFIG`', default: 'none' }
]
