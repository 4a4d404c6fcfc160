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

const parser = new RegExpParser({ ecmaVersion: 2024 })

/**
 * Problems found in a pattern; each is a sentence for the rule author, with
 * the offset in the pattern where the problem starts when one is known (the
 * loader turns it into the column in the rule file).
 */
export class PatternProblem extends Error {
  readonly offset: number | undefined
  constructor (message: string, offset?: number) {
    super(message)
    this.offset = offset
  }
}

export interface AnalyzeOptions {
  /** Whether the pattern may match the empty string (an `after` context may). */
  allowEmpty?: boolean
  /**
   * Whether lookaround problems suggest the rule fields that replace them
   * (`after`, `notAfter`, `notBefore`, `group`): true for a rule's
   * `pattern`, false for the context patterns themselves.
   */
  suggestFields?: boolean
}

/** A YAML single-quoted scalar of `text`, for a suggestion the author can paste. */
function quoted (text: string): string {
  return `'${text.replace(/'/g, "''")}'`
}

/** The boundary kind a one-character-class lookaround stands for, if it does. */
function boundaryFor (inner: string): string | undefined {
  if (inner === '\\d' || inner === '[0-9]' || inner === '[\\d]') return 'digit'
  if (inner === '\\w' || inner === '[\\w]' || inner === '[A-Za-z0-9_]' || inner === '[a-zA-Z0-9_]') return 'word'
  return undefined
}

/**
 * RE2 has no lookaround. Each kind has a rule field that does its work
 * without it: `after`/`notAfter` read the text before a match, `notBefore`
 * the text after it, `boundary` the character on either side, and `group`
 * redacts only part of a longer match (so the context can be matched, not
 * looked at).
 */
function lookaroundProblem (node: AST.LookaroundAssertion, source: string, suggestFields: boolean): string {
  const behind = node.kind === 'lookbehind'
  const what = `${node.negate ? 'negative ' : ''}${behind ? 'lookbehind' : 'lookahead'} "${node.raw}" is not supported by RE2`
  if (!suggestFields) return what
  const inner = node.raw.slice(behind ? 4 : 3, -1)
  const boundary = node.negate ? boundaryFor(inner) : undefined
  const orBoundary = boundary === undefined ? '' : `, or "boundary: ${boundary}"`
  const atStart = node.start === 0
  const atEnd = node.end === source.length
  if (behind && atStart) {
    return node.negate
      ? `${what}: remove it and set "notAfter: ${quoted(inner)}" (the text before a match must not end with it)${orBoundary}`
      : `${what}: remove it and set "after: ${quoted(inner)}" (the text before a match must end with it), or match it too and redact only the rest with "group"`
  }
  if (!behind && atEnd) {
    return node.negate
      ? `${what}: remove it and set "notBefore: ${quoted(inner)}" (the text after a match must not start with it)${orBoundary}`
      : `${what}: match it as part of the pattern and redact only the part before it with "group"`
  }
  return `${what}: match the context as part of the pattern and redact only the sensitive part with "group"${behind ? ' (a context that starts the pattern can go to "after")' : ''}`
}

/**
 * Syntax that PCRE (and some of it RE2) has but the common RE2/JavaScript
 * subset does not, with the fix: found by a scan of the source when the
 * JavaScript parser refuses it, so the author reads what to write instead
 * of "Invalid group".
 */
function unsupportedSyntax (source: string): PatternProblem | undefined {
  let inClass = false
  for (let i = 0; i < source.length; i++) {
    const c = source[i]
    if (c === '\\') {
      const e = source[i + 1] ?? ''
      if (!inClass && e === 'K') return new PatternProblem('"\\K" is not supported by RE2: capture the part after it and set "group", or move the part before it to "after"', i)
      if (!inClass && 'AzZG'.includes(e) && e !== '') return new PatternProblem(`anchor "\\${e}" is not allowed: use "boundary" instead`, i)
      if (!inClass && e === 'k') return new PatternProblem(`back-reference "${source.slice(i, source.indexOf('>', i) + 1) || '\\k'}" is not supported by RE2: write the repeated part out, or check the match with a "validator"`, i)
      if (e === 'Q') return new PatternProblem('"\\Q…\\E" quoting is not supported: escape each special character with "\\"', i)
      i++
      continue
    }
    if (inClass) {
      if (c === ']') inClass = false
      continue
    }
    if (c === '[') { inClass = true; continue }
    if (c === '(' && source[i + 1] === '?') {
      const rest = source.slice(i + 2)
      if (rest.startsWith('>')) return new PatternProblem('atomic group "(?>" is not supported by RE2: use "(?:" (RE2 never backtracks, so it is not needed)', i)
      if (/^P?<[A-Za-z_]/.test(rest) || rest.startsWith("'")) return new PatternProblem('named groups are not allowed: use a plain group "(" and "group" with its number', i)
      if (rest.startsWith('P=') || rest.startsWith('P>')) return new PatternProblem(`"${source.slice(i, source.indexOf(')', i) + 1)}" (a back-reference or recursion) is not supported by RE2`, i)
      if (rest.startsWith('#')) return new PatternProblem('comments "(?#…)" are not supported: remove it', i)
      if (/^[-imsxU]+[:)]/.test(rest)) return new PatternProblem(`inline flags "${source.slice(i, i + 2 + rest.search(/[:)]/) + 1)}" are not allowed: set the rule's "flags" (i, s) instead`, i)
      if (/^(\(|\||R\)|[+-]?\d)/.test(rest)) return new PatternProblem(`"${source.slice(i, i + 3)}" (a conditional, branch reset or recursion) is not supported by RE2`, i)
      continue
    }
    if ('*+?}'.includes(c ?? '') && source[i + 1] === '+' && source[i - 1] !== '(') {
      const quantifier = c === '}' ? source.slice(source.lastIndexOf('{', i), i + 2) : `${c ?? ''}+`
      return new PatternProblem(`possessive quantifier "${quantifier}" is not supported by RE2: drop the last "+" (RE2 never backtracks, so the plain quantifier is already linear)`, i + 1)
    }
  }
  return undefined
}

