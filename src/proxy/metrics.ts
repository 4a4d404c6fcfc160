/**
 * @module proxy/metrics
 * The proxy's Prometheus metrics: requests, streams (time to first token,
 * time per output token, held-back characters, finish reasons,
 * cancellations, malformed frames), findings, upstream errors and retries.
 *
 * Each `createMetrics()` has its own prom-client `Registry` (never the
 * global one), so two proxies in one process — or many tests — never clash
 * over metric names ("A metric with the name … has already been
 * registered").
 *
 * Label values are bounded by the caller: `route` must be the route pattern
 * (`/v1/chat/completions`), not the raw URL, and rule ids come from the
 * loaded rule files, so the number of series stays small.
 */
import type { TokenUsage } from '../usage/read-usage.js'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { StreamOutcome } from '../plugin/options.js'

export interface ProxyMetrics {
  registry: Registry
  /** The `content-type` to send with `metrics()` (Prometheus text format). */
  contentType: string
  /** The exposition text for a `/metrics` scrape. */
  metrics: () => Promise<string>
  /** One finished HTTP request; `route` is the route pattern, `seconds` its duration. */
  observeRequest: (route: string, method: string, status: number, seconds: number) => void
  /** One finished sanitized stream. */
  observeStreamEnd: (outcome: StreamOutcome) => void
  countFinding: (f: { ruleId: string, category: string, action: string }, stage: 'input' | 'output') => void
  /** An upstream failure by kind (`connect`, `timeout`, `status_5xx`, …). */
  countUpstreamError: (kind: string) => void
  countRetry: () => void
  /** Active streams gauge: +1 when a stream starts, -1 when it ends (whatever the outcome). */
  streamStarted: () => void
  streamEnded: () => void
  /**
   * Tokens and cost of one answer. `key` is a configured client id (or
   * `anonymous`), never a raw key, so the label set stays bounded; `model`
   * is the model the client asked for.
   */
  countUsage: (key: string, model: string, usage: TokenUsage, cost: number) => void
  /** Upstream frames dropped as duplicates. */
  countDuplicates: (n: number) => void
}

// Buckets in seconds. Requests through an LLM proxy range from a few
// milliseconds (rejected input, 4xx) to minutes (long streamed answers).
const requestBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]
const ttftBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30]
// Per-token times of hosted models are ~5–100 ms; the proxy's own added
// latency shows at the low end.
const perTokenBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]
// Held-back characters: bounded by the longest rule match, usually < 256.
const heldBuckets = [0, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384]

/**
 * Roughly four characters per token for English text with OpenAI-style
 * BPE tokenizers (OpenAI's own rule of thumb). We see characters, not
 * tokens, so "time per output token" is an approximation:
 * `durationMs / max(1, charsOut / 4)`.
 */
const charsPerToken = 4

/**
 * Creates the proxy's metrics on a fresh registry, with Node's default
 * process metrics (CPU, memory, event loop lag, GC) collected on it.
 * @example
 * const metrics = createMetrics()
 * app.get('/metrics', async (_req, reply) => reply.type(metrics.contentType).send(await metrics.metrics()))
 */
