// Holdback and scanner cost in the wild (in-process): how much text Sluice's
// scanner holds back on text nobody in this project wrote, and what one write
// costs, for the current build and, with --baseline DIR, another build side by
// side.
//
// Method.
// Builds. The current one is this checkout's dist/; the baseline is DIR/dist
// (another checkout's root, built there). Both are imported into this process
// (`await import()`), each with its own default rules (`loadRuleSet()` of that
// build), and fed the very same pieces.
// Streams. Four kinds, each cut into seeded pieces of 1–8 characters (one
// seed per kind, so every build and round sees the same pieces), one
// `scanner.write` per piece, one createScanner per file:
//   prose  — README.md and CHANGELOG.md files (any case) of the packages under
//            node_modules (top level and @scope/name; sorted by package, README
//            before CHANGELOG; whole files until the budget is reached): real
//            technical prose with code, URLs, e-mail addresses, versions, hashes
//   code   — .js/.ts/.mjs files of the same packages (each package's own files,
//            nested node_modules left out, sorted paths), taken round-robin over
//            the sorted packages (every package's first file, then every
//            package's second…) until the budget, so that no single package
//            fills it; skipped: *.min.js, files with a line over 500 characters
//            (minified or generated) and files over 200 KB
//   base64 — 200 KB of seeded random [A-Za-z0-9+/], a space every 200–2,000
//   digits — 200 KB of seeded random digits, a space every 200–2,000
//            (the last two: one stream each; the shapes of keys and long
//            numbers, where a rule's candidate can run on for the whole run)
// Budget: 1 MiB each for prose and code with --quick, 2 MiB otherwise.
// Held. After each write, `scanner.held` (characters written and not yet
// released): p50, p99 and max over all writes of a kind, and where the max
// was (file, offset of the write's end) with an excerpt of the held text.
// Delay: how many later pieces had to arrive before a piece's last character
// was released (0 = it left with its own write; at 50 pieces/s one piece is
// 20 ms). The fixed window (W = the rule set's longest possible match; it
// releases only what lies more than W back) is computed, not run, for the
// current build. A stream a `cut` rule ends is counted and its file goes on
// in a new scanner, so that every build scans the same text.
// Cost. `process.hrtime.bigint()` just before and after each write (µs; the
// two calls add ~0.1 µs); p50 and p99 per kind. Every round runs each kind
// with both builds back to back, the order alternating from round to round
// (baseline first in even rounds); reported: the median over rounds of each
// round's p50 and p99, and the ratio current ÷ baseline. A warm-up pass of
// each kind per build comes first. Rounds: 3, 2 with --quick. A pass stops
// at 20 s (--quick) / 60 s, so a pathological build cannot stall the run; the
// report then says PARTIAL and over how many writes.
// Targets, printed next to the figures: held p50 ≤ 3, p99 ≤ 40, max ≤ 512
// characters (prose, code); cost p99 ≤ 5 µs per write (every kind).
//
// Run: npm run build && node bench/holdback.bench.js [--quick] [--baseline DIR]
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join, relative } from 'node:path'
import { pathToFileURL } from 'node:url'
import { base64Alphabet, digitAlphabet, randomRuns } from './lib/fixtures.js'
import { isMain, runAsScript } from './lib/main.js'
import { rootDir } from './lib/procs.js'
import { fmt, median, rng, table } from './lib/stats.js'

const TOKEN_MS = 20
const kMaxCodeLine = 500
const kMaxCodeFile = 200_000
const kSyntheticChars = 200_000
export const targets = { heldP50: 3, heldP99: 40, heldMax: 512, costP99Us: 5 }
/** @typedef {'prose' | 'code' | 'base64' | 'digits'} Kind */
/** @type {Kind[]} */
const kinds = ['prose', 'code', 'base64', 'digits']
const heldTargeted = new Set(['prose', 'code'])

const modulesDir = join(rootDir, 'node_modules')

