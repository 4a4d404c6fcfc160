/**
 * @module pseudonym/pseudonym-session
 * One request's view of its conversation's vault: the placeholder each
 * value gets on the way in (synchronous, so the input stage's scan can ask
 * for one while it rewrites text), the values assigned by this request to
 * store, and the lookup the restorer uses on the way out.
 *
 * New values get provisional placeholders numbered after the ones the
 * conversation has; storing them may find that a concurrent request of the
 * same conversation stored a value first (`reconcile`), and the request is
 * then rewritten once more with the stored names.
 */
import type { VaultCipher } from './vault-cipher.js'
import type { PlaceholderFormat } from './placeholder-format.js'
import type { NewAssignment, StoredConversation } from './vault.js'

export interface PseudonymSession {
  /** The placeholder for `value` of `type`: its stored one, else a new one. */
  placeholderFor: (type: string, value: string) => string
  /** Values this request saw first, with their provisional placeholders. */
  pending: () => ReadonlyArray<NewAssignment & { placeholder: string }>
  /**
   * Takes the placeholders the vault stored for `pending()` (same order);
   * true when all were the provisional ones, false when the request must be
   * rewritten again with them.
   */
  reconcile: (stored: readonly string[]) => boolean
  /** The value of a placeholder of this conversation, or undefined. */
  lookup: (placeholder: string) => string | undefined
  /** Placeholders given in this request, by type (for the audit). */
  counts: () => Record<string, number>
}

export interface PseudonymSessionOptions {
  cipher: VaultCipher
  format: PlaceholderFormat
  scope: string
  stored: StoredConversation
}

export function createPseudonymSession (options: PseudonymSessionOptions): PseudonymSession {
  const { cipher, format, scope, stored } = options
  const placeholders = new Map(stored.placeholders)
  const sealed = new Map(stored.sealed)
  const opened = new Map<string, string>()
  const next = new Map<string, number>()
  for (const placeholder of sealed.keys()) {
    const parsed = format.parse(placeholder)
    if (parsed !== undefined && parsed.n >= (next.get(parsed.type) ?? 1)) next.set(parsed.type, parsed.n + 1)
  }
  let pending: Array<NewAssignment & { placeholder: string }> = []
  const given = new Map<string, number>()

  function count (type: string): void {
    given.set(type, (given.get(type) ?? 0) + 1)
  }

  return {
    placeholderFor (type, value) {
      const key = cipher.valueKey(scope, value)
      let placeholder = placeholders.get(key)
      if (placeholder === undefined) {
        const n = next.get(type) ?? 1
        next.set(type, n + 1)
        placeholder = format.format(type, n)
        placeholders.set(key, placeholder)
        opened.set(placeholder, value)
        pending.push({ valueKey: key, type, sealed: cipher.seal(scope, value), placeholder })
      }
      count(type)
      return placeholder
    },
    pending: () => pending,
    reconcile (storedNames) {
      let same = true
      pending.forEach((entry, i) => {
        const name = storedNames[i]
        if (name === undefined || name === entry.placeholder) return
        same = false
        const value = opened.get(entry.placeholder)
        opened.delete(entry.placeholder)
        placeholders.set(entry.valueKey, name)
        if (value !== undefined) opened.set(name, value)
      })
      pending = []
      if (!same) given.clear()
      return same
    },
    lookup (placeholder) {
      const known = opened.get(placeholder)
      if (known !== undefined) return known
      const seal = sealed.get(placeholder)
      if (seal === undefined) return undefined
      const value = cipher.open(scope, seal)
      if (value !== undefined) opened.set(placeholder, value)
      return value
    },
    counts: () => Object.fromEntries(given)
  }
}
