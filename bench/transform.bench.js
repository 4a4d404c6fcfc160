// Sanitizing Transform micro-benchmark (in-process, seeded fixtures).
//
// Method: a seeded generator builds an OpenAI Chat Completions SSE stream of
// N chunks (token-sized deltas of 1–3 words of ordinary prose with accents,
// CJK and emoji, and a card, e-mail, key or phone number every ~2 KB of
// text), ending with a finish chunk, a usage chunk and `data: [DONE]`. The
// bytes are cut into seeded network reads of 200–4000 bytes. Contenders,
// each a Node Transform fed the same reads and drained at once, run
// alternately for several rounds; the median time is reported:
//   sanitize — createSanitizeStream with the shipped rules (rules/)
//   relay    — the floor: UTF-8 decode, eventsource-parser, JSON.parse and
//              JSON.stringify of every frame, re-serialized as SSE, no rules
// It prints upstream frames/second for each and the ratio sanitize / relay
// (the share of the relay's throughput Sluice keeps), plus what the
// sanitized stream held back at most.
//
// Run: npm run build && node bench/transform.bench.js [--quick] [--padded]
import { Transform } from 'node:stream'
import { createParser } from 'eventsource-parser'
import { createSanitizeStream } from '../dist/stream/create-sanitize-stream.js'
import { defaultRulesDir, loadRuleSet } from '../dist/rules/load-rules.js'
import { median, rng } from './lib/stats.js'

const quick = process.argv.includes('--quick')
// --padded: every chunk carries OpenAI's per-chunk `obfuscation` padding (a string of 0–15
// characters, a new length each chunk, the chunk's last key), as real OpenAI streams do.
const padded = process.argv.includes('--padded')
const frames = quick ? 4000 : 20000
const rounds = quick ? 3 : 7

const words = 'the a of to and in is it you that he was for on are with as his they be at one have this from or had by hot word but what some we can out other were all there when up use your how said each she which do their time if will way about many then them write would like so these her long make thing see him two has look more day could go come did number sound no most people my over know water than call first who may down side been now find model stream token latency café naïve résumé 東京 数据 🙂 👍 2024-05-17 v2.1.1 $19.99'.split(' ')
const secrets = ['4111 1111 1111 1111', 'jane.doe@acme.io', 'AKIAZ7QWERTYUIOPASDF', '+44 20 7183 8750', '(415) 555-2671']

function makeStream (seed, n) {
  const r = rng(seed)
  const base = { id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1754000000, model: 'gpt-4o-mini', system_fingerprint: 'fp_bench' }
  let pads = 0
  const chunk = (choice) => `data: ${JSON.stringify({ ...base, choices: [choice], ...(padded ? { obfuscation: 'x'.repeat(pads++ % 16) } : {}) })}\n\n`
  let out = chunk({ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null })
  let since = 0
  for (let i = 0; i < n; i++) {
    let content = ''
    const count = 1 + Math.floor(r() * 3)
    for (let k = 0; k < count; k++) content += ' ' + words[Math.floor(r() * words.length)]
    if (r() < 0.06) content += '.'
    since += content.length
    if (since > 2000) {
      content += ' ' + secrets[Math.floor(r() * secrets.length)]
      since = 0
    }
    out += chunk({ index: 0, delta: { content }, logprobs: null, finish_reason: null })
  }
  out += chunk({ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' })
  out += `data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 10, completion_tokens: n, total_tokens: n + 10 } })}\n\n`
  return Buffer.from(out + 'data: [DONE]\n\n')
}

function reads (buf, seed) {
  const r = rng(seed)
  const out = []
  for (let i = 0; i < buf.length;) {
    const n = 200 + Math.floor(r() * 3800)
    out.push(buf.subarray(i, i + n))
    i += n
  }
  return out
}

function createRelay () {
  const decoder = new TextDecoder()
  let out = []
  const parser = createParser({
    onEvent (e) {
      const data = e.data === '[DONE]' ? e.data : JSON.stringify(JSON.parse(e.data))
      out.push((e.event === undefined ? '' : `event: ${e.event}\n`) + `data: ${data}\n\n`)
    }
  })
  return new Transform({
    transform (chunk, _enc, cb) {
      parser.feed(decoder.decode(chunk, { stream: true }))
      const text = out.join('')
      out = []
      cb(null, text === '' ? undefined : text)
    }
  })
}

async function run (make, chunks) {
  const stream = make()
  let bytes = 0
  stream.on('data', (c) => { bytes += c.length })
  const done = new Promise((resolve, reject) => { stream.once('end', resolve); stream.once('error', reject) })
  const t0 = performance.now()
  for (const c of chunks) stream.write(c)
  stream.end()
  await done
  return { ms: performance.now() - t0, bytes, stream }
}

const ruleSet = await loadRuleSet(defaultRulesDir())
const input = makeStream(42, frames)
const chunks = reads(input, 7)
const contenders = {
  sanitize: () => createSanitizeStream({ ruleSet, contentType: 'text/event-stream', scannerOptions: { hmacKey: 'bench' } }),
  relay: createRelay
}
const times = { sanitize: [], relay: [] }
let last
// Warm-up: JIT and RE2 caches.
await run(contenders.sanitize, chunks)
await run(contenders.relay, chunks)
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? ['sanitize', 'relay'] : ['relay', 'sanitize']
  for (const name of order) {
    const r = await run(contenders[name], chunks)
    times[name].push(r.ms)
    if (name === 'sanitize') last = r.stream
  }
}
const upstreamFrames = frames + 4
const rate = (ms) => upstreamFrames / (ms / 1000)
console.log(`input: ${upstreamFrames} frames, ${(input.length / 1024).toFixed(0)} KiB, ${chunks.length} reads; ${rounds} rounds, medians`)
for (const name of ['sanitize', 'relay']) {
  console.log(`${name.padEnd(9)} ${median(times[name]).toFixed(1).padStart(8)} ms  ${Math.round(rate(median(times[name]))).toLocaleString('en-US').padStart(10)} frames/s`)
}
console.log(`ratio sanitize / relay: ${(median(times.relay) / median(times.sanitize)).toFixed(2)} of the relay's frames/s`)
const stats = last.stats
console.log(`sanitized: findings ${JSON.stringify(stats.findings)}, max held ${stats.maxHeld} chars, frames out ${stats.framesOut}`)
