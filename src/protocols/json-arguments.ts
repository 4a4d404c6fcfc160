/**
 * @module protocols/json-arguments
 * Scans a channel of streamed JSON text — tool, function and MCP call
 * arguments — the way the client will read it: as the values
 * `JSON.parse` gives back, not as the escaped source text. Scanning the
 * source would let `"jane.doe\u0040acme.com"` or
 * `"AKI\u0041IOSFODNN7EXAMPLE"` through: the rules see `\u0040`, the
 * client sees `@`.
 *
 * An incremental lexer splits the text into segments (RFC 8259 §2, §7):
 *
 * - a *string* segment is the content of one string token. It is decoded
 *   (every escape, `\uXXXX` included, so the two halves of an escaped
 *   surrogate pair become one character) and fed to its own scanner, which
 *   is ended at the closing quote. What that scanner releases is encoded
 *   again as string content, so the output is valid JSON whenever the
 *   input was, and parses to the redacted values.
 * - a *structure* segment is everything between two strings: punctuation,
 *   whitespace, numbers, literals, and whatever is not JSON at all. It is
 *   scanned as it is (a card number written as a bare number is still a
 *   card number), by its own scanner, ended at the next opening quote.
 *
 * So no match ever spans two segments: a key cannot complete a value, and a
 * value cannot leak into the structure around it. The lexer keeps only an
 * unfinished escape (at most six characters) between writes, so fragments
 * may be split anywhere — inside `\u00|40`, between the two escapes of a
 * pair — and the output and findings are those of the whole text written
 * at once.
 *
 * Input that is not valid JSON never throws. An escape that cannot be
 * decoded (`\q`, `\u12` followed by a non-hex character, a backslash at the
 * very end) is scanned as the literal text it is; a string never closed is
 * ended by `end()` (and gets no closing quote: the output mirrors the
 * input). Inside a string the output is always encoded from what was
 * scanned, so such a literal backslash leaves doubled (`\\q`): a backslash
 * copied through verbatim could, once a redaction swallowed the character
 * after it, escape the closing quote and turn the rest of the value into
 * structure the client would read as JSON.
 *
 * Findings keep input coordinates: a string finding's `start` and `length`
 * are mapped back through the escapes of its string, so they point at the
 * source text (`\u0040` counts six characters, as it was received).
 */
import type { Finding, ScanResult, Scanner } from '../scanner/types.js'

/** RFC 8259 §7: the two-character escapes and the character each stands for. */
const kShortEscapes: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t'
}

/** `\u` and four hex digits (RFC 8259 §7). */
const kUnicodeEscapeLength = 6

/** Characters string content cannot carry as they are: quote, backslash, controls (RFC 8259 §7), and surrogates (which may be lone). */
// eslint-disable-next-line no-control-regex -- JSON strings must escape exactly these
const kNeedsEncoding = /["\\\u0000-\u001f\ud800-\udfff]/

const kQuote = 0x22
const kBackslash = 0x5c

function isHighSurrogate (code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff
}

function isHexDigit (code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66)
}

/**
 * Encodes decoded text as JSON string content. `JSON.stringify` escapes
 * exactly what must be (quote, backslash, controls) and, since ES2019, lone
 * surrogates as `\uXXXX` (ECMA-262, QuoteJSONString), keeping everything
 * else as it is — so text that `JSON.stringify` produced comes out the same.
 */
function encodeContent (text: string): string {
  return kNeedsEncoding.test(text) ? JSON.stringify(text).slice(1, -1) : text
}

/**
 * Wraps per-segment scanners (one from `newScanner` for each string and
 * each stretch of structure) into one scanner for a channel of JSON text.
 * @example
 * const scanner = createJsonArgumentsScanner(() => createScanner(ruleSet))
 * let out = scanner.write('{"to": "jane.doe\\u00').text
 * out += scanner.write('40acme.com"}').text
 * out += scanner.end().text
 * JSON.parse(out) // { to: '[email:…]' } with the shipped rules
 */
