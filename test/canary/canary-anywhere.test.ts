/**
 * @module test/canary/canary-anywhere
 * Sluice fails closed: whatever a hostile upstream does with a sensitive
 * value — an unknown key at any depth, an unknown event, an SSE comment or
 * `id:`, an error frame, metadata, escaped tool arguments, a value split
 * across frames, a duplicated key, text after the finish, an odd status,
 * content type or encoding, any byte splitting — no client can read it
 * from what Sluice lets through, through the plugin or the proxy.
 *
 * Method: fast-check draws a case (protocol from the table in protocols.ts,
 * one canary that the shipped rules catch in prose, a position, status,
 * content type, encoding, byte splits); the case is served once and the
 * client's bytes are decoded every way a client could (client-decode.ts).
 * Every case is followed by an ordinary request that must still work.
 *
 * By default every case runs (no stop at the first leak) and each leak is
 * put in a category by rebuilding the case with one dimension at a time
 * (see arbitraries.ts); the test then fails once per category, with an
 * example, the seed and the run index. To shrink one failure instead:
 *   CANARY_SEED=<seed> CANARY_STRICT=1 [CANARY_PATH=<index>] npx tap test/canary/canary-anywhere.test.ts
 * CANARY_RUNS sets the number of cases per through-path (default 150).
 */
import fc from 'fast-check'
import t from 'tap'
import type { Test } from 'tap'
import { caseArbitrary, dimensionsOf, baselineOf } from './arbitraries.js'
import { canaryKinds, loadCanaryPool } from './canaries.js'
import { describeLeaks, findLeaks } from './client-decode.js'
import type { Leak } from './client-decode.js'
import { buildCase, caseLabel } from './hostile-case.js'
import type { CaseSpec } from './hostile-case.js'
import { protocolNamed } from './protocols.js'
import { closeClient, startPluginRig, startProxyRig } from './rigs.js'
import type { Rig } from './rigs.js'

const numRuns = Number(process.env.CANARY_RUNS ?? 150)
const seed = Number(process.env.CANARY_SEED ?? (Date.now() % 0x7fffffff))
const strict = process.env.CANARY_STRICT === '1'
const path = process.env.CANARY_PATH

const pool = await loadCanaryPool()
t.teardown(closeClient)

t.test('every canary kind is caught by the shipped rules when written in prose', async (t) => {
  for (const kind of canaryKinds) {
    t.ok(pool.canaries.some((c) => c.kind === kind), `${kind}: at least one value is caught in prose`)
  }
  if (pool.dropped.length > 0) t.comment(`values not caught in prose, left out: ${pool.dropped.map((d) => `${d.kind} ${JSON.stringify(d.value.slice(0, 24))}`).join(', ')}`)
})

t.test('the client decoder reads every generated canary from the hostile bytes as written', async (t) => {
  // Without Sluice in between, every case must leak: otherwise a position
  // would pass for reasons that have nothing to do with Sluice.
  let cases = 0
  fc.assert(fc.property(caseArbitrary(pool.canaries), (spec) => {
    const built = buildCase(spec)
    const headers = Object.fromEntries(Object.entries(built.headers).map(([k, v]) => [k.toLowerCase(), v]))
    const leaks = findLeaks({ status: built.status, headers, body: Buffer.concat(built.pieces) }, spec.canary)
    cases++
    if (leaks.length === 0) throw new Error(`not readable as written: ${caseLabel(spec)}`)
  }), { seed, numRuns: numRuns * 4 })
  t.equal(cases, numRuns * 4, 'every generated case places a readable canary')
})

interface Outcome {
  leaks: Leak[]
  /** Set when the request itself failed (no response, a hang). */
  failure?: string
}

async function serve (rig: Rig, spec: CaseSpec): Promise<Outcome> {
  // Outside the try: a case that cannot be built is a bug of this test, not of Sluice.
  const built = buildCase(spec)
  try {
    const received = await rig.run({ built, protocol: protocolNamed(spec.protocol), streamed: spec.streamed, sendAs: spec.sendAs })
    return { leaks: findLeaks(received, spec.canary) }
  } catch (err) {
    return { leaks: [], failure: (err as Error).message }
  }
}

