/**
 * @module test/scanner/obfuscate
 * Test data for the scanner's normalized view: sensitive values, the ways a
 * model (or a prompt injection asking it) can disguise them without changing
 * what a reader sees, and a reader's view of the output to check that no
 * value survives in a readable form.
 *
 * - `plainValue`: an e-mail, a Visa/Mastercard number (Luhn-valid, groups of
 *   four, plain, spaced, dashed or dotted), an AWS access key id, a US SSN
 *   or an OpenAI project key.
 * - `obfuscate`: rewrites a value character by character with a random mix
 *   of invisible format characters between characters, compatibility forms
 *   (fullwidth, mathematical alphanumerics, no-break and ideographic
 *   spaces), HTML character references and markdown backslash escapes.
 * - `obfuscatedCase`: such a value, optionally in markdown emphasis, between
 *   prose words.
 * - `readerView`: what a client shows of a text: references and escapes
 *   decoded, invisible characters gone, NFKC, dashes read as hyphens.
 * - `seams`: offsets where a chunk boundary is most likely to confuse a
 *   streaming decoder (inside a surrogate pair, a character reference, a
 *   backslash escape or a `__` marker).
 *
 * Random strings come from a seeded PRNG (as in test/fixtures/
 * sensitive-values.ts): fast-check's string arbitraries favour repeated
 * characters, which turns keys into placeholders; shrinking then walks
 * seeds, and every shrunk case is still realistic.
 */
import fc from 'fast-check'
import { shannonEntropy } from '../../src/rules/entropy.js'
import { luhnValid, validators } from '../../src/rules/validators.js'
import { createSeededRandom } from '../../src/json/seeded-random.js'
import type { Rand } from '../fixtures/sensitive-values.js'

export type { Rand } from '../fixtures/sensitive-values.js'

export function int (r: Rand, min: number, max: number): number {
  return min + Math.floor(r() * (max - min + 1))
}

export function pick<T> (r: Rand, items: readonly T[]): T {
  return items[Math.floor(r() * items.length)] as T
}

function chars (r: Rand, alphabet: string, n: number): string {
  let s = ''
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)]
  return s
}

const DIGITS = '0123456789'
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'
const LOWER = 'abcdefghijklmnopqrstuvwxyz'
const ALNUM = UPPER + LOWER + DIGITS

// Invisible characters ----------------------------------------------------------

/**
 * Format characters (Unicode general category Cf) and variation selectors
 * that render as nothing between two letters: zero-width space, non-joiner
 * and joiner, word joiner and the invisible operators, soft hyphen, BOM,
 * Mongolian vowel separator, variation selectors 1-16, and the bidi marks,
 * embeddings, overrides and isolates.
 */
export const kInvisibles: readonly string[] = [
  '\u200B', '\u200C', '\u200D', '\u2060', '\u2061', '\u2062', '\u2063', '\u2064', '\u00AD', '\uFEFF', '\u180E',
  ...Array.from({ length: 16 }, (_, i) => String.fromCharCode(0xfe00 + i)),
  '\u200E', '\u200F', '\u202A', '\u202B', '\u202C', '\u202D', '\u202E', '\u2066', '\u2067', '\u2068', '\u2069'
]

// eslint-disable-next-line no-misleading-character-class -- the invisible characters are the point
const kInvisibleRun = /[\u200B-\u200F\u2060-\u2064\u00AD\uFEFF\u180E\uFE00-\uFE0F\u202A-\u202E\u2066-\u2069]/g

// A reader's view ----------------------------------------------------------------

/**
 * Named references a reader's browser decodes (WHATWG HTML, named character
 * references): the ones the obfuscator uses and the common ones of prose.
 * `&hyphen;` and `&dash;` are U+2010, which `readerView` reads as '-'.
 */