/** @typedef {{ name: string, text: string }} SourceFile */
/** @typedef {SourceFile & { pieces: string[] }} CorpusFile */
/** @typedef {{ files: CorpusFile[], chars: number, writes: number }} Corpus */

/** Package directories under node_modules, sorted: `name` and `@scope/name`. */
function packageDirs () {
  /** @type {string[]} */
  const dirs = []
  for (const name of readdirSync(modulesDir).sort()) {
    if (name.startsWith('.')) continue
    if (name.startsWith('@')) for (const sub of readdirSync(join(modulesDir, name)).sort()) dirs.push(join(modulesDir, name, sub))
    else dirs.push(join(modulesDir, name))
  }
  return dirs.filter((d) => { try { return statSync(d).isDirectory() } catch { return false } })
}

/**
 * @param {string[]} dirs
 * @param {number} budget
 */
function proseCorpus (dirs, budget) {
  /** @type {SourceFile[]} */
  const files = []
  let chars = 0
  for (const dir of dirs) {
    const names = readdirSync(dir).sort()
    for (const want of ['readme.md', 'changelog.md']) {
      const name = names.find((n) => n.toLowerCase() === want)
      if (name === undefined || chars >= budget) continue
      const text = readFileSync(join(dir, name), 'utf8')
      if (text.length === 0) continue
      files.push({ name: relative(modulesDir, join(dir, name)), text })
      chars += text.length
    }
    if (chars >= budget) break
  }
  return files
}

/**
 * A package's own source files (no nested node_modules), sorted paths.
 * @param {string} dir
 * @param {string[]} [out]
 */
function codeFiles (dir, out = []) {
  let entries
  try { entries = readdirSync(dir, { withFileTypes: true }) } catch { return out }
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (e.name.startsWith('.') || e.name === 'node_modules') continue
    const path = join(dir, e.name)
    if (e.isDirectory()) codeFiles(path, out)
    else if (e.isFile() && /\.(js|ts|mjs)$/.test(e.name) && !e.name.endsWith('.min.js')) out.push(path)
  }
  return out
}

/**
 * @param {string[]} dirs
 * @param {number} budget
 */
function codeCorpus (dirs, budget) {
  const queues = dirs.map((d) => codeFiles(d))
  /** @type {SourceFile[]} */
  const files = []
  let chars = 0
  for (let round = 0; chars < budget; round++) {
    let any = false
    for (const queue of queues) {
      if (chars >= budget) break
      // The package's next eligible file, if any is left.
      for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
        any = true
        if (statSync(path).size > kMaxCodeFile) continue
        const text = readFileSync(path, 'utf8')
        if (text.length === 0 || text.split('\n').some((line) => line.length > kMaxCodeLine)) continue
        files.push({ name: relative(modulesDir, path), text })
        chars += text.length
        break
      }
    }
    if (!any) break
  }
  return files
}

/**
 * @param {string} text
 * @param {() => number} random
 */
function cutPieces (text, random) {
  /** @type {string[]} */
  const out = []
  for (let i = 0; i < text.length;) {
    const n = 1 + Math.floor(random() * 8)
    out.push(text.slice(i, i + n))
    i += n
  }
  return out
}

/**
 * @param {boolean} quick
 * @returns {Record<Kind, Corpus>}
 */
function buildCorpora (quick) {
  const budget = quick ? 1 << 20 : 2 << 20
  const dirs = packageDirs()
  const sources = {
    prose: proseCorpus(dirs, budget),
    code: codeCorpus(dirs, budget),
    base64: [{ name: 'base64 (synthetic)', text: randomRuns(base64Alphabet, kSyntheticChars, 64) }],
    digits: [{ name: 'digits (synthetic)', text: randomRuns(digitAlphabet, kSyntheticChars, 10) }]
  }
  const corpora = /** @type {Record<Kind, Corpus>} */ ({})
  kinds.forEach((kind, i) => {
    const random = rng(42 + i)
    const files = sources[kind].map((f) => ({ ...f, pieces: cutPieces(f.text, random) }))
    corpora[kind] = {
      files,
      chars: files.reduce((n, f) => n + f.text.length, 0),
      writes: files.reduce((n, f) => n + f.pieces.length, 0)
    }
  })
  return corpora
}

