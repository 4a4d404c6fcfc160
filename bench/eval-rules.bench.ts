/**
 * @module bench/eval-rules.bench
 * An evaluation of the shipped rules (rules/*.yaml) in three sections, each
 * printed as markdown tables. It reports; it asserts nothing and always
 * exits 0 (the property tests are the gate, this is the figure).
 *
 * 1. Synthetic labelled set: recall and false-positive rate per rule.
 * 2. Format sets (bench/eval-sets/, scored by bench/lib/format-sets.ts):
 *    hand-written positives and near-miss negatives per format, written
 *    from public format descriptions (provider token documentation, IIN
 *    ranges, the IBAN registry, numbering plans, RFCs); recall with the
 *    right value span, false positives, and the headline figures
 *    (structured-PII micro recall and precision, phone recall, secrets
 *    recall and FP rate, toxicity handled as stated).
 * 3. Real text (bench/lib/real-corpus.ts, bench/lib/corpus-report.ts):
 *    a hash-ranked, deduplicated sample of the prose and code under
 *    node_modules (3 MiB of each by default, documents capped at 64 KiB),
 *    each document scanned whole; documents altered, cut and flagged per
 *    rule, every cut with its context, the prose share altered by rules
 *    other than e-mail and phone (target ≤ 3%, no cut), and sample findings.
 *    The sample depends on the installed tree (package-lock.json pins it);
 *    the report prints its fingerprint and whether the tree matches the lock.
 *
 * Method of section 1. One seeded labelled set (fixed seed; `fc.sample(arb, { seed, numRuns })`):
 *
 * - Positives, labelled with a rule id:
 *   - values of `sensitiveValue` (test/fixtures/sensitive-values.ts): a pool
 *     of samples, of which the first N per rule are kept (the fixture's
 *     `oneof` is uniform over generators, not rules, so rare rules need a
 *     bigger pool), each embedded in three templates (in a sentence between
 *     spaces, on its own line, in a code block). Label: its `ruleId`; the
 *     value to find: its `finding` (group rules) or the whole value.
 *   - every `examples.match` of every enabled rule (label: that rule; value:
 *     the example's `value` when it names one).
 * - Negatives: `prose` samples, every `hardNegatives` line, every rule's
 *   `examples.nomatch` (a negative for that rule only: "SSN-like 123-45-6789
 *   is not a phone" is a nomatch of the phone rule, and an SSN), and
 *   near-misses made here from each positive value (a Luhn digit changed,
 *   an IBAN check that fails, SSN areas never issued, keys one character too
 *   short, public-key headers, placeholders where a password goes,
 *   tracking-only queries, one lone zero-width character…) plus fixed
 *   near-misses (Scunthorpe words, harmless uses of the injection
 *   words), embedded in the same templates.
 *
 * Every sample is scanned alone with `scanText` (the streaming scanner fed
 * once). For a rule R:
 * - recall = positives labelled R with a finding of R whose digest is the
 *   HMAC of the labelled value and which overlaps the value's place in the
 *   text (examples without a value: any finding of R) ÷ positives labelled R;
 *   "partial" counts misses where R did find something there, with another
 *   value (a part of it).
 * - false positives = negatives with a finding of R, plus positives of OTHER
 *   rules with a finding of R (R is not expected there: the templates add
 *   nothing sensitive); FP rate = that ÷ (negatives + other rules' positives).
 * Findings of flag rules count like any other (the scanner reports them).
 * Prints a table sorted by rule id, totals, and up to two examples of each
 * miss and each false positive.
 *
 * Run: node --import=./node_modules/@tapjs/typescript/dist/esm/import.mjs bench/eval-rules.bench.ts [--quick]
 *        [--sets-only | --corpus-only | --no-corpus] [--corpus-mib N] [--samples N]
 * (--quick: section 1 with 12 generated values per rule and 200 prose
 * samples, 3 sample findings per rule in section 3; full: 60, 1,000 and 5.
 * The corpus is the same in both modes, so its figures compare. 30-50 s
 * on two shared cores, most of it loading the rules, the synthetic set and
 * the corpus scan.)
 */
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { defaultRulesDir, loadRuleSet } from '../src/rules/load-rules.js'
import type { CompiledRule } from '../src/rules/types.js'
import { ibanValid } from '../src/rules/validators.js'
import { digestValue } from '../src/scanner/digest.js'
import { scanText } from '../src/scanner/scan-text.js'
import type { Finding } from '../src/scanner/types.js'
import { hardNegatives } from '../test/fixtures/hard-negatives.js'
import { prose, sensitiveValue } from '../test/fixtures/sensitive-values.js'
import type { SensitiveValue } from '../test/fixtures/sensitive-values.js'
import { injectionGroups } from './eval-sets/injection.js'
import { piiGroups } from './eval-sets/pii.js'
import { secretGroups } from './eval-sets/secrets.js'
import { toxicityGroups } from './eval-sets/toxicity.js'
import { reportCorpus, scanCorpus } from './lib/corpus-report.js'
import { reportFormatSets, scoreGroups } from './lib/format-sets.js'
import { buildCorpus, defaultMaxDocBytes, installedTreeCheck } from './lib/real-corpus.js'

