/**
 * @module pseudonym/vault
 * Where the placeholders of a conversation live between its turns. A vault
 * stores, per scope (a client key and a conversation, named by a keyed
 * HMAC), which placeholder each value got and the value sealed under it —
 * never a value in clear, never a value under a name an observer could
 * guess. Assignments are first-come: when two requests of one conversation
 * race, both get the placeholder the first stored.
 *
 * This module holds the contract and the in-memory vault (one process, a
 * sliding TTL); redis-vault.ts shares one vault among instances.
 */
import type { PlaceholderFormat } from './placeholder-format.js'

/** What a vault holds for one scope. */
export interface StoredConversation {
  /** Placeholder by value key (vault-cipher `valueKey`). */
  readonly placeholders: ReadonlyMap<string, string>
  /** Sealed value by placeholder. */
  readonly sealed: ReadonlyMap<string, string>
}

export interface NewAssignment {
  valueKey: string
  /** The placeholder type (`EMAIL`). */
  type: string
  sealed: string
}

export interface PseudonymVault {
  /** The scope's mapping (empty when unknown or expired); touching it renews its TTL. */
  load: (scope: string) => Promise<StoredConversation>
  /** Stores new values; returns the placeholder of each, in order: the stored one when the value is known already. */
  assign: (scope: string, entries: readonly NewAssignment[]) => Promise<string[]>
  close: () => Promise<void>
}

export interface MemoryVaultOptions {
  format: PlaceholderFormat
  /** Idle time after which a conversation is forgotten, in ms. */
  ttlMs: number
  /** Conversations kept at most; the least recently used goes first. */
  maxConversations?: number
  /** Clock, for tests of expiry. */
  now?: () => number
}

interface Entry {
  placeholders: Map<string, string>
  sealed: Map<string, string>
  counters: Map<string, number>
  expiresAt: number
}

/**
 * Creates a vault in this process's memory: conversations survive between
 * turns while the process runs and they are used within the TTL.
 *
 * @example
 * const vault = createMemoryVault({ format: createPlaceholderFormat(), ttlMs: 3_600_000 })
 */
export function createMemoryVault (options: MemoryVaultOptions): PseudonymVault {
  const { format, ttlMs, maxConversations = 100_000, now = Date.now } = options
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
  const conversations = new Map<string, Entry>()

  function touch (scope: string): Entry | undefined {
    const entry = conversations.get(scope)
    if (entry === undefined) return undefined
    conversations.delete(scope)
    if (entry.expiresAt <= now()) return undefined
    entry.expiresAt = now() + ttlMs
    conversations.set(scope, entry)
    return entry
  }

  return {
    async load (scope) {
      const entry = touch(scope)
      return entry === undefined ? { placeholders: new Map(), sealed: new Map() } : { placeholders: new Map(entry.placeholders), sealed: new Map(entry.sealed) }
    },
    async assign (scope, entries) {
      let entry = touch(scope)
      if (entry === undefined) {
        entry = { placeholders: new Map(), sealed: new Map(), counters: new Map(), expiresAt: now() + ttlMs }
        conversations.set(scope, entry)
        for (const [oldest] of conversations) {
          if (conversations.size <= maxConversations) break
          conversations.delete(oldest)
        }
      }
      const out: string[] = []
      for (const { valueKey, type, sealed } of entries) {
        let placeholder = entry.placeholders.get(valueKey)
        if (placeholder === undefined) {
          const n = (entry.counters.get(type) ?? 0) + 1
          entry.counters.set(type, n)
          placeholder = format.format(type, n)
          entry.placeholders.set(valueKey, placeholder)
          entry.sealed.set(placeholder, sealed)
        }
        out.push(placeholder)
      }
      return out
    },
    async close () {
      conversations.clear()
    }
  }
}