/**
 * Delay in pieces of each piece's last character, given the released input length after each write.
 * @param {Float64Array} ends
 * @param {Float64Array} releasedAfter
 * @param {number[]} out
 */
function delays (ends, releasedAfter, out) {
  let j = 0
  for (const [k, end] of ends.entries()) {
    if (j < k) j = k
    while (j < ends.length && /** @type {number} */ (releasedAfter[j]) < end) j++
    out.push(j - k) // j === ends.length: released by end(), after the last piece
  }
}

function quantiles (values) {
  const s = Float64Array.from(values).sort()
  const at = (p) => (s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))])
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: s.length === 0 ? NaN : s[s.length - 1] }
}

/** `text` with control, invisible and bidi characters escaped, at most `max` characters (head … tail). */
export function excerpt (text, max = 80) {
  // eslint-disable-next-line no-control-regex, no-misleading-character-class -- prints invisible characters escaped
  const esc = (s) => s.replace(/[\\\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufe00-\ufe0f]/gu, (c) => {
    if (c === '\\') return '\\\\'
    if (c === '\n') return '\\n'
    if (c === '\r') return '\\r'
    if (c === '\t') return '\\t'
    return `\\u{${c.codePointAt(0).toString(16)}}`
  })
  const whole = esc(text)
  if (whole.length <= max) return whole
  const chars = [...text]
  let head = ''
  let tail = ''
  let i = 0
  let j = chars.length - 1
  // Alternate: a character from the front, one from the back, while both fit.
  for (let turn = 0; i <= j; turn++) {
    const fromHead = turn % 2 === 0
    const next = fromHead ? head + esc(chars[i]) : esc(chars[j]) + tail
    if ((fromHead ? next.length + tail.length : head.length + next.length) + 1 > max) break
    if (fromHead) { head = next; i++ } else { tail = next; j-- }
  }
  return `${head}…${tail}`
}

/**
 * One pass of one build over one kind: cost of each write; with `observe`,
 * also held after each write, delays, the max held and where, cuts.
 * @param {Build} build
 * @param {Corpus} corpus
 * @param {boolean} observe
 * @param {number} maxPassMs
 */
