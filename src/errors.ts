/**
 * @module errors
 * The one catalogue of Sluice's coded errors (as fastify's lib/errors.js).
 * Every error Sluice throws or sends is made here, so codes are unique,
 * documented in docs/errors.md ("Error codes"), and tested in
 * test/errors.test.ts.
 */
import createError from '@fastify/error'

// Rule files -----------------------------------------------------------------
/** A rule file failed to load; the message names file, line and rule id. */
export const RuleFileError = createError('SLUICE_RULE_FILE', '%s', 500)
/** No rule files were found where rules were asked for. */
export const NoRulesError = createError('SLUICE_NO_RULES', 'No rule files found in %s', 500)
/** A replacement template that cannot be rendered. */
export const ReplacementTemplateError = createError('SLUICE_REPLACEMENT_TEMPLATE', 'Invalid replacement template: %s', 500)

// Streams and protocols ------------------------------------------------------
/** One SSE event or NDJSON line grew beyond the configured cap. */
export const FrameTooLargeError = createError('SLUICE_FRAME_TOO_LARGE', 'A single frame exceeded %d bytes', 502)
/** A frame from upstream could not be parsed (counted and logged, the stream goes on). */
export const MalformedFrameError = createError('SLUICE_MALFORMED_FRAME', 'Malformed upstream frame: %s', 502)
/** A stream opened more text channels, or held more text, than one stream may (a hostile upstream's way to exhaust memory). */
export const StreamLimitError = createError('SLUICE_STREAM_LIMIT', 'Stream limit exceeded: %s', 502)
/** A content type Sluice has no codec for. */
export const UnsupportedProtocolError = createError('SLUICE_UNSUPPORTED_PROTOCOL', 'No stream codec for "%s"', 500)

// Response bodies at the HTTP edge (plugin and proxy) ----------------------
/** A response whose media type no scanner can read (binary); refused unless the route opts out with `binary: 'pass'`. */
export const UnscannableMediaTypeError = createError('SLUICE_UNSCANNABLE_MEDIA_TYPE', 'Response media type "%s" cannot be scanned', 502)
/** A response in a content encoding or charset Sluice cannot decode, so cannot scan. */
export const UnsupportedEncodingError = createError('SLUICE_UNSUPPORTED_ENCODING', 'Response %s "%s" is not supported', 502)
/** A non-streamed response body (JSON, text) larger than `maxBodySize`. */
export const BodyTooLargeError = createError('SLUICE_BODY_TOO_LARGE', 'Response body exceeds %d bytes', 502)
/** A response body that cannot be scanned for another reason (payload type, nesting, corrupt compression). */
export const UnscannableBodyError = createError('SLUICE_UNSCANNABLE_BODY', 'Response body cannot be scanned: %s', 502)

// Options and configuration --------------------------------------------------
/** Invalid options given to the plugin, the proxy or the CLI. */
export const InvalidOptionsError = createError('SLUICE_INVALID_OPTIONS', 'Invalid options: %s', 500)

// Proxy requests (OpenAI error shape on the wire) ----------------------------
export const BadRequestError = createError('SLUICE_BAD_REQUEST', '%s', 400)
export const UnauthorizedError = createError('SLUICE_UNAUTHORIZED', 'Missing or invalid API key', 401)
export const NotFoundError = createError('SLUICE_NOT_FOUND', 'No route for %s %s', 404)
export const PayloadTooLargeError = createError('SLUICE_PAYLOAD_TOO_LARGE', 'Request body exceeds %d bytes', 413)
export const InputRejectedError = createError('SLUICE_INPUT_REJECTED', 'Request rejected by rule %s (%s)', 400)
export const UpstreamError = createError('SLUICE_UPSTREAM', 'Upstream failed: %s', 502)
export const UpstreamTimeoutError = createError('SLUICE_UPSTREAM_TIMEOUT', 'Upstream timed out: %s', 504)

// Audit log file --------------------------------------------------------------
/** An existing audit file whose last line is not a record of this chain (foreign file, edited tail, other chain key). */
export const AuditFileError = createError('SLUICE_AUDIT_FILE', 'Cannot continue audit log %s: %s', 500)
/** Rotating the audit file failed (rename or open): given to `onError` while the log goes on in the current file, or thrown when opening the log cannot finish an interrupted rotation. */
export const AuditRotateError = createError('SLUICE_AUDIT_ROTATE', 'Cannot rotate audit log %s: %s', 500)

// Rate limiting ----------------------------------------------------------------
/** A client key went over the proxy's request limit (sent as a 429 in the OpenAI error shape). */
export const RateLimitedError = createError('SLUICE_RATE_LIMITED', 'Rate limit exceeded, retry in %s', 429)

// Proxy internals ----------------------------------------------------------------
/** An unexpected failure inside the proxy; sent as a 500 without details (they are logged). */
export const ProxyInternalError = createError('SLUICE_INTERNAL', 'Internal error in the Sluice proxy', 500)

// Pseudonyms ---------------------------------------------------------------------
/** A pseudonym setting that cannot work (a placeholder template the restorer could not find back, a missing vault key). */
export const PseudonymConfigError = createError('SLUICE_PSEUDONYM_CONFIG', 'Invalid pseudonym settings: %s', 500)
/** The vault could not be read or written (Redis down): the request is not forwarded with values in clear. */
export const PseudonymVaultError = createError('SLUICE_PSEUDONYM_VAULT', 'Pseudonym vault unavailable: %s', 503)

// Budgets ------------------------------------------------------------------------
/** A client key's token or cost budget for the period is spent. */
export const BudgetExceededError = createError('SLUICE_BUDGET_EXCEEDED', 'Budget exceeded for this key: %s', 429)