/**
 * Why RE2 refused `source` when it says no more than "invalid": the
 * unsupported construct with its fix and offset, if one is found.
 */
export function explainRe2Failure (source: string): PatternProblem | undefined {
  const known = unsupportedSyntax(source)
  if (known !== undefined) return known
  let ast: AST.Pattern
  try {
    ast = parser.parsePattern(source, 0, source.length, { unicode: true })
  } catch {
    return undefined
  }
  // Only what RE2 lacks: anchors and the like are fine where this is used (allow-lists).
  let problem: PatternProblem | undefined
  visitRegExpAST(ast, {
    onAssertionEnter (node) {
      if (node.kind === 'lookahead' || node.kind === 'lookbehind') problem ??= new PatternProblem(lookaroundProblem(node, source, false), node.start)
    },
    onBackreferenceEnter (node) {
      problem ??= new PatternProblem(`back-reference "${node.raw}" is not supported by RE2`, node.start)
    }
  })
  return problem
}

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
export function analyzePattern (source: string, flags: string, maxLength: number | undefined, { allowEmpty = false, suggestFields = true }: AnalyzeOptions = {}): PatternAnalysis {
  let ast: AST.Pattern
  try {
    ast = parser.parsePattern(source, 0, source.length, { unicode: true })
  } catch (err) {
    const known = unsupportedSyntax(source)
    if (known !== undefined) throw known
    const index = (err as { index?: unknown }).index
    throw new PatternProblem(`not valid in the RE2/JavaScript common syntax: ${(err as Error).message}`, typeof index === 'number' ? index : undefined)
  }

  const edits: Array<{ start: number, end: number, text: string }> = []
  let groups = 0
  let problem: PatternProblem | undefined
  visitRegExpAST(ast, {
    onAssertionEnter (node) {
      if (node.kind === 'lookahead' || node.kind === 'lookbehind') {
        problem ??= new PatternProblem(lookaroundProblem(node, source, suggestFields), node.start)
      } else if (node.kind === 'start' || node.kind === 'end') {
        // A stream has no fixed start or end: `^`/`$` would mean a chunk edge.
        problem ??= new PatternProblem(`anchor "${node.raw}" is not allowed: use "boundary" instead`, node.start)
      }
    },
    onBackreferenceEnter (node) {
      problem ??= new PatternProblem(`back-reference "${node.raw}" is not supported by RE2: write the repeated part out, or check the match with a "validator"`, node.start)
    },
    onCapturingGroupEnter (node) {
      if (node.name !== null) problem ??= new PatternProblem(`named group "${node.name}" is not allowed: use a plain group and "group" with its number`, node.start)
      groups++
    },
    onQuantifierEnter (node) {
      const quantifierStart = node.element.end
      if (node.max > 1000 && node.max !== Infinity) problem ??= new PatternProblem(`repetition "${node.raw.slice(node.element.raw.length)}" exceeds RE2's limit of 1000`, quantifierStart)
      if (node.max !== Infinity) return
      if (maxLength === undefined) {
        problem ??= new PatternProblem(`unbounded repetition "${node.raw}" needs a declared "maxLength"`, node.start)
        return
      }
      const start = node.element.end
      const lazy = node.greedy ? '' : '?'
      edits.push({ start, end: node.end, text: `{${node.min},${Math.max(node.min, maxLength)}}${lazy}` })
    }
  })
  if (problem !== undefined) throw problem

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
