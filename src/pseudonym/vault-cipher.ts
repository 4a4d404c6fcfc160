/**
 * @module pseudonym/vault-cipher
 * Seals the values a vault keeps: AES-256-GCM under a key derived from the
 * configured secret, a fresh 96-bit nonce per value (NIST SP 800-38D §8.2),
 * the conversation's scope as associated data so a sealed value moved to
 * another conversation does not open. Lookup keys are HMACs, so equal values
 * find each other without the vault holding them in clear.
 */
import { Buffer } from 'node:buffer'
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto'

export interface VaultCipher {
  seal: (scope: string, value: string) => string
  /** Undefined when the sealed text was not made with this key and scope. */
  open: (scope: string, sealed: string) => string | undefined
  /** A stable, keyed name for a value inside one scope. */
  valueKey: (scope: string, value: string) => string
  /** A stable, keyed name for a conversation of one client. */
  scopeKey: (client: string, conversation: string) => string
}

function derive (secret: string | Buffer, label: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), `sluice pseudonym ${label}`, 32))
}

/** Creates the cipher for a configured secret (any length; HKDF makes the keys). */
export function createVaultCipher (secret: string | Buffer): VaultCipher {
  const encKey = derive(secret, 'seal')
  const macKey = derive(secret, 'names')
  const mac = (text: string): string => createHmac('sha256', macKey).update(text).digest('base64url')
  return {
    seal (scope, value) {
      const nonce = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', encKey, nonce)
      cipher.setAAD(Buffer.from(scope))
      const body = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()])
      return Buffer.concat([nonce, cipher.getAuthTag(), body]).toString('base64')
    },
    open (scope, sealed) {
      const raw = Buffer.from(sealed, 'base64')
      if (raw.length < 28) return undefined
      try {
        const decipher = createDecipheriv('aes-256-gcm', encKey, raw.subarray(0, 12))
        decipher.setAAD(Buffer.from(scope))
        decipher.setAuthTag(raw.subarray(12, 28))
        return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')
      } catch {
        return undefined
      }
    },
    valueKey: (scope, value) => mac(`value\u0000${scope}\u0000${value}`),
    scopeKey: (client, conversation) => mac(`scope\u0000${client}\u0000${conversation}`)
  }
}
