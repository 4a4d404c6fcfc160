/**
 * @module bench/lib/format-sets
 * Scores the hand-written format sets (bench/eval-sets/) against a rule set
 * and prints markdown tables. Every item is scanned alone (scan-all.ts: a
 * cut does not hide later findings).
 *
 * Scoring. Only findings of the group's category count for a positive
 * (a card number redacted as a phone number is not a card found):
 * - exact: a finding overlapping the value spans exactly the value, or
 *   carries the value's digest (rules with a `group` report the whole
 *   match and redact, and digest, the group: `password = <value>`);
 * - covered: the value is gone: exact, or a finding overlaps it and the
 *   value no longer appears in the output (for a value of several lines,
 *   none of its lines of 8+ characters: region rules such as private keys
 *   mark only the opening line), or a cut starts before it;
 * - found: per the group's mode (exact, cover, overlap), or, for items
 *   judged by outcome (toxicity), the strongest action of the category on
 *   the value is one the item accepts;
 * - partial: not found, but a finding of the category overlaps the value.
 * A negative is a false positive when any rule fires on it (any category,
 * flags included), except that an outcome-judged negative may carry the
 * accepted actions of its own category (a flag on a breeder's "bitch").
 * Extra findings on positives (outside the value) are counted and enter
 * the structured-PII precision as false positives.
 */
import type { RuleSet } from '../../src/rules/rule-set.js'
import { digestValue } from '../../src/scanner/digest.js'
import type { Finding } from '../../src/scanner/types.js'
import type { EvalGroup, EvalItem, Outcome, Summary } from '../eval-sets/types.js'
import { scanAll } from './scan-all.js'

export interface ItemResult {
  group: EvalGroup
  item: EvalItem
  positive: boolean
  exact: boolean
  covered: boolean
  overlapped: boolean
  found: boolean
  fp: boolean
  outcome: Outcome
  /** Positives: rules of the category that touched the value; negatives: every rule that fired. */
  rules: string[]
  /** Positives: findings (any category) outside the value. */
  extras: Finding[]
  findings: Finding[]
}

const strength: Record<Outcome, number> = { none: 0, flag: 1, redact: 2, cut: 3 }

function valueSpan (item: EvalItem): [number, number] {
  if (item.value === undefined) return [0, item.text.length]
  const at = item.text.indexOf(item.value)
  if (at < 0) throw new Error(`eval set: value not in text: ${item.value}`)
  return [at, at + item.value.length]
}

const overlaps = (f: Finding, s: number, e: number): boolean => f.start < e && f.start + f.length > s

function survives (value: string, output: string): boolean {
  const lines = value.split(/\r?\n|\\n/).map((l) => l.trim()).filter((l) => l.length >= 8)
  return lines.length <= 1 ? output.includes(value) : lines.some((l) => output.includes(l))
}

export function scoreItem (ruleSet: RuleSet, hmacKey: Buffer, group: EvalGroup, item: EvalItem, positive: boolean): ItemResult {
  const { findings, output } = scanAll(ruleSet, item.text, hmacKey)
  const [s, e] = valueSpan(item)
  const mine = findings.filter((f) => f.category === group.category)
  const onValue = mine.filter((f) => overlaps(f, s, e))
  const digest = item.value === undefined ? undefined : digestValue(hmacKey, item.value)
  const exact = onValue.some((f) => (f.start === s && f.start + f.length === e) || f.digest === digest)
  const overlapped = onValue.length > 0
  const cutBefore = mine.some((f) => f.action === 'cut' && f.start <= s)
  const covered = exact || cutBefore || (overlapped && item.value !== undefined && !survives(item.value, output))
  const outcome = onValue.reduce<Outcome>((o, f) => (strength[f.action] > strength[o] ? f.action : o), 'none')
  let found = false
  let fp = false
  if (positive) {
    found = item.accept !== undefined
      ? item.accept.includes(outcome)
      : group.mode === 'exact'
        ? exact
        : group.mode === 'cover'
          ? covered
          : overlapped
  } else if (item.accept !== undefined) {
    fp = !item.accept.includes(outcome) || findings.some((f) => f.category !== group.category)
  } else {
    fp = findings.length > 0
  }
  const rules = [...new Set((positive ? onValue : findings).map((f) => f.ruleId))].sort()
  const extras = positive ? findings.filter((f) => !overlaps(f, s, e)) : []
  return { group, item, positive, exact, covered, overlapped, found, fp, outcome, rules, extras, findings }
}

