/**
 * @module plugin/options
 * The plugin's options: their types, their checks at register time (a bad
 * value throws SLUICE_INVALID_OPTIONS before the app starts, never at a
 * request), and the settings the hooks read, with every default applied,
 * merged once per plugin. A route's `config.sluice` is merged over these
 * in route-config.ts.
 */
import type { TokenUsage } from '../usage/read-usage.js'
import type { FastifyRequest } from 'fastify'
import type { AuditLog } from '../audit/create-audit-log.js'
import { InvalidOptionsError } from '../errors.js'
import { kDefaultMaxBodySize } from '../http/collect-body.js'
import { mediaTypeOf } from '../http/media-types.js'
import type { FindingContext, ProtocolOption } from '../protocols/types.js'
import type { RuleSet } from '../rules/rule-set.js'
import { resolveHmacKey } from '../scanner/digest.js'
import type { Finding, ScannerOptions } from '../scanner/types.js'
import { isRulePaths, isRuleSet } from './rules.js'

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
  /** Token usage the upstream reported (zeros when it reported none: see `usageReported`). */
  usage: TokenUsage
  usageReported: boolean
  /** Upstream frames dropped as duplicates (a resend). */
  duplicates: number
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
  /**
   * Compress event streams (SSE, NDJSON) with `br` or `gzip` when the
   * client's `Accept-Encoding` takes one, flushed after every event so
   * nothing waits for more text (http/event-compression.ts). Default false.
   */
  compress?: boolean
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
 * The settings one route's hook runs with: the plugin's options with their
 * defaults, and the route's overrides when it has some (route-config.ts).
 * Built when the plugin registers and when a route is added, never per
 * request.
 */
export interface SluiceSettings {
  /** The rules a new stream takes (a getter: `setRuleSet` and rule getters swap them). */
  rules: () => RuleSet
  /** With rules given as paths on a route: load the shipped rules first. */
  defaultRules: boolean
  /** Lower-cased once: media types compare case-insensitively (RFC 9110 §8.3.1). */
  contentTypes: readonly string[]
  binary: 'refuse' | 'pass'
  /** A route's `protocol`; unset, each body says which it is. */
  protocol: ProtocolOption | undefined
  maxBodySize: number
  compress: boolean
  maxEventSize: number | undefined
  coalesce: boolean | undefined
  /**
   * Resolved once: every scanner (one per stream channel, one per JSON
   * field) would otherwise read SLUICE_HMAC_KEY from process.env again.
   */
  scannerOptions: ScannerOptions
  audit: AuditLog | undefined
  onFinding: SluicePluginOptions['onFinding']
  onCut: SluicePluginOptions['onCut']
  onStreamEnd: SluicePluginOptions['onStreamEnd']
}

const defaultContentTypes = ['text/event-stream', 'application/x-ndjson', 'application/json']
// Fastify's own register options (`prefix`, `logLevel`, …) reach the plugin too.
const knownOptions = new Set(['rules', 'defaultRules', 'audit', 'contentTypes', 'binary', 'maxBodySize', 'compress', 'hmacKey', 'maxEventSize', 'coalesce', 'onFinding', 'onCut', 'onStreamEnd', 'prefix', 'logLevel', 'logSerializers'])

/**
 * The options the plugin and a route share (`rules`, `defaultRules`,
 * `contentTypes`, `binary`, the callbacks), checked alike; `where` is ''
 * for the plugin and names the route for a route's config.
 */
