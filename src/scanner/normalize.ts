/**
 * @module scanner/normalize
 * The view the rules match on: the text as a reader sees it once it is
 * rendered, so that a value spelled to dodge a pattern is still the value.
 *
 * - Each code point is compatibility-folded on its own (NFKC of the single
 *   code point): fullwidth `＠` and `４`, mathematical letters, superscripts,
 *   no-break spaces read as their plain forms.
 * - Invisible format characters are removed: zero-width space, joiners,
 *   word joiner and invisible operators, soft hyphen, BOM, Mongolian vowel
 *   separator, variation selectors, bidi marks, embeddings and isolates.
 * - HTML character references are decoded (`&#64;`, `&#x40;`, `&commat;`),
 *   as the browser or markdown renderer of the client would.
 * - Markdown backslash escapes are decoded (`\@`, `\.`, `\_`).
 *
 * The projection keeps, for every character of the view, where its source
 * starts in the raw text, so a match found in the view is redacted over
 * exactly the raw characters it came from, and text that no rule matches
 * goes out as it came: the view is only ever read, never sent.
 *
 * Streaming: a raw tail whose projection may still change when more text
 * arrives (`&#6`, a lone `\`, half a surrogate pair) is kept pending, so
 * every chunking projects to the same view as the whole text.
 */

/** One decided piece of the projection. */
export interface Projection {
  /** The view of `raw`. */
  readonly text: string
  /**
   * `starts[i]`: offset in `raw` just after the source of the view
   * character before `text[i]` (so invisible characters between two view
   * characters belong to the later one); `starts[text.length]`: just after
   * the source of the last. Offsets are relative to `raw` and may be
   * negative: invisible characters at the end of an earlier piece belong to
   * the first view character of this one. The characters of one expansion
   * (a ligature) share the offset of the first.
   */
  readonly starts: number[]
  /** The raw text projected. */
  readonly raw: string
}

export interface Normalizer {
  /** Projects what is decided of the pending tail and `chunk`; `final` decides everything. */
  push(chunk: string, final: boolean): Projection
  /**
   * When `chunk` is its own view (printable ASCII with no `&` or `\`, nothing
   * pending), takes it as such and returns true: the caller maps it one to
   * one, with no projection made.
   */
  plain(chunk: string): boolean
  /** Raw characters kept pending (updated by each push). */
  pending: number
}

/** Invisible format characters (Unicode `Cf` and variation selectors a renderer shows as nothing). */
function isInvisible (cp: number): boolean {
  return cp === 0x00ad || cp === 0x034f || cp === 0x061c || cp === 0x180e ||
    (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x206f) ||
    cp === 0xfeff || (cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0xe0100 && cp <= 0xe01ef)
}

/**
 * Named references a value can be spelled with: the punctuation of
 * addresses, keys, numbers and URLs, and the common entities of prose.
 * (The full HTML table has 2,231 names, nearly all letters with accents
 * or symbols that no pattern is made of.)
 */
const kNamed: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  commat: '@',
  period: '.',
  lowbar: '_',
  UnderBar: '_',
  hyphen: '-',
  dash: '-',
  minus: '-',
  plus: '+',
  num: '#',
  colon: ':',
  semi: ';',
  sol: '/',
  bsol: '\\',
  excl: '!',
  quest: '?',
  equals: '=',
  percnt: '%',
  dollar: '$',
  comma: ',',
  lpar: '(',
  rpar: ')',
  lsqb: '[',
  rsqb: ']',
  lbrack: '[',
  rbrack: ']',
  lcub: '{',
  rcub: '}',
  lbrace: '{',
  rbrace: '}',
  ast: '*',
  midast: '*',
  verbar: '|',
  vert: '|',
  grave: '`',
  Hat: '^',
  tilde: '~',
  emsp: ' ',
  ensp: ' ',
  thinsp: ' ',
  zwsp: '',
  ZeroWidthSpace: '',
  shy: '',
  zwj: '',
  zwnj: '',
  NewLine: '\n',
  Tab: '\t'
}

const kFolded = new Map<number, string>()

/** The compatibility form of one code point (cached: NFKC per call is slow). */
function fold (cp: number): string {
  const cached = kFolded.get(cp)
  if (cached !== undefined) return cached
  const ch = String.fromCodePoint(cp)
  let folded = ch.normalize('NFKC')
  // A fold to nothing but invisible characters is a removal.
  if (folded !== ch && [...folded].every((c) => isInvisible(c.codePointAt(0) ?? 0))) folded = ''
  if (kFolded.size < 65536) kFolded.set(cp, folded)
  return folded
}

function isAsciiPunctuation (code: number): boolean {
  return (code >= 0x21 && code <= 0x2f) || (code >= 0x3a && code <= 0x40) || (code >= 0x5b && code <= 0x60) || (code >= 0x7b && code <= 0x7e)
}

function isDigit (code: number): boolean {
  return code >= 0x30 && code <= 0x39
}

function isHexDigit (code: number): boolean {
  return isDigit(code) || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66)
}

function isAlnum (code: number): boolean {
  return isDigit(code) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)
}