export function scoreGroups (ruleSet: RuleSet, hmacKey: Buffer, groups: readonly EvalGroup[]): ItemResult[] {
  const out: ItemResult[] = []
  for (const g of groups) {
    for (const item of g.positives) out.push(scoreItem(ruleSet, hmacKey, g, item, true))
    for (const item of g.negatives) out.push(scoreItem(ruleSet, hmacKey, g, item, false))
  }
  return out
}

// Report --------------------------------------------------------------------------------

const pct = (a: number, b: number): string => (b === 0 ? '—' : `${(100 * a / b).toFixed(a === b || a === 0 ? 0 : 1)}%`)
const frac = (a: number, b: number): string => `${a}/${b} (${pct(a, b)})`

function show (s: string, max = 150): string {
  const q = JSON.stringify(s)
  return q.length > max ? q.slice(0, max - 4) + '…"' : q
}

function snippet (text: string, f: Finding): string {
  return JSON.stringify(text.slice(f.start, f.start + f.length)).slice(0, 70)
}

interface Tally { pos: number, found: number, exact: number, covered: number, partial: number, neg: number, fp: number, extras: number, rules: Map<string, number> }

function tally (results: readonly ItemResult[]): Tally {
  const t: Tally = { pos: 0, found: 0, exact: 0, covered: 0, partial: 0, neg: 0, fp: 0, extras: 0, rules: new Map() }
  for (const r of results) {
    if (r.positive) {
      t.pos++
      if (r.found) t.found++
      if (r.exact) t.exact++
      if (r.covered) t.covered++
      if (!r.found && r.overlapped) t.partial++
      t.extras += r.extras.filter((f) => f.category === r.group.category).length
      if (r.found) for (const id of r.rules) t.rules.set(id, (t.rules.get(id) ?? 0) + 1)
    } else {
      t.neg++
      if (r.fp) t.fp++
    }
  }
  return t
}

/** The headline figures (also returned, for the README and the lead's comparison). */
export interface SetSummary { label: string, value: string }

export function summarize (results: readonly ItemResult[]): SetSummary[] {
  const by = (...kinds: Summary[]): ItemResult[] => results.filter((r) => kinds.includes(r.group.summary))
  const out: SetSummary[] = []
  const structured = tally(by('structured-pii'))
  const structuredFp = structured.fp + structured.extras
  out.push({ label: 'structured PII (e-mail, cards, IBAN, SSN, IP): micro recall (exact span)', value: frac(structured.found, structured.pos) })
  out.push({ label: 'structured PII: micro precision = found ÷ (found + FP negatives + extra PII findings on positives)', value: `${structured.found}/${structured.found + structuredFp} (${pct(structured.found, structured.found + structuredFp)})` })
  for (const [id, name] of [['pii:email', 'e-mail'], ['pii:card', 'cards'], ['pii:iban', 'IBAN'], ['pii:ssn', 'SSN'], ['pii:ip', 'IP']] as const) {
    const t = tally(results.filter((r) => r.group.id === id))
    out.push({ label: `  ${name}: recall, FP on near misses`, value: `${frac(t.found, t.pos)}, ${t.fp}/${t.neg}` })
  }
  const phone = tally(by('phone'))
  out.push({ label: 'phones (numbering-plan formats, separated): recall (exact span)', value: frac(phone.found, phone.pos) })
  out.push({ label: 'phones with an extension: recall (whole number incl. extension)', value: frac(tally(by('phone-extension')).found, tally(by('phone-extension')).pos) })
  out.push({ label: 'phones as one digit run next to a cue word: recall', value: frac(tally(by('phone-unseparated')).found, tally(by('phone-unseparated')).pos) })
  out.push({ label: 'phone look-alikes (dates, prices, versions…): FP', value: frac(phone.fp, phone.neg) })
  const other = tally(by('other-pii'))
  out.push({ label: 'other national ids: recall, FP', value: `${frac(other.found, other.pos)}, ${other.fp}/${other.neg}` })
  const provider = tally(by('provider-secret'))
  const bare = tally(by('provider-secret').filter((r) => r.item.tag === 'bare'))
  const context = tally(by('context-secret'))
  const secrets = tally(by('provider-secret', 'context-secret'))
  out.push({ label: 'secrets, provider formats: recall (exact span; private keys: removed)', value: frac(provider.found, provider.pos) })
  out.push({ label: '  of which with no keyword nearby (`bare`)', value: frac(bare.found, bare.pos) })
  out.push({ label: 'secrets known by context (assignments, URLs, headers): recall', value: frac(context.found, context.pos) })
  out.push({ label: 'secrets: FP rate on near misses (any finding)', value: frac(secrets.fp, secrets.neg) })
  const inj = tally(by('injection'))
  out.push({ label: 'injection/exfiltration: recall, FP on near misses', value: `${frac(inj.found, inj.pos)}, ${frac(inj.fp, inj.neg)}` })
  const tox = tally(by('toxicity'))
  out.push({ label: 'toxicity phrases handled as stated (cut / flag / not cut)', value: frac(tox.found + tox.neg - tox.fp, tox.pos + tox.neg) })
  out.push({ label: '  positives (abuse and slurs cut, profanity flagged)', value: frac(tox.found, tox.pos) })
  out.push({ label: '  literal senses and idioms not cut (none or a flag where stated)', value: frac(tox.neg - tox.fp, tox.neg) })
  return out
}

