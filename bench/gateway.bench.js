// Gateway features benchmark: what compression, HTTP/2 and pseudonyms cost
// a streamed answer, beside the same proxy without them.
//
// Method. The demo upstream (bench/lib/upstream.js) streams a ~1,900-character
// answer as fast as it can, in 1–8 character chunks (~400 SSE events), with
// an e-mail address and an IBAN in it. Five proxies run, each in its own
// process, with the full default rule set:
//   plain       — `sluice proxy` as shipped
//   compress    — `--compress`, the client sends `Accept-Encoding: gzip`
//   compress-br — `--compress`, the client sends `Accept-Encoding: br`
//   h2c         — `--http2`, the client speaks HTTP/2 (node:http2, prior knowledge)
//   pseudonyms  — `--pseudonyms`: the request's e-mail and IBAN become
//                 placeholders, the upstream is asked to answer with them, and
//                 the proxy restores them in the stream
// One client in this process sends requests one after another (no
// concurrency: the figures are latency, not throughput). Rounds alternate the
// contenders. Reported per contender, median over rounds: time to first
// byte, whole request time, time per event (whole time ÷ events), bytes
// received, and each one's ratio to plain.
//
// Run: npm run build && node bench/gateway.bench.js [--quick]
import { Buffer } from 'node:buffer'
import { connect as http2Connect } from 'node:http2'
import { createBrotliDecompress, createGunzip } from 'node:zlib'
import { request } from 'undici'
import { isMain, runAsScript } from './lib/main.js'
import { startContender, startUpstream } from './lib/procs.js'
import { fmt, median, rotate, table } from './lib/stats.js'

/** @typedef {'plain' | 'compress' | 'compress-br' | 'h2c' | 'pseudonyms'} Contender */
/** @type {Contender[]} */
const contenders = ['plain', 'compress', 'compress-br', 'h2c', 'pseudonyms']

const email = 'jane.doe@acme-corp.com'
const iban = 'DE89 3704 0044 0532 0130 00'
const sentence = 'The quarterly report is attached; figures rose in every region and the team will present them on Thursday. '
/** The upstream's answer: placeholders for the pseudonyms proxy (the provider saw only those), values for the others. */
const answerFor = (/** @type {Contender} */ name) => `${sentence.repeat(8)}Write to ${name === 'pseudonyms' ? '<EMAIL_1>' : email} about ${name === 'pseudonyms' ? '<IBAN_1>' : iban}. ${sentence.repeat(8)}`
/** Chunks per second: fast, but paced, so each chunk is its own event (at full speed the proxy merges what one read brings). */
const kRate = '2000'
const body = JSON.stringify({ model: 'sluice-demo-1', stream: true, messages: [{ role: 'user', content: `Draft a reply to ${email} about invoice ${iban}.` }] })

/** @typedef {{ ttfbMs: number, totalMs: number, bytes: number, events: number }} Sample */

/**
 * One streamed request over HTTP/1.1 (undici), decoding a compressed body.
 * @param {string} url
 * @param {Contender} name
 * @returns {Promise<Sample>}
 */
async function http1 (url, name) {
  const started = performance.now()
  const encoding = name === 'compress' ? 'gzip' : name === 'compress-br' ? 'br' : undefined
  const res = await request(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-demo-rate': kRate, 'x-demo-text': Buffer.from(answerFor(name)).toString('base64'), ...(encoding === undefined ? {} : { 'accept-encoding': encoding }) },
    body
  })
  let ttfbMs = 0
  let bytes = 0
  let text = ''
  const decoder = res.headers['content-encoding'] === 'br' ? createBrotliDecompress() : res.headers['content-encoding'] === 'gzip' ? createGunzip() : undefined
  decoder?.on('data', (/** @type {Buffer} */ b) => { text += b.toString('utf8') })
  for await (const chunk of res.body) {
    if (bytes === 0) ttfbMs = performance.now() - started
    bytes += /** @type {Buffer} */ (chunk).length
    if (decoder === undefined) text += /** @type {Buffer} */ (chunk).toString('utf8')
    else decoder.write(chunk)
  }
  if (decoder !== undefined) {
    decoder.end()
    await new Promise((resolve) => decoder.once('end', resolve))
  }
  return { ttfbMs, totalMs: performance.now() - started, bytes, events: text.split('\n\n').length - 1 }
}

