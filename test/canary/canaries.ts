/**
 * @module test/canary/canaries
 * The sensitive values ("canaries") the canary-anywhere test hides in a
 * hostile answer, and the forms of each that must never reach a client.
 *
 * Each kind has a fixed, well-known value (the one a reader recognises in a
 * failure report) and values drawn from test/fixtures/sensitive-values.ts.
 * A value is kept only if the shipped rules catch it when it stands in plain
 * prose (`scanText` redacts it or cuts the text): a canary the rules cannot
 * see in prose would make every leak report meaningless.
 */
import fc from 'fast-check'
import { defaultRulesDir, loadRuleSet } from '../../src/rules/load-rules.js'
import type { RuleSet } from '../../src/rules/rule-set.js'
import { scanText } from '../../src/scanner/scan-text.js'
import { sensitiveValue } from '../fixtures/sensitive-values.js'

export type CanaryKind = 'email' | 'card' | 'aws-key-id' | 'openai-key' | 'ssn' | 'private-key'

export interface Canary {
  kind: CanaryKind
  ruleId: string
  value: string
  /**
   * Other spellings that carry the same secret: the digits of a card or an
   * SSN, the first body line of a PEM block (a block's JSON form has "\n"
   * escapes, so the value itself never appears verbatim in a frame).
   */
  compact: string[]
}

const kRuleOf: Record<CanaryKind, string> = {
  email: 'pii.email',
  card: 'pii.credit_card',
  'aws-key-id': 'secret.aws_access_key_id',
  'openai-key': 'secret.openai_key',
  ssn: 'pii.us_ssn',
  'private-key': 'secret.private_key'
}

const kKindOf = new Map(Object.entries(kRuleOf).map(([kind, rule]) => [rule, kind as CanaryKind]))

const kPemBody = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj'

/** The well-known spelling of each kind, first in every pool. */
export const wellKnown: Record<CanaryKind, string> = {
  email: 'jane.doe@acme.io',
  card: '4111 1111 1111 1111',
  'aws-key-id': 'AKIAZ3MHQ2K7WJ5XB4NR',
  'openai-key': 'sk-proj-' + 'Xq7Lm2Vt9Rk4Bn8Pz3Hw6Jd1Fs5Gc0Ya7Ue2Ti9Oq4Wr8Ey3Mu6Np1Kb5Lx0Zv7Cd2Ag9Sh4Jf8Tk3Rm6Qp1Wz' + 'T3BlbkFJ' + 'Hn5Gt8Vb2Yc7Xe4Ru9Lw1Kp6Sd3Mf0Qa5Zj8Ti2Ob7Nu4Pv9Hc1Ek6Wg3Ry8Ls5Dm0Cx2Ja7Fq4Bt9Vz6Ui1Ne3',
  ssn: '123-45-6789',
  'private-key': `-----BEGIN RSA PRIVATE KEY-----\n${kPemBody}\nq2bbKjv8PQ0sL1mN4pW7xY3zA6cD9eF2gH5iJ8kL1mN4pQ7rS0tU3vW6xZ9aB2cE\n5fG8hJ1kM4nP7qR0sT3uW6yZ9bC2dF5gH8jK1mN4pQ7rS0tU3vX6yA9bD2eG5h==\n-----END RSA PRIVATE KEY-----`
}

/** The forms of `value` that must not reach a client, besides the value. */
export function compactForms (kind: CanaryKind, value: string): string[] {
  switch (kind) {
    case 'card':
    case 'ssn': {
      const digits = value.replace(/\D/g, '')
      return digits === value ? [] : [digits]
    }
    case 'private-key': {
      // The body lines, whichever newline the block uses (a real one or "\n" written out).
      const lines = value.split(/\n|\\n/).filter((l) => !l.startsWith('-----') && l.length >= 32)
      return lines.slice(0, 1)
    }
    default:
      return []
  }
}

export interface CanaryPool {
  ruleSet: RuleSet
  canaries: Canary[]
  /** Values drawn but dropped because the shipped rules do not catch them in prose. */
  dropped: Array<{ kind: CanaryKind, value: string }>
}

/**
 * Loads the shipped rules and builds the pool: the well-known values plus
 * `perKind` drawn values per kind (seeded, so the pool is the same on every
 * run), each checked against the rules in prose.
 */
export async function loadCanaryPool (perKind = 4): Promise<CanaryPool> {
  const ruleSet = await loadRuleSet(defaultRulesDir())
  const canaries: Canary[] = []
  const dropped: CanaryPool['dropped'] = []
  const add = (kind: CanaryKind, value: string): void => {
    const compact = compactForms(kind, value)
    const r = scanText(ruleSet, `Here it is: ${value} and that is all.`)
    const caught = r.cut !== undefined || ![value, ...compact].some((f) => r.text.includes(f))
    if (caught) canaries.push({ kind, ruleId: kRuleOf[kind], value, compact })
    else dropped.push({ kind, value })
  }
  for (const [kind, value] of Object.entries(wellKnown)) add(kind as CanaryKind, value)
  const counts = new Map<CanaryKind, number>()
  const drawn = fc.sample(sensitiveValue, { numRuns: 4000, seed: 20261207 })
  for (const v of drawn) {
    const kind = kKindOf.get(v.ruleId)
    if (kind === undefined || v.finding !== undefined) continue
    // Only the sk-proj- shape of OpenAI keys (the brief's canary).
    if (kind === 'openai-key' && !v.value.startsWith('sk-proj-')) continue
    const n = counts.get(kind) ?? 0
    if (n >= perKind) continue
    counts.set(kind, n + 1)
    add(kind, v.value)
  }
  return { ruleSet, canaries, dropped }
}

export const canaryKinds = Object.keys(kRuleOf) as CanaryKind[]
