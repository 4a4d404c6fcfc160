/**
 * @module plugin/reply-stream
 * One reply's event stream (SSE or NDJSON) put through the sanitizing
 * Transform, with what the route asked to hear about it: each finding (to
 * the audit log and `onFinding`), a cut (`onCut`), and the stream's outcome
 * when the response closes (audit summary, `onStreamEnd`). A client that
 * leaves destroys the transform, which destroys the route's source and so
 * aborts its upstream read.
 */
import type { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { onClientGone } from '../client-gone.js'
import type { FindingContext } from '../protocols/types.js'
import type { Finding } from '../scanner/types.js'
import { sanitizeReadable } from '../stream/create-sanitize-stream.js'
import type { SanitizeStream } from '../stream/create-sanitize-stream.js'
import type { SluiceSettings, StreamOutcome } from './options.js'
import { replyScanOf } from './reply-scan.js'

interface Reporter {
  ctx: { requestId: string, route: string }
  onFinding: (finding: Finding, where: FindingContext) => void
}

/** Where a request's findings go: the audit log (with their channel) and the route's callback. */
export function reporterFor (route: SluiceSettings, request: FastifyRequest): Reporter {
  const ctx = { requestId: String(request.id), route: request.routeOptions.url ?? request.url }
  return {
    ctx,
    onFinding: (finding, where) => {
      route.audit?.finding({ ...ctx, stream: where.channel }, finding)
      route.onFinding?.(finding, request, where)
    }
  }
}

/** `source`, of the given stream content type, sanitized for this reply. */
export function sanitizeReplyStream (route: SluiceSettings, request: FastifyRequest, reply: FastifyReply, source: Readable, contentType: string): SanitizeStream {
  const started = performance.now()
  const { ctx, onFinding } = reporterFor(route, request)
  let cancelled = false
  let ended = false
  const scan = replyScanOf(reply)
  const transform = sanitizeReadable(source, {
    ruleSet: scan.ruleSet ?? route.rules(),
    ...(scan.wrapScanner === undefined ? {} : { wrapScanner: scan.wrapScanner }),
    ...(scan.stripUsageChunk === undefined ? {} : { stripUsageChunk: scan.stripUsageChunk }),
    contentType,
    ...(route.protocol === undefined ? {} : { protocol: route.protocol }),
    scannerOptions: route.scannerOptions,
    ...(route.maxEventSize === undefined ? {} : { maxEventSize: route.maxEventSize }),
    ...(route.coalesce === undefined ? {} : { coalesce: route.coalesce }),
    onFinding,
    // sanitizeReadable destroys the source on a cut: the route's upstream call is aborted.
    onCut: (finding) => { route.onCut?.(finding, request) }
  })
  const finish = (): void => {
    if (ended) return
    ended = true
    const stats = transform.stats
    const outcome: StreamOutcome = {
      requestId: ctx.requestId,
      route: ctx.route,
      protocol: stats.protocol ?? 'unknown',
      finishReason: cancelled ? 'cancelled' : stats.finishReason ?? null,
      upstreamFinishReason: stats.upstreamFinishReason ?? null,
      charsIn: stats.charsIn,
      charsOut: stats.charsOut,
      findings: { ...stats.findings },
      ttftMs: stats.timeToFirstTokenMs ?? null,
      durationMs: performance.now() - started,
      cancelled,
      malformed: stats.malformed,
      maxHeld: stats.maxHeld,
      usage: stats.usage,
      usageReported: stats.usageReported,
      duplicates: stats.duplicates
    }
    if (stats.errorCode !== undefined) outcome.error = stats.errorCode
    route.audit?.summary(ctx, {
      finishReason: outcome.finishReason,
      upstreamFinishReason: outcome.upstreamFinishReason,
      charsIn: outcome.charsIn,
      charsOut: outcome.charsOut,
      findings: outcome.findings,
      ttftMs: outcome.ttftMs,
      durationMs: outcome.durationMs,
      cancelled,
      ...(outcome.error === undefined ? {} : { error: outcome.error }),
      ...(stats.usageReported ? { usage: { ...stats.usage, ...(scan.costOf === undefined ? {} : { cost: scan.costOf(stats.usage) }) } } : {}),
      ...scan.summaryFields?.()
    })
    scan.onStreamEnd?.(outcome)
    route.onStreamEnd?.(outcome, request)
  }
  // At the client's FIN or RST, not at the response's 'close' a loop turn
  // or more later (see client-gone.ts).
  onClientGone(reply.raw, () => {
    // Ended, not cancelled, once the transform handed its last byte to the
    // response: `writableFinished` alone is false under `inject` (no socket).
    if (transform.readableEnded) return
    // Destroying the transform destroys the source, which aborts the
    // upstream read at once.
    cancelled = true
    transform.destroy()
  })
  reply.raw.once('close', finish)
  return transform
}
