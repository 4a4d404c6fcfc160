import t from 'tap'
import { createPseudonymSession } from '../../src/pseudonym/pseudonym-session.js'
import { createPlaceholderFormat } from '../../src/pseudonym/placeholder-format.js'
import { createVaultCipher } from '../../src/pseudonym/vault-cipher.js'
import { createMemoryVault } from '../../src/pseudonym/vault.js'
import { createInputStage } from '../../src/proxy/input-stage.js'
import type { InputPolicy } from '../../src/proxy/proxy-config.js'
import { defaultRulesDir, loadRuleSet } from '../../src/rules/load-rules.js'

const format = createPlaceholderFormat()
const cipher = createVaultCipher('k')
const policy: InputPolicy = { enabled: true, reject: [], redact: ['pii', 'secret'], rules: {} }

t.test('pseudonymized values become the conversation\'s placeholders in every string, the same over turns', async (t) => {
  const ruleSet = await loadRuleSet(defaultRulesDir())
  const stage = createInputStage(policy, {}, { categories: ['pii'] })
  const vault = createMemoryVault({ format, ttlMs: 60_000 })
  const scope = cipher.scopeKey('client', 'conv')
  const body = {
    model: 'gpt-4o',
    messages: [
      { role: 'system', content: 'Mail jane.doe@acme-corp.com if needed.' },
      { role: 'user', content: 'Draft a reply to jane.doe@acme-corp.com about invoice DE89 3704 0044 0532 0130 00.' },
      { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'send', arguments: '{"to":"bob.smith@globex-mail.com"}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: '{"ok":true,"cc":"jane.doe@acme-corp.com"}' }
    ]
  }
  const session = createPseudonymSession({ cipher, format, scope, stored: await vault.load(scope) })
  const out = stage.run(ruleSet, body, session)
  const sent = JSON.stringify(out.body)
  t.notMatch(sent, /jane\.doe|bob\.smith|DE89/, 'no value goes upstream')
  t.match(sent, /<EMAIL_1>.*<EMAIL_1>.*<IBAN_1>/, 'the same value gets the same placeholder')
  t.match(JSON.parse((out.body.messages as Array<{ tool_calls?: Array<{ function: { arguments: string } }> }>)[2]?.tool_calls?.[0]?.function.arguments ?? '{}'), { to: '<EMAIL_2>' }, 'inside tool-call arguments, still JSON')
  t.ok(out.findings.every((f) => f.decision === 'pseudonymize'))
  t.ok(session.reconcile(await vault.assign(scope, session.pending())))

  const next = createPseudonymSession({ cipher, format, scope, stored: await vault.load(scope) })
  const turn2 = stage.run(ruleSet, { messages: [{ role: 'user', content: 'And cc bob.smith@globex-mail.com and carol@initech.io' }] }, next)
  t.match(JSON.stringify(turn2.body), /cc <EMAIL_2> and <EMAIL_3>/)
})

t.test('without a session (pseudonyms off) a pseudonymized rule redacts; a rule entry wins over the category', async (t) => {
  const ruleSet = await loadRuleSet(defaultRulesDir())
  const stage = createInputStage({ ...policy, rules: { 'pii.iban': 'flag' } }, {}, { categories: ['pii'] })
  const out = stage.run(ruleSet, { messages: [{ role: 'user', content: 'jane.doe@acme-corp.com DE89 3704 0044 0532 0130 00' }] })
  const sent = JSON.stringify(out.body)
  t.notMatch(sent, /jane\.doe/)
  t.notMatch(sent, /<EMAIL_/)
  t.match(sent, /DE89 3704/, 'flagged, not changed')
})
