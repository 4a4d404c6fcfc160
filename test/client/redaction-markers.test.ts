import t from 'tap'
import fc from 'fast-check'
import { createDecoder } from '../../src/client/create-decoder.js'
import type { DecodedEvent } from '../../src/client/create-decoder.js'
import { defaultRedactionMarkers, findRedactions, holdbackStart, kMaxHeldMarker } from '../../src/client/redaction-markers.js'
import { compileReplacement } from '../../src/rules/replacement.js'
import { defaultRulesDir, loadRuleSet } from '../../src/rules/load-rules.js'
import { scanText } from '../../src/scanner/scan-text.js'
import { encode } from './split-bytes.js'

t.test('finds every replacement the shipped redact rules write, whole, with their rule and category', async (t) => {
  const ruleSet = await loadRuleSet(defaultRulesDir())
  let checked = 0
  const silent: string[] = []
  for (const rule of ruleSet.rules) {
    if (rule.action !== 'redact') continue
    if (rule.replacement === '') {
      silent.push(rule.id)
      continue
    }
    const render = compileReplacement(rule.replacement)
    for (const example of rule.examples.match) {
      const text = typeof example === 'string' ? example : example.text
      for (const finding of scanText(ruleSet, text, { hmacKey: 'k' }).findings) {
        if (finding.ruleId !== rule.id || finding.action !== 'redact') continue
        const value = text.slice(finding.start, finding.start + finding.length)
        const rendered = render({ value, id: rule.id, category: rule.category, digest: () => finding.digest })
        const spans = findRedactions(rendered)
        t.equal(spans.length, 1, `${rule.id}: one marker in ${JSON.stringify(rendered)}`)
        // A template may write a literal after its marker (`[blocked]"` closes the attribute it replaced).
        t.match(spans[0], { start: 0 }, `${rule.id}: ${JSON.stringify(rendered)} from its start`)
        t.match(rendered.slice(spans[0]?.end), /^["')]?$/, `${rule.id}: ${JSON.stringify(rendered)} to its end`)
        if (spans[0]?.rule !== undefined) t.equal(spans[0].rule, rule.id, `${rule.id}: the rule named`)
        t.equal(spans[0]?.category, rule.category, `${rule.id}: the category`)
        checked++
      }
    }
  }
  t.ok(checked > 80, `${checked} rendered replacements checked`)
  t.ok(silent.length > 0, `rules that remove text leave no marker to find: ${silent.join(', ')}`)
})

t.test('reads the rule from [SECRET:id] and the category from [REDACTED:category]', async (t) => {
  t.same(findRedactions('key=[SECRET:secret.openai_key] and [REDACTED:toxicity].'), [
    { start: 4, end: 30, kind: 'redaction', rule: 'secret.openai_key', category: 'secret', label: 'secret' },
    { start: 35, end: 54, kind: 'redaction', category: 'toxicity', label: 'redacted' }
  ])
})

t.test('takes masks for what they are, and not markdown', async (t) => {
  t.same(findRedactions('card **** **** **** 1111, IBAN **** **** **** **** **30 00.').map((s) => s.label), ['masked', 'masked'])
  t.same(findRedactions('card ****.****.****.１１１１ and ****\u00ad****\u00ad****\u00ad1111').map((s) => s.end - s.start), [19, 19], 'any separator, any digits')
  t.same(findRedactions('**bold** and *em* and *** and ****** and ******** abcde and [link](x) and [ ]'), [])
})

t.test('custom markers: named groups fill rule, category and label', async (t) => {
  const markers = [{ pattern: /<(?<label>[a-z]+) removed by (?<rule>[a-z.]+)>/, category: 'pii' }]
  t.same(findRedactions('x <email removed by acme.mail> y', markers), [{ start: 2, end: 30, kind: 'redaction', rule: 'acme.mail', category: 'pii', label: 'email' }])
})

t.test('holds back only what could still become a marker', async (t) => {
  t.equal(holdbackStart('write to [email:3f'), 9)
  t.equal(holdbackStart('write to [email:3f9a1c]'), 23)
  t.equal(holdbackStart('the card **** **** **** 11'), 9)
  t.equal(holdbackStart('the card **** **** **** 1111'), 9, 'a fifth digit would undo it')
  t.equal(holdbackStart('the card **** **** **** 1111.'), 29)
  t.equal(holdbackStart('a note [Ü'), 9, 'no marker has such characters')
  t.equal(holdbackStart('[' + 'a'.repeat(kMaxHeldMarker)), kMaxHeldMarker + 1, 'held no longer than the cap')
})

/** The text events of a chat stream whose content deltas are `deltas`. */
function decodeDeltas (deltas: readonly string[]): Array<Extract<DecodedEvent, { type: 'text' }>> {
  const frames = deltas.map((d) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: d }, finish_reason: null }] })}\n\n`).join('')
  const decoder = createDecoder({ protocol: 'openai-chat', framing: 'sse', markers: defaultRedactionMarkers })
  const events = [...decoder.push(encode(frames + 'data: [DONE]\n\n')), ...decoder.end()]
  return events.filter((e): e is Extract<DecodedEvent, { type: 'text' }> => e.type === 'text')
}

t.test('a marker split between deltas reaches the UI whole, and the text is unchanged, however it was split (fast-check)', async (t) => {
  const pieces = [
    '[email:3f9a1c]', '[SECRET:secret.openai_key]', '[REDACTED:toxicity]', '[NHS number]', '[blocked]"', '**** **** **** 1111',
    '**** **** **** **** **30 00', 'Hi ', 'a', '1', ' ', '[', ']', '*', '**', '-', '[see note', 'é', '🌊', '\n'
  ]
  const text = fc.array(fc.constantFrom(...pieces), { maxLength: 14 }).map((a) => a.join(''))
  const splits = text.chain((s) => {
    const points = Array.from(s)
    return fc.tuple(fc.constant(s), fc.array(fc.integer({ min: 1, max: Math.max(1, points.length - 1) }), { maxLength: 10 }))
  })
  fc.assert(fc.property(splits, ([whole, cuts]) => {
    const points = Array.from(whole)
    const deltas: string[] = []
    let last = 0
    for (const at of [...new Set(cuts)].sort((a, b) => a - b)) {
      if (at <= last || at >= points.length) continue
      deltas.push(points.slice(last, at).join(''))
      last = at
    }
    deltas.push(points.slice(last).join(''))
    const events = decodeDeltas(deltas.filter((d) => d !== ''))
    let joined = ''
    const spans = []
    for (const event of events) {
      if (event.offset !== joined.length) return false
      for (const span of event.spans) spans.push({ ...span, start: span.start + event.offset, end: span.end + event.offset })
      joined += event.text
    }
    return joined === whole && JSON.stringify(spans) === JSON.stringify(findRedactions(whole))
  }), { numRuns: 500 })
  t.pass('500 generated cases')
})