export function checkSharedOptions (opts: Record<string, unknown>, where: string): void {
  for (const key of ['onFinding', 'onCut', 'onStreamEnd']) {
    if (opts[key] !== undefined && typeof opts[key] !== 'function') throw new InvalidOptionsError(`${where}"${key}" must be a function`)
  }
  const types = opts.contentTypes
  if (types !== undefined && (!Array.isArray(types) || types.some((c) => typeof c !== 'string'))) {
    throw new InvalidOptionsError(`${where}"contentTypes" must be an array of strings`)
  }
  if (opts.binary !== undefined && opts.binary !== 'refuse' && opts.binary !== 'pass') {
    throw new InvalidOptionsError(`${where}"binary" must be "refuse" or "pass"`)
  }
  const rules = opts.rules
  const isPaths = isRulePaths(rules)
  if (rules !== undefined && !isPaths && typeof rules !== 'function' && !isRuleSet(rules)) {
    throw new InvalidOptionsError(`${where}"rules" must be a rule set, rule file path(s) or a function returning a rule set`)
  }
  // It says whether rule paths add to the shipped rules: given with anything else, it would do nothing.
  const defaultRules = opts.defaultRules
  if (defaultRules !== undefined) {
    if (typeof defaultRules !== 'boolean') throw new InvalidOptionsError(`${where}"defaultRules" must be a boolean`)
    if (rules !== undefined && !isPaths) throw new InvalidOptionsError(`${where}"defaultRules" applies to "rules" given as paths, not to a rule set or a getter`)
    if (rules === undefined && (where !== '' || !defaultRules)) throw new InvalidOptionsError(`${where}"defaultRules" needs "rules" given as paths`)
  }
}

function isPositiveInteger (value: unknown): boolean {
  return Number.isInteger(value) && (value as number) > 0
}

/** Throws SLUICE_INVALID_OPTIONS for an unknown option or a value of the wrong type. */
export function checkOptions (opts: SluicePluginOptions): void {
  for (const key of Object.keys(opts)) {
    if (!knownOptions.has(key)) throw new InvalidOptionsError(`unknown option "${key}"`)
  }
  checkSharedOptions(opts as Record<string, unknown>, '')
  if (opts.maxEventSize !== undefined && !isPositiveInteger(opts.maxEventSize)) {
    throw new InvalidOptionsError('"maxEventSize" must be a positive integer')
  }
  if (opts.compress !== undefined && typeof opts.compress !== 'boolean') throw new InvalidOptionsError('"compress" must be a boolean')
  if (opts.maxBodySize !== undefined && !isPositiveInteger(opts.maxBodySize)) {
    throw new InvalidOptionsError('"maxBodySize" must be a positive integer')
  }
  if (opts.coalesce !== undefined && typeof opts.coalesce !== 'boolean') {
    throw new InvalidOptionsError('"coalesce" must be a boolean')
  }
  if (opts.hmacKey !== undefined && (typeof opts.hmacKey !== 'string' || opts.hmacKey === '')) {
    throw new InvalidOptionsError('"hmacKey" must be a non-empty string')
  }
  // A wrong type here would otherwise reach createAuditLog as "no destination", i.e. stdout.
  const audit: unknown = opts.audit
  const validAudit = audit === undefined || audit === false || typeof audit === 'string' || isAuditLog(audit) ||
    (typeof audit === 'object' && audit !== null && typeof (audit as { destination?: unknown }).destination === 'string')
  if (!validAudit) throw new InvalidOptionsError('"audit" must be a file path, { destination, chainKey }, an AuditLog or false')
}

/**
 * The plugin's settings from its checked options, the rules they loaded
 * and the audit log they opened.
 */
export function resolveOptions (opts: SluicePluginOptions, rules: () => RuleSet, audit: AuditLog | undefined): SluiceSettings {
  return {
    rules,
    defaultRules: opts.defaultRules ?? true,
    contentTypes: (opts.contentTypes ?? defaultContentTypes).map((c) => mediaTypeOf(c)),
    binary: opts.binary ?? 'refuse',
    protocol: undefined,
    maxBodySize: opts.maxBodySize ?? kDefaultMaxBodySize,
    compress: opts.compress === true,
    maxEventSize: opts.maxEventSize,
    coalesce: opts.coalesce,
    scannerOptions: { hmacKey: resolveHmacKey(opts.hmacKey) },
    audit,
    onFinding: opts.onFinding,
    onCut: opts.onCut,
    onStreamEnd: opts.onStreamEnd
  }
}

/** A ready audit log (rather than options to open one). */
export function isAuditLog (value: unknown): value is AuditLog {
  return typeof value === 'object' && value !== null && typeof (value as AuditLog).finding === 'function' && typeof (value as AuditLog).summary === 'function'
}
