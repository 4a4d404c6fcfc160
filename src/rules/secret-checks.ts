/**
 * @module rules/secret-checks
 * What tells a credential from the text documentation writes in its place,
 * for the secret rules: the `secret_token` and `discord_bot_token`
 * validators (registered in validators.ts), and `refusesSecretValue`, the
 * one test of references, placeholders and stock values that
 * `secret_value` and `url_password` apply.
 *
 * Measured on the README, changelog and source files of the packages under
 * node_modules: what a secret rule found there was, nearly always, a value
 * written to show the shape (`sk_live_1234567890abcdef…`, `abcdef12345124`,
 * `t0k3nH34r`, `Password123!`, `guest:guest@`) or a name that only looks
 * like one (`sort_key`, `nextPageToken`). Random credentials almost never
 * contain these: a run of five ascending characters turns up in a random
 * 40-character base62 token about once in 400,000 tokens.
 *
 * Everything here is pure: no I/O, no state.
 */
import type { Validator } from './types.js'

/**
 * Words documentation puts where a token would go (`sk_live_your_key_here`,
 * `pplx-EXAMPLE…`, `sk-YourKeyGoesHere`). The short ones count only as words
 * of their own — between separators or the ends, or capitalised in camel
 * case — as four random letters spell `FAKE` or `HERE` about once in 100,000
 * AWS key ids (`AKIAAB4YWDT4H3JFAKET` is a key).
 */
const kPlaceholderWord = /example|sample|placeholder|redacted|dummy|changeme|insert|replace/i
const kPlaceholderShortWord = /(?:^|[^A-Za-z])(?:[Yy]our|YOUR|[Hh]ere|HERE|[Ff]ake|FAKE)(?![A-Za-z])|(?<![A-Z])(?:Your|Here|Fake)(?![a-z])/

/**
 * Masks: `xxxxxx`, `XXXX` as a word of its own, `****`, `...`, `<key>`.
 * Four X in a row inside random capitals are a key: about one AWS key id in
 * 60,000 has them.
 */
const kMask = /[xX]{6}|(?:^|[^A-Za-z])[xX]{4}(?![A-Za-z])|\*{3}|\.{3}|[<>]/

/** 0 for a digit, 1 for an upper-case letter, 2 for a lower-case one, -1 for anything else. */
function asciiClass (code: number): number {
  if (code >= 48 && code <= 57) return 0
  if (code >= 65 && code <= 90) return 1
  if (code >= 97 && code <= 122) return 2
  return -1
}

/** Whether `value` has `n` or more characters in a row that count up by one within one class (`abcde`, `12345`, `KLMNO`). */
export function hasAscendingRun (value: string, n: number): boolean {
  let run = 1
  for (let i = 1; i < value.length; i++) {
    const a = value.charCodeAt(i - 1)
    const b = value.charCodeAt(i)
    run = b === a + 1 && asciiClass(a) >= 0 && asciiClass(a) === asciiClass(b) ? run + 1 : 1
    if (run >= n) return true
  }
  return false
}

/** The share of `value` that lies in ascending runs of three or more (`df123-4567`: 7 of 10). */
function ascendingShare (value: string): number {
  let covered = 0
  let run = 1
  for (let i = 1; i <= value.length; i++) {
    const a = value.charCodeAt(i - 1)
    const b = i < value.length ? value.charCodeAt(i) : -1
    if (b === a + 1 && asciiClass(a) >= 0 && asciiClass(a) === asciiClass(b)) {
      run++
    } else {
      if (run >= 3) covered += run
      run = 1
    }
  }
  return value.length === 0 ? 0 : covered / value.length
}

/** The longest run of one repeated character. */
function longestRepeat (value: string): number {
  let best = 0
  let run = 0
  for (let i = 0; i < value.length; i++) {
    run = i > 0 && value[i] === value[i - 1] ? run + 1 : 1
    if (run > best) best = run
  }
  return best
}

/**
 * The tail after the last separator reads as an identifier: three or more
 * camel-case words, each after the first starting with a capital, digits at
 * most at the end (`fw_updateFirmwareVersion`, `cioSettingsPanelController`).
 * A random base62 tail almost never has that shape; an all-lower-case tail
 * (`-skbacyz`) turns up in random tokens often enough, so the capitals are
 * required.
 */
const kIdentifierTail = /(?:^|[-_.])[A-Z]?[a-z]{2,}(?:[A-Z][a-z]{2,}){2,}[0-9]{0,4}$/
/** Lower-case words joined by separators (`pa-some-long-kebab-case-name`): a slug, not a key. */
const kSlug = /^[a-z0-9]+(?:[-_.][a-z]+){3,}$/

/**
 * A provider token as documentation shows it rather than as a provider
 * issues it: a placeholder word, a mask, six ascending characters
 * (`123456`, `abcdef`), six of one character; or a name that merely
 * starts with a provider's head (an identifier or a slug).
 * @example isPlaceholderToken('ghp_1234567890abcdefghijklmnopqrstuvwxyz') === true
 */
