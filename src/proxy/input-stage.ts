/**
 * @module proxy/input-stage
 * The request side of the proxy: everything a client sends goes through the
 * same rules as the answers before it leaves for the provider.
 *
 * **Deny by default.** The body is walked generically, not through a list
 * of known fields: every string at any depth, every object key and every
 * number (a card number sent as a number is still a card number) is
 * scanned, so tool schemas and their descriptions, assistant `tool_calls`,
 * `name`, `user`, `metadata`, URLs, Responses items, Anthropic `system` and
 * tool results, Gemini function calls and fields no provider has added yet
 * are all read, whatever the route. A string is scanned whole as the
 * provider receives it, and then as what a reader decodes out of it:
 *
 * - JSON text (`{…}`/`[…]`: tool call `arguments`, tool results) is parsed
 *   and walked like the body, so an escape (`"jane\u0040acme.com"`) or a
 *   key/value split hides nothing; text that does not parse but has escapes
 *   is read through the tolerant lexer of the output side
 *   (protocols/json-arguments.ts). Rewritten (`JSON.stringify`) only when a
 *   value in it is redacted.
 * - An absolute URL: each percent-encoded part (path segment, query name or
 *   value, with `+` as a space in the query) is scanned decoded, and
 *   encoded again when redacted.
 * - A `data:` URL (RFC 2397): percent-encoded data is scanned decoded;
 *   base64 data is decoded, and scanned as text when it is UTF-8.
 *
 * **What is skipped, deliberately.** Base64 that decodes to bytes that are
 * not UTF-8 is binary media (an image, audio, a PDF): there is no text in it
 * the rules could read, and reading its base64 as text costs ~1.3 s per MB
 * here (against ~0.13 s per MB of prose) and could "redact" a run of
 * characters inside a picture. Only such binary payloads longer than
 * `kMaxRawPayload` (1 KiB) are skipped; shorter ones are scanned as they are
 * (a token made of base64 characters is no image). Base64 is looked for in
 * `data:` URLs anywhere and in the few fields providers define for raw
 * base64 media (`kBase64Holders`); text put there is still scanned, since it
 * is either no base64 or decodes to UTF-8. Keys and values of one object
 * are scanned apart (as on the output side), so a rule that needs the
 * key's name (`"password": "…"`) matches inside JSON text but not across
 * the key and value of a structured object.
 *
 * **Policy.** Each rule gets one decision on the request side:
 *
 * - `reject`: the request is refused with 400 `SLUICE_INPUT_REJECTED` and
 *   nothing is forwarded;
 * - `redact`: the rule's replacement rewrites the text before it leaves (a
 *   `cut` rule redacts too: a request is rewritten, never truncated);
 * - `flag`: reported and audited, the text is sent unchanged;
 * - `pseudonymize`: the value is replaced by a typed placeholder of its
 *   conversation (`<EMAIL_1>`, see pseudonym/) that the answer gets back as
 *   the value; without a pseudonym session (the feature off) it is redacted;
 * - `off`: the rule does not run on requests.
 *
 * A rule's entry in `rules` wins; else its category in `reject`, then in
 * `redact` (a rule whose own action is `flag` stays flagged there: its
 * author said it must not alter text); else `flag`. The default
 * (proxy-config.ts) rejects only what has no innocent reading —
 * `injection.unicode_tags` (invisible ASCII that models read, the emoji
 * flag sequences excepted by the rule) and `injection.variation_selector_run`
 * (a byte per selector hidden behind a character) — redacts `pii` and
 * `secret`, and flags everything else: bidi isolates and controls
 * (`injection.bidi_control`) are routine in mixed-direction text, and
 * injection phrases (`injection.ignore_instructions`, role overrides…) are
 * what users quote when they ask about them; the output side flags them
 * too.
 *
 * Pure: a parsed JSON body and a rule set in, a body to forward and findings
 * out. The client's body is never changed: what changes is copied, path by
 * path, and an unchanged body comes back as the same object.
 */
import { Buffer } from 'node:buffer'
import { TextDecoder } from 'node:util'
import { BadRequestError } from '../errors.js'
import type { JsonObject } from '../json/json-object.js'
import { createJsonArgumentsScanner } from '../protocols/json-arguments.js'
import { maxJsonDepth } from '../protocols/sanitize-json-value.js'
import type { CompiledRuleInternal } from '../rules/compile-rule.js'
import { createRuleSet } from '../rules/rule-set.js'
import type { RuleSet } from '../rules/rule-set.js'
import type { CompiledRule, RuleAction } from '../rules/types.js'
import { createScanner } from '../scanner/create-scanner.js'
import { scanText } from '../scanner/scan-text.js'
import type { Finding, ScanResult, ScannerOptions } from '../scanner/types.js'
import type { PseudonymSession } from '../pseudonym/pseudonym-session.js'
import { placeholderTypeOf } from '../pseudonym/pseudonym-types.js'
import type { InputPolicy } from './proxy-config.js'