export function reportFormatSets (results: readonly ItemResult[]): string[] {
  const lines: string[] = []
  const groups = [...new Set(results.map((r) => r.group))]
  const positives = results.filter((r) => r.positive).length
  lines.push(`format sets: ${groups.length} groups, ${positives} positives, ${results.length - positives} negatives (bench/eval-sets/)`)
  lines.push('')
  lines.push('| group | mode | positives | found | recall | exact | covered | partial | extra findings | negatives | FP | rules that found them |')
  lines.push('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|')
  for (const g of groups) {
    const t = tally(results.filter((r) => r.group === g))
    const rules = [...t.rules].sort((a, b) => b[1] - a[1]).map(([id, n]) => `${id} ${n}`).join(', ')
    lines.push(`| ${g.id} | ${g.mode} | ${t.pos} | ${t.found} | ${pct(t.found, t.pos)} | ${t.exact} | ${t.covered} | ${t.partial} | ${t.extras} | ${t.neg} | ${t.fp} | ${rules} |`)
  }
  lines.push('')
  // Per rule: which positives each rule found (any group) and which negatives it fired on.
  const perRule = new Map<string, { found: number, fp: number }>()
  const get = (id: string): { found: number, fp: number } => {
    let v = perRule.get(id)
    if (v === undefined) perRule.set(id, v = { found: 0, fp: 0 })
    return v
  }
  for (const r of results) {
    if (r.positive && r.found) for (const id of r.rules) get(id).found++
    if (!r.positive && r.fp) for (const id of r.rules) get(id).fp++
  }
  lines.push('| rule | positives found | negatives it fired on |')
  lines.push('|---|--:|--:|')
  for (const [id, v] of [...perRule].sort((a, b) => (a[0] < b[0] ? -1 : 1))) lines.push(`| ${id} | ${v.found} | ${v.fp} |`)
  lines.push('')
  lines.push('| summary | figure |')
  lines.push('|---|--:|')
  for (const s of summarize(results)) lines.push(`| ${s.label} | ${s.value} |`)
  lines.push('')
  lines.push('misses (positives not found) and false positives, every one:')
  for (const r of results) {
    if (r.positive && !r.found) {
      const what = r.item.accept !== undefined
        ? `outcome ${r.outcome}, wanted ${r.item.accept.join('/')}`
        : r.overlapped
          ? `partial: ${r.findings.filter((f) => f.category === r.group.category && overlaps(f, ...valueSpan(r.item))).map((f) => `${f.ruleId} ${snippet(r.item.text, f)}`).join(', ')}`
          : r.findings.length > 0 ? `other findings: ${r.findings.map((f) => `${f.ruleId} ${snippet(r.item.text, f)}`).join(', ')}` : 'no finding'
      lines.push(`  MISS ${r.group.id}${r.item.tag === undefined ? '' : ` [${r.item.tag}]`} ${show(r.item.value ?? r.item.text, 90)} in ${show(r.item.text, 110)}: ${what}`)
    }
  }
  for (const r of results) {
    if (!r.positive && r.fp) {
      const what = r.item.accept !== undefined && r.findings.every((f) => f.category === r.group.category)
        ? `outcome ${r.outcome}, accepted ${r.item.accept.join('/')}`
        : r.findings.map((f) => `${f.ruleId} (${f.action}) ${snippet(r.item.text, f)}`).join(', ')
      lines.push(`  FP   ${r.group.id}${r.item.tag === undefined ? '' : ` [${r.item.tag}]`} ${show(r.item.text, 120)}: ${what}`)
    }
  }
  return lines
}
