/**
 * @module plugin/reply-scan
 * Per-request changes to how a reply is scanned, set by the route handler
 * before it sends: another rule set (a client's policy), scanners wrapped
 * (pseudonyms restored after the rules ran), the usage-only chunk dropped,
 * and a callback with the stream's outcome. The route's settings stay the
 * defaults; what is set here wins for this reply only.
 */
import type { FastifyReply } from 'fastify'
import type { RuleSet } from '../rules/rule-set.js'
import type { Scanner } from '../scanner/types.js'
import type { StreamSummary } from '../audit/create-audit-log.js'
import type { TokenUsage } from '../usage/read-usage.js'
import type { StreamOutcome } from './options.js'
import { kReplyScan } from './symbols.js'

export interface ReplyScan {
  ruleSet?: RuleSet
  wrapScanner?: (scanner: Scanner) => Scanner
  stripUsageChunk?: boolean
  /** Called once the reply's stream ended (streams only; whole bodies use `onParsed`). */
  onStreamEnd?: (outcome: StreamOutcome) => void
  /** Called with a whole JSON body as parsed, before it is sanitized. */
  onParsed?: (value: unknown) => void
  /** What the stream's usage cost, for its audit summary. */
  costOf?: (usage: TokenUsage) => number
  /** More fields for the stream's audit summary (policy, pseudonym counts), read when it ends. */
  summaryFields?: () => Pick<StreamSummary, 'policy' | 'pseudonyms'>
}

/** Sets this reply's scan changes (replacing earlier ones). */
export function setReplyScan (reply: FastifyReply, scan: ReplyScan): void {
  reply[kReplyScan] = scan
}

/** This reply's scan changes, or an empty set. */
export function replyScanOf (reply: FastifyReply): ReplyScan {
  return reply[kReplyScan] ?? {}
}
