/**
 * @module test/proxy/input-stage-property
 * Property tests of the input stage's walk: a canary placed at a random
 * string or key of random JSON, spelled the ways a provider still reads it
 * (plain, escaped in JSON text, in JSON text in JSON text, percent-encoded
 * in a URL, base64 in a data URL), never comes out; nothing else in the
 * body changes; and a body without it comes back as the very same object.
 */
import fc from 'fast-check'
import t from 'tap'
import { createInputStage } from '../../src/proxy/input-stage.js'
import { createRuleSetFromSources } from '../../src/rules/load-rules.js'
import { canarySpellings, exposes, placeAt, stringSlots } from './fixtures/input-bodies.js'
import type { StringSlot } from './fixtures/input-bodies.js'

const ruleSet = createRuleSetFromSources([
  // Only the canary's domain: random strings never match by chance.
  { id: 'canary', category: 'pii', description: 'the canary', severity: 'high', pattern: '[a-z0-9._-]{1,30}@northwind\\.io', action: 'redact', replacement: '[EMAIL]' }
])
const stage = createInputStage({ enabled: true, reject: [], redact: ['pii'], rules: {} })
const kCanary = 'canary.leak@northwind.io'
const kLocal = 'canary.leak'

const kSpellings = canarySpellings(kCanary)

function parentOf (root: unknown, path: Array<string | number>): Record<string | number, unknown> {
  let node = root as Record<string | number, unknown>
  for (const segment of path) node = node[segment] as Record<string | number, unknown>
  return node
}

/** `scanned` with the slot given back its original string (or key), to compare with the original body. */
function restore (original: unknown, scanned: unknown, slot: StringSlot): unknown {
  const parentPath = slot.path.slice(0, -1)
  const last = slot.path[slot.path.length - 1] as string | number
  if (!slot.key) return placeAt(scanned, slot, parentOf(original, parentPath)[last] as string)
  // The key is renamed: it is the one the original object does not have
  // (not found by position: integer-like keys always come first).
  const before = parentOf(original, parentPath)
  const renamed = Object.keys(parentOf(scanned, parentPath)).find((k) => !Object.hasOwn(before, k)) as string
  return placeAt(scanned, { path: [...parentPath, renamed], key: true }, String(last))
}

/** Random JSON bodies (objects at the top, as requests are) with at least one string or key. */
const bodies = fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 4 }), { minKeys: 1 })

t.test('a canary at a random string or key of random JSON never comes out, in any spelling', async (t) => {
  const checked: Record<string, number> = {}
  fc.assert(fc.property(bodies, fc.nat(), fc.constantFrom(...Object.keys(kSpellings)), (body, pick, spelling) => {
    const slots = stringSlots(body)
    const slot = slots[pick % slots.length] as StringSlot
    const text = (kSpellings[spelling] as () => string)()
    const placed = placeAt(body, slot, text) as Record<string, unknown>
    const result = stage.run(ruleSet, placed)
    checked[spelling] = (checked[spelling] ?? 0) + 1
    if (exposes(result.body, kLocal)) throw new Error(`the canary came out (${spelling}, ${slot.key ? 'key' : 'value'} at ${JSON.stringify(slot.path)})`)
    if (!result.findings.some((f) => f.ruleId === 'canary' && f.decision === 'redact')) throw new Error('no finding for the canary')
    t.same(restore(body, result.body, slot), body, 'nothing but the canary changed')
  }), { numRuns: 500 })
  for (const spelling of Object.keys(kSpellings)) t.ok((checked[spelling] ?? 0) > 0, `${spelling}: checked ${checked[spelling] ?? 0} times`)
})

t.test('random JSON without the canary comes back as the very same object, unchanged', async (t) => {
  fc.assert(fc.property(bodies, (body) => {
    const before = JSON.stringify(body)
    const result = stage.run(ruleSet, body)
    return result.body === body && result.findings.length === 0 && JSON.stringify(body) === before
  }), { numRuns: 500 })
  t.pass('500 random bodies')
})
