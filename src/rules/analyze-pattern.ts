/**
 * @module rules/analyze-pattern
 * Static analysis of a rule pattern, done once at load time:
 * - checks that it sits in the common subset of RE2 and JavaScript `u`-mode
 *   syntax (we parse the JS form to reason about it, RE2 runs it);
 * - bounds each unbounded repetition by the rule's `maxLength`, so that every
 *   pattern has a finite longest match (the holdback cap and memory bound);
 * - computes that longest match;
 * - derives the *prefix pattern*: a regex for every prefix of every match,
 *   which tells the scanner how much of the stream's tail could still grow
 *   into a match (README, "Minimal holdback").
 */
import { RegExpParser, visitRegExpAST } from '@eslint-community/regexpp'
import type { AST } from '@eslint-community/regexpp'
import { JS, NFA } from 'refa'

/** Problems found in a pattern; each is a sentence for the rule author. */
export class PatternProblem extends Error {}

const parser = new RegExpParser({ ecmaVersion: 2024 })

export interface PatternAnalysis {
  /** The source to compile, with unbounded repetitions bounded. */
  source: string
  /** Longest possible match, in UTF-16 code units. */
  maxLength: number
  /** Number of capture groups. */
  groups: number
}

/**
 * Parses `source` as a JS `u`-mode pattern and rejects what RE2 or our
 * streaming semantics cannot take. `maxLength` bounds unbounded repetitions;
 * without it such a pattern is an error.
 */
export function analyzePattern (source: string, flags: string, maxLength: number | undefined, { allowEmpty = false } = {}): PatternAnalysis {
  let ast: AST.Pattern
  try {
    ast = parser.parsePattern(source, 0, source.length, { unicode: true })
  } catch (err) {
    throw new PatternProblem(`not valid in the RE2/JavaScript common syntax: ${(err as Error).message}`)
  }

  const edits: Array<{ start: number, end: number, text: string }> = []
  let groups = 0
  let problem: string | undefined
  visitRegExpAST(ast, {
    onAssertionEnter (node) {
      if (node.kind === 'lookahead' || node.kind === 'lookbehind') {
        problem ??= `lookaround "${node.raw}" is not supported by RE2`
      } else if (node.kind === 'start' || node.kind === 'end') {
        // A stream has no fixed start or end: `^`/`$` would mean a chunk edge.
        problem ??= `anchor "${node.raw}" is not allowed: use "boundary" instead`
      }
    },
    onBackreferenceEnter (node) {
      problem ??= `back-reference "${node.raw}" is not supported by RE2`
    },
    onCapturingGroupEnter (node) {
      if (node.name !== null) problem ??= `named group "${node.name}" is not allowed: use "group" with a number`
      groups++
    },
    onQuantifierEnter (node) {
      if (node.max > 1000 && node.max !== Infinity) problem ??= `repetition "${node.raw.slice(node.element.raw.length)}" exceeds RE2's limit of 1000`
      if (node.max !== Infinity) return
      if (maxLength === undefined) {
        problem ??= `unbounded repetition "${node.raw}" needs a declared "maxLength"`
        return
      }
      const start = node.element.end
      const lazy = node.greedy ? '' : '?'
      edits.push({ start, end: node.end, text: `{${node.min},${Math.max(node.min, maxLength)}}${lazy}` })
    }
  })
  if (problem !== undefined) throw new PatternProblem(problem)

  // Apply edits right to left so earlier offsets stay valid.
  let bounded = source
  for (const edit of edits.sort((a, b) => b.start - a.start)) {
    bounded = bounded.slice(0, edit.start) + edit.text + bounded.slice(edit.end)
  }
  const boundedAst = edits.length > 0 ? parser.parsePattern(bounded, 0, bounded.length, { unicode: true }) : ast
  const longest = maxLengthOf(boundedAst.alternatives, flags.includes('s'))
  if (!Number.isFinite(longest)) throw new PatternProblem('pattern has no finite longest match')
  // An empty match would be a finding of nothing and would stall the search
  // (an `after` may: "whatever comes before, if anything" is a context).
  if (!allowEmpty && minLengthOf(boundedAst.alternatives) === 0) throw new PatternProblem('pattern can match the empty string')
  return { source: bounded, maxLength: longest, groups }
}

