import t from 'tap'
import { createPolicyRuleSets } from '../../src/policy/policy-rule-sets.js'
import { deriveRuleSet } from '../../src/policy/derive-rule-set.js'
import { defaultRulesDir, loadRuleSet } from '../../src/rules/load-rules.js'
import { scanText } from '../../src/scanner/scan-text.js'

const awsKey = 'AKIAQWERTYUIOPASDFGH'
const text = `Mail jane.doe@acme-corp.com, key ${awsKey}.`

t.test('a policy changes actions by category or rule, turns rules off, and watches rules in monitor mode', async (t) => {
  const base = await loadRuleSet(defaultRulesDir())
  const plain = scanText(base, text)
  t.notMatch(plain.text, /jane\.doe|AKIA/, 'the loaded rules redact both')

  const internal = deriveRuleSet(base, { actions: { secret: 'flag' } })
  const out = scanText(internal.ruleSet, text)
  t.match(out.text, awsKey, 'secrets flagged, not redacted, for this policy')
  t.notMatch(out.text, /jane\.doe/)
  t.ok(out.findings.some((f) => f.category === 'secret' && f.action === 'flag'))

  const monitored = deriveRuleSet(base, { monitor: ['pii'] })
  const watched = scanText(monitored.ruleSet, text)
  t.match(watched.text, 'jane.doe@acme-corp.com', 'monitor mode lets the text out')
  t.notMatch(watched.text, /AKIA/, 'rules not monitored keep acting')
  const email = watched.findings.find((f) => f.ruleId === 'pii.email')
  t.equal(email?.action, 'flag')
  t.equal(monitored.monitored.get('pii.email'), 'redact', 'the would-be action is known for the audit')

  const off = deriveRuleSet(base, { disable: ['pii.email'], files: ['secrets.yaml', 'secrets-providers.yaml'] })
  const offText = scanText(off.ruleSet, text).text
  t.match(offText, 'jane.doe@acme-corp.com', 'a rule of a file the policy does not take is off')
  t.notMatch(offText, /AKIA/)

  t.equal(deriveRuleSet(base, {}).ruleSet, base, 'a neutral policy serves the loaded set itself')
})

t.test('the first policy whose clients and routes match applies; sets are built once per loaded set', async (t) => {
  const base = await loadRuleSet(defaultRulesDir())
  const sets = createPolicyRuleSets([
    { name: 'internal-chat', clients: ['internal'], routes: ['chat'], actions: { secret: 'flag' } },
    { name: 'internal', clients: ['internal'], monitor: true }
  ], ['pii.email'])
  t.equal(sets.resolve(base, 'internal', 'chat').name, 'internal-chat')
  t.equal(sets.resolve(base, 'internal', 'messages').name, 'internal')
  const other = sets.resolve(base, 'web', 'chat')
  t.equal(other.name, 'default')
  t.equal(other.monitored.get('pii.email'), 'redact', 'the global monitor list applies to the default policy')
  t.equal(sets.resolve(base, 'internal', 'chat').monitored.get('pii.email'), 'redact', 'and is merged into each policy')
  t.equal(sets.resolve(base, 'internal', 'chat').ruleSet, sets.resolve(base, 'internal', 'chat').ruleSet, 'cached')
  t.equal(createPolicyRuleSets().resolve(base, undefined, 'chat').ruleSet, base, 'no policies, no monitor: the loaded set')
})
