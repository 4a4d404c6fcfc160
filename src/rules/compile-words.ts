/**
 * @module rules/compile-words
 * Turns a `words` list into one pattern. With `obfuscation`, each letter
 * becomes a class of everything that reads as that letter (leetspeak,
 * confusable Cyrillic/Greek letters, fullwidth forms), letters may repeat,
 * any letter inside the word and a vowel at its end may be starred out
 * ("f**k", "sh*t"), invisible characters may sit between letters, and a
 * second form matches letters split by single separators ("a s s h o l e",
 * "f.u.c.k"), which may run into the next word ("f u c kyou": spelled out,
 * the word is plain however its end is glued on).
 *
 * We match the raw text with this widened pattern instead of normalizing the
 * text first: the scanner then reports and redacts offsets in the original
 * stream, and never has to map a normalized view back (a guardrail that re-joined
 * sub-word tokens with spaces once produced "ass isting": never build the
 * scanned text by inserting or removing characters).
 */

/** Read-alikes per letter: leetspeak, Cyrillic and Greek homoglyphs. */
const lookalikes: Readonly<Record<string, string>> = {
  a: '4@\u0430\u03b1\u00e0\u00e1\u00e2\u00e4\u00e5',
  b: '8\u0432\u03b2',
  c: '(\u0441\u00e7\u03f2',
  d: '\u0501',
  e: '3\u0435\u03b5\u00e8\u00e9\u00ea\u00eb',
  g: '9',
  h: '\u043d',
  i: '1!|\u0456\u00ec\u00ed\u00ee\u00ef\u03b9',
  k: '\u043a\u03ba',
  l: '1|',
  m: '\u043c',
  n: '\u043f\u03b7',
  o: '0\u043e\u03bf\u00f2\u00f3\u00f4\u00f6\u00f8',
  p: '\u0440\u03c1',
  r: '\u0433',
  s: '5$\u0455',
  t: '7+\u0442\u03c4',
  u: '\u00fc\u00f9\u00fa\u00fb\u03c5v',
  x: '\u0445\u03c7',
  y: '\u0443\u00fd'
}

const vowels = new Set(['a', 'e', 'i', 'o', 'u'])
/** Characters people put between letters to dodge filters. */
const separators = '[ ._\\-*\\u00b7|/~+,]'
/** Zero-width and soft-hyphen characters hidden between letters. */
const invisible = '[\\u00ad\\u200b-\\u200d\\u2060\\ufeff]{0,3}'
const maxRepeat = 6

function escapeClassChar (ch: string): string {
  return /[\\\][^-]/.test(ch) ? `\\${ch}` : ch
}

function escapeLiteral (ch: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(ch) ? `\\${ch}` : ch
}

function letterClass (ch: string): string {
  const lower = ch.toLowerCase()
  if (!/[a-z]/.test(lower)) return escapeLiteral(ch)
  // Fullwidth forms (what NFKC would fold) of the letter.
  const fullwidth = String.fromCodePoint(0xff41 + lower.charCodeAt(0) - 0x61)
  const extra = (lookalikes[lower] ?? '') + fullwidth
  return `[${lower}${[...extra].map(escapeClassChar).join('')}]`
}

/** Whether letter `i` of `letters` may be a '*': inside the word, or a vowel at its end (never the first). */
function starrable (letters: readonly string[], i: number): boolean {
  if (i === 0) return false
  return i < letters.length - 1 || vowels.has((letters[i] as string).toLowerCase())
}

/**
 * Letters a spelled-out word may run into ("f u c king", "f u c kyou"):
 * ASCII (the rules are case-insensitive), as every Unicode letter in each
 * word's form made the profanity pattern too large for RE2 to compile.
 */
const runOn = '[a-z]{0,10}'

function compactForm (word: string): string {
  const letters = [...word]
  return letters.map((ch, i) => {
    if (ch === ' ') return '[\\s_\\-]{1,3}'
    const cls = letterClass(ch)
    // A starred letter is one '*': with the star inside the repeated class,
    // "f**k" could be read a dozen ways and the automaton multiplied.
    const repeated = /[a-z]/i.test(ch) ? `${cls}{1,${maxRepeat}}` : cls
    const unit = starrable(letters, i) ? `(?:${repeated}|\\*)` : repeated
    return i < letters.length - 1 ? unit + invisible : unit
  }).join('')
}

function spacedForm (word: string): string {
  return [...word].filter((ch) => ch !== ' ').map((ch) => letterClass(ch)).join(separators) + runOn
}

/*
 * Prefix languages, written directly. A generic automaton-to-regex
 * conversion of these forms grows to tens of kilobytes and makes RE2's DFA
 * thrash; nesting optional tails (`a(?:b(?:c)?)?`) is the same language in
 * linear size. Repetitions are relaxed to `+`/`*` (a superset, hence safe).
 */
function compactPrefix (word: string): string {
  const letters = [...word]
  let tail = ''
  for (let i = letters.length - 1; i >= 0; i--) {
    const ch = letters[i] as string
    const repeated = ch === ' ' ? '[\\s_\\-]+' : /[a-z]/i.test(ch) ? `${letterClass(ch)}+` : letterClass(ch)
    const unit = ch !== ' ' && starrable(letters, i) ? `(?:${repeated}|\\*)` : repeated
    tail = i === letters.length - 1 ? unit : `${unit}(?:${invisibleAny}(?:${tail})?)?`
  }
  return tail
}

function spacedPrefix (word: string): string {
  const classes = [...word].filter((ch) => ch !== ' ').map((ch) => letterClass(ch))
  let tail = ''
  for (let i = classes.length - 1; i >= 0; i--) {
    tail = i === classes.length - 1 ? `${classes[i] as string}[a-z]*` : `${classes[i] as string}(?:${separators}(?:${tail})?)?`
  }
  return tail
}

const invisibleAny = '[\\u00ad\\u200b-\\u200d\\u2060\\ufeff]*'

/**
 * One pattern matching any of `words`, longest first so that leftmost-first
 * alternation prefers "fucking" over "fuck".
 */
export function compileWords (words: readonly string[], obfuscation: boolean): { source: string, prefix?: string } {
  const sorted = [...new Set(words.map((w) => w.trim()).filter((w) => w.length > 0))]
    .sort((a, b) => b.length - a.length || (a < b ? -1 : 1))
  if (!obfuscation) return { source: sorted.map((w) => [...w].map(escapeLiteral).join('')).join('|') }
  const forms: string[] = []
  const prefixes: string[] = []
  for (const w of sorted) {
    forms.push(compactForm(w))
    prefixes.push(compactPrefix(w))
    // A spaced form of a one-letter word would match any letter.
    if (w.replace(/ /g, '').length > 2) {
      forms.push(spacedForm(w))
      prefixes.push(spacedPrefix(w))
    }
  }
  return { source: forms.join('|'), prefix: prefixes.join('|') }
}
