/**
 * @module source-positions
 * Where things are in a YAML (or JSON) file, for error messages that point
 * at the exact line and column: the rule loader and the proxy's config file
 * parse with `yaml`'s document API, which keeps every node's source range,
 * and a `LineCounter` turns offsets into 1-based line and column.
 *
 * A path is the one TypeBox and `Document.getIn` use (`['rules', 3,
 * 'pattern']`). A position inside a string value (a pattern's offending
 * character) is mapped back through the quoting it was written in, so a
 * column counts the characters the author sees in the file.
 */
import { LineCounter, isMap, isScalar, isSeq, parseDocument } from 'yaml'
import type { Document, Node, YAMLError } from 'yaml'

export interface SourcePosition {
  /** 1-based line. */
  line: number
  /** 1-based column, in UTF-16 code units (as editors count for the BMP). */
  column: number
}

/**
 * Where a YAML syntax error really is, and what to do about it. The parser
 * reports the structure it expected, often where that structure began: a
 * line indented too deep continues the value above it (reported on the
 * line above), an unclosed quote is reported at the end of the file.
 */
function explainSyntaxError (err: YAMLError, all: readonly YAMLError[], text: string): { offset: number, message: string } {
  const message = err.message.split('\n')[0] ?? err.message
  const start = err.pos[0]
  if (err.code === 'BLOCK_AS_IMPLICIT_KEY' || err.code === 'MULTILINE_IMPLICIT_KEY') {
    const multiline = all.find((e) => e.code === 'MULTILINE_IMPLICIT_KEY' && e.pos[0] === start)
    const lineEnd = multiline === undefined ? -1 : text.indexOf('\n', start)
    if (multiline !== undefined && lineEnd !== -1 && lineEnd < multiline.pos[1]) {
      const next = text.slice(lineEnd + 1).search(/\S/)
      return {
        offset: lineEnd + 1 + Math.max(0, next),
        message: 'this line is indented deeper than the key above it, so it reads as the rest of that value: check its indentation'
      }
    }
    return { offset: start, message: `${message} (a value that contains ": " needs quotes)` }
  }
  if (err.code === 'MISSING_CHAR' && /closing/.test(message)) {
    // Reported at the end of the input; the quote that opened the string is what to look at.
    const quote = /closing (["'])/.exec(message)?.[1]
    const opened = quote === undefined ? -1 : text.lastIndexOf(quote, Math.min(start, text.length - 1))
    if (opened !== -1) return { offset: opened, message: `${message}: this string is never closed` }
  }
  const flow = /^Flow (?:sequence|mapping) .* end with an? ([\]}])/.exec(message)?.[1]
  if (flow !== undefined) {
    // Also reported where the input ends: the bracket that opened it is the place to look.
    const opened = text.lastIndexOf(flow === ']' ? '[' : '{', Math.min(start, text.length - 1))
    if (opened !== -1) return { offset: opened, message: `"${text[opened] ?? ''}" is not closed: a flow ${flow === ']' ? 'list' : 'mapping'} must end with "${flow}"` }
  }
  if (err.code === 'BAD_INDENT' || (err.code === 'MISSING_CHAR' && /indicator/.test(message))) {
    // At the line's first character, not the indentation before it.
    const indent = /^[ \t]*/.exec(text.slice(start))?.[0].length ?? 0
    return { offset: start + indent, message: `${message} (check this line's indentation against the lines above)` }
  }
  return { offset: start, message }
}

export type SourcePath = ReadonlyArray<string | number>

export interface PositionOptions {
  /** The position of the key of the last path segment, not its value (unknown fields). */
  key?: boolean
  /** An offset into the string value at the path (a pattern's offending character). */
  offset?: number
}

export interface LocatedDocument {
  readonly doc: Document.Parsed
  /** YAML syntax errors, one per line (the parser's follow-on errors on the same line add nothing). */
  readonly syntaxErrors: ReadonlyArray<{ position: SourcePosition, message: string }>
  /** The position of the node at `path`, or of the deepest node on it that exists (a missing field: the object that misses it). */
  positionOf: (path: SourcePath, options?: PositionOptions) => SourcePosition
  /** The position of an offset in the text. */
  positionAt: (offset: number) => SourcePosition
}

