/**
 * @module sluice
 * The public API. Everything a user imports comes from here; files under
 * src/ are internal and may move.
 */
export { createScanner } from './scanner/create-scanner.js'
export { scanText } from './scanner/scan-text.js'
export type { Finding, ScanResult, Scanner, ScannerOptions } from './scanner/types.js'

export { loadRuleSet, defaultRulesDir, createRuleSetFromSources, resolveRuleFiles } from './rules/load-rules.js'
export type { LoadRulesOptions } from './rules/load-rules.js'
export type { RuleSet } from './rules/rule-set.js'
export type { RuleSource, CompiledRule, RuleAction, Severity, Boundary, Validator } from './rules/types.js'
export { RuleFileSchema } from './rules/rule-schema.js'
export { testRuleExamples } from './rules/test-rules.js'
export type { RuleTestReport, ExampleFailure } from './rules/test-rules.js'
export { validators } from './rules/validators.js'

export { createSanitizeStream, sanitizeJsonResponse } from './stream/create-sanitize-stream.js'
export { createAuditLog } from './audit/create-audit-log.js'
export type { AuditLog, AuditLogOptions, AuditRecord, AuditRotateOptions, StreamSummary } from './audit/create-audit-log.js'
export { verifyAuditLog } from './audit/verify-audit-log.js'
export type { VerifyOptions, VerifyResult, VerifyOk, VerifyFailure, ResumePoint, VerifiedFile } from './audit/verify-audit-log.js'
export { listRotatedFiles, sortAuditSeries } from './audit/rotated-files.js'

export { sluice, sluice as default } from './plugin.js'
export type { SluicePluginOptions, SluiceRouteConfig, SluiceDecorator, StreamOutcome } from './plugin-options.js'

export * as errors from './errors.js'