function maxLengthOf (alternatives: readonly AST.Alternative[], dotAll: boolean): number {
  let best = 0
  for (const alt of alternatives) {
    let sum = 0
    for (const el of alt.elements) sum += maxLengthOfElement(el, dotAll)
    best = Math.max(best, sum)
  }
  return best
}

function maxLengthOfElement (el: AST.Element, dotAll: boolean): number {
  switch (el.type) {
    case 'Assertion':
      return 0
    case 'Character':
      return el.value > 0xffff ? 2 : 1
    case 'CharacterSet':
      // `.`, `\p{…}` and `\P{…}`/negations may match an astral code point.
      if (el.kind === 'digit' || el.kind === 'space' || el.kind === 'word') return el.negate ? 2 : 1
      void dotAll
      return 2
    case 'CharacterClass':
      return characterClassWidth(el)
    case 'ExpressionCharacterClass':
      return 2
    case 'Group':
    case 'CapturingGroup':
      return maxLengthOf(el.alternatives, dotAll)
    case 'Quantifier':
      return el.max === 0 ? 0 : maxLengthOfElement(el.element, dotAll) * el.max
    case 'Backreference':
      return Infinity
  }
}

function minLengthOf (alternatives: readonly AST.Alternative[]): number {
  let best = Infinity
  for (const alt of alternatives) {
    let sum = 0
    for (const el of alt.elements) sum += minLengthOfElement(el)
    best = Math.min(best, sum)
  }
  return best
}

function minLengthOfElement (el: AST.Element): number {
  switch (el.type) {
    case 'Assertion':
    case 'Backreference':
      return 0
    case 'Group':
    case 'CapturingGroup':
      return minLengthOf(el.alternatives)
    case 'Quantifier':
      return el.min === 0 ? 0 : minLengthOfElement(el.element) * el.min
    default:
      return 1
  }
}

function characterClassWidth (el: AST.CharacterClass): number {
  if (el.negate) return 2
  for (const e of el.elements) {
    if (e.type === 'Character' && e.value > 0xffff) return 2
    if (e.type === 'CharacterClassRange' && e.max.value > 0xffff) return 2
    if (e.type === 'CharacterSet' && (e.kind === 'property' || e.negate)) return 2
    if (e.type !== 'Character' && e.type !== 'CharacterClassRange' && e.type !== 'CharacterSet') return 2
  }
  return 1
}

/**
 * A pattern (with a rule's `flags`: `i`, `s`) parsed for refa's automata, in
 * Unicode mode as the rules run. `assertions`: `ignore` drops them (a
 * superset, fine for a hold), `throw` refuses the pattern (for an automaton
 * that must decide exactly).
 */
export function parseForAutomata (source: string, flags: string, assertions: 'ignore' | 'throw'): JS.ParseResult {
  const literal = { source, flags: 'u' + (flags.includes('i') ? 'i' : '') + (flags.includes('s') ? 's' : '') }
  return JS.Parser.fromLiteral(literal).parse({ assertions, backreferences: 'throw' })
}

/**
 * A JS-syntax regex source accepting every prefix of every match of
 * `source` (a superset: assertions are dropped and counted repetitions
 * relaxed to unbounded, which keeps the automaton small). Returns the source
 * and flags to compile with RE2. Used as `(?:prefix)$`: the leftmost start of
 * its match is where the holdback must begin.
 */
export function prefixPattern (source: string, flags: string): { source: string, flags: string } {
  const { expression, maxCharacter } = parseForAutomata(source, flags, 'ignore')
  relaxRepetitions(expression)
  const nfa = NFA.fromRegex(expression, { maxCharacter })
  nfa.prefixes()
  const out = JS.toLiteral(nfa.toRegex({ maxNodes: 200_000 }), { flags: { unicode: true } })
  return { source: out.source, flags: out.flags }
}

export interface RefaNode { type: string, max?: number, alternatives?: RefaNode[], elements?: RefaNode[] }

/** `{2,64}` → `{2,}`: accepts more, never less, and keeps the NFA small. */
export function relaxRepetitions (node: RefaNode): void {
  if (node.type === 'Quantifier' && node.max !== undefined && node.max > 1) node.max = Infinity
  for (const child of node.alternatives ?? []) relaxRepetitions(child)
  for (const child of node.elements ?? []) relaxRepetitions(child)
}
