import t from 'tap'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, statSync } from 'node:fs'
import { request } from 'undici'
import { parseUpstreamArgs } from '../../src/demo/upstream-main.js'

t.test('parses the command line, with defaults', async (t) => {
  t.same(parseUpstreamArgs([]), { port: 0, host: '127.0.0.1', options: {} })
  t.same(parseUpstreamArgs(['--port', '8080', '--host', '::1', '--rate', '0', '--chunk', '2-5', '--seed', '42']), {
    port: 8080,
    host: '::1',
    options: { chunksPerSecond: 0, chunkSize: [2, 5], seed: 42 }
  })
  t.same(parseUpstreamArgs(['--rate=12.5']).options, { chunksPerSecond: 12.5 })
})

t.test('rejects a bad command line with SLUICE_INVALID_OPTIONS', async (t) => {
  const bad = [
    ['--port', '70000'],
    ['--port', 'x'],
    ['--port', ''],
    ['--rate', '-1'],
    ['--rate', 'fast'],
    ['--chunk', '0-3'],
    ['--chunk', '5-2'],
    ['--chunk', '3'],
    ['--seed', '1.5'],
    ['--nope'],
    ['positional'],
    ['--port']
  ]
  for (const argv of bad) t.throws(() => parseUpstreamArgs(argv), { code: 'SLUICE_INVALID_OPTIONS' }, argv.join(' '))
})

interface Child {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exit: Promise<[number | null, NodeJS.Signals | null]>
}

const distEntry = 'dist/demo/upstream-main.js'
const sources = ['src/demo/upstream-main.ts', 'src/demo/create-demo-upstream.ts', 'src/demo/canned-answers.ts', 'src/errors.ts']

/**
 * The built entry (what the proxy tests and benches run) when it is at least
 * as new as its sources, as after `npm test`'s build; else the sources through
 * tap's own TypeScript loader (process.execArgv), which is slower to start but
 * never stale.
 */
function entryArgs (): string[] {
  const newestSource = Math.max(...sources.map((file) => statSync(file).mtimeMs))
  if (existsSync(distEntry) && statSync(distEntry).mtimeMs >= newestSource) return [distEntry]
  return [...process.execArgv, 'src/demo/upstream-main.ts']
}

t.comment(`running ${entryArgs().slice(-1)[0] ?? ''}`)

type Teardown = Pick<typeof t, 'teardown'>

function run (t: Teardown, args: string[]): Child {
  const child = spawn(process.execPath, [...entryArgs(), ...args], {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d })
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { err += d })
  const exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  return { child, stdout: () => out, stderr: () => err, exit }
}

async function listeningUrl (c: Child): Promise<string> {
  while (!c.stdout().includes('\n')) {
    if (c.child.exitCode !== null) throw new Error(`exited early: ${c.stderr()}`)
    await once(c.child.stdout!, 'data')
  }
  const match = /^listening on (http:\/\/127\.0\.0\.1:\d+)\n$/.exec(c.stdout())
  if (match?.[1] === undefined) throw new Error(`unexpected stdout: ${JSON.stringify(c.stdout())}`)
  return match[1]
}

t.test('prints one listening line, serves, and exits 0 on SIGTERM with a stream open', async (t) => {
  const c = run(t, ['--port', '0', '--rate', '0'])
  const url = await listeningUrl(c)
  t.match(c.stdout(), /^listening on http:\/\/127\.0\.0\.1:\d+\n$/)

  const res = await request(url + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hello' }] })
  })
  t.equal(res.statusCode, 200)
  t.match(await res.body.json(), { object: 'chat.completion', choices: [{ message: { role: 'assistant', content: String } }] })

  // A stalled stream must not keep the process alive after SIGTERM.
  const stalled = await request(url + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-fault': 'stall' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hello' }], stream: true })
  })
  const stats = await request(url + '/_demo/stats')
  t.match(await stats.body.json(), { requests: 2, activeStreams: 1 })

  const reading = stalled.body.text().catch((err: unknown) => err)
  c.child.kill('SIGTERM')
  const [code, signal] = await c.exit
  t.equal(code, 0)
  t.equal(signal, null)
  t.ok(await reading, 'the stalled client saw its stream end')
  t.equal(c.stdout().split('\n').length, 2, 'exactly one line on stdout')
  t.equal(c.stderr(), '')
})

t.test('exits 0 on SIGINT', async (t) => {
  const c = run(t, ['--chunk', '1-2'])
  await listeningUrl(c)
  c.child.kill('SIGINT')
  const [code, signal] = await c.exit
  t.equal(code, 0)
  t.equal(signal, null)
})

t.test('exits 2 with a message on a bad command line', async (t) => {
  const c = run(t, ['--rate', 'fast'])
  const [code] = await c.exit
  t.equal(code, 2)
  t.equal(c.stdout(), '')
  t.match(c.stderr(), /--rate must be a number/)
})