const kNamedReferences: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00A0',
  shy: '\u00AD',
  zwj: '\u200D',
  zwnj: '\u200C',
  ZeroWidthSpace: '\u200B',
  NoBreak: '\u2060',
  lrm: '\u200E',
  rlm: '\u200F',
  commat: '@',
  period: '.',
  hyphen: '\u2010',
  dash: '\u2010',
  minus: '\u2212',
  ndash: '\u2013',
  mdash: '\u2014',
  lowbar: '_',
  UnderBar: '_',
  num: '#',
  colon: ':',
  semi: ';',
  excl: '!',
  dollar: '$',
  percnt: '%',
  plus: '+',
  comma: ',',
  sol: '/',
  bsol: '\\',
  lpar: '(',
  rpar: ')',
  ast: '*',
  midast: '*',
  equals: '=',
  quest: '?',
  lsqb: '[',
  rsqb: ']',
  lbrack: '[',
  rbrack: ']',
  lcub: '{',
  rcub: '}',
  lbrace: '{',
  rbrace: '}',
  Hat: '^',
  grave: '`',
  verbar: '|',
  vert: '|',
  tilde: '~',
  hellip: '\u2026',
  copy: '\u00A9',
  reg: '\u00AE',
  trade: '\u2122'
}

function decodeReferences (text: string): string {
  return text.replace(/&(?:#(\d{1,7})|#[xX]([0-9A-Fa-f]{1,6})|([A-Za-z][A-Za-z0-9]{1,31}));/g, (whole, dec?: string, hex?: string, name?: string) => {
    if (name !== undefined) return kNamedReferences[name] ?? whole
    const cp = dec !== undefined ? Number.parseInt(dec, 10) : Number.parseInt(hex ?? '', 16)
    return cp > 0 && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff) ? String.fromCodePoint(cp) : whole
  })
}

/**
 * What a client shows of `text`, as a string to search for leaked values:
 * HTML references decoded, invisible characters removed, markdown
 * backslash escapes decoded (CommonMark §2.4: a backslash before ASCII
 * punctuation), NFKC (UAX #15), and the hyphen and dash characters read as
 * '-', since a reader copies "acme‐corp" as an address all the same.
 */
