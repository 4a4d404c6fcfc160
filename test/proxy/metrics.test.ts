import t from 'tap'
import { createMetrics } from '../../src/proxy/metrics.js'
import type { StreamOutcome } from '../../src/plugin/options.js'

/** Parses Prometheus text into `name{labels}` → value (labels sorted, comments dropped). */
function parseExposition (text: string): Map<string, number> {
  const samples = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null) throw new Error(`unparsable line: ${line}`)
    const labels = [...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)]
      .map((l) => `${l[1] ?? ''}="${l[2] ?? ''}"`).sort().join(',')
    samples.set(labels === '' ? m[1] ?? '' : `${m[1] ?? ''}{${labels}}`, Number(m[3]))
  }
  return samples
}

function outcome (over: Partial<StreamOutcome> = {}): StreamOutcome {
  return {
    requestId: 'req-1',
    route: '/v1/chat/completions',
    protocol: 'openai-chat',
    finishReason: 'stop',
    upstreamFinishReason: 'stop',
    charsIn: 400,
    charsOut: 400,
    findings: { redact: 0, cut: 0, flag: 0 },
    ttftMs: 120,
    durationMs: 2000,
    cancelled: false,
    malformed: 0,
    maxHeld: 20,
    usage: { input: 0, cachedInput: 0, output: 0 },
    usageReported: false,
    duplicates: 0,
    ...over
  }
}

t.test('counts requests and their durations by route, method and status', async (t) => {
  const m = createMetrics()
  m.observeRequest('/v1/chat/completions', 'POST', 200, 0.3)
  m.observeRequest('/v1/chat/completions', 'POST', 200, 0.02)
  m.observeRequest('/v1/chat/completions', 'POST', 429, 0.001)
  const s = parseExposition(await m.metrics())
  const ok = 'method="POST",route="/v1/chat/completions",status="200"'
  t.equal(s.get(`sluice_http_requests_total{${ok}}`), 2)
  t.equal(s.get('sluice_http_requests_total{method="POST",route="/v1/chat/completions",status="429"}'), 1)
  t.equal(s.get(`sluice_http_request_duration_seconds_count{${ok}}`), 2)
  t.equal(s.get(`sluice_http_request_duration_seconds_sum{${ok}}`), 0.32)
  t.equal(s.get(`sluice_http_request_duration_seconds_bucket{le="0.025",${ok}}`), 1)
  t.equal(s.get(`sluice_http_request_duration_seconds_bucket{le="0.5",${ok}}`), 2)
})

t.test('observes time to first token, time per output token and held-back characters of a stream', async (t) => {
  const m = createMetrics()
  // 400 characters out ≈ 100 tokens over 2 s → 20 ms per token.
  m.observeStreamEnd(outcome())
  // No text released: no TTFT sample; per-token time divides by at least 1.
  m.observeStreamEnd(outcome({ ttftMs: null, charsOut: 0, durationMs: 500, maxHeld: 300 }))
  const s = parseExposition(await m.metrics())
  const p = 'protocol="openai-chat"'
  t.equal(s.get(`sluice_stream_time_to_first_token_seconds_count{${p}}`), 1)
  t.equal(s.get(`sluice_stream_time_to_first_token_seconds_sum{${p}}`), 0.12)
  t.equal(s.get(`sluice_stream_time_per_output_token_seconds_count{${p}}`), 2)
  t.equal(s.get(`sluice_stream_time_per_output_token_seconds_sum{${p}}`), 0.52)
  t.equal(s.get(`sluice_stream_time_per_output_token_seconds_bucket{le="0.025",${p}}`), 1)
  t.equal(s.get(`sluice_stream_max_held_chars_bucket{le="32",${p}}`), 1)
  t.equal(s.get(`sluice_stream_max_held_chars_bucket{le="512",${p}}`), 2)
  t.equal(s.get(`sluice_stream_max_held_chars_sum{${p}}`), 320)
})

t.test('counts finish reasons, cancellations and malformed frames', async (t) => {
  const m = createMetrics()
  m.observeStreamEnd(outcome())
  m.observeStreamEnd(outcome({ finishReason: 'content_filter', malformed: 2 }))
  m.observeStreamEnd(outcome({ finishReason: 'cancelled', cancelled: true, malformed: 1 }))
  m.observeStreamEnd(outcome({ finishReason: null, protocol: 'ndjson' }))
  const s = parseExposition(await m.metrics())
  t.equal(s.get('sluice_stream_finish_total{protocol="openai-chat",reason="stop"}'), 1)
  t.equal(s.get('sluice_stream_finish_total{protocol="openai-chat",reason="content_filter"}'), 1)
  t.equal(s.get('sluice_stream_finish_total{protocol="openai-chat",reason="cancelled"}'), 1)
  t.equal(s.get('sluice_stream_finish_total{protocol="ndjson",reason="none"}'), 1)
  t.equal(s.get('sluice_stream_cancellations_total{protocol="openai-chat"}'), 1)
  t.equal(s.get('sluice_stream_cancellations_total{protocol="ndjson"}'), 0)
  t.equal(s.get('sluice_stream_malformed_frames_total{protocol="openai-chat"}'), 3)
})

t.test('counts findings by rule, category, action and stage', async (t) => {
  const m = createMetrics()
  const email = { ruleId: 'email', category: 'pii', action: 'redact' }
  m.countFinding(email, 'output')
  m.countFinding(email, 'output')
  m.countFinding(email, 'input')
  m.countFinding({ ruleId: 'override', category: 'injection', action: 'flag' }, 'input')
  const s = parseExposition(await m.metrics())
  t.equal(s.get('sluice_findings_total{action="redact",category="pii",rule="email",stage="output"}'), 2)
  t.equal(s.get('sluice_findings_total{action="redact",category="pii",rule="email",stage="input"}'), 1)
  t.equal(s.get('sluice_findings_total{action="flag",category="injection",rule="override",stage="input"}'), 1)
})

t.test('counts upstream errors and retries and tracks active streams', async (t) => {
  const m = createMetrics()
  m.countUpstreamError('timeout')
  m.countUpstreamError('timeout')
  m.countUpstreamError('connect')
  m.countRetry()
  m.streamStarted()
  m.streamStarted()
  m.streamStarted()
  m.streamEnded()
  const s = parseExposition(await m.metrics())
  t.equal(s.get('sluice_upstream_errors_total{kind="timeout"}'), 2)
  t.equal(s.get('sluice_upstream_errors_total{kind="connect"}'), 1)
  t.equal(s.get('sluice_upstream_retries_total'), 1)
  t.equal(s.get('sluice_active_streams'), 2)
})

t.test('keeps each instance on its own registry, with default process metrics', async (t) => {
  const a = createMetrics()
  const b = createMetrics()
  a.countRetry()
  const sa = parseExposition(await a.metrics())
  const sb = parseExposition(await b.metrics())
  t.equal(sa.get('sluice_upstream_retries_total'), 1)
  t.equal(sb.get('sluice_upstream_retries_total'), 0)
  t.ok(sa.has('process_cpu_user_seconds_total'), 'default metrics are collected')
  t.ok(sb.has('nodejs_heap_size_used_bytes'), 'default metrics are collected on every registry')
  t.match(a.contentType, /^text\/plain; version=0\.0\.4/)
})
