/**
 * @module rules/rule-schema
 * The rule-file format as a TypeBox schema: one definition gives the load-time
 * validation and the JSON Schema shipped in `rules/rule-file.schema.json` for
 * editors (`sluice rules schema` prints it; a test keeps the file in sync).
 *
 * A file may also change rules loaded before it (the shipped set, then the
 * user's paths in order), as gitleaks' `[extend]` does: `disable` turns
 * rules off by id, `overrides` changes a rule's action, severity or
 * allow-lists by id. Rule ids stay unique: redefining one is an error.
 */
import { Type } from '@sinclair/typebox'

const MatchExample = Type.Union([
  Type.String(),
  Type.Object({
    text: Type.String({ description: 'Text that must yield a finding of this rule' }),
    value: Type.Optional(Type.String({ description: 'The exact value that must be found' }))
  }, { additionalProperties: false })
])

const idPattern = '^[a-z0-9][a-z0-9_.-]*$'
const Action = Type.Union([Type.Literal('redact'), Type.Literal('cut'), Type.Literal('flag')])
const Severity = Type.Union([Type.Literal('low'), Type.Literal('medium'), Type.Literal('high'), Type.Literal('critical')])

export const RuleSchema = Type.Object({
  id: Type.String({ pattern: idPattern, maxLength: 100, description: 'Unique id, e.g. pii.email' }),
  category: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]*$', description: 'pii, secret, injection, toxicity or a custom name' }),
  description: Type.String({ minLength: 1 }),
  pattern: Type.Optional(Type.String({ minLength: 1, description: 'RE2 pattern (common subset with JavaScript u-mode syntax)' })),
  after: Type.Optional(Type.String({ minLength: 1, description: 'RE2 pattern the text just before a match must end with (a lookbehind, which RE2 lacks): the match itself can then be only the sensitive part, so what leads up to it (a link\'s URL, a variable name) is not held back' })),
  notAfter: Type.Optional(Type.String({ minLength: 1, description: 'RE2 pattern the text just before a match must not end with: a word\'s literal sense in its context ("a bundle of faggots"), where `after` states the context a match needs' })),
  notBefore: Type.Optional(Type.String({ minLength: 1, description: 'RE2 pattern the text just after a match must not start with ("faggots of firewood"): the match is held until that is decided' })),
  until: Type.Optional(Type.String({ minLength: 1, description: 'RE2 pattern closing a region: from a match of `pattern` (the opening) to the end of the first match of `until` after it, or to the end of the stream, everything is redacted as it streams, in one replacement (private keys and other long secrets with a begin and end line)' })),
  words: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Literal words or phrases, compiled into one alternation' })),
  obfuscation: Type.Optional(Type.Boolean({ description: 'Match words through leetspeak, confusables, repeats and separators' })),
  flags: Type.Optional(Type.String({ pattern: '^[is]*$', description: 'i: case-insensitive, s: dot matches newline' })),
  view: Type.Optional(Type.Union([Type.Literal('normalized'), Type.Literal('raw')], { description: 'normalized (default): match the text as rendered — compatibility forms folded, invisible characters removed, HTML references and markdown escapes decoded; raw: the text as sent (for rules that look for invisible characters)' })),
  boundary: Type.Optional(Type.Union([Type.Literal('none'), Type.Literal('word'), Type.Literal('digit'), Type.Literal('alnum')])),
  action: Action,
  replacement: Type.Optional(Type.String({ description: 'Template: literal text with {hmac[:N]}, {mask[:N]}, {last:N}, {len}, {id}, {category}' })),
  group: Type.Optional(Type.Integer({ minimum: 1, description: 'Redact only this capture group' })),
  validator: Type.Optional(Type.String({ description: 'luhn, iban, us_ssn, verhoeff, uk_nino, es_nif, uk_nhs, ipv4, …' })),
  minEntropy: Type.Optional(Type.Number({ minimum: 0, maximum: 8 })),
  allow: Type.Optional(Type.Array(Type.String(), { description: 'Exact values that are never findings' })),
  allowPatterns: Type.Optional(Type.Array(Type.String(), { description: 'RE2 patterns: a value any of them matches is never a finding' })),
  maxLength: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Bound for each unbounded repetition' })),
  severity: Type.Optional(Severity),
  enabled: Type.Optional(Type.Boolean()),
  examples: Type.Optional(Type.Object({
    match: Type.Optional(Type.Array(MatchExample)),
    nomatch: Type.Optional(Type.Array(Type.String()))
  }, { additionalProperties: false }))
}, { additionalProperties: false })

/**
 * A change to a rule loaded before this file. `allow` and `allowPatterns`
 * add to the rule's own lists (its placeholders stay allowed); `action` and
 * `severity` replace. Moving a rule off `redact` drops its replacement.
 */
export const RuleOverrideSchema = Type.Object({
  id: Type.String({ pattern: idPattern, maxLength: 100, description: 'Id of a rule loaded before this file (a shipped rule, or one from an earlier rule path)' }),
  action: Type.Optional(Action),
  severity: Type.Optional(Severity),
  allow: Type.Optional(Type.Array(Type.String(), { description: 'Exact values added to the rule\'s allow-list' })),
  allowPatterns: Type.Optional(Type.Array(Type.String(), { description: 'RE2 patterns added to the rule\'s allowPatterns' }))
}, { additionalProperties: false, minProperties: 2, description: 'Changes a rule loaded before this file, by id' })

export const RuleFileSchema = Type.Object({
  $schema: Type.Optional(Type.String()),
  rules: Type.Optional(Type.Array(RuleSchema)),
  disable: Type.Optional(Type.Array(Type.String({ pattern: idPattern }), { description: 'Ids of rules loaded before this file (shipped, or from an earlier rule path) to turn off' })),
  overrides: Type.Optional(Type.Array(RuleOverrideSchema))
}, {
  additionalProperties: false,
  $id: 'https://sluice.dev/schemas/rule-file.json',
  title: 'Sluice rule file'
})
