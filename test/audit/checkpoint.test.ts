import t from 'tap'
import { createHmac } from 'node:crypto'
import { createCheckpointSigner, isFinalCheckpoint } from '../../src/audit/checkpoint.js'
import { GENESIS, canonicalJson, createChainHasher } from '../../src/audit/hash-chain.js'

const head = 'ab'.repeat(32)
const fields = { kind: 'checkpoint', reason: 'close', time: 1700000000000, prev: head }

t.test('the MAC is HMAC-SHA256 of a domain prefix and the canonical record without mac and hash', async (t) => {
  const mac = createCheckpointSigner('k').sign(fields)
  t.equal(mac, createHmac('sha256', 'k').update('sluice-audit-checkpoint\n' + canonicalJson(fields)).digest('hex'))
})

t.test('a checkpoint MAC never equals the chain link of the same record under the same key', async (t) => {
  const body = canonicalJson(fields)
  t.not(createCheckpointSigner('k').sign(fields), createChainHasher('k')(head, body))
  t.not(createCheckpointSigner('k').sign(fields), createChainHasher('k')(GENESIS, body))
})

t.test('a signed checkpoint checks out with its key, whatever its hash', async (t) => {
  const signer = createCheckpointSigner(Buffer.from('k'))
  const record = { ...fields, mac: signer.sign(fields), hash: 'cd'.repeat(32) }
  t.equal(signer.check(record), undefined)
  t.equal(createCheckpointSigner('k').check(record), undefined, 'a string key is its UTF-8 bytes')
})

t.test('a checkpoint signed with another key, or with its head or reason changed, fails', async (t) => {
  const signer = createCheckpointSigner('k')
  const forged = { ...fields, mac: createCheckpointSigner('guess').sign(fields) }
  t.match(signer.check(forged), /MAC does not match/)
  const real = { ...fields, mac: signer.sign(fields) }
  t.match(signer.check({ ...real, prev: 'cd'.repeat(32) }), /MAC does not match/, 'moved to another head')
  t.match(signer.check({ ...real, reason: 'interval' }), /MAC does not match/, 'reason changed')
  t.match(signer.check({ ...real, time: real.time + 1 }), /MAC does not match/, 'time changed')
})

t.test('a checkpoint without a MAC or with an unknown reason fails', async (t) => {
  const signer = createCheckpointSigner('k')
  t.match(signer.check({ ...fields }), /without a MAC/)
  t.match(signer.check({ ...fields, mac: 'xyz' }), /without a MAC/)
  const odd = { ...fields, reason: 'whenever' }
  t.match(signer.check({ ...odd, mac: signer.sign(odd) }), /unknown reason/)
})

t.test('only close and rotate checkpoints end a file cleanly', async (t) => {
  t.ok(isFinalCheckpoint({ kind: 'checkpoint', reason: 'close' }))
  t.ok(isFinalCheckpoint({ kind: 'checkpoint', reason: 'rotate' }))
  t.notOk(isFinalCheckpoint({ kind: 'checkpoint', reason: 'interval' }))
  t.notOk(isFinalCheckpoint({ kind: 'checkpoint', reason: 'resume' }))
  t.notOk(isFinalCheckpoint({ kind: 'event', reason: 'close' }))
  t.notOk(isFinalCheckpoint(undefined))
})