const quick = process.argv.includes('--quick')
const flagValue = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(name)
  const v = at < 0 ? NaN : Number(process.argv[at + 1])
  return Number.isFinite(v) && v > 0 ? v : fallback
}
const sections = {
  synthetic: !process.argv.includes('--sets-only') && !process.argv.includes('--corpus-only'),
  sets: !process.argv.includes('--corpus-only'),
  corpus: !process.argv.includes('--sets-only') && !process.argv.includes('--no-corpus')
}
// 3 MiB of each kind: over the 2 MB the figures need, and a few seconds' scan on two cores.
const corpusBytes = flagValue('--corpus-mib', 3) * 1024 * 1024
const samplesPerRule = flagValue('--samples', quick ? 3 : 5)
const rootDir = fileURLToPath(new URL('../', import.meta.url))
const seed = 20240517
const perRule = quick ? 12 : 60
// The rarest rules come out of the fixture's nested `oneof` about 1 in 340 draws.
const poolSize = quick ? 6_000 : 25_000
const proseRuns = quick ? 200 : 1_000
const hmacKey = Buffer.from('sluice-eval-rules')

// Templates -------------------------------------------------------------------------

interface Template {
  before: string
  after: string
}

/**
 * The fixture promises a catch when the value stands between spaces, so the
 * value always has whitespace on both sides; what follows it starts with
 * no letter, so the spaced form of a toxic word ("f u c k") is not continued.
 */
const templates: readonly Template[] = [
  { before: 'Sure, here it is: ', after: ' — let me know if you need anything else.' },
  { before: 'The record shows\n', after: '\n— end of the entry.' },
  { before: 'Config excerpt:\n```\n', after: '\n```\n' }
]

// Samples ---------------------------------------------------------------------------

interface Positive {
  label: string
  origin: 'generated' | 'example'
  text: string
  /** The value a finding must carry (digest), when known. */
  value: string | undefined
  /** Where the inserted value sits in `text` (generated samples only). */
  span: readonly [number, number] | undefined
}

interface Negative {
  origin: 'prose' | 'hard-negative' | 'nomatch' | 'near-miss'
  text: string
  /** The rule it was made to resemble, for the report. */
  near: string | undefined
  /**
   * A `nomatch` example is a negative for its own rule only: "SSN-like
   * 123-45-6789 is not a phone" is a nomatch of the phone rule and an SSN.
   */
  only: string | undefined
}

function embed (value: string, i: number): { text: string, span: [number, number] } {
  const tpl = templates[i % templates.length] as Template
  return { text: tpl.before + value + tpl.after, span: [tpl.before.length, tpl.before.length + value.length] }
}