async function pass (build, corpus, observe, maxPassMs) {
  const times = new Float64Array(corpus.writes)
  // Held after each write and delays in pieces, for the scanner and for the fixed window.
  /** @type {{ held: Float64Array, delay: number[], fixedHeld: Float64Array, fixedDelay: number[] } | undefined} */
  const obs = observe ? { held: new Float64Array(corpus.writes), delay: [], fixedHeld: new Float64Array(corpus.writes), fixedDelay: [] } : undefined
  const W = build.window
  /** @type {Array<{ file: string, offset: number, rule: string }>} */
  const cuts = []
  /** @type {{ held: number, file?: string, offset?: number, excerpt?: string }} */
  let max = { held: -1 }
  let w = 0
  const deadline = process.hrtime.bigint() + BigInt(maxPassMs) * 1_000_000n
  let partial = false
  for (const file of corpus.files) {
    if (partial) break
    let scanner = build.api.createScanner(build.ruleSet, { hmacKey: 'bench' })
    // Per piece of this file: the input length after its write, and what was released by then.
    const fileObs = obs && { ends: new Float64Array(file.pieces.length), released: new Float64Array(file.pieces.length), releasedFixed: new Float64Array(file.pieces.length) }
    let end = 0
    for (const [k, piece] of file.pieces.entries()) {
      const t0 = process.hrtime.bigint()
      scanner.write(piece)
      const t1 = process.hrtime.bigint()
      times[w] = Number(t1 - t0) / 1000
      end += piece.length
      let h = scanner.held
      if (scanner.cut !== undefined) {
        // What a cut holds is dropped, not held; the rest of the file goes to a new scanner.
        cuts.push({ file: file.name, offset: end, rule: scanner.cut.ruleId })
        scanner = build.api.createScanner(build.ruleSet, { hmacKey: 'bench' })
        h = 0
      }
      if (obs && fileObs) {
        obs.held[w] = h
        fileObs.ends[k] = end
        fileObs.released[k] = end - h
        fileObs.releasedFixed[k] = Math.max(0, end - W)
        obs.fixedHeld[w] = Math.min(end, W)
        if (h > max.held) max = { held: h, file: file.name, offset: end, excerpt: excerpt(file.text.slice(end - h, end)) }
      }
      w++
      // A pathological build must not stall the run: stop this pass at its time cap (checked outside the timed part).
      if ((w & 1023) === 0 && process.hrtime.bigint() > deadline) { partial = true; break }
    }
    scanner.end()
    // Between files: let a signal (Ctrl-C) through; the bench is otherwise one synchronous loop.
    await new Promise(setImmediate)
    if (obs && fileObs) {
      const { ends, released, releasedFixed } = fileObs
      const done = partial ? ends.findIndex((e) => e === 0) : -1
      const n = done === -1 ? ends.length : done
      delays(ends.subarray(0, n), released.subarray(0, n), obs.delay)
      delays(ends.subarray(0, n), releasedFixed.subarray(0, n), obs.fixedDelay)
    }
  }
  const writes = w
  const cost = quantiles(times.subarray(0, writes))
  if (!obs) return { cost, writes }
  /** @param {number[]} d */
  const once = (d) => d.filter((x) => x === 0).length / d.length
  return {
    cost,
    writes,
    held: { ...quantiles(obs.held.subarray(0, writes)), at: max },
    delay: { ...quantiles(obs.delay), releasedAtOnce: once(obs.delay) },
    fixed: { held: quantiles(obs.fixedHeld.subarray(0, writes)), delay: { ...quantiles(obs.fixedDelay), releasedAtOnce: once(obs.fixedDelay) } },
    cuts
  }
}

/** @typedef {Awaited<ReturnType<typeof loadBuild>>} Build */

/**
 * @param {string} name
 * @param {string} root
 */
async function loadBuild (name, root) {
  const api = await import(pathToFileURL(join(root, 'dist', 'index.js')).href)
  const ruleSet = await api.loadRuleSet()
  const builtAt = statSync(join(root, 'dist', 'index.js')).mtime.toISOString()
  return { name, root, builtAt, api, ruleSet, window: ruleSet.output.maxLength, rules: ruleSet.rules.filter((r) => r.enabled !== false).length }
}

/** Short kind-by-kind warm-up (JIT, rule caches) for one build: the first ~50,000 characters of each kind. */
async function warmUp (build, corpora) {
  for (const kind of kinds) {
    let chars = 0
    for (const file of corpora[kind].files) {
      const scanner = build.api.createScanner(build.ruleSet, { hmacKey: 'warm' })
      for (const piece of file.pieces) {
        scanner.write(piece)
        if (scanner.cut !== undefined) break
      }
      scanner.end()
      await new Promise(setImmediate)
      chars += file.text.length
      if (chars > 50_000) break
    }
  }
}

