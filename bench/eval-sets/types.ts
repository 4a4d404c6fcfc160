/**
 * @module bench/eval-sets/types
 * The shape of the hand-written evaluation sets: per format (a provider's
 * token, a card brand, a country's phone numbers…), positives written from
 * the format's public description and near-miss negatives. Values are
 * synthetic: shaped like the real format (prefix, alphabet, length,
 * checksum where one is published), never real credentials or people.
 */

export type Category = 'pii' | 'secret' | 'injection' | 'toxicity'

/** The strongest action the scanner took (cut > redact > flag > none). */
export type Outcome = 'none' | 'flag' | 'redact' | 'cut'

/**
 * How a positive counts as found:
 * - exact: a finding of the group's category spans exactly the value;
 * - cover: the value is gone from the output (findings of the category
 *   cover it, or, for region rules whose finding marks only the opening,
 *   a finding overlaps it and none of its lines survives);
 * - overlap: a finding of the category overlaps the value (flag rules,
 *   which report a span and change nothing).
 */
export type SpanMode = 'exact' | 'cover' | 'overlap'

/** Which headline figure a group feeds (see bench/lib/format-sets.ts). */
export type Summary =
  | 'structured-pii' | 'phone' | 'phone-extension' | 'phone-unseparated' | 'other-pii'
  | 'provider-secret' | 'context-secret'
  | 'injection' | 'toxicity'

export interface EvalItem {
  /** The text scanned, alone. */
  text: string
  /** The part a positive must have found, or that a negative resembles; occurs in `text`. */
  value: string | undefined
  /** Outcomes that count as handled as stated (toxicity), instead of the span test. */
  accept: readonly Outcome[] | undefined
  /** Sub-kind (card brand, country, `bare` without a keyword nearby, `ctx` with one) or why a negative is one. */
  tag: string | undefined
}

export interface EvalGroup {
  id: string
  category: Category
  summary: Summary
  mode: SpanMode
  title: string
  /** The public description the values follow. */
  source: string
  positives: readonly EvalItem[]
  negatives: readonly EvalItem[]
}

function fill (template: string, value: string): string {
  const at = template.indexOf('{}')
  if (at < 0) throw new Error(`eval set: template without {}: ${template}`)
  return template.slice(0, at) + value + template.slice(at + 2)
}

/** A positive: `value` put where `template` has `{}` (the first one). */
export function pos (value: string, template: string, tag?: string): EvalItem {
  return { text: fill(template, value), value, accept: undefined, tag }
}

/** A negative: `template` with `value` at `{}`, or the template alone when there is no value. */
export function neg (template: string, value?: string, tag?: string): EvalItem {
  return { text: value === undefined ? template : fill(template, value), value, accept: undefined, tag }
}

/** An item judged by outcome (toxicity): handled when the strongest action on it is one of `accept`. */
export function judged (text: string, value: string | undefined, accept: readonly Outcome[], tag?: string): EvalItem {
  if (value !== undefined && !text.includes(value)) throw new Error(`eval set: value not in text: ${value}`)
  return { text, value, accept, tag }
}
