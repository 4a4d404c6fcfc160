/**
 * @module test/rules/pack-groups
 * Packing rules into RE2 alternations is measured, so what it must
 * guarantee is structural: every rule in exactly one group, ascending
 * within it; a cached packing that is not such a partition is ignored. And
 * the patterns rewritten to keep RE2's DFA small still match.
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createDiskRuleCache } from '../../src/disk-rule-cache.js'
import type { RuleCache } from '../../src/rules/rule-cache.js'
import { packGroups } from '../../src/rules/pack-groups.js'
import { defaultRulesDir, loadRuleSet } from '../../src/rules/load-rules.js'
import { scanText } from '../../src/scanner/scan-text.js'

// A private cache directory of this test's own.
const cacheDir = mkdtempSync(join(tmpdir(), 'sluice-pack-test-'))
const cache = createDiskRuleCache(cacheDir)

function isPartition (groups: number[][], n: number): boolean {
  const seen = new Set<number>()
  for (const g of groups) {
    if (g.length === 0) return false
    for (let k = 0; k < g.length; k++) {
      const i = g[k] as number
      if (seen.has(i) || i < 0 || i >= n || (k > 0 && i <= (g[k - 1] as number))) return false
      seen.add(i)
    }
  }
  return seen.size === n
}

t.test('every rule of the shipped lanes is in exactly one group, ascending', async (t) => {
  const ruleSet = await loadRuleSet([defaultRulesDir()])
  for (const lane of [ruleSet.output, ruleSet.flag]) {
    if (lane === undefined) continue
    t.ok(isPartition(lane.groups.map((g) => [...g.members]), lane.rules.length), `${lane.rules.length} rules partitioned`)
    t.equal(lane.dfas.length, lane.rules.length, 'every shipped rule holds by its automaton, none by a relaxed prefix')
    t.equal(lane.fallbackPrefixes.length, 0, 'no relaxed prefix is searched')
  }
})

t.test('a pattern whose DFA blows up beside others gets a group of its own', async (t) => {
  // A letter then 30 counted letters-or-digits: on random ids RE2's DFA
  // tracks every letter/digit layout of the last 30 characters. Alone it
  // is slow already; it must not be merged into the cheap literals' group.
  const sources = ['(?:(AKIA[0-9A-Z]{16}))', '(?:(ghp_[A-Za-z0-9]{36}))', '(?:([A-Za-z][A-Za-z0-9+.\\-]{1,30}://[^\\s:/@]{0,64}:([^\\s/]{1,128})@))', '(?:(xox[bp]-[0-9]{10}))']
  const groups = packGroups(sources, 'gu')
  t.ok(isPartition(groups, sources.length))
  t.same(groups.find((g) => g.includes(2)), [2], 'the counted-class pattern is alone')
})

t.test('patterns of different kinds never share a group; the shipped lanes keep bounded and unbounded rules apart', async (t) => {
  const sources = ['(?:(AKIA[0-9A-Z]{16}))', '(?:(ghp_[A-Za-z0-9]{36}))', '(?:(xox[bp]-[0-9]{10}))', '(?:(sk-[A-Za-z0-9]{20}))']
  const groups = packGroups(sources, 'gu', ['a', 'b', 'a', 'b'])
  t.ok(isPartition(groups, sources.length))
  for (const g of groups) t.equal(new Set(g.map((i) => i % 2)).size, 1, `group ${JSON.stringify(g)} is of one kind`)
  const ruleSet = await loadRuleSet([defaultRulesDir()])
  for (const g of ruleSet.output?.groups ?? []) {
    const bounded = g.members.map((i) => ruleSet.output?.rules[i]?.boundary !== 'none')
    t.equal(new Set(bounded).size, 1, `${g.members.length} members, all bounded or all not`)
  }
})

t.test('a damaged cached packing is ignored, never used to drop a rule', async (t) => {
  const sources = ['(?:(foo[0-9]{3}))', '(?:(bar[a-z]{4}))', '(?:(baz))']
  const first = packGroups(sources, 'u', [], cache)
  const entries = readdirSync(cacheDir).filter((f) => f.startsWith('pack-'))
  t.ok(entries.length > 0, 'the packing was cached on disk')
  // Another process reads the disk cache: plant a packing that drops rule 1.
  for (const entry of entries) writeFileSync(join(cacheDir, entry), JSON.stringify([[0], [2]]))
  const written: string[] = []
  const watched: RuleCache = { read: (key) => cache.read(key), write: (key, text) => { written.push(key); cache.write(key, text) } }
  // As another process: nothing remembered in memory, so the disk is read.
  const forgetful = await t.mockImport<typeof import('../../src/rules/rule-cache.js')>('../../src/rules/rule-cache.js')
  const { packGroups: fresh } = await t.mockImport<typeof import('../../src/rules/pack-groups.js')>('../../src/rules/pack-groups.js', { '../../src/rules/rule-cache.js': forgetful })
  const again = fresh(sources, 'u', [], watched)
  t.ok(isPartition(again, sources.length), `still a partition: ${JSON.stringify(again)}`)
  t.same(written, entries, 'the damaged entry was derived again and replaced')
  t.same(first.flat().sort(), [0, 1, 2])
})

t.test('the URL-password and assignment patterns, rewritten for a small DFA, still find their values', async (t) => {
  const ruleSet = await loadRuleSet([defaultRulesDir()])
  const text = 'key AKIAQWERTYUIOPASDFGH, mail jane.doe@acme-corp.com, card 4111 1111 1111 1111, db postgres://app:S3cr3tPassw0rd@db.internal:5432/x, password = "Tr0ub4dor&3xyz"'
  const whole = scanText(ruleSet, text)
  const ids = whole.findings.map((f) => f.ruleId).sort()
  t.same(ids, ['pii.credit_card', 'pii.email', 'secret.aws_access_key_id', 'secret.connection_url_password', 'secret.generic_assignment'])
  t.notOk(whole.text.includes('S3cr3tPassw0rd') || whole.text.includes('Tr0ub4dor'), whole.text)
})
