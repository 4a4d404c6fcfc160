/**
 * @module pseudonym/create-pseudonyms
 * Reversible pseudonyms for one proxy: the values a request carries are
 * replaced on the way in by placeholders of its conversation, and the
 * placeholders in the answer become the values again on the way out.
 *
 * A request's life: `open` reads the conversation's mapping from the vault
 * (conversation = the client key and a conversation id, header or history);
 * the input stage rewrites the body with `session.placeholderFor`; `commit`
 * stores the new values, telling the caller to rewrite once more if a
 * concurrent request of the conversation named a value first; the answer's
 * scanners are wrapped with `restoringScanner`. A mapping is only ever
 * opened under the client key that made it: the scope is keyed by it, and
 * sealed values carry it as associated data.
 */
import { PseudonymConfigError } from '../errors.js'
import type { Scanner } from '../scanner/types.js'
import { conversationIdOf } from './conversation-id.js'
import { createRestorer } from './create-restorer.js'
import type { PlaceholderFormat } from './placeholder-format.js'
import { createPseudonymSession } from './pseudonym-session.js'
import type { PseudonymSession } from './pseudonym-session.js'
import { createRestoringScanner } from './restoring-scanner.js'
import { createVaultCipher } from './vault-cipher.js'
import type { PseudonymVault } from './vault.js'

export interface PseudonymsOptions {
  vault: PseudonymVault
  /** The secret the vault's keys derive from (at least 16 characters). */
  key: string
  /** The placeholder format (the vault numbers placeholders with the same one). */
  format: PlaceholderFormat
  /** Unknown placeholders in answers: kept as written (default) or redacted. */
  unknown?: 'keep' | 'redact'
}

/** One request's pseudonyms. */
export interface PseudonymRequest {
  session: PseudonymSession
  /** Stores the values this request named first; false when the body must be rewritten again (a race lost). */
  commit: () => Promise<boolean>
  /** Wraps an answer scanner so that it restores this conversation's values. */
  restoringScanner: (scanner: Scanner) => Scanner
  /** Restored and unknown placeholders over the answer so far (for the audit). */
  restoredCounts: () => { restored: number, unknown: number }
}

export interface Pseudonyms {
  readonly format: PlaceholderFormat
  /** Opens the conversation of a request; undefined when the body names none (no history, no prompt, no header). */
  open: (client: string, body: Record<string, unknown>, conversationHeader: string | undefined) => Promise<PseudonymRequest | undefined>
  close: () => Promise<void>
}

export function createPseudonyms (options: PseudonymsOptions): Pseudonyms {
  if (options.key.length < 16) throw new PseudonymConfigError('the vault key needs at least 16 characters')
  const { format } = options
  const cipher = createVaultCipher(options.key)
  const { vault } = options

  return {
    format,
    async open (client, body, header) {
      const conversation = conversationIdOf(body, header)
      if (conversation === undefined) return undefined
      const scope = cipher.scopeKey(client, conversation)
      const session = createPseudonymSession({ cipher, format, scope, stored: await vault.load(scope) })
      const restorers: Array<{ restored: number, unknown: number }> = []
      return {
        session,
        async commit () {
          const pending = session.pending()
          if (pending.length === 0) return true
          return session.reconcile(await vault.assign(scope, pending))
        },
        restoringScanner (scanner) {
          const restorer = createRestorer({ format, lookup: session.lookup, unknown: options.unknown ?? 'keep' })
          restorers.push(restorer)
          return createRestoringScanner(scanner, restorer)
        },
        restoredCounts: () => ({
          restored: restorers.reduce((n, r) => n + r.restored, 0),
          unknown: restorers.reduce((n, r) => n + r.unknown, 0)
        })
      }
    },
    close: () => vault.close()
  }
}