/** `file:line:column`, the form compilers and editors jump to. */
export function formatLocation (file: string, position: SourcePosition): string {
  return `${file}:${position.line}:${position.column}`
}

function keyText (key: unknown): unknown {
  return isScalar(key) ? key.value : key
}

/**
 * Offset in the scalar's source text of `offset` in its value, or undefined
 * when the value is not written on one line as-is (folded or block text).
 */
function sourceOffsetInScalar (node: Node, source: string, offset: number): number | undefined {
  if (!isScalar(node)) return undefined
  const text = source
  switch (node.type) {
    case 'PLAIN':
      return text === String(node.value) && offset <= text.length ? offset : undefined
    case 'QUOTE_SINGLE': {
      // '' stands for one quote; a line break would fold.
      let value = 0
      for (let i = 1; i < text.length - 1; i++) {
        if (value === offset) return i
        if (text[i] === '\n') return undefined
        if (text[i] === "'" && text[i + 1] === "'") i++
        value++
      }
      return value === offset ? text.length - 1 : undefined
    }
    case 'QUOTE_DOUBLE': {
      // An escape is one character of the value (two for a \U beyond the BMP).
      let value = 0
      for (let i = 1; i < text.length - 1; i++) {
        if (value >= offset) return i
        const c = text[i]
        if (c === '\n') return undefined
        if (c === '\\') {
          const e = text[i + 1]
          if (e === '\n' || e === '\r') return undefined
          const hex = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0
          value += hex === 8 && parseInt(text.slice(i + 2, i + 10), 16) > 0xffff ? 2 : 1
          i += 1 + hex
          continue
        }
        value++
      }
      return value === offset ? text.length - 1 : undefined
    }
    default:
      return undefined
  }
}

/**
 * Parses YAML (JSON is YAML) keeping node ranges.
 * @example
 * const located = parseLocated(text)
 * located.positionOf(['rules', 0, 'pattern'], { offset: 3 }) // { line: 5, column: 17 }
 */
export function parseLocated (text: string): LocatedDocument {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
  const positionAt = (offset: number): SourcePosition => {
    const p = lines.linePos(offset)
    return { line: p.line, column: p.col }
  }
  const syntaxErrors: Array<{ position: SourcePosition, message: string }> = []
  const seenLines = new Set<number>()
  for (const err of doc.errors) {
    const { offset, message } = explainSyntaxError(err, doc.errors, text)
    const position = positionAt(offset)
    if (seenLines.has(position.line)) continue
    seenLines.add(position.line)
    syntaxErrors.push({ position, message })
  }

  function positionOf (path: SourcePath, { key = false, offset }: PositionOptions = {}): SourcePosition {
    let node: unknown = doc.contents
    let keyNode: unknown
    let found = true
    for (const segment of path) {
      keyNode = undefined
      if (isMap(node)) {
        const pair = node.items.find((p) => String(keyText(p.key)) === String(segment))
        if (pair === undefined) { found = false; break }
        keyNode = pair.key
        node = pair.value ?? pair.key
      } else if (isSeq(node) && typeof segment === 'number' && segment < node.items.length) {
        node = node.items[segment]
      } else {
        found = false
        break
      }
    }
    const target = (found && key && keyNode !== undefined ? keyNode : node) as Node | null | undefined
    const range = target?.range
    if (range === undefined || range === null) return { line: 1, column: 1 }
    if (found && !key && offset !== undefined && target !== null && target !== undefined) {
      const inSource = sourceOffsetInScalar(target, text.slice(range[0], range[1]), offset)
      if (inSource !== undefined) return positionAt(range[0] + inSource)
    }
    return positionAt(range[0])
  }

  return { doc, syntaxErrors, positionOf, positionAt }
}