export function isPlaceholderToken (value: string): boolean {
  return kPlaceholderWord.test(value) || kPlaceholderShortWord.test(value) || kMask.test(value) || hasAscendingRun(value, 6) || longestRepeat(value) >= 6 ||
    kIdentifierTail.test(value) || kSlug.test(value)
}

/**
 * `secret_token`: a value with a provider's prefix and shape that is not a
 * placeholder (see isPlaceholderToken). The shape and entropy are the rule's.
 */
const secretToken: Validator = (value) => !isPlaceholderToken(value)

/**
 * `discord_bot_token`: the rule matches from the first dot of
 * `<user id>.<timestamp>.<hmac>`; the user id before it (the rule's `after`,
 * given as `lead`) must be base64 of a Discord snowflake — 17 to 20 decimal
 * digits — which no ordinary `word.word.word` chain is.
 */
const discordBotToken: Validator = (value, { lead = '' }) => {
  if (isPlaceholderToken(value)) return false
  for (const n of [26, 25, 24]) {
    const id = lead.slice(-n)
    if (id.length !== n || !/^[MNO]/.test(id)) continue
    const decoded = Buffer.from(id, 'base64url').toString('latin1')
    if (/^[1-9][0-9]{16,19}$/.test(decoded)) return true
  }
  return false
}

/**
 * References and placeholders that stand where a secret would be:
 * `${VAR}`, `$VAR`, `{{ x }}`, `<password>`, `%(pw)s`, `process.env.X`,
 * `os.environ[…]`, `getpass()`, masks like `********` and `xxxx`, and the
 * stock words people write instead of a real value.
 */
const secretReference = new RegExp([
  String.raw`^\$\{[^}]*\}?$`,
  String.raw`^\{\{`,
  String.raw`^<[^>]*>?$`,
  String.raw`^%\(`,
  String.raw`^\[[A-Za-z _-]*\]$`,
  String.raw`(?:^|[.\[])(?:env|environ|getenv|secrets|vault|config|settings|params|process|args|options|opts|self|this)[.\[(]`,
  String.raw`\(\)?$`,
  String.raw`^([*x•.#?])\1{2,}$`,
  // A member access or call, not a value: reader.readStringNT, config.db.password.
  String.raw`^[A-Za-z_$][A-Za-z_$]*(?:\.[A-Za-z_$][A-Za-z_$]*)+(?:\(.*)?$`,
  // Stock example values: secret123, password-for-30001, token_abc.
  String.raw`^(?:password|passwd|pass|secret|token|apikey)[-_]?[a-z0-9-]{0,24}$`,
  String.raw`^(?:changeme|change_me|changeit|password|passw0rd|secret|redacted|placeholder|example|dummy|none|null|undefined|true|false)$`,
  // your_api_key_here, my-secret-token, YOUR_PASSWORD; not MY16Grjz4k (digits: a value).
  String.raw`^(?:your|my|the)[_-]?[a-z_-]*(?:password|passwd|pass|secret|token|key)[a-z_-]*$`,
  String.raw`^x{3,}(?:[_-]?x{2,})*$`
].join('|'), 'i')

/** `$DB_PASSWORD`, `$db_pass`, `$dbPassword`; not `$IK9c_uPs5` (a password that starts with `$`). Case matters. */
const variableReference = /^\$(?:[A-Z_][A-Z0-9_]*|[a-z_][A-Za-z_]*)$/

/** A reference or placeholder where a secret would be (refusesSecretValue starts with it; `basic_auth` uses it alone). */
export function isSecretPlaceholder (value: string): boolean {
  return variableReference.test(value) || secretReference.test(value)
}