/**
 * The request shapes the proxy's routes validate (create-proxy.ts picks its
 * checks by it). The input stage reads every body the same way.
 */
export type InputRoute = 'chat' | 'completions' | 'responses' | 'messages'

/** What a rule's findings do to a request (`InputPolicy.rules`). */
export type InputDecision = InputPolicy['rules'][string] | 'pseudonymize'

/** Pseudonyms on the request side: which rules' values get placeholders instead of redactions. */
export interface InputPseudonyms {
  /** Categories whose redact/cut rules pseudonymize instead of redacting (a rule entry in `InputPolicy.rules` wins). */
  categories: readonly string[]
  /** Placeholder type per rule id, over the shipped table (`pii.email` → `EMAIL`). */
  types?: Readonly<Record<string, string>>
}

/** A finding in the request, with where it was found. */
export interface InputFinding extends Finding {
  /** What the input stage did: `redact`, `pseudonymize`, `reject` or `flag`. */
  decision: Exclude<InputDecision, 'off'>
  /**
   * Where: the JSON path, dot separated (`messages.2.content`); `>` goes
   * into JSON text (`…function.arguments>to`). `{key N}` is the Nth key of
   * an object: where a finding is in the key itself, and how a path names a
   * key that is no short identifier (paths are logged; a key may be free
   * text).
   */
  field: string
}

export interface InputStageResult {
  /** The body to send upstream: the same object when nothing was rewritten or the request is rejected, else a copy. */
  body: Record<string, unknown>
  findings: InputFinding[]
  /** The first finding decided `reject`, if any: the request must not be forwarded. */
  rejected: InputFinding | undefined
}

/** Longest string remembered as clean within one body (keys and enum values repeat). */
const kMaxRemembered = 256

/** Binary base64 payloads up to this length are scanned as they are: cheap, and a short one may be a token rather than media. */
const kMaxRawPayload = 1024