export function readerView (text: string): string {
  let s = decodeReferences(text).replace(kInvisibleRun, '')
  s = s.replace(/\\([!-/:-@[-`{-~])/g, '$1')
  return s.normalize('NFKC').replace(kInvisibleRun, '').replace(/[\u2010-\u2015\u2212\uFE58\uFE63\uFF0D]/g, '-')
}

// Values -------------------------------------------------------------------------

export type ValueKind = 'email' | 'card' | 'cardDotted' | 'aws' | 'ssn' | 'openai'

export interface PlainValue {
  kind: ValueKind
  /** The default rule that must report it. */
  ruleId: string
  /** The value as written plainly. */
  value: string
  /**
   * Readable forms that must not appear in any output: the value, and for
   * numbers and keys the part that identifies it (16 digits without
   * separators, the random part of a key).
   */
  forms: string[]
}

/** Toxic words of rules/toxicity.yaml: a random value that spells one is drawn again (a cut would end the text early). */
const kToxicStems = ['fuck', 'shit', 'bitch', 'cunt', 'asshole', 'arsehole', 'dumbass', 'jackass', 'bastard', 'dickhead',
  'cocksucker', 'douchebag', 'twat', 'wanker', 'whore', 'slut', 'nigger', 'faggot', 'retard', 'tranny', 'trannies']
const kLeet: Readonly<Record<string, string>> = { 4: 'a', '@': 'a', 8: 'b', 3: 'e', 9: 'g', 1: 'i', '!': 'i', 0: 'o', 5: 's', $: 's', 7: 't' }

function spellsToxic (value: string): boolean {
  const folded = [...value.toLowerCase().replace(/[.\-_* ]/g, '')].map((c) => kLeet[c] ?? c).join('').replace(/(.)\1+/g, '$1')
  return kToxicStems.some((w) => folded.includes(w.replace(/(.)\1+/g, '$1')))
}

function luhnComplete (prefix: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(prefix + String(d))) return prefix + String(d)
  throw new Error('unreachable: one digit always completes a Luhn number')
}

function email (r: Rand): PlainValue {
  if (r() < 0.3) return { kind: 'email', ruleId: 'pii.email', value: 'jane.doe@acme-corp.com', forms: ['jane.doe@acme-corp.com'] }
  const local = chars(r, LOWER, int(r, 2, 8)) + pick(r, ['.', '_', '-', '']) + chars(r, LOWER + DIGITS, int(r, 1, 6))
  const domain = chars(r, LOWER, int(r, 3, 8)) + pick(r, ['', '-' + chars(r, LOWER, int(r, 3, 5))])
  const value = `${local}@${domain}.${pick(r, ['com', 'io', 'de', 'net', 'org', 'co.uk', 'dev'])}`
  return { kind: 'email', ruleId: 'pii.email', value, forms: [value] }
}

/** A card number grouped by `seps` (one separator for the whole number, as people write them). */
function cardWith (r: Rand, kind: ValueKind, seps: readonly string[]): PlainValue {
  let digits: string
  if (r() < 0.2) {
    digits = pick(r, ['4111111111111111', '5555555555554444', '4012888888881881', '2223003122003222'])
  } else {
    const prefix = pick(r, ['4', `5${int(r, 1, 5)}`, String(int(r, 2221, 2720))])
    do digits = luhnComplete(prefix + chars(r, DIGITS, 15 - prefix.length))
    while (/^(.)\1*$/.test(digits))
  }
  const value = (digits.match(/.{4}/g) ?? []).join(pick(r, seps))
  return { kind, ruleId: 'pii.credit_card', value, forms: [value, digits] }
}

function card (r: Rand): PlainValue {
  return cardWith(r, 'card', ['', ' ', '-'])
}

/** Dots as group separators: a shape of its own, so that its failures do not hide the others'. */
function cardDotted (r: Rand): PlainValue {
  return cardWith(r, 'cardDotted', ['.'])
}

function aws (r: Rand): PlainValue {
  if (r() < 0.2) return { kind: 'aws', ruleId: 'secret.aws_access_key_id', value: 'AKIAQWERTYUIOPASDFGH', forms: ['AKIAQWERTYUIOPASDFGH'] }
  for (;;) {
    const value = 'AKIA' + chars(r, UPPER + '234567', 16)
    if (!value.includes('EXAMPLE') && !spellsToxic(value)) return { kind: 'aws', ruleId: 'secret.aws_access_key_id', value, forms: [value] }
  }
}

function ssn (r: Rand): PlainValue {
  if (r() < 0.2) return { kind: 'ssn', ruleId: 'pii.us_ssn', value: '123-45-6789', forms: ['123-45-6789', '123456789'] }
  for (;;) {
    const area = int(r, 1, 899)
    if (area === 666) continue
    const value = `${String(area).padStart(3, '0')}-${String(int(r, 1, 99)).padStart(2, '0')}-${String(int(r, 1, 9999)).padStart(4, '0')}`
    if (validators.us_ssn?.(value, { before: ' ' }) === true) return { kind: 'ssn', ruleId: 'pii.us_ssn', value, forms: [value, value.replace(/-/g, '')] }
  }
}

function openai (r: Rand): PlainValue {
  for (;;) {
    const secret = chars(r, ALNUM, int(r, 48, 64))
    if (shannonEntropy(secret) < 4.5 || spellsToxic(secret)) continue
    const value = 'sk-proj-' + secret
    return { kind: 'openai', ruleId: 'secret.openai_key', value, forms: [value, secret] }
  }
}

const kMakers: Readonly<Record<ValueKind, (r: Rand) => PlainValue>> = { email, card, cardDotted, aws, ssn, openai }
export const kValueKinds = Object.keys(kMakers) as ValueKind[]

export function makeValue (kind: ValueKind, seed: number): PlainValue {
  for (let s = seed; ; s++) {
    const v = kMakers[kind](createSeededRandom(s))
    // E-mails are drawn from lowercase letters and digits; redraw the rare one that spells a toxic word.
    if (!spellsToxic(v.value)) return v
  }
}

/** A value of one of `kinds`. */
export function plainValue (kinds: readonly ValueKind[] = kValueKinds): fc.Arbitrary<PlainValue> {
  return fc.tuple(fc.constantFrom(...kinds), fc.integer({ min: 0, max: 0x7fffffff })).map(([kind, seed]) => makeValue(kind, seed))
}

// Obfuscation --------------------------------------------------------------------

export type Emphasis = '' | '_' | '__' | '*' | '**'

/** Which disguises an obfuscation may use, and how often (per character). */
export interface Mix {
  /** Invisible characters between two characters of the value. */
  invisible: boolean
  /** Fullwidth forms, mathematical alphanumerics, no-break/ideographic spaces. */
  compat: boolean
  /** HTML references for `@ . - _ :`. */
  html: boolean
  /** Markdown backslash escapes of punctuation. */
  escape: boolean
  emphasis: Emphasis
  /** Chance per character (and per gap) that an enabled disguise is used. */
  density: number
}

export const mix: fc.Arbitrary<Mix> = fc.record({
  invisible: fc.boolean(),
  compat: fc.boolean(),
  html: fc.boolean(),
  escape: fc.boolean(),
  emphasis: fc.constantFrom<Emphasis>('', '', '_', '__', '*', '**'),
  density: fc.constantFrom(0.15, 0.4, 0.7, 1)
})

/** Mathematical Alphanumeric Symbols (U+1D400 block) without holes: bold, sans-serif bold, monospace. */
const kMathStyles: ReadonlyArray<{ upper: number, lower: number, digit: number }> = [
  { upper: 0x1d400, lower: 0x1d41a, digit: 0x1d7ce },
  { upper: 0x1d5d4, lower: 0x1d5ee, digit: 0x1d7ec },
  { upper: 0x1d670, lower: 0x1d68a, digit: 0x1d7f6 }
]

/** Spaces that NFKC folds to U+0020: no-break, figure, narrow no-break, ideographic. */
const kCompatSpaces = ['\u00A0', '\u2007', '\u202F', '\u3000']

const kNamedFor: Readonly<Record<string, readonly string[]>> = {
  '@': ['&commat;'],
  '.': ['&period;'],
  '-': ['&hyphen;', '&dash;'],
  _: ['&lowbar;', '&UnderBar;'],
  ':': ['&colon;']
}

function fullwidth (ch: string): string {
  return String.fromCharCode(0xff01 + ch.charCodeAt(0) - 0x21)
}

function math (r: Rand, ch: string): string {
  const style = pick(r, kMathStyles)
  const c = ch.charCodeAt(0)
  if (c >= 0x30 && c <= 0x39) return String.fromCodePoint(style.digit + c - 0x30)
  if (c >= 0x41 && c <= 0x5a) return String.fromCodePoint(style.upper + c - 0x41)
  return String.fromCodePoint(style.lower + c - 0x61)
}

function htmlReference (r: Rand, ch: string): string {
  const cp = ch.charCodeAt(0)
  switch (int(r, 0, 3)) {
    case 0: return `&#${cp};`
    case 1: return `&#0${cp};`
    case 2: {
      const hex = cp.toString(16)
      return `&#${pick(r, ['x', 'X'])}${r() < 0.5 ? hex : hex.toUpperCase()};`
    }
    default: return pick(r, kNamedFor[ch] ?? [`&#${cp};`])
  }
}

/** `value` (ASCII) with each character disguised or not as `m` allows; invisible characters only between characters. */
export function obfuscate (value: string, m: Mix, r: Rand): string {
  const tokens = [...value].map((ch) => {
    const options: Array<() => string> = []
    if (m.compat) {
      if (ch === ' ') options.push(() => pick(r, kCompatSpaces))
      if (/[!-~]/.test(ch)) options.push(() => fullwidth(ch))
      if (/[A-Za-z0-9]/.test(ch)) options.push(() => math(r, ch))
    }
    if (m.html && kNamedFor[ch] !== undefined) options.push(() => htmlReference(r, ch))
    if (m.escape && /[!-/:-@[-`{-~]/.test(ch)) options.push(() => '\\' + ch)
    return options.length > 0 && r() < m.density ? pick(r, options)() : ch
  })
  let out = tokens[0] ?? ''
  for (let i = 1; i < tokens.length; i++) {
    if (m.invisible && r() < m.density / 2) {
      out += Array.from({ length: int(r, 1, 3) }, () => pick(r, kInvisibles)).join('')
    }
    out += tokens[i]
  }
  return out
}

// Cases --------------------------------------------------------------------------

/**
 * Prose around the value. Tokens carry references, escapes and fullwidth
 * text that mean nothing sensitive, so "the prose is unchanged" also says
 * that the normalized view does not rewrite what it does not redact. No
 * digits, '@' or underscores next to the separator: nothing in the prose
 * can extend a value.
 */
const kProseWords = ['Sure', 'here', 'is', 'the', 'value', 'you', 'asked', 'for', 'please', 'check', 'it', 'and', 'reply',
  'café', 'naïve', 'Straße', '東京', 'データ', '🙂', 'Tom &amp; Jerry', 'a&nbsp;b', 'snake\\_case', '\\*not bold\\*',
  'ＡＢＣ', '全角テキスト', '𝐁𝐨𝐥𝐝', 'x&lt;y', '**note**', '_aside_', 'Q&amp;A']

const proseRun = fc.array(fc.constantFrom(...kProseWords), { minLength: 1, maxLength: 6 }).map((w) => w.join(' '))

export interface ObfuscatedCase {
  value: PlainValue
  mix: Mix
  /** The value as disguised, without emphasis markers. */
  core: string
  /** Prose and separator before the value, then the opening emphasis marker. */
  before: string
  open: string
  close: string
  /** Closing emphasis marker excluded: separator and prose after the value. */
  after: string
  /** The whole input. */
  text: string
  /** The same input with the value written plainly (markers kept). */
  plainText: string
}

/** A disguised value of one of `kinds` between prose. */
export function obfuscatedCase (kinds: readonly ValueKind[] = kValueKinds): fc.Arbitrary<ObfuscatedCase> {
  return fc.record({
    value: plainValue(kinds),
    mix,
    seed: fc.integer({ min: 0, max: 0x7fffffff }),
    proseBefore: proseRun,
    proseAfter: proseRun,
    sepBefore: fc.constantFrom(' ', '\n', ': ', '\t'),
    sepAfter: fc.constantFrom(' ', '\n', '. ', ', ', '; ')
  }).map(({ value, mix: m, seed, proseBefore, proseAfter, sepBefore, sepAfter }): ObfuscatedCase => {
    const core = obfuscate(value.value, m, createSeededRandom(seed))
    const before = proseBefore + sepBefore
    const after = sepAfter + proseAfter
    return {
      value,
      mix: m,
      core,
      before,
      open: m.emphasis,
      close: m.emphasis,
      after,
      text: before + m.emphasis + core + m.emphasis + after,
      plainText: before + m.emphasis + value.value + m.emphasis + after
    }
  })
}

// Chunk boundaries ---------------------------------------------------------------

function isHigh (code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff
}

/**
 * Offsets inside `text` where a split is hardest on a decoder: between the
 * halves of a surrogate pair, inside a character reference, after a
 * backslash, between the two characters of `__` or `**`.
 */
export function seams (text: string): number[] {
  const out = new Set<number>()
  for (let i = 1; i < text.length; i++) {
    const prev = text.charCodeAt(i - 1)
    if (isHigh(prev) || text[i - 1] === '\\' || text.slice(i - 1, i + 1) === '__' || text.slice(i - 1, i + 1) === '**') out.add(i)
  }
  for (const m of text.matchAll(/&#?[A-Za-z0-9]+;/g)) {
    for (let i = m.index + 1; i < m.index + m[0].length; i++) out.add(i)
  }
  return [...out].sort((a, b) => a - b)
}