/** Text that projects to itself, character for character. */
const kPlain = /^[\t\n\r -%'-[\]-~]*$/

/** Longest reference we read (`&ZeroWidthSpace;` is 16; numeric ones 11). */
const kMaxReference = 32

type Reference = { length: number, text: string } | 'pending' | undefined

/**
 * The character reference starting at `s[i]` (an `&`): its raw length and
 * its text; 'pending' when more text could still change it; undefined when
 * it is none (the `&` is itself).
 */
function readReference (s: string, i: number, final: boolean): Reference {
  let j = i + 1
  if (s.charCodeAt(j) === 0x23 /* # */) {
    j++
    const hex = s.charCodeAt(j) === 0x78 || s.charCodeAt(j) === 0x58
    if (hex) j++
    const digitsStart = j
    while (j < s.length && j - digitsStart < 8 && (hex ? isHexDigit(s.charCodeAt(j)) : isDigit(s.charCodeAt(j)))) j++
    // The digits may go on in the next chunk, or a `;` may follow.
    if (j === s.length && !final) return 'pending'
    if (j === digitsStart) return undefined
    const cp = Number.parseInt(s.slice(digitsStart, j), hex ? 16 : 10)
    if (s.charCodeAt(j) === 0x3b /* ; */) j++
    // Browsers read NUL, surrogates and beyond-Unicode as U+FFFD: not a character a value is spelled with.
    if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined
    return { length: j - i, text: String.fromCodePoint(cp) }
  }
  while (j < s.length && j - i <= kMaxReference && isAlnum(s.charCodeAt(j))) j++
  if (j === s.length && !final && j - i <= kMaxReference) return 'pending'
  if (s.charCodeAt(j) !== 0x3b /* ; */) return undefined
  const text = kNamed[s.slice(i + 1, j)]
  return text === undefined ? undefined : { length: j + 1 - i, text }
}

/**
 * Creates the normalizer of one stream.
 * @example
 * const n = createNormalizer()
 * n.push('jane&#6', false) // { text: 'jane', … } — `&#6` pending
 * n.push('4;doe', true)    // { text: '@doe', starts: [0, 5, 6, 7, 8], raw: '&#64;doe' }
 */
export function createNormalizer (): Normalizer {
  let pending = ''
  /** Raw offset of `pending[0]` in the stream. */
  let consumed = 0
  /** Raw offset just after the source of the last view character. */
  let mark = 0

  function project (s: string, final: boolean): Projection {
    let text = ''
    const starts: number[] = []
    // Offsets in `s`; `m` may be negative (see Projection.starts).
    let m = mark - consumed
    /** Emits `view`, read from `s[from, to)`. */
    const emit = (view: string, to: number): void => {
      if (view.length === 0) return
      for (let k = 0; k < view.length; k++) starts.push(m)
      text += view
      m = to
    }
    let i = 0
    let end = s.length
    while (i < end) {
      const code = s.charCodeAt(i)
      if (code < 0x80 && code !== 0x26 /* & */ && code !== 0x5c /* \ */) {
        // Plain ASCII, the bulk of any text: copied as a run.
        let j = i + 1
        while (j < end) {
          const c = s.charCodeAt(j)
          if (c >= 0x80 || c === 0x26 || c === 0x5c) break
          j++
        }
        starts.push(m)
        for (let k = i + 1; k < j; k++) starts.push(k)
        text += s.slice(i, j)
        m = j
        i = j
        continue
      }
      if (code === 0x26) {
        const ref = readReference(s, i, final)
        if (ref === 'pending') {
          end = i
          break
        }
        if (ref === undefined) {
          emit('&', i + 1)
          i++
          continue
        }
        const cp = ref.text.codePointAt(0) ?? 0
        emit(ref.text.length === 0 || isInvisible(cp) ? '' : fold(cp), i + ref.length)
        i += ref.length
        continue
      }
      if (code === 0x5c) {
        if (i + 1 === s.length && !final) {
          end = i
          break
        }
        if (isAsciiPunctuation(s.charCodeAt(i + 1))) {
          emit(s[i + 1] as string, i + 2)
          i += 2
          continue
        }
        emit('\\', i + 1)
        i++
        continue
      }
      // Non-ASCII: a whole code point, or pending half of a pair.
      if (code >= 0xd800 && code <= 0xdbff && i + 1 === s.length && !final) {
        end = i
        break
      }
      const cp = s.codePointAt(i) ?? code
      const width = cp > 0xffff ? 2 : 1
      emit(isInvisible(cp) ? '' : fold(cp), i + width)
      i += width
    }
    starts.push(m)
    mark = consumed + m
    consumed += end
    return { text, starts, raw: s.slice(0, end) }
  }

  // `pending` is a field, not a getter: see createScanner.
  const self: Normalizer = {
    push (chunk, final) {
      const s = pending + chunk
      const p = project(s, final)
      pending = s.slice(p.raw.length)
      self.pending = pending.length
      return p
    },
    plain (chunk) {
      // Nothing pending and nothing to project: the view is the text itself.
      if (pending !== '' || !kPlain.test(chunk)) return false
      // Nothing read: an invisible tail before it still waits for a character.
      if (chunk.length === 0) return true
      mark = consumed + chunk.length
      consumed = mark
      return true
    },
    pending: 0
  }
  return self
}
