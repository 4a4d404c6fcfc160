import t from 'tap'
import { createPseudonymSession } from '../../src/pseudonym/pseudonym-session.js'
import { createPlaceholderFormat } from '../../src/pseudonym/placeholder-format.js'
import { createVaultCipher } from '../../src/pseudonym/vault-cipher.js'
import { createMemoryVault } from '../../src/pseudonym/vault.js'

const format = createPlaceholderFormat()
const cipher = createVaultCipher('test secret')

t.test('a value keeps its placeholder over turns, and only its own client and conversation can open it', async (t) => {
  const vault = createMemoryVault({ format, ttlMs: 60_000 })
  const scope = cipher.scopeKey('client-a', 'conv-1')
  const turn1 = createPseudonymSession({ cipher, format, scope, stored: await vault.load(scope) })
  t.equal(turn1.placeholderFor('EMAIL', 'jane@acme.com'), '<EMAIL_1>')
  t.equal(turn1.placeholderFor('EMAIL', 'bob@acme.com'), '<EMAIL_2>')
  t.equal(turn1.placeholderFor('EMAIL', 'jane@acme.com'), '<EMAIL_1>')
  t.equal(turn1.lookup('<EMAIL_2>'), 'bob@acme.com', 'restorable in the same request')
  t.ok(turn1.reconcile(await vault.assign(scope, turn1.pending())))
  t.same(turn1.counts(), { EMAIL: 3 })

  const turn2 = createPseudonymSession({ cipher, format, scope, stored: await vault.load(scope) })
  t.equal(turn2.placeholderFor('EMAIL', 'carol@acme.com'), '<EMAIL_3>', 'numbering continues')
  t.equal(turn2.placeholderFor('EMAIL', 'jane@acme.com'), '<EMAIL_1>', 'the same value, the same placeholder')
  t.equal(turn2.lookup('<EMAIL_1>'), 'jane@acme.com', 'opened from the vault')
  t.equal(turn2.pending().length, 1)

  const otherScope = cipher.scopeKey('client-b', 'conv-1')
  t.not(otherScope, scope)
  const stolen = await vault.load(scope)
  const thief = createPseudonymSession({ cipher, format, scope: otherScope, stored: stolen })
  t.equal(thief.lookup('<EMAIL_1>'), undefined, 'a sealed value does not open under another scope')
})

t.test('a race lost to another request takes the stored names', async (t) => {
  const vault = createMemoryVault({ format, ttlMs: 60_000 })
  const scope = cipher.scopeKey('c', 'race')
  const stored = await vault.load(scope)
  const first = createPseudonymSession({ cipher, format, scope, stored })
  const second = createPseudonymSession({ cipher, format, scope, stored })
  first.placeholderFor('PHONE', '+1 202 555 0100')
  second.placeholderFor('PHONE', '+44 20 7946 0958')
  t.ok(first.reconcile(await vault.assign(scope, first.pending())))
  t.notOk(second.reconcile(await vault.assign(scope, second.pending())), 'the second request must rewrite')
  t.equal(second.placeholderFor('PHONE', '+44 20 7946 0958'), '<PHONE_2>')
  t.equal(second.lookup('<PHONE_2>'), '+44 20 7946 0958')
  t.equal(second.pending().length, 0)
})

t.test('sealed values are encrypted and authenticated', async (t) => {
  const sealed = cipher.seal('scope', 'jane@acme.com')
  t.notMatch(Buffer.from(sealed, 'base64').toString('latin1'), /jane/)
  t.equal(cipher.open('scope', sealed), 'jane@acme.com')
  t.equal(createVaultCipher('other secret').open('scope', sealed), undefined, 'another key')
  const tampered = Buffer.from(sealed, 'base64')
  tampered.writeUInt8(tampered.readUInt8(tampered.length - 1) ^ 1, tampered.length - 1)
  t.equal(cipher.open('scope', tampered.toString('base64')), undefined, 'tampered')
})
