/**
 * @module pseudonym/pseudonym-types
 * The type a placeholder names (`EMAIL` in `<EMAIL_1>`): enough for the
 * model to reason with the value ("reply to <EMAIL_1>"), nothing of the
 * value itself. Rules of one kind share a type, so two phone rules do not
 * number the same phone twice.
 */

/** Types by rule id prefix, most specific first. */
const kTypes: ReadonlyArray<readonly [string, string]> = [
  ['pii.email', 'EMAIL'],
  ['pii.phone', 'PHONE'],
  ['pii.credit_card', 'CARD'],
  ['pii.iban', 'IBAN'],
  ['pii.us_ssn', 'SSN'],
  ['pii.us_itin', 'ITIN'],
  ['pii.ipv4', 'IP'],
  ['pii.ipv6', 'IP']
]

/**
 * The placeholder type for a rule: a configured one, else the shipped
 * table, else the rule id's last part in capitals (`pii.uk_nino` →
 * `UK_NINO`).
 */
export function placeholderTypeOf (ruleId: string, configured: Readonly<Record<string, string>> = {}): string {
  const own = configured[ruleId]
  if (own !== undefined) return own
  for (const [prefix, type] of kTypes) {
    if (ruleId === prefix || ruleId.startsWith(`${prefix}_`) || ruleId.startsWith(`${prefix}.`)) return type
  }
  const last = ruleId.slice(ruleId.lastIndexOf('.') + 1).toUpperCase().replace(/[^A-Z0-9_]/g, '_').replace(/^[^A-Z]+/, '')
  return last === '' ? 'VALUE' : last.slice(0, 32)
}