/** RFC 2397: `data:[<mediatype>][;base64],<data>` (no space in a media type: "Data: sales up, costs down" is prose). */
const kDataUrl = /^data:([^,\s]*),/i
const kBase64Meta = /;base64$/i
/** Standard base64 (RFC 4648 §4) characters, padded to a multiple of four (`isBase64`); anything else is read as text. */
const kBase64 = /^[A-Za-z0-9+/]*={0,2}$/
/** An absolute URL (RFC 3986 §3: scheme, then `//` authority) with nothing around it. */
const kAbsoluteUrl = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/\S*$/
/** The parts of a URL that are percent-decoded apart (RFC 3986 §2.2 delimiters split them). */
const kUrlPart = /[^/?#&=;]+/g
const kPercentOrPlus = /[%+]/

const kUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * The objects providers define to carry raw base64 media (no `data:`
 * prefix) in `data`: Anthropic `source: { type: 'base64' }`, Gemini
 * `inlineData` (`inline_data` in its snake-case form), OpenAI
 * `input_audio`. Ollama's `images` (an array of base64 strings) is the one
 * array of them.
 */
const kBase64Holders = new Set(['inlineData', 'inline_data', 'input_audio'])
const kBase64Arrays = new Set(['images'])

function holdsBase64 (holder: JsonObject, key: string | undefined): boolean {
  return holder.type === 'base64' || (key !== undefined && kBase64Holders.has(key))
}

function isBase64 (text: string): boolean {
  return text.length % 4 === 0 && kBase64.test(text)
}

function looksLikeJson (text: string): boolean {
  const first = text.trimStart()[0]
  return first === '{' || first === '['
}

/** A key a path may name as it is: a short identifier (a longer or freer key is named by its position). */
const kPathKey = /^[A-Za-z0-9_$-]{1,64}$/

function join (path: string, segment: string | number): string {
  return path === '' || path.endsWith('>') ? `${path}${segment}` : `${path}.${segment}`
}

/** Percent-decodes one URL part (`+` as a space in a query); undefined when it is not valid percent-encoding. */
function percentDecode (part: string, plusIsSpace: boolean): string | undefined {
  try {
    return decodeURIComponent(plusIsSpace ? part.replace(/\+/g, ' ') : part)
  } catch {
    return undefined
  }
}

/** The decision of a rule under a policy (see the module header). */
function decisionOf (rule: CompiledRule, policy: InputPolicy, pseudonyms: InputPseudonyms | undefined): InputDecision {
  if (Object.hasOwn(policy.rules, rule.id)) return policy.rules[rule.id] as InputDecision
  if (policy.reject.includes(rule.category)) return 'reject'
  if (pseudonyms?.categories.includes(rule.category) === true && rule.action !== 'flag') return 'pseudonymize'
  if (policy.redact.includes(rule.category) && rule.action !== 'flag') return 'redact'
  return 'flag'
}

/** Decisions that change the text sent upstream. */
function rewrites (decision: InputDecision | undefined): boolean {
  return decision === 'redact' || decision === 'pseudonymize'
}

/** The session of the request being scanned: scans are synchronous, so one slot per stage serves every request in turn. */
interface SessionSlot { session: PseudonymSession | undefined }

interface DerivedRules {
  /** Every rule the policy runs. */
  ruleSet: RuleSet
  decisions: ReadonlyMap<string, Exclude<InputDecision, 'off'>>
}

/**
 * The rule sets the input stage scans with: the same rules, with actions
 * mapped from the policy. Rejected and flagged rules only need to be found,
 * so they become `flag` (never alter text, never cut it short); redacted
 * ones `redact`; `off` ones are disabled.
 */
function deriveRules (ruleSet: RuleSet, policy: InputPolicy, pseudonyms: InputPseudonyms | undefined, slot: SessionSlot): DerivedRules {
  const decisions = new Map<string, Exclude<InputDecision, 'off'>>()
  const rules: CompiledRuleInternal[] = []
  for (const rule of ruleSet.rules as readonly CompiledRuleInternal[]) {
    const decision = decisionOf(rule, policy, pseudonyms)
    if (decision === 'off' || !rule.enabled) continue
    decisions.set(rule.id, decision)
    if (decision === 'pseudonymize') {
      const type = placeholderTypeOf(rule.id, pseudonyms?.types)
      const render = rule.render
      rules.push({
        ...rule,
        action: 'redact',
        render: (ctx) => slot.session === undefined ? render(ctx) : slot.session.placeholderFor(type, ctx.value)
      })
      continue
    }
    const action: RuleAction = decision === 'redact' ? 'redact' : 'flag'
    const derived = action === rule.action ? rule : { ...rule, action }
    rules.push(derived)
  }
  return { ruleSet: createRuleSet(rules, ruleSet.files, { cache: ruleSet.cache }), decisions }
}

export interface InputStage {
  /**
   * Scans a request body with the rule set current for this request.
   * Throws BadRequestError for a body nested too deep to scan. With a
   * pseudonym session, pseudonymized values get its placeholders.
   */
  run: (ruleSet: RuleSet, body: JsonObject, session?: PseudonymSession) => InputStageResult
  /**
   * Derives the input rule set for `ruleSet` now (at startup, after a rule
   * reload), so that no request pays for it: it compiles the rule groups
   * again, ~200 ms for the default rules, during which the event loop stops.
   */
  prepare: (ruleSet: RuleSet) => void
}

/**
 * Creates the input stage for a policy. Derived rule sets are cached per
 * loaded set, so a hot reload costs one rebuild, not one per request.
 *
 * @example
 * const stage = createInputStage({ enabled: true, reject: [], redact: ['pii', 'secret'], rules: { 'injection.unicode_tags': 'reject' } })
 * const { body, rejected } = stage.run(ruleSet, requestBody)
 */
export function createInputStage (policy: InputPolicy, scannerOptions: ScannerOptions = {}, pseudonyms?: InputPseudonyms): InputStage {
  const cache = new WeakMap<RuleSet, DerivedRules>()
  const slot: SessionSlot = { session: undefined }
  function derivedOf (ruleSet: RuleSet): DerivedRules {
    let derived = cache.get(ruleSet)
    if (derived === undefined) {
      derived = deriveRules(ruleSet, policy, pseudonyms, slot)
      cache.set(ruleSet, derived)
    }
    return derived
  }
  return {
    prepare: function prepareInputStage (ruleSet) {
      if (policy.enabled) derivedOf(ruleSet)
    },
    run: function runInputStage (ruleSet, original, session) {
      if (!policy.enabled) return { body: original, findings: [], rejected: undefined }
      const derived = derivedOf(ruleSet)
      slot.session = session
      let findings: { body: JsonObject, list: InputFinding[] }
      try {
        findings = scanBody(derived, original, scannerOptions)
      } finally {
        slot.session = undefined
      }
      const rejected = findings.list.find((f) => f.decision === 'reject')
      // A rejected request is never forwarded: the client's body is returned as it came.
      return { body: rejected === undefined ? findings.body : original, findings: findings.list, rejected }
    }
  }
}

/** One walk over one body. */
function scanBody ({ ruleSet, decisions }: DerivedRules, original: JsonObject, scannerOptions: ScannerOptions): { body: JsonObject, list: InputFinding[] } {
  const list: InputFinding[] = []
  // Strings that scanned clean, without a finding: not scanned again.
  const clean = new Set<string>()
  /**
   * Findings that do not change text (flag, reject) of the raw scans of the
   * strings being decoded, innermost last, counted by rule and digest: the
   * decoded pass finds them again, and each is reported once.
   */
  const shadows: Array<Map<string, number>> = []
  /** Findings made so far, reported or shadowed: a string that made one is never remembered as clean. */
  let seen = 0

  function record (finding: Finding, field: string): void {
    seen++
    const decision = decisions.get(finding.ruleId) ?? 'flag'
    if (!rewrites(decision)) {
      const key = `${finding.ruleId}\u0000${finding.digest}`
      for (let i = shadows.length - 1; i >= 0; i--) {
        const shadow = shadows[i] as Map<string, number>
        const count = shadow.get(key) ?? 0
        if (count > 0) {
          shadow.set(key, count - 1)
          return
        }
      }
    }
    list.push({ ...finding, decision, field })
  }

  /** Scans `text` once, whole, as it is; returns the text to send and the findings of this scan (for shadows). */
  function scanOnce (text: string, field: string): { text: string, findings: readonly Finding[] } {
    const result = scanText(ruleSet, text, scannerOptions)
    for (const f of result.findings) record(f, field)
    return result
  }

  /** Runs `decode` with the text-preserving findings of a raw scan as a shadow. */
  function shadowed<T> (raw: readonly Finding[], decode: () => T): T {
    const shadow = new Map<string, number>()
    for (const f of raw) {
      if (rewrites(decisions.get(f.ruleId))) continue
      const key = `${f.ruleId}\u0000${f.digest}`
      shadow.set(key, (shadow.get(key) ?? 0) + 1)
    }
    shadows.push(shadow)
    try {
      return decode()
    } finally {
      shadows.pop()
    }
  }

  function scanString (text: string, field: string, depth: number): string {
    if (text === '' || clean.has(text)) return text
    const before = seen
    const data = kDataUrl.exec(text)
    const out = data === null ? scanPlain(text, field, depth) : scanDataUrl(text, data, field, depth)
    if (seen === before && text.length <= kMaxRemembered) clean.add(text)
    return out
  }

  /** A string that is no `data:` URL: raw, then what JSON or a URL decodes out of it. */
  function scanPlain (text: string, field: string, depth: number): string {
    const raw = scanOnce(text, field)
    const out = raw.text
    if (looksLikeJson(out)) return shadowed(raw.findings, () => scanJsonText(out, field, depth))
    if (kAbsoluteUrl.test(out) && kPercentOrPlus.test(out)) return shadowed(raw.findings, () => scanUrlParts(out, field, depth))
    return out
  }

  function scanJsonText (text: string, field: string, depth: number): string {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      // Not JSON (cut short, say): without an escape, the raw scan read
      // every character as a parser would; with one, the output side's
      // tolerant lexer decodes the strings.
      return text.includes('\\') ? scanJsonLexed(text, field) : text
    }
    const next = walk(parsed, `${field}>`, depth + 1, undefined)
    return next === parsed ? text : JSON.stringify(next)
  }

  function scanJsonLexed (text: string, field: string): string {
    const scanner = createJsonArgumentsScanner(() => createScanner(ruleSet, scannerOptions))
    const first = scanner.write(text)
    const last = scanner.end()
    const result: ScanResult = { text: first.text + last.text, findings: [...first.findings, ...last.findings] }
    const findings = result.findings
    for (const f of findings) record(f, field)
    // The lexer writes strings back encoded its way: taken only when it redacted something.
    return findings.some((f) => rewrites(decisions.get(f.ruleId))) ? result.text : text
  }

  /** Each percent-encoded part of an absolute URL, scanned decoded. */
  function scanUrlParts (url: string, field: string, depth: number): string {
    const query = url.indexOf('?')
    const fragment = url.indexOf('#')
    return url.replace(kUrlPart, (part, offset: number) => {
      if (!kPercentOrPlus.test(part)) return part
      const inQuery = query !== -1 && offset > query && (fragment === -1 || offset < fragment)
      const decoded = percentDecode(part, inQuery)
      if (decoded === undefined || decoded === part) return part
      // Read like any string: a part may be JSON text or a URL again.
      const out = scanString(decoded, field, depth)
      return out === decoded ? part : encodeURIComponent(out)
    })
  }

  function scanDataUrl (text: string, data: RegExpExecArray, field: string, depth: number): string {
    if (!kBase64Meta.test(data[1] ?? '')) {
      // Percent-encoded text (RFC 2397 §2): whole as sent, then its data decoded.
      const raw = scanOnce(text, field)
      const header = kDataUrl.exec(raw.text)?.[0]
      if (header === undefined) return raw.text
      const payload = raw.text.slice(header.length)
      const decoded = percentDecode(payload, false)
      if (decoded === undefined || decoded === payload) return raw.text
      const out = shadowed(raw.findings, () => scanString(decoded, field, depth))
      return out === decoded ? raw.text : header + encodeURIComponent(out)
    }
    // The media type and its parameters are text too (scanned as they are:
    // read as a data URL again, the header would be scanned forever).
    const header = data[0]
    const safeHeader = scanOnce(header, field).text
    const payload = text.slice(header.length)
    const safePayload = scanBase64(payload, field, depth)
    return safeHeader === header && safePayload === payload ? text : safeHeader + safePayload
  }

  /** A base64 payload: the text it encodes is scanned; binary media is not text (see the module header). */
  function scanBase64 (payload: string, field: string, depth: number): string {
    if (!isBase64(payload)) return scanString(payload, field, depth)
    let decoded: string
    try {
      decoded = kUtf8.decode(Buffer.from(payload, 'base64'))
    } catch {
      return payload.length <= kMaxRawPayload ? scanOnce(payload, field).text : payload
    }
    const out = scanString(decoded, field, depth)
    return out === decoded ? payload : Buffer.from(out, 'utf8').toString('base64')
  }

  function scanNumber (value: number, field: string): unknown {
    // The text the provider receives (the body is sent as JSON.stringify
    // writes it). A number a rule redacts goes out as the redacted text, a
    // string: the provider may refuse the type, it never reads the number.
    const text = JSON.stringify(value)
    if (clean.has(text)) return value
    const before = seen
    const out = scanOnce(text, field).text
    if (seen === before) clean.add(text)
    return out === text ? value : out
  }

  /** Returns the scanned value: `value` itself when nothing in it changed, else a copy of what changed. */
  function walk (value: unknown, path: string, depth: number, key: string | undefined): unknown {
    if (typeof value === 'string') return scanString(value, path, depth)
    if (typeof value === 'number') return scanNumber(value, path)
    if (value === null || typeof value !== 'object') return value
    if (depth >= maxJsonDepth) {
      // Refused rather than risk the stack (JSON.stringify recurses too): what cannot be scanned is not forwarded.
      throw new BadRequestError(`The request nests JSON deeper than ${maxJsonDepth} levels; it cannot be scanned.`)
    }
    if (Array.isArray(value)) {
      const media = key !== undefined && kBase64Arrays.has(key)
      let copy: unknown[] | undefined
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i]
        const next = media && typeof item === 'string' ? scanBase64(item, join(path, i), depth) : walk(item, join(path, i), depth + 1, undefined)
        if (next !== item) (copy ??= value.slice())[i] = next
      }
      return copy ?? value
    }
    const record = value as JsonObject
    const media = holdsBase64(record, key)
    const keys = Object.keys(record)
    let entries: Array<[string, unknown]> | undefined
    keys.forEach((name, i) => {
      const item = record[name]
      // Paths name a key only once scanned, and only when it is a short
      // identifier: they go to the log, and a key can be free text.
      const keyPath = join(path, `{key ${i}}`)
      const safeName = scanString(name, keyPath, depth)
      const childPath = kPathKey.test(safeName) ? join(path, safeName) : keyPath
      const next = media && name === 'data' && typeof item === 'string' ? scanBase64(item, childPath, depth) : walk(item, childPath, depth + 1, name)
      if (entries === undefined && (safeName !== name || next !== item)) entries = keys.slice(0, i).map((k): [string, unknown] => [k, record[k]])
      entries?.push([safeName, next])
    })
    if (entries === undefined) return value
    // defineProperty: a key "__proto__" (JSON.parse makes it an own
    // property) would otherwise set the prototype instead of a field.
    const copy: JsonObject = {}
    for (const [name, item] of entries) Object.defineProperty(copy, name, { value: item, enumerable: true, writable: true, configurable: true })
    return copy
  }

  const body = walk(original, '', 0, undefined) as JsonObject
  return { body, list }
}