/** @param {import('./lib/main.js').BenchOptions} [options] */
export async function run ({ quick = false, baseline, log = () => {} } = {}) {
  const rounds = quick ? 2 : 3
  const maxPassMs = quick ? 20_000 : 60_000
  const loadAvgAtStart = loadavg()[0] ?? NaN
  const builds = []
  if (baseline !== undefined) builds.push(await loadBuild('baseline', baseline))
  builds.push(await loadBuild('current', rootDir))
  const corpora = buildCorpora(quick)
  log(`holdback: ${kinds.map((k) => `${k} ${corpora[k].files.length} files, ${corpora[k].chars.toLocaleString('en-US')} chars, ${corpora[k].writes.toLocaleString('en-US')} writes`).join('; ')}`)
  log(`holdback: builds ${builds.map((b) => `${b.name} (${b.root}, dist built ${b.builtAt}, ${b.rules} rules, W = ${b.window})`).join(', ')}; ${rounds} rounds`)
  for (const b of builds) await warmUp(b, corpora)

  const observed = {} // kind → build → the first round's full pass
  const costRounds = {} // kind → build → [{ p50, p99 }] per round
  for (const kind of kinds) {
    observed[kind] = {}
    costRounds[kind] = {}
    for (const b of builds) costRounds[kind][b.name] = []
  }
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? builds : [...builds].reverse()
    for (const kind of kinds) {
      for (const b of order) {
        const t0 = Date.now()
        const r = await pass(b, corpora[kind], round === 0, maxPassMs)
        if (process.env.HOLDBACK_TRACE) log(`  ${kind} ${b.name}: ${Date.now() - t0} ms`)
        if (round === 0) observed[kind][b.name] = r
        costRounds[kind][b.name].push({ p50: r.cost.p50, p99: r.cost.p99, max: r.cost.max, writes: r.writes })
      }
    }
    log(`holdback: round ${round + 1}/${rounds} done`)
  }

  const figures = {}
  for (const kind of kinds) {
    figures[kind] = {}
    for (const b of builds) {
      const o = observed[kind][b.name]
      const cr = costRounds[kind][b.name]
      figures[kind][b.name] = {
        held: o.held,
        delay: o.delay,
        fixed: o.fixed,
        cuts: o.cuts,
        // Fewer than the kind's writes when a pass reached its time cap.
        writes: { observed: o.writes, timedMin: Math.min(...cr.map((c) => c.writes)), of: corpora[kind].writes },
        costUs: { p50: median(cr.map((c) => c.p50)), p99: median(cr.map((c) => c.p99)), max: Math.max(...cr.map((c) => c.max)), rounds: cr }
      }
    }
  }
  return {
    quick,
    rounds,
    targets,
    maxPassMs,
    loadAvg: [loadAvgAtStart, loadavg()[0] ?? NaN].map((x) => +x.toFixed(2)),
    builds: builds.map((b) => ({ name: b.name, root: b.root, builtAt: b.builtAt, rules: b.rules, window: b.window })),
    corpora: Object.fromEntries(kinds.map((k) => [k, { files: corpora[k].files.length, chars: corpora[k].chars, writes: corpora[k].writes }])),
    figures
  }
}

const mark = (value, limit, digits = 0) => `${fmt(value, digits)} ${value <= limit ? 'ok' : 'MISS'}`
const ratio = (a, b) => (b > 0 ? `${fmt(a / b)}x` : 'n/a')

