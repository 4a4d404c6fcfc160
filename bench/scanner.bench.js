// Scanner micro-benchmark (in-process, seeded fixtures).
//
// Method: a seeded generator builds ~200 KB of ordinary prose (English words,
// punctuation, accents, CJK, emoji, code, numbers that are hard negatives)
// with a sensitive value (card, e-mail, key, IBAN…) every ~2 KB. The text is
// cut into token-sized chunks of 1–8 characters (seeded). Contenders, run
// alternately for several rounds, median reported:
//   stream  — Sluice's scanner fed chunk by chunk (minimal holdback)
//   whole   — Sluice's scanner fed the whole text at once
//   naive   — fixed-window re-scan: each chunk re-scans the last W characters
//             (W = longest possible match of the rule set) with a fresh
//             whole-text scan and holds back W characters
// It prints chunks/second, the ratio stream / naive, and the distribution of
// held-back characters after each chunk (p50/p99/max) for stream vs naive.
//
// Run: npm run build && node bench/scanner.bench.js [--quick]
import { loadRuleSet, createScanner, scanText } from '../dist/index.js'
import { median, quantile, rng } from './lib/stats.js'

const quick = process.argv.includes('--quick')

const words = 'the a of to and in is it you that he was for on are with as I his they be at one have this from or had by hot word but what some we can out other were all there when up use your how said an each she which do their time if will way about many then them write would like so these her long make thing see him two has look more day could go come did number sound no most people my over know water than call first who may down side been now find model stream token latency café naïve résumé 東京 数据 🙂 👍 function return const value 2024-05-17 v2.1.1 $19.99 550e8400-e29b-41d4-a716-446655440000 @fastify/rate-limit'.split(' ')
const secrets = ['4111 1111 1111 1111', 'jane.doe@example.org', 'AKIAZ7QWERTYUIOPASDF', 'GB82 WEST 1234 5698 7654 32', '+44 20 7183 8750', 'ghp_' + 'x9Kd2Lm4Np6Qr8St0Uv1Wx3Yz5Ab7Cd9Ef1G', '123-45-6789']

/**
 * @template T
 * @param {readonly T[]} list
 * @param {() => number} r
 * @returns {T}
 */
const pick = (list, r) => /** @type {T} */ (list[Math.floor(r() * list.length)])

/**
 * @param {number} seed
 * @param {number} size
 */
function makeText (seed, size) {
  const r = rng(seed)
  let out = ''
  let sinceSecret = 0
  while (out.length < size) {
    const w = pick(words, r)
    out += w + (r() < 0.08 ? '. ' : r() < 0.05 ? ',\n' : ' ')
    sinceSecret += w.length + 1
    if (sinceSecret > 2000) {
      out += pick(secrets, r) + ' '
      sinceSecret = 0
    }
  }
  return out
}

/**
 * @param {string} text
 * @param {number} seed
 */
function chunk (text, seed) {
  const r = rng(seed)
  /** @type {string[]} */
  const chunks = []
  for (let i = 0; i < text.length;) {
    const n = 1 + Math.floor(r() * 8)
    chunks.push(text.slice(i, i + n))
    i += n
  }
  return chunks
}

const ruleSet = await loadRuleSet(process.env.BENCH_RULES ?? undefined)
// The longest match of the redact and cut rules (a set with none needs no window).
const window = ruleSet.output?.maxLength ?? 0
const text = makeText(42, quick ? 60_000 : 200_000)
const chunks = chunk(text, 7)
const key = 'bench'

/** @param {number[]} [held] */
function runStream (held) {
  const s = createScanner(ruleSet, { hmacKey: key })
  let out = ''
  for (const c of chunks) {
    out += s.write(c).text
    if (held) held.push(s.held)
  }
  return out + s.end().text
}

function runWhole () {
  return scanText(ruleSet, text, { hmacKey: key }).text
}

// Fixed-window re-scan: the approach minimal holdback replaces. It is so
// slow (each chunk re-scans up to W characters) that it runs on the first
// `naiveChunks` chunks only; its rate is per chunk, so still comparable.
const naiveChunks = Math.min(chunks.length, quick ? 1500 : 4000)
/** @param {number[]} [held] */
function runNaive (held) {
  let pending = ''
  let out = ''
  for (const c of chunks.slice(0, naiveChunks)) {
    pending += c
    if (pending.length > window) {
      // Re-scan the whole pending window each time and release all but W characters.
      const r = scanText(ruleSet, pending, { hmacKey: key })
      const release = pending.length - window
      out += r.text.slice(0, Math.max(0, r.text.length - window))
      pending = pending.slice(release)
    }
    if (held) held.push(pending.length)
  }
  return out + scanText(ruleSet, pending, { hmacKey: key }).text
}

/** @type {number[]} */
const streamHeld = []
/** @type {number[]} */
const naiveHeld = []
runStream(streamHeld)
runNaive(naiveHeld)
const agree = runStream() === runWhole()
if (!agree) process.exitCode = 1

const rounds = quick ? 3 : 7
/** @type {{ stream: number[], whole: number[], naive: number[] }} */
const times = { stream: [], whole: [], naive: [] }
/** @type {Array<[keyof typeof times, () => string]>} */
const contenders = [['stream', runStream], ['whole', runWhole], ['naive', runNaive]]
for (let i = 0; i < rounds; i++) {
  for (const [name, fn] of contenders) {
    const t0 = process.hrtime.bigint()
    fn()
    times[name].push(Number(process.hrtime.bigint() - t0) / 1e9)
  }
}

/** @param {keyof typeof times} name */
const cps = (name) => (name === 'naive' ? naiveChunks : chunks.length) / median(times[name])
const sortedStream = [...streamHeld].sort((a, b) => a - b)
const sortedNaive = [...naiveHeld].sort((a, b) => a - b)
console.log(`scanner bench: ${text.length} chars, ${chunks.length} chunks of 1-8 chars, ${ruleSet.rules.filter((r) => r.enabled).length} rules, ${rounds} rounds (median)`)
console.log(`streamed output equals whole-text output: ${agree}`)
console.log('contender   chunks/s     MB/s')
for (const name of /** @type {const} */ (['stream', 'whole', 'naive'])) {
  const chars = name === 'naive' ? chunks.slice(0, naiveChunks).join('').length : text.length
  console.log(`${name.padEnd(10)} ${Math.round(cps(name)).toString().padStart(9)} ${(chars / median(times[name]) / 1e6).toFixed(2).padStart(8)}`)
}
console.log(`ratio stream / naive (chunks/s): ${(cps('stream') / cps('naive')).toFixed(2)}x`)
console.log('held back after each chunk  p50 / p99 / max')
console.log(`  minimal holdback:         ${quantile(sortedStream, 0.5)} / ${quantile(sortedStream, 0.99)} / ${sortedStream.at(-1)}`)
console.log(`  fixed window (W=${window}):  ${quantile(sortedNaive, 0.5)} / ${quantile(sortedNaive, 0.99)} / ${sortedNaive.at(-1)}`)
