/**
 * A manual check in a real browser (not part of `npm test`: it needs a
 * Chromium, which the test machines do not install). It compiles
 * `src/client` as it ships (plain ES modules, no bundler), serves the HTML
 * page of docs/client.md in front of the demo upstream and the proxy, and
 * drives it in headless Chromium with playwright-core: decoding in a Web
 * Worker (`worker: true`), the redaction styled, a cut, Stop.
 *
 *   CHROMIUM=/usr/bin/chromium npx tap test/client/browser-check.ts
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { chromium } from 'playwright-core'
import { projectRoot, startDemo, startProxy, waitFor } from '../proxy/fixtures/harness.js'

const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium'

/**
 * The client compiled to plain ES modules, against the browser's types
 * alone (DOM, no Node types): what it uses exists in a browser.
 */
function buildClient (): string {
  mkdirSync(join(projectRoot, 'tmp'), { recursive: true })
  const out = mkdtempSync(join(projectRoot, 'tmp', 'sluice-client-'))
  const config = join(out, 'tsconfig.json')
  writeFileSync(config, JSON.stringify({
    extends: join(projectRoot, 'tsconfig.json'),
    compilerOptions: { rootDir: join(projectRoot, 'src', 'client'), outDir: join(out, 'sluice-client'), declaration: false, sourceMap: false, lib: ['ES2023', 'DOM'], types: [] },
    include: [join(projectRoot, 'src', 'client')]
  }))
  const run = spawnSync(join(projectRoot, 'node_modules', '.bin', 'tsc'), ['-p', config], { encoding: 'utf8' })
  if (run.status !== 0) throw new Error(run.stdout + run.stderr)
  return out
}

t.test('the docs page streams, styles the redaction, shows a cut and stops, decoding in a Worker', async (t) => {
  const built = buildClient()
  const page = /```html\n([\s\S]*?)```/.exec(readFileSync(join(projectRoot, 'docs', 'client.md'), 'utf8'))?.[1] ?? ''
  let crossOriginPage = ''
  const { url: upstream, demo } = await startDemo(t, { chunksPerSecond: 60 })
  const { url: proxy } = await startProxy(t, upstream, ['--rules', join(projectRoot, 'rules')])
  // One origin for the page, the client's modules and Sluice's routes.
  const site = createServer((req, res) => {
    const path = req.url ?? '/'
    if (path.startsWith('/v1/')) {
      const target = new URL(path, proxy)
      const forward = request(target, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      })
      req.pipe(forward)
      res.on('close', () => forward.destroy())
      return
    }
    if (path === '/' || path === '/cross-origin') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(path === '/' ? page : crossOriginPage)
      return
    }
    try {
      const file = readFileSync(join(built, path.replace(/\.\./g, '')))
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(file)
    } catch {
      res.writeHead(404).end()
    }
  })
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    site.closeAllConnections()
    site.close(() => resolve())
  }))
  const origin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`

  const browser = await chromium.launch({ executablePath, headless: true })
  t.teardown(() => browser.close())
  const tab = await browser.newPage()
  const workers: string[] = []
  tab.on('worker', (worker) => workers.push(worker.url()))
  const problems: string[] = []
  tab.on('pageerror', (err) => problems.push(err.message))
  await tab.goto(origin + '/')

  await tab.click('button:text("Ask")')
  await tab.waitForFunction("document.getElementById('status')?.textContent === 'Done.'", undefined, { timeout: 20_000 })
  const marks = await tab.$$eval('mark.redaction', (nodes) => nodes.map((n) => ({ text: n.textContent, title: n.getAttribute('title') })))
  t.match(marks, [{ text: /^\[email:[0-9a-f]{6}\]$/, title: 'redacted: pii.email' }], 'the marker is styled')
  t.match(await tab.textContent('#answer'), /^Sure! The account manager for your region is Maria Keller\. You can reach her at \[email:[0-9a-f]{6}\] or through/)
  t.ok(workers.some((u) => u.endsWith('/sluice-client/decode-worker.js')), `decoded in a worker: ${workers.join(', ')}`)
  await tab.screenshot({ path: join(built, 'redaction.png') })

  await tab.fill('#prompt', 'Why are you so rude?')
  await tab.click('button:text("Ask")')
  await tab.waitForFunction("document.getElementById('status')?.className === 'cut'", undefined, { timeout: 20_000 })
  t.match(await tab.textContent('#answer'), /^I have looked at your question again\.\n/)
  t.notMatch(await tab.textContent('#answer'), /idiot/)
  t.match(await tab.getAttribute('#status', 'title'), /^Sluice request [0-9a-f-]{36}$/)
  await tab.screenshot({ path: join(built, 'cut.png') })

  demo.resetStats()
  await tab.fill('#prompt', 'Tell me about streaming, the clean way')
  await tab.click('button:text("Ask")')
  await tab.waitForFunction("(document.getElementById('answer')?.textContent ?? '').length > 20", undefined, { timeout: 20_000 })
  await tab.click('#stop')
  await tab.waitForFunction("document.getElementById('status')?.textContent === 'Stopped.'", undefined, { timeout: 20_000 })
  t.ok(await waitFor(() => demo.stats.abortedStreams === 1), 'Stop reached the demo upstream')
  t.same(problems, [], 'no page error')
  t.comment(`screenshots in ${built}`)

  // The client's modules on another origin (a CDN, with CORS): a browser
  // refuses a Worker script from there, so the client starts a Blob module
  // that imports it.
  const cdn = createServer((req, res) => {
    try {
      const file = readFileSync(join(built, (req.url ?? '/').replace(/\.\./g, '')))
      res.writeHead(200, { 'content-type': 'text/javascript', 'access-control-allow-origin': '*' }).end(file)
    } catch {
      res.writeHead(404).end()
    }
  })
  await new Promise<void>((resolve) => cdn.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    cdn.closeAllConnections()
    cdn.close(() => resolve())
  }))
  const cdnOrigin = `http://localhost:${(cdn.address() as AddressInfo).port}`
  crossOriginPage = page.replace("from './sluice-client/index.js'", `from '${cdnOrigin}/sluice-client/index.js'`)
  workers.length = 0
  await tab.goto(origin + '/cross-origin')
  await tab.click('button:text("Ask")')
  await tab.waitForFunction("document.getElementById('status')?.textContent === 'Done.'", undefined, { timeout: 20_000 })
  t.equal(await tab.$$eval('mark.redaction', (nodes) => nodes.length), 1, 'cross-origin: the marker is styled')
  t.ok(workers.some((u) => u.startsWith('blob:')), `cross-origin: decoded in a Blob worker: ${workers.join(', ')}`)
  t.same(problems, [], 'no page error')
})