// Near-misses -----------------------------------------------------------------------

const nifLetters = 'TRWAGMYFPDXBNJZSQVHLCKE'
const placeholders = ['${DB_PASSWORD}', '<password>', '********', 'changeme', 'your_password_here']

function bumpLastDigit (s: string): string {
  const at = s.search(/[0-9][^0-9]*$/)
  return s.slice(0, at) + String((Number(s[at]) + 1) % 10) + s.slice(at + 1)
}

function dropDigits (s: string, n: number): string {
  let out = s
  for (let k = 0; k < n; k++) out = out.replace(/[0-9](?=[^0-9]*$)/, '')
  return out.trimEnd()
}

function ibanWithBadCheck (value: string): string {
  const plain = value.replace(/ /g, '')
  const check = Number(plain.slice(2, 4))
  for (let d = 1; d < 97; d++) {
    const candidate = plain.slice(0, 2) + String((check + d) % 100).padStart(2, '0') + plain.slice(4)
    if (!ibanValid(candidate)) return value.includes(' ') ? (candidate.match(/.{1,4}/g) ?? []).join(' ') : candidate
  }
  throw new Error('unreachable: only one check value is valid')
}

function b64url (s: string): string {
  return Buffer.from(s).toString('base64url')
}

/**
 * A value that looks like `v` but is not what its rule looks for (or is
 * something its rule allows on purpose), or undefined when the rule has no
 * near-miss derived from a value (the toxic words: fixed list below).
 */
