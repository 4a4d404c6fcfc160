/**
 * @module test/readme
 * Every example in README.md, run as a reader would run it: the shell
 * sessions (`$ command` and its output) in a scratch directory holding the
 * README's rule file, the demo with its curl line, the proxy command in front
 * of a recording upstream, the plugin and scanner examples as files that
 * import `sluice` (resolved through the package's own `exports`). The only
 * blocks not run are listed in `kNotRun`, with the reason, and a test checks
 * that nothing else escapes.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import type { Test } from 'tap'
import { createDemoUpstream } from '../src/demo/create-demo-upstream.js'
import { freePort, projectRoot } from './proxy/fixtures/harness.js'
import { runChild } from './helpers/run-child.js'

interface Block { info: string, text: string }

/** Fenced code blocks of a Markdown text, with their info string. */
function codeBlocks (markdown: string): Block[] {
  const blocks: Block[] = []
  const re = /^```([^\n]*)\n([\s\S]*?)^```$/gm
  for (const m of markdown.matchAll(re)) blocks.push({ info: (m[1] ?? '').trim(), text: m[2] ?? '' })
  return blocks
}

const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8')
const blocks = codeBlocks(readme)
const tsLoader = join(projectRoot, 'node_modules', '@tapjs', 'typescript', 'dist', 'esm', 'import.mjs')
const bin = join(projectRoot, 'bin', 'sluice.js')
const { NODE_OPTIONS: _nodeOptions, SLUICE_HMAC_KEY: _hmac, ...baseEnv } = process.env

/** Blocks a test cannot run, by their first line: what they do and why not here. */
const kNotRun: Record<string, string> = {
  'npm test': 'runs this very suite',
  'npm install sluice': 'needs the npm registry (the packed tarball is installed by test/package)'
}

/** The README's commands with `npx sluice` as this checkout's bin (npx would look for an installed package). */
function local (command: string): string {
  return command.replace(/\bnpx sluice\b/g, `node ${bin}`)
}

/** A scratch directory inside the project, so that `import … from 'sluice'` resolves through the package's own exports. */
function scratch (t: Test): string {
  const dir = join(projectRoot, 'tmp', `readme-${process.pid}-${Math.random().toString(36).slice(2)}`)
  mkdirSync(dir, { recursive: true })
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Spawns a long-running command and resolves once its output matches `ready`. */
function startLongRunning (t: Test, args: string[], ready: RegExp, env: NodeJS.ProcessEnv, cwd = projectRoot): Promise<string> {
  const child = spawn(args[0] as string, args.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  t.teardown(() => {
    // npm starts node under a shell: stop the whole group.
    try { process.kill(-(child.pid as number), 'SIGKILL') } catch {}
  })
  let out = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready within 30 s: ${out}`)), 30_000)
    const onData = (d: Buffer): void => {
      out += d.toString()
      if (ready.test(out)) {
        clearTimeout(timer)
        resolve(out)
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}: ${out}`)) })
  })
}

const shBlocks = blocks.filter((b) => b.info === 'sh')
const sessions = shBlocks.filter((b) => b.text.startsWith('$ '))

t.test('every shell block of the README is run here, but those listed with a reason', async (t) => {
  const covered = new Set([
    ...sessions.map((b) => b.text),
    ...shBlocks.filter((b) => /npm start|npx sluice proxy|^curl /m.test(b.text)).map((b) => b.text)
  ])
  const left = shBlocks.filter((b) => !covered.has(b.text)).map((b) => b.text.trim())
  t.same(left.sort(), Object.keys(kNotRun).sort())
  t.same(blocks.filter((b) => b.info === 'ts').length, 2, 'two TypeScript examples: the plugin and the scanner')
})

t.test('the shell sessions print what the README says', async (t) => {
  const dir = scratch(t)
  // Rule files the README shows (a block whose first line names the file).
  for (const b of blocks.filter((b) => b.info === 'yaml')) {
    const name = /^# ([\w.-]+\.ya?ml)/.exec(b.text)?.[1]
    if (name !== undefined) writeFileSync(join(dir, name), b.text)
  }
  t.ok(sessions.length >= 1)
  for (const session of sessions) {
    const steps = session.text.split(/^\$ /m).filter((s) => s !== '')
    for (const step of steps) {
      const [command = '', ...output] = step.replace(/\n$/, '').split('\n')
      const run = await runChild(t, ['-e', `require('node:child_process').execSync(${JSON.stringify(local(command))}, { stdio: 'inherit', shell: '/bin/bash' })`], { cwd: dir, env: baseEnv })
      t.equal(run.code, 0, `${command}: exit 0 (${run.stderr})`)
      t.equal(run.stdout.trimEnd(), output.join('\n').trimEnd(), command)
    }
  }
})

