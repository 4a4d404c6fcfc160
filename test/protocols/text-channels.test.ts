import t from 'tap'
import { createTextChannels } from '../../src/protocols/text-channels.js'
import type { ChannelInfo } from '../../src/protocols/types.js'
import { scannerFactory, scanWhole, testRules } from '../stream/replay.js'

const ruleSet = await testRules()
const a: ChannelInfo = { key: '0:content', choice: 0, field: 'content' }
const b: ChannelInfo = { key: '1:content', choice: 1, field: 'content' }

t.test('each channel has its own scanner and its own holdback', async (t) => {
  const channels = createTextChannels({ newScanner: scannerFactory(ruleSet) })
  let outA = channels.scan(a, 'write to jane.doe@ac')
  let outB = channels.scan(b, 'or call (415) 555-')
  outA += channels.scan(a, 'me.io now. ')
  outB += channels.scan(b, '2671 please. ')
  t.same(channels.openChannels().map((c) => c.key), ['0:content', '1:content'])
  outA += channels.finish(a.key)
  outB += channels.finish(b.key)
  t.equal(outA, scanWhole(ruleSet, 'write to jane.doe@acme.io now. ').text)
  t.equal(outB, scanWhole(ruleSet, 'or call (415) 555-2671 please. ').text)
  t.same(channels.openChannels(), [])
  t.equal(channels.finish(a.key), '', 'finishing twice releases nothing')
  t.equal(channels.stats.findings.redact, 2)
  t.equal(channels.stats.charsIn, 'write to jane.doe@acme.io now. or call (415) 555-2671 please. '.length)
  t.equal(channels.stats.charsOut, outA.length + outB.length)
  t.ok(channels.stats.maxHeld > 0, 'something was held')
})

t.test('reports findings with their channel, and a cut once', async (t) => {
  const seen: string[] = []
  const cuts: string[] = []
  const channels = createTextChannels({
    newScanner: scannerFactory(ruleSet),
    onFinding: (f, ctx) => seen.push(`${ctx.channel}:${ctx.field}:${f.ruleId}`),
    onCut: (f, ctx) => cuts.push(`${ctx.channel}:${f.ruleId}`)
  })
  channels.scan(b, 'mail jane.doe@acme.io. ')
  t.equal(channels.scan(a, 'ok, launch the '), 'ok, ')
  t.equal(channels.scan(a, 'missiles now'), '')
  t.same(seen, ['1:content:content:pii.email', '0:content:content:test.cut_missiles'])
  t.same(cuts, ['0:content:test.cut_missiles'])
  t.equal(channels.cutFinding()?.ruleId, 'test.cut_missiles')
  t.equal(channels.stats.findings.cut, 1)
})

t.test('after a cut nothing is released on any channel, held text included', async (t) => {
  const channels = createTextChannels({ newScanner: scannerFactory(ruleSet) })
  t.equal(channels.scan(b, 'card 4111 1111'), 'card ')
  channels.scan(a, 'launch the missiles now')
  t.ok(channels.cutFinding(), 'cut')
  t.equal(channels.scan(b, ' 1111 1111 more'), '')
  t.equal(channels.finish(b.key), '', 'the held card digits are dropped, not flushed')
  t.equal(channels.stats.maxHeld >= '4111 1111'.length, true)
})

t.test('accumulates released text only when asked', async (t) => {
  const off = createTextChannels({ newScanner: scannerFactory(ruleSet) })
  off.scan(a, 'hello there. ')
  t.equal(off.released(a.key), undefined)
  let asked = 0
  const on = createTextChannels({ newScanner: scannerFactory(ruleSet), accumulate: () => { asked++; return true } })
  on.scan(a, 'mail jane.doe@')
  on.scan(a, 'acme.io. ')
  on.finish(a.key)
  t.match(on.released(a.key), /^mail \[email:[0-9a-f]+\]\. $/)
  t.equal(asked, 1, 'asked once, when the channel opened')
  t.equal(on.released('nope'), undefined)
})

t.test('tells when the first text is released', async (t) => {
  let first = 0
  const channels = createTextChannels({ newScanner: scannerFactory(ruleSet), onFirstText: () => first++ })
  channels.scan(a, 'jane')
  t.equal(first, 0, 'held text is not a first token')
  channels.scan(a, ' says hi. ')
  channels.scan(a, 'more. ')
  t.equal(first, 1)
})