function nearMiss (v: SensitiveValue, i: number): string | undefined {
  const x = v.value
  const secret = v.finding ?? v.value
  const withSecret = (replacement: string): string => x.replace(secret, replacement)
  switch (v.ruleId) {
    case 'pii.credit_card': return bumpLastDigit(x) // Luhn fails
    case 'pii.iban': return ibanWithBadCheck(x) // mod-97 fails
    case 'pii.email': return x.slice(0, x.indexOf('.', x.indexOf('@'))) // no TLD: user@host
    case 'pii.phone_nanp': return dropDigits(x, 1) // one digit short
    case 'pii.phone_national': return dropDigits(x, 2) // too short for the trunk-0 lengths
    case 'pii.phone_intl': return (x.replace(/[^0-9+]/g, '').slice(0, 8)) // +CC and a few digits: under 8 digits
    case 'pii.us_ssn': {
      const [area = '', group = '', serial = ''] = x.split('-')
      return [`000-${group}-${serial}`, `666-${group}-${serial}`, `${area}-00-${serial}`, `${area}-${group}-0000`][i % 4]
    }
    case 'pii.us_itin': return x.replace(/-[0-9]{2}-/, `-${['89', '93', '66', '45'][i % 4] ?? '89'}-`) // group never issued
    case 'pii.uk_nino': return (['GB', 'BG', 'NK', 'TN', 'ZZ'][i % 5] ?? 'GB') + x.slice(2) // prefixes never allocated
    case 'pii.uk_nhs': return bumpLastDigit(x) // mod-11 fails
    case 'pii.in_aadhaar': return bumpLastDigit(x) // Verhoeff catches every single-digit error
    case 'pii.es_nif': {
      const letter = x.slice(-1)
      return x.slice(0, -1) + nifLetters[(nifLetters.indexOf(letter) + 1) % 23]
    }
    case 'pii.ca_sin': return bumpLastDigit(x) // Luhn fails
    case 'pii.ipv4': return x.replace(/^[0-9]+/, (o) => String(256 + (Number(o) % 44))) // octet > 255
    case 'pii.ipv6': return x.replace(/^[^:]*:[^:]*:/, '2001:db8:') // documentation prefix (RFC 3849), allowed
    case 'secret.aws_access_key_id': return x.slice(0, -1)
    // Not "one character short": a 39-character key assigned to that name is still a secret
    // (secret.generic_assignment rightly takes it). The documentation key and a mask are not.
    case 'secret.aws_secret_access_key': return withSecret(i % 2 === 0 ? 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' : 'x'.repeat(40))
    case 'secret.github_token': return x.slice(0, -1)
    case 'secret.gitlab_token': return x.slice(0, 'glpat-'.length + 19)
    case 'secret.slack_token': return x.replace(/^xox./, 'xoxz') // no such token type
    case 'secret.slack_webhook': return x.replace(/\/[A-Za-z0-9]+$/, (s) => s.slice(0, 16)) // 15-character secret
    case 'secret.stripe_key': return x.replace(/^(?:sk|rk)_/, 'pk_') // publishable keys are public
    case 'secret.openai_key': return x.startsWith('sk-proj-') ? x.slice(0, 'sk-proj-'.length + 39) : x.slice(0, 'sk-'.length + 31)
    case 'secret.anthropic_key': return x.slice(0, 'sk-ant-api03-'.length + 31)
    case 'secret.google_api_key': return x.slice(0, -1)
    case 'secret.npm_token': return x.slice(0, -1)
    case 'secret.huggingface_token': return x.slice(0, -1)
    case 'secret.sendgrid_key': return x.slice(0, -1)
    case 'secret.shopify_token': return x.slice(0, -1)
    case 'secret.jwt': return b64url('{"typ":"JWT"}') + x.slice(x.indexOf('.')) // a header without "alg"
    case 'secret.connection_url_password': return x.replace(`:${secret}@`, `:${placeholders[i % placeholders.length] ?? ''}@`)
    case 'secret.basic_auth_header': {
      const user = Buffer.from(secret, 'base64').toString('utf8').split(':')[0] ?? 'user'
      return withSecret(Buffer.from(`${user}:${placeholders[i % placeholders.length] ?? ''}`).toString('base64'))
    }
    case 'secret.bearer_token': return withSecret(['YOUR_ACCESS_TOKEN_HERE', 'xxxxxxxxxxxxxxxxxxxxxxxx', 'your-api-token-goes-here', '<access_token>'][i % 4] ?? '')
    case 'secret.generic_assignment': return withSecret(['process.env.API_KEY', '${SECRET_KEY}', 'changeme', '********', 'your_password_here'][i % 5] ?? '')
    case 'secret.private_key': return x.replace(/PRIVATE KEY/g, 'PUBLIC KEY')
    case 'injection.markdown_image_exfil': return x.replace(/\?[^)]*/, '?utm_source=newsletter') // tracking only
    case 'injection.markdown_link_exfil': return x.replace(/\?[^)]*/, '?page=2') // a click, and no payload
    case 'injection.markdown_reference_exfil': return x.replace(/\?\S*/, '?utm_medium=email')
    case 'injection.html_image_exfil': return x.replace(/\?[^"]*/, '?utm_campaign=spring')
    case 'injection.unicode_tags': {
      // An emoji tag sequence (UTS #51): black flag, tag letters, CANCEL TAG.
      const region = ['gbeng', 'gbsct', 'gbwls'][i % 3] ?? 'gbsct'
      return '\u{1F3F4}' + [...region].map((c) => String.fromCodePoint(0xe0000 + c.charCodeAt(0))).join('') + '\u{E007F}'
    }
    case 'injection.zero_width_run': return `co${x.slice(0, 1)}operate` // one lone character, as in Persian ZWNJ
    case 'injection.variation_selector_run': {
      const vs = String.fromCodePoint(x.codePointAt(0) ?? 0xfe0f)
      return (vs.length === 1 ? '\u270C' : '\u845B') + vs // one selector after its base: an emoji or an ideographic variation
    }
    case 'injection.bidi_control': return 'abc\u200Fdef' // RLM: a mark, not an embedding/override
    case 'injection.chat_template_token': return x.replace(/[<>|[\]\uFF5C]/g, '') // the bare word
    default: return undefined
  }
}

/** Near-misses no value derives: words containing toxic ones, harmless uses of injection words. */
const fixedNearMisses: ReadonlyArray<readonly [string, string]> = [
  ...['Scunthorpe', 'Penistone', 'cocktail', 'cockpit', 'peacock', 'Hancock', 'shiitake', 'Dickensian', 'assassin',
    'bass', 'classic', 'passion', 'compass', 'assume', 'therapist', 'grapes', 'scrapped', 'Sussex', 'Middlesex',
    'arsenal', 'Cockburn', 'Clitheroe', 'cumulative', 'analysis', 'Matsushita', 'shitake', 'whorl', 'hoarse',
    'Wankel engine', 'pushed', 'bastion', 'document', 'titanic'].map((w) => ['toxicity.profanity', w] as const),
  ...['Nigeria', 'Niger', 'sniggered', 'snigger', 'fire retardant', 'retardation of the flow', 'transistor radios'].map((w) => ['toxicity.slur', w] as const),
  ['injection.ignore_instructions', 'You can ignore the warnings about deprecated flags.'],
  ['injection.ignore_instructions', 'We must not forget the original authors.'],
  ['injection.ignore_instructions', 'Use --no-cache to bypass the cache.'],
  ['injection.ignore_instructions', 'Please disregard my last message, I found it.'],
  ['injection.role_override', 'You are now logged in as admin.'],
  ['injection.role_override', 'You are an unrestricted user of this library.'],
  ['injection.role_override', 'Dark mode enabled in the settings.'],
  ['injection.system_prompt_override', 'The new prompt library is out.'],
  ['injection.system_prompt_override', 'A system update is available: restart now.'],
  ['injection.system_prompt_override', 'Start system promptly at nine.'],
  ['injection.prompt_leak_request', 'Show the hidden files in Finder.'],
  ['injection.prompt_leak_request', 'Print the instructions below on one page.'],
  ['injection.prompt_leak_request', 'Can you repeat your question?']
]

// Building the set ----------------------------------------------------------------------

const ruleSet = await loadRuleSet(defaultRulesDir())
const rules: readonly CompiledRule[] = ruleSet.rules.filter((r) => r.enabled)
const ruleIds = rules.map((r) => r.id).sort()

const positives: Positive[] = []
const negatives: Negative[] = []

const kept = new Map<string, number>()
const generated: SensitiveValue[] = []
for (const v of sections.synthetic ? fc.sample(sensitiveValue, { seed, numRuns: poolSize }) : []) {
  const n = kept.get(v.ruleId) ?? 0
  if (n >= perRule) continue
  kept.set(v.ruleId, n + 1)
  generated.push(v)
}

generated.forEach((v, i) => {
  for (let k = 0; k < templates.length; k++) {
    const { text, span } = embed(v.value, k)
    const at = v.finding === undefined ? span : [span[0] + v.value.indexOf(v.finding), span[0] + v.value.indexOf(v.finding) + v.finding.length] as const
    positives.push({ label: v.ruleId, origin: 'generated', text, value: v.finding ?? v.value, span: at })
  }
  const miss = nearMiss(v, i)
  if (miss !== undefined && miss !== v.value) negatives.push({ origin: 'near-miss', text: embed(miss, i).text, near: v.ruleId, only: undefined })
})

if (sections.synthetic) fixedNearMisses.forEach(([near, words], i) => negatives.push({ origin: 'near-miss', text: embed(words, i).text, near, only: undefined }))

for (const rule of sections.synthetic ? rules : []) {
  for (const ex of rule.examples.match) {
    positives.push({ label: rule.id, origin: 'example', text: typeof ex === 'string' ? ex : ex.text, value: typeof ex === 'string' ? undefined : ex.value, span: undefined })
  }
  for (const text of rule.examples.nomatch) negatives.push({ origin: 'nomatch', text, near: rule.id, only: rule.id })
}
for (const text of sections.synthetic ? hardNegatives : []) negatives.push({ origin: 'hard-negative', text, near: undefined, only: undefined })
for (const text of sections.synthetic ? fc.sample(prose, { seed, numRuns: proseRuns }) : []) negatives.push({ origin: 'prose', text, near: undefined, only: undefined })

// Scoring ---------------------------------------------------------------------------

interface Score {
  positives: number
  found: number
  partial: number
  misses: string[]
  negatives: number
  negativeFp: number
  crossPositives: number
  crossFp: number
  fps: string[]
}

const scores = new Map<string, Score>(ruleIds.map((id) => [id, { positives: 0, found: 0, partial: 0, misses: [], negatives: 0, negativeFp: 0, crossPositives: 0, crossFp: 0, fps: [] }]))
const score = (id: string): Score => scores.get(id) as Score

function show (s: string, max = 110): string {
  const q = JSON.stringify(s)
  return q.length > max ? q.slice(0, max - 4) + '…"' : q
}

function matched (text: string, f: Finding): string {
  return text.slice(f.start, f.start + f.length)
}

function note (list: string[], line: string): void {
  if (list.length < 2) list.push(line)
}

let scans = 0
const started = process.hrtime.bigint()
const scan = (text: string): Finding[] => {
  scans++
  return scanText(ruleSet, text, { hmacKey }).findings
}

for (const p of positives) {
  const findings = scan(p.text)
  const s = score(p.label)
  s.positives++
  const mine = findings.filter((f) => f.ruleId === p.label)
  const overlaps = (f: Finding): boolean => p.span === undefined || (f.start < p.span[1] && f.start + f.length > p.span[0])
  const digest = p.value === undefined ? undefined : digestValue(hmacKey, p.value)
  if (mine.some((f) => overlaps(f) && (digest === undefined || f.digest === digest))) s.found++
  else {
    if (mine.some(overlaps)) s.partial++
    const instead = findings.map((f) => `${f.ruleId} ${show(matched(p.text, f), 60)}`).join(', ')
    note(s.misses, `${p.origin} ${show(p.text)}${instead === '' ? ': no finding' : `: found ${instead}`}`)
  }
  const others = new Set(findings.map((f) => f.ruleId))
  for (const id of ruleIds) {
    if (id === p.label) continue
    const o = score(id)
    o.crossPositives++
    if (others.has(id)) {
      o.crossFp++
      const f = findings.find((g) => g.ruleId === id) as Finding
      note(o.fps, `positive of ${p.label} ${show(p.text)}: ${show(matched(p.text, f), 60)}`)
    }
  }
}

let globalNegatives = 0
let cleanNegatives = 0
for (const n of negatives) {
  const findings = scan(n.text)
  const hit = new Set(findings.map((f) => f.ruleId))
  if (n.only === undefined) {
    globalNegatives++
    if (findings.length === 0) cleanNegatives++
  }
  for (const id of n.only === undefined ? ruleIds : [n.only]) {
    const s = score(id)
    s.negatives++
    if (hit.has(id)) {
      s.negativeFp++
      const f = findings.find((g) => g.ruleId === id) as Finding
      note(s.fps, `${n.origin}${n.near === undefined ? '' : ` (near ${n.near})`} ${show(n.text)}: ${show(matched(n.text, f), 60)}`)
    }
  }
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9

// Report ------------------------------------------------------------------------------

function reportSynthetic (): void {
  const pct = (a: number, b: number): string => b === 0 ? '—' : `${(100 * a / b).toFixed(a === b || a === 0 ? 0 : a / b < 0.01 ? 2 : 1)}%`
  const actionOf = new Map(rules.map((r) => [r.id, r.action]))
  const origins = (o: Negative['origin']): number => negatives.filter((n) => n.origin === o).length

  console.log(`rule evaluation (${quick ? 'quick' : 'full'}, seed ${seed}): ${rules.length} enabled rules; ` +
    `${positives.length} positives (${generated.length} generated values × ${templates.length} templates + ${positives.length - generated.length * templates.length} rule examples); ` +
    `${negatives.length} negatives (${origins('prose')} prose, ${origins('hard-negative')} hard negatives, ${origins('nomatch')} nomatch examples, ${origins('near-miss')} near-misses); ` +
    `${scans} scans in ${seconds.toFixed(1)} s`)
  console.log('')
  console.log('| rule | action | positives | found | recall | partial | FP / checked | FP rate | FP on negatives | FP on other rules\' positives |')
  console.log('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|')
  let tp = 0
  let tpos = 0
  let tfp = 0
  let tchecked = 0
  for (const id of ruleIds) {
    const s = score(id)
    const fp = s.negativeFp + s.crossFp
    const checked = s.negatives + s.crossPositives
    tp += s.found
    tpos += s.positives
    tfp += fp
    tchecked += checked
    console.log(`| ${id} | ${actionOf.get(id) ?? ''} | ${s.positives} | ${s.found} | ${pct(s.found, s.positives)} | ${s.partial} | ${fp} / ${checked} | ${pct(fp, checked)} | ${s.negativeFp} | ${s.crossFp} |`)
  }
  console.log(`| **all rules** | | ${tpos} | ${tp} | ${pct(tp, tpos)} | | ${tfp} / ${tchecked} | ${pct(tfp, tchecked)} | | |`)
  console.log('')
  console.log(`negatives other than nomatch examples with no finding of any rule: ${cleanNegatives} / ${globalNegatives} (${pct(cleanNegatives, globalNegatives)})`)

  const flagged = ruleIds.filter((id) => score(id).misses.length > 0 || score(id).fps.length > 0)
  if (flagged.length > 0) {
    console.log('\nexamples (at most two of each):')
    for (const id of flagged) {
      const s = score(id)
      for (const m of s.misses) console.log(`  ${id} missed: ${m}`)
      for (const f of s.fps) console.log(`  ${id} false positive: ${f}`)
    }
  }
}

const sectionTime = (since: bigint): string => `${(Number(process.hrtime.bigint() - since) / 1e9).toFixed(1)} s`

if (sections.synthetic) {
  console.log('## Synthetic labelled set\n')
  reportSynthetic()
  console.log('')
}

if (sections.sets) {
  const t0 = process.hrtime.bigint()
  const results = scoreGroups(ruleSet, hmacKey, [...piiGroups, ...secretGroups, ...injectionGroups, ...toxicityGroups])
  console.log('## Format sets (public format descriptions)\n')
  for (const line of reportFormatSets(results)) console.log(line)
  console.log(`\n(format sets: ${results.length} scans in ${sectionTime(t0)})\n`)
}

if (sections.corpus) {
  const t0 = process.hrtime.bigint()
  const corpus = buildCorpus({ modulesDir: join(rootDir, 'node_modules'), budgetBytes: corpusBytes })
  const built = sectionTime(t0)
  const t1 = process.hrtime.bigint()
  const scans = scanCorpus(ruleSet, corpus, hmacKey)
  const scanned = sectionTime(t1)
  const tree = installedTreeCheck(rootDir)
  const provenance = `budget ${corpusBytes / 1024 / 1024} MiB per kind, documents capped at ${defaultMaxDocBytes / 1024} KiB; ` +
    `corpus fingerprint ${corpus.fingerprint}; package-lock.json ${tree.lockHash}, installed tree ${tree.matches === undefined ? 'not comparable' : tree.matches ? 'matches it' : `differs from it in ${tree.differing} entries`}`
  console.log('## Real text (node_modules)\n')
  for (const line of reportCorpus(corpus, scans, ruleSet, { samples: samplesPerRule, around: 40, provenance })) console.log(line)
  console.log(`\n(corpus: selected in ${built}, scanned in ${scanned})`)
}
