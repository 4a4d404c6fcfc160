// Holdback in the wild (in-process): how much text Sluice's scanner holds
// back, and for how long, on real prose, next to the fixed-window approach.
//
// Method. The corpus is the README.md files of the packages under
// node_modules (top level and @scope/name, sorted by path, up to a character
// budget): real English technical prose with code, URLs, e-mail addresses,
// version numbers and hashes. Each file is one stream, cut into seeded tokens
// of 1–8 characters and fed to createScanner with the default rules, one
// write per token. After each write the scanner reports `held`; the input
// released so far is charsIn − held. A token's delay is the number of later
// tokens that had to arrive before its last character was released (0 = it
// left with its own write); at the 50 tokens/s of the paced end-to-end bench
// one token is 20 ms of added latency. The fixed window holds the rule set's
// longest possible match (W = ruleSet.output.maxLength characters) and
// releases only what lies more than W characters back: same measures,
// computed, not run. Also reported: the scanner's own time per write
// (p50/p99, µs, process.hrtime), the CPU part of the added latency.
//
// Run: npm run build && node bench/holdback.bench.js [--quick]
import { readdirSync, readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { createScanner, loadRuleSet } from '../dist/index.js'
import { isMain, runAsScript } from './lib/main.js'
import { rootDir } from './lib/procs.js'
import { fmt, rng, summarize, table } from './lib/stats.js'

const TOKEN_MS = 20

function readmes (budget) {
  const base = join(rootDir, 'node_modules')
  const dirs = []
  for (const name of readdirSync(base).sort()) {
    if (name.startsWith('.')) continue
    if (name.startsWith('@')) for (const sub of readdirSync(join(base, name)).sort()) dirs.push(join(base, name, sub))
    else dirs.push(join(base, name))
  }
  const texts = []
  let total = 0
  for (const dir of dirs) {
    const file = ['README.md', 'readme.md', 'Readme.md'].map((f) => join(dir, f)).find((f) => existsSync(f))
    if (file === undefined) continue
    const text = readFileSync(file, 'utf8')
    texts.push(text)
    total += text.length
    if (total >= budget) break
  }
  return { texts, total }
}

function tokens (text, random) {
  const out = []
  for (let i = 0; i < text.length;) {
    const n = 1 + Math.floor(random() * 8)
    out.push(text.slice(i, i + n))
    i += n
  }
  return out
}

/** Delay in tokens of each token's last character, given the released input length after each write. */
function delays (ends, releasedAfter) {
  const out = []
  let j = 0
  for (let k = 0; k < ends.length; k++) {
    if (j < k) j = k
    while (j < ends.length && releasedAfter[j] < ends[k]) j++
    out.push(j - k) // j === ends.length: released by end(), after the last token
  }
  return out
}

export async function run ({ quick = false, log = () => {} } = {}) {
  const ruleSet = await loadRuleSet()
  const W = ruleSet.output.maxLength
  const { texts, total } = readmes(quick ? 300_000 : 2_000_000)
  const random = rng(42)
  const held = { sluice: [], fixed: [] }
  const delay = { sluice: [], fixed: [] }
  const writeUs = []
  let chunks = 0
  for (const text of texts) {
    const toks = tokens(text, random)
    const scanner = createScanner(ruleSet, { hmacKey: 'bench' })
    const ends = []
    const relSluice = []
    const relFixed = []
    let end = 0
    for (const tok of toks) {
      const t0 = process.hrtime.bigint()
      scanner.write(tok)
      writeUs.push(Number(process.hrtime.bigint() - t0) / 1000)
      if (scanner.cut !== undefined) break // a cut rule ended this stream: nothing more is released
      end += tok.length
      ends.push(end)
      relSluice.push(end - scanner.held)
      relFixed.push(Math.max(0, end - W))
      held.sluice.push(scanner.held)
      held.fixed.push(Math.min(end, W))
    }
    scanner.end()
    chunks += ends.length
    delay.sluice.push(...delays(ends, relSluice))
    delay.fixed.push(...delays(ends, relFixed))
  }
  log(`holdback: ${texts.length} README files, ${total} chars, ${chunks} tokens, ${ruleSet.rules.filter((r) => r.enabled).length} rules, W = ${W}`)
  return {
    quick,
    files: texts.length,
    chars: total,
    tokens: chunks,
    window: W,
    held: { sluice: summarize(held.sluice), fixed: summarize(held.fixed) },
    delay: { sluice: summarize(delay.sluice), fixed: summarize(delay.fixed) },
    releasedWithOwnToken: { sluice: delay.sluice.filter((d) => d === 0).length / delay.sluice.length, fixed: delay.fixed.filter((d) => d === 0).length / delay.fixed.length },
    writeUs: summarize(writeUs)
  }
}

export function report (r) {
  const rows = [['approach', 'held chars p50', 'p99', 'max', 'delay tokens p50', 'p99', 'max', `added ms p50 @${1000 / TOKEN_MS}/s`, 'p99', 'tokens released at once']]
  for (const [name, label] of [['sluice', 'minimal holdback'], ['fixed', `fixed window W=${r.window}`]]) {
    const h = r.held[name]
    const d = r.delay[name]
    rows.push([label, h.p50, h.p99, h.max, d.p50, d.p99, d.max, fmt(d.p50 * TOKEN_MS, 0), fmt(d.p99 * TOKEN_MS, 0), `${fmt(r.releasedWithOwnToken[name] * 100, 1)}%`])
  }
  return `\nHoldback in the wild (${r.files} node_modules READMEs, ${r.chars.toLocaleString('en-US')} chars, ${r.tokens.toLocaleString('en-US')} tokens of 1–8 chars)\n\n${table(rows)}\n\nscanner time per write: p50 ${fmt(r.writeUs.p50)} µs, p99 ${fmt(r.writeUs.p99)} µs, max ${fmt(r.writeUs.max)} µs`
}

if (isMain(import.meta.url)) await runAsScript({ run, report })
