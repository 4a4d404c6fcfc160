/**
 * @module scanner
 * The pure scanner, published as `sluice/scanner`: rules in, a scanner out,
 * text in, safe text and findings out. Nothing here opens a socket or starts
 * a logger, and nothing in its import graph loads fastify, pino, undici or
 * ioredis, so a worker, a CLI or another framework can scan without paying
 * for the HTTP stack (test/package/pack-install.test.ts checks the graph of
 * the packed package). The main entry (`sluice`) re-exports all of it.
 *
 * @example
 * import { loadRuleSet, createScanner } from 'sluice/scanner'
 * const scanner = createScanner(await loadRuleSet(), { hmacKey: 'k' })
 * scanner.write('mail jane.doe@acme.io').text + scanner.end().text // 'mail [email:…]'
 */
export { createScanner } from './create-scanner.js'
export { scanText } from './scan-text.js'
export type { Finding, ScanResult, Scanner, ScannerOptions } from './types.js'

export { loadRuleSet, defaultRulesDir, composeRulePaths, createRuleSetFromSources, resolveRuleFiles } from '../rules/load-rules.js'
export type { LoadRulesOptions } from '../rules/load-rules.js'
export type { RuleSet } from '../rules/rule-set.js'
export type { RuleCache } from '../rules/rule-cache.js'
export type { RuleSource, RuleOverride, CompiledRule, RuleAction, Severity, Boundary, Validator } from '../rules/types.js'
export { RuleFileSchema } from '../rules/rule-schema.js'
export { testRuleExamples } from '../rules-test.js'
export type { RuleTestReport, ExampleFailure, ExampleSkip } from '../rules-test.js'
export { validators } from '../rules/validators.js'