t.test('npm start serves the demo, and the README curl line gets the e-mail redacted', async (t) => {
  const port = await freePort()
  await startLongRunning(t, ['npm', 'start', '--', '--port', String(port)], /Ctrl-C to stop/, baseEnv)
  const curl = shBlocks.find((b) => /^curl /m.test(b.text))
  t.ok(curl !== undefined, 'a curl line')
  const command = (curl?.text ?? '').replace(/127\.0\.0\.1:8080/g, `127.0.0.1:${port}`)
  const run = await runChild(t, ['-e', `require('node:child_process').execSync(${JSON.stringify(command)}, { stdio: 'inherit', shell: '/bin/bash' })`], { env: baseEnv })
  t.equal(run.code, 0)
  let text = ''
  for (const m of run.stdout.matchAll(/^data: (\{.*\})$/gm)) {
    const chunk = JSON.parse(m[1] ?? '{}') as { choices?: Array<{ delta?: { content?: string } }> }
    text += chunk.choices?.[0]?.delta?.content ?? ''
  }
  t.match(text, /^Sure! The account manager for your region is Maria Keller\. You can reach her at \[email:[0-9a-f]{6}\] or through the support portal/)
  t.notMatch(run.stdout, /@/)
  t.match(run.stdout, /data: \[DONE\]/)
})

t.test('the proxy command serves an OpenAI client with the operator key', async (t) => {
  const seen: Array<{ authorization: string | undefined }> = []
  const upstream = createServer((req, res) => {
    seen.push({ authorization: req.headers.authorization })
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
        id: 'c',
        object: 'chat.completion',
        created: 1,
        model: 'm',
        choices: [{ index: 0, message: { role: 'assistant', content: 'Write to jane.doe@acme.io' }, finish_reason: 'stop' }]
      }))
    })
  })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { upstream.close() })
  const proxyBlock = shBlocks.find((b) => /npx sluice proxy/.test(b.text))
  t.ok(proxyBlock !== undefined, 'a proxy command')
  const port = await freePort()
  const command = local((proxyBlock?.text ?? '').replace(/\\\n\s*/g, ' ').trim())
    .replace('https://api.openai.com', `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`)
    .replace('--port 8080', `--port ${port}`)
  await startLongRunning(t, ['bash', '-c', command], /sluice proxy listening/, { ...baseEnv, OPENAI_API_KEY: 'sk-operator-test' })
  const { default: OpenAI } = await import('openai')
  const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'unused', maxRetries: 0 })
  const answer = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
  t.match(answer.choices[0]?.message.content, /^Write to \[email:[0-9a-f]{6}\]$/)
  t.equal(seen[0]?.authorization, 'Bearer sk-operator-test')
})

t.test('the plugin example serves a redacted stream', async (t) => {
  const plugin = blocks.find((b) => b.info === 'ts' && b.text.includes("from 'fastify'"))
  t.ok(plugin !== undefined)
  const demo = createDemoUpstream({ chunksPerSecond: 0 })
  const upstreamUrl = await demo.listen(0)
  t.teardown(() => demo.close())
  const port = await freePort()
  const dir = scratch(t)
  const file = join(dir, 'plugin-example.ts')
  writeFileSync(file, (plugin?.text ?? '')
    .replace('https://api.openai.com', upstreamUrl)
    .replace('port: 3000', `port: ${port}, host: '127.0.0.1'`)
    .replace("'./audit.jsonl'", JSON.stringify(join(dir, 'audit.jsonl'))))
  await startLongRunning(t, [process.execPath, `--import=${tsLoader}`, file], /Server listening/, { ...baseEnv, OPENAI_API_KEY: 'x' }, dir)
  const res = await fetch(`http://127.0.0.1:${port}/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'How do I contact my account manager by e-mail?' })
  })
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /text\/event-stream/)
  const body = await res.text()
  t.match(body, /\[email:[0-9a-f]{6}\]/)
  t.notMatch(body, /@/)
})

t.test('the scanner example prints the output the README shows', async (t) => {
  const index = blocks.findIndex((b) => b.info === 'ts' && b.text.includes("from 'sluice/scanner'"))
  t.ok(index >= 0)
  const expected = blocks[index + 1]
  t.equal(expected?.info, 'text', 'its output follows it')
  const dir = scratch(t)
  const file = join(dir, 'scanner-example.mjs')
  writeFileSync(file, blocks[index]?.text ?? '')
  const run = await runChild(t, [file], { cwd: dir, env: baseEnv })
  t.equal(run.code, 0, run.stderr)
  t.equal(run.stdout, expected?.text)
})
