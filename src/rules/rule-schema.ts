/**
 * @module rules/rule-schema
 * The rule-file format as a TypeBox schema: one definition gives the load-time
 * validation and the JSON Schema shipped in `rules/rule-file.schema.json` for
 * editors (`sluice rules schema` prints it; a test keeps the file in sync).
 */
import { Type } from '@sinclair/typebox'
import type { Static } from '@sinclair/typebox'

const MatchExample = Type.Union([
  Type.String(),
  Type.Object({
    text: Type.String({ description: 'Text that must yield a finding of this rule' }),
    value: Type.Optional(Type.String({ description: 'The exact value that must be found' }))
  }, { additionalProperties: false })
])

export const RuleSchema = Type.Object({
  id: Type.String({ pattern: '^[a-z0-9][a-z0-9_.-]*$', maxLength: 100, description: 'Unique id, e.g. pii.email' }),
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
  action: Type.Union([Type.Literal('redact'), Type.Literal('cut'), Type.Literal('flag')]),
  replacement: Type.Optional(Type.String({ description: 'Template: literal text with {hmac[:N]}, {mask[:N]}, {last:N}, {len}, {id}, {category}' })),
  group: Type.Optional(Type.Integer({ minimum: 1, description: 'Redact only this capture group' })),
  validator: Type.Optional(Type.String({ description: 'luhn, iban, us_ssn, verhoeff, uk_nino, es_nif, uk_nhs, ipv4, …' })),
  minEntropy: Type.Optional(Type.Number({ minimum: 0, maximum: 8 })),
  allow: Type.Optional(Type.Array(Type.String(), { description: 'Exact values that are never findings' })),
  allowPatterns: Type.Optional(Type.Array(Type.String(), { description: 'RE2 patterns: a value any of them matches is never a finding' })),
  maxLength: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Bound for each unbounded repetition' })),
  severity: Type.Optional(Type.Union([Type.Literal('low'), Type.Literal('medium'), Type.Literal('high'), Type.Literal('critical')])),
  enabled: Type.Optional(Type.Boolean()),
  examples: Type.Optional(Type.Object({
    match: Type.Optional(Type.Array(MatchExample)),
    nomatch: Type.Optional(Type.Array(Type.String()))
  }, { additionalProperties: false }))
}, { additionalProperties: false })

export const RuleFileSchema = Type.Object({
  $schema: Type.Optional(Type.String()),
  rules: Type.Array(RuleSchema)
}, {
  additionalProperties: false,
  $id: 'https://sluice.dev/schemas/rule-file.json',
  title: 'Sluice rule file'
})

export type RuleFileInput = Static<typeof RuleFileSchema>
