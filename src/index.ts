/**
 * @module sluice
 * The public API (`sluice`): the Fastify plugin as the default export, the
 * scanner, streams and audit log. The package's other entries are
 * `sluice/scanner` (scanner/index.ts) and `sluice/proxy` (proxy/index.ts);
 * every other file under src/ is internal and may move.
 */
// The pure scanner and rule API, also published on its own as 'sluice/scanner'
// (no HTTP stack in its import graph).
export * from './scanner/index.js'
// The on-disk cache of what building rule sets derives (the scanner entry does no I/O).
export { createDiskRuleCache } from './disk-rule-cache.js'

export { createSanitizeStream, sanitizeJsonResponse } from './stream/create-sanitize-stream.js'
export { createAuditLog } from './audit/create-audit-log.js'
export type { AuditLog, AuditLogOptions, AuditRecord, AuditRotateOptions, StreamSummary } from './audit/create-audit-log.js'
export { verifyAuditLog } from './audit/verify-audit-log.js'
export type { VerifyOptions, VerifyResult, VerifyOk, VerifyFailure, ResumePoint, VerifiedFile } from './audit/verify-audit-log.js'
export { listRotatedFiles, sortAuditSeries } from './audit/rotated-files.js'

export { sluice, sluice as default } from './plugin/index.js'
export type { SluicePluginOptions, SluiceRouteConfig, SluiceDecorator, StreamOutcome } from './plugin/index.js'

export * as errors from './errors.js'