export function report (r) {
  const names = r.builds.map((b) => b.name)
  const both = names.length === 2
  const lines = []
  const sizes = kinds.map((k) => `${k} ${r.corpora[k].chars.toLocaleString('en-US')} chars / ${r.corpora[k].files} files / ${r.corpora[k].writes.toLocaleString('en-US')} writes`).join('; ')
  lines.push(`\nHoldback and scanner cost (${r.quick ? 'quick' : 'full'}; pieces of 1–8 chars; ${sizes}; load average ${r.loadAvg.join(' → ')})`)
  lines.push(`builds: ${r.builds.map((b) => `${b.name} = ${b.root} (dist built ${b.builtAt}, ${b.rules} rules, W = ${b.window})`).join('; ')}`)

  const held = [['held chars after each write', 'build', `p50 (≤${targets.heldP50})`, `p99 (≤${targets.heldP99})`, `max (≤${targets.heldMax})`, 'delay pieces p50', 'p99', 'max', `added ms p99 @${1000 / TOKEN_MS}/s`, 'released at once', 'cut streams']]
  for (const kind of kinds) {
    for (const name of names) {
      const f = r.figures[kind][name]
      const h = f.held
      const cells = heldTargeted.has(kind)
        ? [mark(h.p50, targets.heldP50), mark(h.p99, targets.heldP99), mark(h.max, targets.heldMax)]
        : [`${h.p50} (n/a)`, `${h.p99} (n/a)`, `${h.max} (n/a)`]
      held.push([kind, name, ...cells, f.delay.p50, f.delay.p99, f.delay.max, fmt(f.delay.p99 * TOKEN_MS, 0), `${fmt(f.delay.releasedAtOnce * 100, 1)}%`, f.cuts.length])
    }
    if (both) {
      const [a, b] = names.map((n) => r.figures[kind][n])
      held.push([kind, 'current/baseline', ratio(b.held.p50, a.held.p50), ratio(b.held.p99, a.held.p99), ratio(b.held.max, a.held.max), '', ratio(b.delay.p99, a.delay.p99), ratio(b.delay.max, a.delay.max), '', '', ''])
    }
  }
  lines.push('', table(held))

  const cost = [['scanner µs per write', 'build', 'p50', `p99 (≤${targets.costP99Us})`, 'max (any round)', 'p99 per round']]
  for (const kind of kinds) {
    for (const name of names) {
      const c = r.figures[kind][name].costUs
      cost.push([kind, name, fmt(c.p50), mark(c.p99, targets.costP99Us, 2), fmt(c.max), c.rounds.map((x) => fmt(x.p99)).join(' / ')])
    }
    if (both) {
      const [a, b] = names.map((n) => r.figures[kind][n].costUs)
      cost.push([kind, 'current/baseline', ratio(b.p50, a.p50), ratio(b.p99, a.p99), '', ''])
    }
  }
  lines.push('', `${table(cost)}\n(medians over ${r.rounds} rounds of each round's p50 / p99${both ? '; the two builds back to back per kind, order alternating by round' : ''})`)

  for (const kind of kinds) {
    for (const name of names) {
      const w = r.figures[kind][name].writes
      if (w.observed < w.of || w.timedMin < w.of) lines.push(`PARTIAL: ${kind} / ${name} reached the ${r.maxPassMs / 1000} s cap of a pass: held (round 1) over ${w.observed.toLocaleString('en-US')} of ${w.of.toLocaleString('en-US')} writes; cost over at least ${w.timedMin.toLocaleString('en-US')} in every round`)
    }
  }
  lines.push('', 'Largest holdback, where (file under node_modules, offset of the write\'s end) and the held text (escaped, head…tail):')
  for (const kind of kinds) {
    for (const name of names) {
      const at = r.figures[kind][name].held.at
      lines.push(`  ${kind} / ${name}: ${at.held} chars at ${at.file} @ ${at.offset}: "${at.excerpt}"`)
    }
  }
  const cur = names.at(-1)
  const W = r.builds.at(-1).window
  lines.push('', `Fixed window, computed (${cur}, W = ${W}): ${['prose', 'code'].map((k) => {
    const f = r.figures[k][cur].fixed
    return `${k}: held p50 ${f.held.p50} / p99 ${f.held.p99}, delay pieces p50 ${f.delay.p50} / p99 ${f.delay.p99}`
  }).join('; ')}`)
  const cutLines = []
  for (const kind of kinds) {
    for (const name of names) {
      const cuts = r.figures[kind][name].cuts
      if (cuts.length > 0) cutLines.push(`  ${kind} / ${name}: ${cuts.slice(0, 5).map((c) => `${c.rule} in ${c.file} @ ${c.offset}`).join(', ')}${cuts.length > 5 ? `, … (${cuts.length})` : ''}`)
    }
  }
  if (cutLines.length > 0) lines.push('', 'Streams ended by a cut rule (the rest of the file went on in a new scanner):', ...cutLines)
  return lines.join('\n')
}

if (isMain(import.meta.url)) {
  if (!existsSync(join(rootDir, 'dist', 'index.js'))) {
    console.error('holdback: dist/ is missing; run `npm run build` first')
    process.exitCode = 1
  } else {
    await runAsScript({ run, report })
  }
}
