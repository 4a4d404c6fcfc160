/**
 * @module test/disk-rule-cache
 * The rule cache is injected: building a rule set touches no file unless the
 * caller passes a cache, and the on-disk one (what the CLI, the proxy and the
 * plugin pass) keeps its entries in a private directory and trusts no other.
 */
import { chmodSync, mkdtempSync, readdirSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createDiskRuleCache, defaultRuleCacheDir } from '../src/disk-rule-cache.js'
import { createRuleSetFromSources } from '../src/rules/load-rules.js'
import type { RuleSource } from '../src/rules/types.js'

/** Rules no other test builds, so nothing is remembered in memory before this test derives them. */
function freshRules (tag: string): RuleSource[] {
  return [
    { id: `t.${tag}.a`, category: 'pii', description: 'test', pattern: `${tag}a[0-9]{4,9}`, action: 'redact' },
    { id: `t.${tag}.b`, category: 'secret', description: 'test', pattern: `${tag}b[a-z]{3,7}`, after: `${tag} key `, action: 'redact' }
  ]
}

t.test('the default directory is SLUICE_CACHE_DIR, else one in the OS temp directory', async (t) => {
  t.equal(defaultRuleCacheDir({ SLUICE_CACHE_DIR: '/somewhere/else' }), '/somewhere/else')
  t.equal(defaultRuleCacheDir({}), join(tmpdir(), 'sluice-prefix-cache'))
})

t.test('a rule set built without a cache writes no file; with the disk cache, its derivations land there', async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'sluice-cache-test-')), 'cache')
  const saved = process.env.SLUICE_CACHE_DIR
  process.env.SLUICE_CACHE_DIR = dir
  t.teardown(() => { if (saved === undefined) delete process.env.SLUICE_CACHE_DIR; else process.env.SLUICE_CACHE_DIR = saved })
  const plain = createRuleSetFromSources(freshRules('nocache'))
  t.equal(plain.cache, undefined)
  t.throws(() => statSync(dir), { code: 'ENOENT' }, 'no cache directory was made')
  const cache = createDiskRuleCache()
  const cached = createRuleSetFromSources(freshRules('disk'), '<inline>', { cache })
  t.equal(cached.cache, cache, 'the set carries its cache, for the sets rebuilt from it')
  const kinds = new Set(readdirSync(dir).map((name) => name.split('-')[0]))
  t.ok(kinds.has('dfa') && kinds.has('reverse') && kinds.has('pack'), `automata, lookbehinds and packings are cached: ${[...kinds].join(', ')}`)
  t.equal(statSync(dir).mode & 0o777, 0o700, 'the directory is private')
})

t.test('entries are read back only from a private directory of this user', async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'sluice-cache-test-')), 'cache')
  const cache = createDiskRuleCache(dir)
  t.equal(cache.read('pack-x'), undefined, 'nothing yet')
  cache.write('pack-x', '[[0]]')
  t.equal(cache.read('pack-x'), '[[0]]')
  chmodSync(dir, 0o755)
  t.equal(cache.read('pack-x'), undefined, 'a directory others can read (and maybe write) is not trusted')
  chmodSync(dir, 0o700)
  t.equal(cache.read('pack-x'), '[[0]]')
})
