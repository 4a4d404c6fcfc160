/**
 * @module plugin-options
 * The Fastify plugin's options and decorators, apart from its code so the
 * proxy and the type declarations can name them without a cycle.
 */
import type { FastifyRequest } from 'fastify'
import type { FindingContext } from './protocols/types.js'
import type { AuditLog } from './audit/create-audit-log.js'
import type { RuleSet } from './rules/rule-set.js'
import type { Finding, ScanResult } from './scanner/types.js'

/** What one sanitized stream did, reported when it ends (audit, metrics). */
export interface StreamOutcome {
  requestId: string
  route: string
  protocol: string
  /** Our finish reason: the upstream's, or `content_filter` after a cut, `error`, `cancelled`. */
  finishReason: string | null
  upstreamFinishReason: string | null
  charsIn: number
  charsOut: number
  findings: { redact: number, cut: number, flag: number }
  /** Time from the stream's start to its first released text, ms (null if none). */
  ttftMs: number | null
  durationMs: number
  cancelled: boolean
  /** Malformed upstream frames dropped. */
  malformed: number
  /** Largest number of characters held back at once. */
  maxHeld: number
  error?: string
}

export interface SluicePluginOptions {
  /**
   * The rules: a loaded rule set, rule file/directory path(s) (loaded at
   * register time, after the shipped rules: their files add rules, and may
   * `disable` or `overrides` shipped ones), or a getter returning the
   * current set (hot reload: each new stream takes the set current when it
   * starts). Default: shipped rules.
   */
  rules?: RuleSet | string | readonly string[] | (() => RuleSet)
  /**
   * With `rules` given as paths: load the shipped rules first (default
   * true); false loads the paths alone.
   */
  defaultRules?: boolean
  /**
   * Audit log: a file path or options (the plugin owns and closes it), an
   * `AuditLog` shared with its owner (e.g. the proxy, which also audits the
   * request side into the same chain), or `false`. Default: none.
   */
  audit?: string | false | { destination: string, chainKey?: string } | AuditLog
  /**
   * Extra media types to read as event streams (NDJSON when the route's
   * `protocol` is `ndjson`). It only adds: every response is scanned
   * whatever its type, status or encoding (SSE and NDJSON as streams, JSON
   * and `+json` parsed and re-serialized, `text/*` as text, a missing or
   * repeated type sniffed from the body), or refused.
   * Default: SSE, NDJSON and JSON.
   */
  contentTypes?: readonly string[]
  /**
   * A binary media type (none of the above: images, octet-stream, PDF…)
   * cannot be scanned: `'refuse'` (default) answers 502
   * SLUICE_UNSCANNABLE_MEDIA_TYPE, `'pass'` sends it unscanned.
   */
  binary?: 'refuse' | 'pass'
  /**
   * Largest non-streamed body (JSON, text, an event stream sent whole),
   * decoded, in bytes (default 8 MiB); above it, 502 SLUICE_BODY_TOO_LARGE.
   */
  maxBodySize?: number
  /** Key for pseudonyms and digests (default: SLUICE_HMAC_KEY or per-process random). */
  hmacKey?: string
  /** Largest single SSE event / NDJSON line, bytes (default 1 MiB). */
  maxEventSize?: number
  /**
   * Merge the text-only chunks that arrive in one read into one chunk
   * (default true): the same text in fewer frames, far less work per token.
   * False writes one frame per upstream frame.
   */
  coalesce?: boolean
  /** Every finding; `where` says which channel (choice, tool call, content block) it was in. */
  onFinding?: (finding: Finding, request: FastifyRequest, where: FindingContext) => void
  onCut?: (finding: Finding, request: FastifyRequest) => void
  onStreamEnd?: (outcome: StreamOutcome, request: FastifyRequest) => void
}

/**
 * Per-route `config: { sluice: … }`: `false` turns sanitizing off. Checked
 * when the route is added (an unknown key or a bad value throws
 * SLUICE_INVALID_OPTIONS); rules given as paths load at `ready`, once per
 * distinct list. Register the plugin before the routes that use this.
 */
export type SluiceRouteConfig = false | Pick<SluicePluginOptions, 'rules' | 'defaultRules' | 'contentTypes' | 'binary' | 'onFinding' | 'onCut'> & { protocol?: string }

export interface SluiceDecorator {
  /** Scans a whole text with the current rules. */
  scan: (text: string) => ScanResult
  /** The rule set new streams will use. */
  readonly ruleSet: RuleSet
  /** Swaps the rule set for new streams (streams in flight keep theirs). */
  setRuleSet: (ruleSet: RuleSet) => void
}