export function createMetrics (): ProxyMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const registers = [registry]

  const requests = new Counter({
    name: 'sluice_http_requests_total',
    help: 'HTTP requests handled by the proxy, by route pattern, method and status code.',
    labelNames: ['route', 'method', 'status'] as const,
    registers
  })
  const requestDuration = new Histogram({
    name: 'sluice_http_request_duration_seconds',
    help: 'Time from request to the end of the response (whole stream included), seconds.',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: requestBuckets,
    registers
  })
  const ttft = new Histogram({
    name: 'sluice_stream_time_to_first_token_seconds',
    help: 'Time from the start of a sanitized stream to its first released text, seconds (streams that released text).',
    labelNames: ['protocol'] as const,
    buckets: ttftBuckets,
    registers
  })
  const perToken = new Histogram({
    name: 'sluice_stream_time_per_output_token_seconds',
    help: 'Stream duration divided by approximate output tokens (characters out / 4, at least 1), seconds.',
    labelNames: ['protocol'] as const,
    buckets: perTokenBuckets,
    registers
  })
  const held = new Histogram({
    name: 'sluice_stream_max_held_chars',
    help: 'Largest number of characters held back at once in a stream (holdback for matches that may still grow).',
    labelNames: ['protocol'] as const,
    buckets: heldBuckets,
    registers
  })
  const finishes = new Counter({
    name: 'sluice_stream_finish_total',
    help: 'Sanitized streams by finish reason (the upstream one, or content_filter after a cut, error, cancelled, none).',
    labelNames: ['protocol', 'reason'] as const,
    registers
  })
  const cancellations = new Counter({
    name: 'sluice_stream_cancellations_total',
    help: 'Sanitized streams the client cancelled (closed before the end).',
    labelNames: ['protocol'] as const,
    registers
  })
  const malformed = new Counter({
    name: 'sluice_stream_malformed_frames_total',
    help: 'Malformed upstream frames dropped.',
    labelNames: ['protocol'] as const,
    registers
  })
  const findings = new Counter({
    name: 'sluice_findings_total',
    help: 'Rule findings, by rule, category, action and stage (input: request body, output: response stream).',
    labelNames: ['rule', 'category', 'action', 'stage'] as const,
    registers
  })
  const upstreamErrors = new Counter({
    name: 'sluice_upstream_errors_total',
    help: 'Upstream failures by kind.',
    labelNames: ['kind'] as const,
    registers
  })
  const retries = new Counter({
    name: 'sluice_upstream_retries_total',
    help: 'Upstream requests retried.',
    registers
  })
  const tokens = new Counter({
    name: 'sluice_tokens_total',
    help: 'Tokens the upstream reported, by client key id, model and kind (input, cached_input, output).',
    labelNames: ['key', 'model', 'kind'] as const,
    registers
  })
  const cost = new Counter({
    name: 'sluice_cost_total',
    help: 'Cost of the tokens at the configured prices, by client key id and model.',
    labelNames: ['key', 'model'] as const,
    registers
  })
  const duplicates = new Counter({
    name: 'sluice_duplicate_frames_total',
    help: 'Upstream frames dropped as duplicates (resent events).',
    registers
  })
  const seenProtocols = new Set<string>()
  const activeStreams = new Gauge({
    name: 'sluice_active_streams',
    help: 'Sanitized streams in flight.',
    registers
  })

  return {
    registry,
    contentType: registry.contentType,
    metrics: async function metrics () { return await registry.metrics() },
    observeRequest: function observeRequest (route, method, status, seconds) {
      const labels = { route, method, status: String(status) }
      requests.inc(labels)
      requestDuration.observe(labels, seconds)
    },
    observeStreamEnd: function observeStreamEnd (outcome) {
      const protocol = outcome.protocol
      const labels = { protocol }
      if (!seenProtocols.has(protocol)) {
        // Zero increments create the series, so dashboards see 0, not "no data";
        // once per protocol is enough (each update costs a label hash).
        seenProtocols.add(protocol)
        cancellations.inc(labels, 0)
        malformed.inc(labels, 0)
      }
      if (outcome.ttftMs !== null) ttft.observe(labels, outcome.ttftMs / 1000)
      perToken.observe(labels, outcome.durationMs / 1000 / Math.max(1, outcome.charsOut / charsPerToken))
      held.observe(labels, outcome.maxHeld)
      finishes.inc({ protocol, reason: outcome.finishReason ?? 'none' })
      if (outcome.cancelled) cancellations.inc(labels)
      if (outcome.malformed > 0) malformed.inc(labels, outcome.malformed)
    },
    countFinding: function countFinding (f, stage) {
      findings.inc({ rule: f.ruleId, category: f.category, action: f.action, stage })
    },
    countUpstreamError: function countUpstreamError (kind) { upstreamErrors.inc({ kind }) },
    countRetry: function countRetry () { retries.inc() },
    countUsage: function countUsage (key, model, usage, amount) {
      tokens.inc({ key, model, kind: 'input' }, usage.input)
      tokens.inc({ key, model, kind: 'cached_input' }, usage.cachedInput)
      tokens.inc({ key, model, kind: 'output' }, usage.output)
      cost.inc({ key, model }, amount)
    },
    countDuplicates: function countDuplicates (n) { duplicates.inc(n) },
    streamStarted: function streamStarted () { activeStreams.inc() },
    streamEnded: function streamEnded () { activeStreams.dec() }
  }
}