/** Letters only around a stock word: `authpassword`, `fallback-password`, `secret_value`. */
const kStockWordOnly = /^[A-Za-z_-]*(?:password|passwd|secret|token)[A-Za-z_-]*$/i
/** Words joined by dashes or underscores, one of them a stock word: `real-secret-6-levels`, `my_token_2`. */
const kStockWordSlug = /^(?:[A-Za-z0-9]+[-_])*(?:password|passwd|secret|token)(?:[-_][A-Za-z0-9]+)*$/i
/** A stock word with digits or symbols added: `Password123!`, `secret_2024`, `admin@123`. */
const kStockWordPadded = /^(?:password|passwd|pass|secret|token|admin|changeme|letmein|qwerty|welcome)[0-9!@#$%^&*._-]*$/i
/** Credentials that guides use as-is (`guest:guest@`, `foo:bar@`, `root:root@`). */
const kStockCredential = /^(?:foo|bar|baz|qux|quux|guest|test|demo|user|username|admin|root|secret|mypassword|mysecret)$/i
/** Read after leetspeak is undone: `t0k3nH34r` (token here), `y0ur_s3cr3t`, `p4ssw0rd`. */
const kStockPhrase = /^(?:your|my|the)?[-_]?(?:token|password|passwd|secret|key|apikey|api[-_]key)[-_]?(?:here|hear|goes[-_]?here|value)?$/
/**
 * A URL, a URN or a file path, not a secret: `https://…`, `//host/x`,
 * `/etc/ssl/key.pem`, `~/.ssh/id_rsa`, `/Users/me/key`,
 * `uploads/2024/a.png`. Segments are lower-case or capitalised words: a
 * base64 secret has `/` too, in mixed case. Also a regex literal
 * (`/^Unexpected token/`).
 */
const kUrlOrPath = /^(?:[A-Za-z][A-Za-z0-9+.-]*:\/\/|urn:|\/\/|\/\^|(?:~|\.{1,2})?(?:\/[A-Za-z]?[a-z0-9_.@-]+)+\/?$|[a-z0-9_.-]+(?:\/[a-z0-9_.-]+)+\/?$)/

/** Digits and separators only: an OID, a version, a date, an address (`1.2.840.113549.1.9.4`). */
const kNumberLike = /^[0-9.:/_-]+$/

/** A member of `this`/`self`, also as compilers rename it (`this$1$1.getToken`). */
const kReceiver = /^(?:this|self|that|_this)[\w$]*\./
/**
 * Code, not a value: a member chain of camel-case or upper-case
 * identifiers that may end in digits (`cancellation_1.CancellationToken.is`,
 * `!Ze.isString`; a dotted random token has capitals in a row or digits
 * inside its parts), an arrow function or a logical operator
 * (`e=>!Ze.isString`), or an escape sequence in source text (`pa\uD7FFss`).
 */
const kCode = /^!?(?:(?:[A-Z]?[a-z_$]+)+|[A-Z][A-Z0-9_]*)[0-9]*(?:\.(?:(?:[A-Z]?[a-z_$]+)+|[A-Z][A-Z0-9_]*)[0-9]*)+$|=>|&&|\|\||\\[ux][0-9A-Fa-f]{2}/

/**
 * A query token of a badge URL (`…/badge.svg?token=rn91iI4bSe`): coverage
 * services hand these out to be published in READMEs.
 */
const kBadgeQuery = /badge(?:\.svg|\.png)?\?$/

/**
 * Names whose `_key`/`_token` is a lookup key or a pagination cursor, not
 * a credential (`sort_key`, `public_key`, `next_token`, `nextPageToken`),
 * or a value pages hand out in the open (a WebSocket handshake key, a CSRF
 * token, which every form of the page carries):
 * read on the end of the text before the keyword, which the rule's
 * `after` passes in. `kNonSecretWord` is tested on the lower-cased end
 * (snake and kebab case), `kNonSecretCamel` on the end as written.
 */
const kNonSecretWord = /(?:^|[^a-z])(?:public|primary|foreign|sort|partition|range|hash|cache|idempotency|unique|composite|row|object|file|i18n|translation|locale|page|next|prev|previous|continuation|cursor|pagination|sync|resume|max|min|num|total|input|output|websocket|csrf|xsrf)[_.-]?$/
const kNonSecretCamel = /[a-z0-9](?:Public|Primary|Foreign|Sort|Partition|Range|Hash|Cache|Idempotency|Unique|Object|File|Page|Next|Prev|Continuation|Cursor|Pagination|Sync|Resume)$/

function unleet (value: string): string {
  return value.toLowerCase().replace(/[0134578@$]/g, (ch) => ({ 0: 'o', 1: 'i', 3: 'e', 4: 'a', 5: 's', 7: 't', 8: 'b', '@': 'a', $: 's' })[ch] ?? ch)
}

/**
 * Whether a value assigned to a secret-like name (or the password of a URL)
 * is a stock example rather than a secret: a reference or placeholder
 * (isSecretPlaceholder: `${DB_PASS}`, `<password>`, `****`), a stock word alone or padded
 * with digits (`Password123!`), a guide's credential (`guest`, `foo:bar`),
 * a leetspeak placeholder (`t0k3nH34r`), ascending runs (`abcdef12345`,
 * `df123-4567`), a URL, a path or a regex literal, digits and dots (an
 * OID, a version), a member of `this`; and, given the text before the
 * keyword (`lead`), a lookup key or cursor (`sort_key`, `next_token`) or
 * a badge URL's query.
 * @example refusesSecretValue('abcdef12345124') === true; refusesSecretValue('S3cr3t-Pa55') === false
 */
export function refusesSecretValue (value: string, lead = ''): boolean {
  return isSecretPlaceholder(value) || kStockWordOnly.test(value) || kStockWordSlug.test(value) || kStockWordPadded.test(value) || kStockCredential.test(value) ||
    kStockPhrase.test(unleet(value)) || hasAscendingRun(value, 5) || ascendingShare(value) >= 0.4 ||
    kUrlOrPath.test(value) || kNumberLike.test(value) || kReceiver.test(value) || kCode.test(value) ||
    (lead !== '' && (kNonSecretWord.test(lead.toLowerCase()) || kNonSecretCamel.test(lead) || kBadgeQuery.test(lead)))
}

/** The validators of this module, by the names rule files use. */
export const secretValidators: Readonly<Record<string, Validator>> = Object.freeze({
  secret_token: secretToken,
  discord_bot_token: discordBotToken
})