/**
 * One streamed request over HTTP/2 with prior knowledge.
 * @param {string} url
 * @returns {Promise<Sample>}
 */
function http2 (url) {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const session = http2Connect(url)
    session.on('error', reject)
    const req = session.request({ ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json', 'x-demo-rate': kRate, 'x-demo-text': Buffer.from(answerFor('h2c')).toString('base64') })
    let ttfbMs = 0
    let bytes = 0
    let text = ''
    req.on('data', (/** @type {Buffer} */ chunk) => {
      if (bytes === 0) ttfbMs = performance.now() - started
      bytes += chunk.length
      text += chunk.toString('utf8')
    })
    req.on('end', () => {
      session.close()
      resolve({ ttfbMs, totalMs: performance.now() - started, bytes, events: text.split('\n\n').length - 1 })
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** @param {import('./lib/main.js').BenchOptions} [options] */
export async function run ({ quick = false, log = () => {} } = {}) {
  const rounds = quick ? 2 : 5
  const perRound = quick ? 10 : 40
  const upstream = await startUpstream(['--rate', '0', '--chunk', '1-8'])
  const key = ['--pseudonym-key', 'bench key of enough length']
  /** @type {Record<Contender, string[]>} */
  const flags = { plain: [], compress: ['--compress'], 'compress-br': ['--compress'], h2c: ['--http2'], pseudonyms: ['--pseudonyms', ...key] }
  /** @type {Partial<Record<Contender, string>>} */
  const urls = {}
  for (const name of contenders) urls[name] = (await startContender('sluice', upstream.url, { label: name, extraArgs: flags[name] })).url
  const ask = (/** @type {Contender} */ name) => name === 'h2c' ? http2(/** @type {string} */ (urls[name])) : http1(/** @type {string} */ (urls[name]), name)
  for (const name of contenders) for (let i = 0; i < 5; i++) await ask(name)
  /** @type {Record<Contender, Sample[][]>} */
  const samples = { plain: [], compress: [], 'compress-br': [], h2c: [], pseudonyms: [] }
  for (let round = 0; round < rounds; round++) {
    for (const name of rotate(contenders, round)) {
      const list = []
      for (let i = 0; i < perRound; i++) list.push(await ask(name))
      samples[name].push(list)
    }
    log(`round ${round + 1}/${rounds} done`)
  }
  /** @param {Contender} name @param {(s: Sample) => number} pick */
  const figure = (name, pick) => median(samples[name].map((list) => median(list.map(pick))))
  /** @typedef {{ ttfbMs: number, totalMs: number, perEventUs: number, bytes: number, events: number }} Figures */
  return /** @type {Record<Contender, Figures>} */ (Object.fromEntries(contenders.map((name) => [name, {
    ttfbMs: figure(name, (s) => s.ttfbMs),
    totalMs: figure(name, (s) => s.totalMs),
    perEventUs: figure(name, (s) => (1000 * s.totalMs) / Math.max(1, s.events)),
    bytes: figure(name, (s) => s.bytes),
    events: figure(name, (s) => s.events)
  }])))
}

/** @param {Awaited<ReturnType<typeof run>>} r */
export function report (r) {
  const plain = r.plain
  return table([
    ['contender', 'ttfb ms', 'request ms', 'µs / event', 'events', 'bytes', 'bytes ÷ plain', 'request ÷ plain'],
    ...contenders.map((name) => {
      const x = r[name]
      return [name, fmt(x.ttfbMs), fmt(x.totalMs), fmt(x.perEventUs, 1), String(x.events), String(Math.round(x.bytes)), fmt(x.bytes / plain.bytes), fmt(x.totalMs / plain.totalMs)]
    })
  ])
}

if (isMain(import.meta.url)) await runAsScript({ run, report })