interface Category {
  cases: number
  protocols: Set<string>
  example: { label: string, where: string, run: number }
}

async function throughPath (t: Test, start: () => Promise<Rig>): Promise<void> {
  const rig = await start()
  t.teardown(() => rig.close())
  t.comment(`seed ${seed}, ${numRuns} cases (replay: CANARY_SEED=${seed})`)
  const arb = caseArbitrary(pool.canaries)

  if (strict) {
    await fc.assert(fc.asyncProperty(arb, async (spec) => {
      const out = await serve(rig, spec)
      if (out.failure !== undefined) throw new Error(`${caseLabel(spec)}: request failed: ${out.failure}`)
      if (out.leaks.length > 0) throw new Error(`${caseLabel(spec)}: canary reached the client at ${describeLeaks(out.leaks)}`)
      const health = await rig.healthy()
      if (!health.ok) throw new Error(`${caseLabel(spec)}: next request failed: ${health.detail}`)
    }), { seed, numRuns, ...(path === undefined ? {} : { path }) })
    return
  }

  const categories = new Map<string, Category>()
  // Whether one dimension leaks on its own, per protocol / answer kind / canary kind (rebuilding is cheap, serving is not).
  const aloneCache = new Map<string, boolean>()
  const leaksAlone = async (spec: CaseSpec, label: string): Promise<boolean> => {
    const key = `${spec.protocol}|${spec.streamed}|${spec.canary.kind}|${label}`
    let v = aloneCache.get(key)
    if (v === undefined) {
      const out = await serve(rig, spec)
      v = out.leaks.length > 0
      aloneCache.set(key, v)
    }
    return v
  }
  const note = (name: string, spec: CaseSpec, where: string, run: number): void => {
    const c = categories.get(name) ?? { cases: 0, protocols: new Set<string>(), example: { label: caseLabel(spec), where, run } }
    c.cases++
    c.protocols.add(spec.protocol)
    categories.set(name, c)
  }
  let run = 0
  let leaking = 0
  let unhealthy = 0
  const started = performance.now()
  await fc.check(fc.asyncProperty(arb, async (spec) => {
    const index = run++
    const kind = spec.streamed ? 'stream' : 'body'
    const out = await serve(rig, spec)
    if (out.failure !== undefined) note(`${kind} request failed (${out.failure.slice(0, 60)})`, spec, out.failure, index)
    if (out.leaks.length > 0) {
      leaking++
      const where = describeLeaks(out.leaks)
      if (await leaksAlone(baselineOf(spec), 'position=text')) {
        note(`${kind} position=text (the protocol's own text field)`, spec, where, index)
      } else {
        const dims = dimensionsOf(spec)
        const alone: string[] = []
        for (const d of dims) if (await leaksAlone(d.alone, d.label)) alone.push(d.label)
        if (alone.length > 0) for (const label of alone) note(`${kind} ${label}`, spec, where, index)
        else note(`${kind} ${dims.map((d) => d.label).join(' + ')} (only together)`, spec, where, index)
      }
    }
    const health = await rig.healthy()
    if (!health.ok) {
      unhealthy++
      note(`${kind} next request fails after ${spec.position.name}`, spec, health.detail, index)
    }
    return true
  }), { seed, numRuns })

  t.comment(`${rig.name}: ${run} cases in ${Math.round(performance.now() - started)} ms, ${leaking} leaked, ${unhealthy} left the server unhealthy`)
  for (const [name, c] of [...categories].sort(([a], [b]) => a.localeCompare(b))) {
    t.fail(`${rig.name}: ${name}`, {
      cases: c.cases,
      protocols: [...c.protocols].join(', '),
      example: c.example.label,
      found: c.example.where,
      replay: `CANARY_SEED=${seed} CANARY_STRICT=1 CANARY_PATH=${c.example.run}`
    })
  }
  t.equal(leaking, 0, `${rig.name}: no canary reaches the client`)
  t.equal(unhealthy, 0, `${rig.name}: the next request works after every case`)
}

t.test('through the plugin, a canary never reaches the client', async (t) => {
  await throughPath(t, () => startPluginRig(pool.ruleSet))
})

t.test('through the proxy, a canary never reaches the client', async (t) => {
  await throughPath(t, () => startProxyRig(pool.ruleSet))
})