export function createJsonArgumentsScanner (newScanner: () => Scanner): Scanner {
  let charsIn = 0
  let charsOut = 0
  let cut: Finding | undefined
  let ended = false

  /** Input offset of the next character the lexer reads. */
  let pos = 0
  let inString = false
  /** An escape begun but not finished: '', '\\', '\\u', '\\u0'… */
  let escape = ''
  /** The current segment's scanner, made when it first has text. */
  let inner: Scanner | undefined
  /** Input offset of the current segment's first character (for strings: after the quote). */
  let segmentBase = 0
  /** Text of the current segment read in this write, not yet given to `inner` (joined once). */
  let pieces: string[] = []
  /** Characters of the current string decoded so far. */
  let decoded = 0
  /**
   * Where decoded and input offsets drift apart, for the current string:
   * after each decoded escape, the decoded offset and the input offset
   * reached. Between entries the two advance together.
   */
  let mapDecoded: number[] = []
  let mapInput: number[] = []
  /** A released high surrogate whose partner may come with the next release. */
  let pendingHigh = ''

  // Per-call accumulators (reset by each write/end).
  let out: string[] = []
  let findings: Finding[] = []

  /** Input offset of decoded offset `d` in the current string. */
  function toInput (d: number): number {
    let lo = 0
    let hi = mapDecoded.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if ((mapDecoded[mid] as number) <= d) lo = mid
      else hi = mid - 1
    }
    return (mapInput[lo] as number) + d - (mapDecoded[lo] as number)
  }

  function toInputFinding (f: Finding): Finding {
    if (!inString) return { ...f, start: f.start + segmentBase }
    const start = toInput(f.start)
    return { ...f, start, length: toInput(f.start + f.length) - start }
  }

  /** Encodes released string text, holding a trailing high surrogate so a pair split between releases is never escaped as two halves. */
  function encodeReleased (text: string): string {
    let s = pendingHigh + text
    pendingHigh = ''
    if (s.length > 0 && isHighSurrogate(s.charCodeAt(s.length - 1))) {
      pendingHigh = s.slice(-1)
      s = s.slice(0, -1)
    }
    return encodeContent(s)
  }

  function flushPendingHigh (): void {
    if (pendingHigh === '') return
    out.push(encodeContent(pendingHigh))
    pendingHigh = ''
  }

  function take (result: ScanResult): void {
    if (result.text !== '') out.push(inString ? encodeReleased(result.text) : result.text)
    for (const f of result.findings) {
      const mapped = toInputFinding(f)
      findings.push(mapped)
      if (f === result.cut) cut = mapped
    }
    if (result.cut !== undefined && cut === undefined) cut = toInputFinding(result.cut)
    if (cut !== undefined && inString) flushPendingHigh()
  }

  /** Gives the segment's text read so far to its scanner. */
  function flush (): void {
    if (pieces.length === 0) return
    const text = pieces.length === 1 ? pieces[0] as string : pieces.join('')
    pieces = []
    inner ??= newScanner()
    take(inner.write(text))
  }

  /** Ends the current segment: its scanner releases all it held. */
  function closeSegment (): void {
    flush()
    if (inner !== undefined && cut === undefined) take(inner.end())
    inner = undefined
    if (inString && cut === undefined) flushPendingHigh()
  }

  function openString (): void {
    inString = true
    segmentBase = pos
    decoded = 0
    mapDecoded = [0]
    mapInput = [pos]
  }

  function closeString (): void {
    closeSegment()
    inString = false
    mapDecoded = []
    mapInput = []
  }

  /** Text that reads as itself (decoded offsets advance with input offsets). */
  function pushLiteral (text: string): void {
    pieces.push(text)
    decoded += text.length
  }

  /** One character decoded from the escape that ends at `pos`. */
  function pushDecoded (ch: string): void {
    pieces.push(ch)
    decoded += 1
    mapDecoded.push(decoded)
    mapInput.push(pos)
  }

  function read (chunk: string): void {
    let i = 0
    const n = chunk.length
    // eslint-disable-next-line no-unmodified-loop-condition -- set by a callback
    while (i < n && cut === undefined) {
      if (!inString) {
        const q = chunk.indexOf('"', i)
        const stop = q === -1 ? n : q
        if (stop > i) pieces.push(chunk.slice(i, stop))
        pos += stop - i
        i = stop
        if (q === -1) break
        closeSegment()
        if (cut !== undefined) break
        out.push('"')
        pos += 1
        i += 1
        openString()
      } else if (escape === '') {
        let j = i
        let code = 0
        while (j < n) {
          code = chunk.charCodeAt(j)
          if (code === kQuote || code === kBackslash) break
          j++
        }
        if (j > i) pushLiteral(chunk.slice(i, j))
        pos += j - i
        i = j
        if (j === n) break
        if (code === kQuote) {
          closeString()
          if (cut !== undefined) break
          out.push('"')
          pos += 1
          i += 1
          segmentBase = pos
        } else {
          escape = '\\'
          pos += 1
          i += 1
        }
      } else if (escape === '\\') {
        const ch = chunk[i] as string
        const short = kShortEscapes[ch]
        if (short !== undefined) {
          escape = ''
          pos += 1
          i += 1
          pushDecoded(short)
        } else if (ch === 'u') {
          escape = '\\u'
          pos += 1
          i += 1
        } else {
          // Not an escape (RFC 8259 §7 lists them all): the backslash is
          // text, and `ch` is read again as what it is.
          pushLiteral(escape)
          escape = ''
        }
      } else {
        const code = chunk.charCodeAt(i)
        if (!isHexDigit(code)) {
          pushLiteral(escape)
          escape = ''
          continue
        }
        escape += chunk[i] as string
        pos += 1
        i += 1
        if (escape.length === kUnicodeEscapeLength) {
          // One UTF-16 code unit; the halves of an escaped pair join in the
          // decoded text (the scanner holds a trailing high surrogate).
          const unit = String.fromCharCode(Number.parseInt(escape.slice(2), 16))
          escape = ''
          pushDecoded(unit)
        }
      }
    }
    if (cut === undefined) flush()
    else pieces = []
  }

  function collect (): ScanResult {
    const text = out.length === 0 ? '' : out.length === 1 ? out[0] as string : out.join('')
    charsOut += text.length
    const result: ScanResult = { text, findings }
    if (cut !== undefined) result.cut = cut
    out = []
    findings = []
    self.charsIn = charsIn
    self.charsOut = charsOut
    self.cut = cut
    self.held = heldNow()
    return result
  }

  function heldNow (): number {
    if (cut !== undefined || ended) return 0
    if (!inString) return inner?.held ?? 0
    // Pieces are always flushed by the end of a call, so the scanner has
    // seen every decoded character; what it has not released, plus an
    // unfinished escape, is held input.
    const released = inner === undefined ? decoded : inner.charsIn - inner.held
    return pos - toInput(Math.max(0, released - pendingHigh.length))
  }

  // Counters are fields set at the end of each call, not getters (see createScanner).
  const self: { -readonly [K in keyof Scanner]: Scanner[K] } = {
    write (chunk: string): ScanResult {
      charsIn += chunk.length
      if (cut !== undefined || ended || chunk.length === 0) return collect()
      read(chunk)
      return collect()
    },
    end (): ScanResult {
      if (cut !== undefined || ended) return collect()
      ended = true
      if (escape !== '') {
        pushLiteral(escape)
        escape = ''
      }
      if (inString) closeString()
      else closeSegment()
      return collect()
    },
    held: 0,
    charsIn: 0,
    charsOut: 0,
    cut: undefined
  }
  return self
}
