/**
 * @module test/canary/arbitraries
 * fast-check arbitraries for hostile cases, and the attribution of a leak
 * to the dimension(s) of the case that cause it: the case is rebuilt with
 * everything but one dimension put back to its ordinary value (the text
 * field, 200, the protocol's own content type, no encoding), and each
 * dimension that leaks on its own is a category.
 */
import fc from 'fast-check'
import type { Canary } from './canaries.js'
import { contentTypes, encodings, lineEndings, positionApplies, positionFits, positionLabel, positionNames, statuses } from './hostile-case.js'
import type { CaseSpec, ContentTypeChoice, Encoding, LineEnding, Position, Shape } from './hostile-case.js'
import { protocolNamed, protocols } from './protocols.js'

const kProse = [
  'Sure! Here is the summary you asked for.',
  'The meeting moved to Thursday at 10:30, room 4B.',
  'Café prices rose 3% — see the table below. 表格在下面。',
  'Run `npm test` again; the flaky suite passes now 🙂',
  'Version 2.4.1 fixed the bug reported in March.'
]
const kBefore = ['Sure, write to', 'The value is', 'Noted:', 'Use', 'Here:']
const kAfter = ['today.', 'and thanks!', '- done.', 'as asked.', '(copied)']
const kKeys = ['reasoning_content', 'x_debug', 'annotations', 'obfuscation', 'audio', 'citations', 'note', 'thinking']
const kShapes: Shape[] = ['flat', 'object', 'array', 'deep']

export function caseArbitrary (canaries: readonly Canary[], protocolNames: readonly string[] = protocols.map((p) => p.name)): fc.Arbitrary<CaseSpec> {
  return fc.record({ protocol: fc.constantFrom(...protocolNames), streamed: fc.boolean(), canary: fc.constantFrom(...canaries) }).chain(({ protocol, streamed, canary }) => {
    const entry = protocolNamed(protocol)
    const names = positionNames.filter((n) => positionApplies(n, entry, streamed) && positionFits(n, canary))
    const position: fc.Arbitrary<Position> = fc.record({
      name: fc.constantFrom(...names),
      pick: fc.nat(11),
      at: fc.double({ min: 0, max: 0.999, noNaN: true }),
      key: fc.constantFrom(...kKeys),
      shape: fc.constantFrom(...kShapes)
    })
    return fc.record({
      protocol: fc.constant(protocol),
      streamed: fc.constant(streamed),
      canary: fc.constant(canary),
      around: fc.tuple(fc.constantFrom(...kBefore), fc.constantFrom(...kAfter)),
      prose: fc.constantFrom(...kProse),
      sizes: fc.array(fc.integer({ min: 1, max: 16 }), { minLength: 1, maxLength: 6 }),
      tool: fc.boolean(),
      position,
      status: fc.oneof({ weight: 3, arbitrary: fc.constant(200) }, { weight: 2, arbitrary: fc.constantFrom(...statuses) }),
      contentType: fc.oneof(
        { weight: 3, arbitrary: fc.constant<ContentTypeChoice>('natural') },
        { weight: 2, arbitrary: fc.constantFrom(...contentTypes) }
      ),
      encoding: fc.oneof({ weight: 3, arbitrary: fc.constant<Encoding>('identity') }, { weight: 1, arbitrary: fc.constantFrom(...encodings) }),
      eol: fc.oneof({ weight: 3, arbitrary: fc.constant<LineEnding>('lf') }, { weight: 1, arbitrary: fc.constantFrom(...lineEndings) }),
      splits: fc.array(fc.nat(100_000), { minLength: 1, maxLength: 12 }),
      escapeSeed: fc.nat(),
      sendAs: fc.constantFrom('stream' as const, 'buffer' as const)
    })
  })
}

/** The case with every dimension at its ordinary value: the canary in the protocol's text field. */
export function baselineOf (spec: CaseSpec): CaseSpec {
  return { ...spec, position: { ...spec.position, name: 'text' }, status: 200, contentType: 'natural', encoding: 'identity', eol: 'lf' }
}

export interface Dimension {
  /** e.g. `position=unknown-key@choices.0.delta`, `status=400`. */
  label: string
  /** The baseline with only this dimension taken from the case. */
  alone: CaseSpec
}

/** The dimensions where `spec` differs from its baseline. */
export function dimensionsOf (spec: CaseSpec): Dimension[] {
  const base = baselineOf(spec)
  const out: Dimension[] = []
  if (spec.position.name !== 'text') out.push({ label: `position=${positionLabel(spec)}`, alone: { ...base, position: spec.position } })
  if (spec.status !== 200) out.push({ label: `status=${spec.status}`, alone: { ...base, status: spec.status } })
  if (spec.contentType !== 'natural') out.push({ label: `type=${spec.contentType}`, alone: { ...base, contentType: spec.contentType } })
  if (spec.encoding !== 'identity') out.push({ label: `encoding=${spec.encoding}`, alone: { ...base, encoding: spec.encoding } })
  if (spec.eol !== 'lf') out.push({ label: `eol=${spec.eol}`, alone: { ...base, eol: spec.eol } })
  return out
}
