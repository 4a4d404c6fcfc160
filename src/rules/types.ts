/**
 * @module rules/types
 * The shapes of a rule as written in a rule file (`RuleSource`) and as
 * compiled for the scanner (`CompiledRule`, `RuleSet`). Everything else
 * in Sluice speaks these types.
 */
import type RE2 from 're2'

/** What happens to a match. `flag` only reports; it never changes or holds back text. */
export type RuleAction = 'redact' | 'cut' | 'flag'

export type Severity = 'low' | 'medium' | 'high' | 'critical'

/**
 * Character classes that must not touch the match on either side. Checked in
 * code against the characters before and after the match, because RE2 has no
 * lookbehind (and `(?:^|\D)` in the pattern would consume a character).
 * - `word`: ASCII `[A-Za-z0-9_]`
 * - `digit`: `[0-9]`
 * - `alnum`: any Unicode letter or digit (whole words, also outside ASCII)
 * - `none`: no check
 */
export type Boundary = 'none' | 'word' | 'digit' | 'alnum'

/** A `match` example: a text that must yield a finding, optionally with the exact value found. */
export type MatchExample = string | { text: string; value?: string }

/** One rule exactly as a compliance engineer writes it in YAML. */
export interface RuleSource {
  id: string
  category: string
  description: string
  /** RE2 syntax, restricted to what JavaScript's `u`-mode RegExp also parses. */
  pattern?: string
  /** Alternative to `pattern`: literal words or phrases, compiled into one alternation. */
  words?: string[]
  /** For `words`: match leetspeak, confusables, repeated letters and separated letters. */
  obfuscation?: boolean
  /** `i` case-insensitive, `s` dot matches newline. */
  flags?: string
  boundary?: Boundary
  view?: 'normalized' | 'raw'
  /** Closes a region opened by a match of `pattern` (see rule-schema.ts). */
  until?: string
  /** The text before a match must end with a match of this (see rule-schema.ts). */
  after?: string
  /** The text before a match must not end with a match of this (see rule-schema.ts). */
  notAfter?: string
  /** The text after a match must not start with a match of this (see rule-schema.ts). */
  notBefore?: string
  action: RuleAction
  /** Template for `redact`: text with `{label}`-style placeholders; see `replacement.ts`. */
  replacement?: string
  /** Redact only this capture group (1-based) instead of the whole match. */
  group?: number
  validator?: string
  /** Minimum Shannon entropy (bits per character) of the value. */
  minEntropy?: number
  /** Values that are never findings (exact, case-sensitive). */
  allow?: string[]
  /** RE2 patterns; a value any of them matches (unanchored) is never a finding. */
  allowPatterns?: string[]
  /** Bound for each unbounded repetition (`*`, `+`, `{n,}`) in `pattern`. */
  maxLength?: number
  severity?: Severity
  enabled?: boolean
  examples?: { match?: MatchExample[]; nomatch?: string[] }
}

/**
 * A change a later rule file makes to a rule by id (`overrides:` in a rule
 * file): `action` and `severity` replace, `allow` and `allowPatterns` add
 * to the rule's own lists.
 */
export interface RuleOverride {
  id: string
  action?: RuleAction
  severity?: Severity
  allow?: string[]
  allowPatterns?: string[]
}

/** Where a rule file changed a rule: a `disable` entry or an override. */
export interface ChangeOrigin {
  file: string
  line: number
  column: number
}

/** Where a rule came from, for error messages and `rules test` output. */
export interface RuleOrigin {
  file: string
  /** 1-based line of the rule's entry in the file. */
  line: number
  /** 1-based column of the rule's entry (its first field). */
  column?: number
  /** 1-based lines of each example, in order: match examples, then nomatch. */
  exampleLines?: { match: number[]; nomatch: number[] }
  /** The `disable` entry that turned the rule off, if one did. */
  disabledAt?: ChangeOrigin
  /** The overrides applied to the rule, in the order applied. */
  overrides?: ReadonlyArray<ChangeOrigin & { override: RuleOverride }>
}

/**
 * Checks a candidate value; `before` is the code point just before the match
 * ('' at stream start); `lead`, for a rule with `after`, the text before the
 * match that `after` matched.
 */
export type Validator = (value: string, context: { before: string, lead?: string | undefined }) => boolean

/** A rule ready for the scanner. Immutable once built. */
export interface CompiledRule {
  readonly id: string
  readonly category: string
  readonly description: string
  readonly action: RuleAction
  readonly severity: Severity
  readonly enabled: boolean
  readonly boundary: Boundary
  /** Which text the rule reads: the normalized view (default) or the raw text. */
  readonly view: 'normalized' | 'raw'
  /** The final RE2 source (words compiled, unbounded repetitions bounded). */
  readonly source: string
  readonly flags: string
  /** Longest possible match in UTF-16 code units. */
  readonly maxLength: number
  readonly group: number | undefined
  readonly validator: Validator | undefined
  readonly validatorName: string | undefined
  readonly minEntropy: number | undefined
  readonly allow: ReadonlySet<string>
  readonly allowPatterns: readonly RE2[]
  readonly replacement: string
  readonly origin: RuleOrigin
  readonly examples: { match: MatchExample[]; nomatch: string[] }
}
