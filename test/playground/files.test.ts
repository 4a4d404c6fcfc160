/**
 * @module test/playground/files
 * What the playground may touch, and how it writes: saving keeps a backup
 * and replaces the file by rename, which a proxy's rule reloader watching
 * the file (or its directory) picks up; a buffer that does not load and a
 * file changed on disk are not saved; only the rule paths and the sample
 * folder are reachable; and the API answers only whom it should.
 */
import t from 'tap'
import type { Test } from 'tap'
import { existsSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createRuleReloader } from '../../src/proxy/rule-reloader.js'
import { hashText } from '../../src/playground/rule-workspace.js'
import { loadRuleSet } from '../../src/scanner/index.js'
import type { RuleSet } from '../../src/scanner/index.js'
import { json, ruleFile, ruleFileWithPhone, startPlayground } from './fixtures.js'

/** A reloader as the proxy runs it, whose next reload can be awaited. */
async function watch (t: Test, paths: string[]): Promise<{ current: () => RuleSet, nextReload: () => Promise<RuleSet> }> {
  const waiting: Array<(rs: RuleSet) => void> = []
  const quiet = (): void => {}
  const reloader = createRuleReloader({
    paths,
    initial: await loadRuleSet(paths),
    logger: { info: quiet, warn: quiet, error: quiet },
    debounceMs: 20,
    sighup: false,
    onReload: (rs) => { waiting.shift()?.(rs) }
  })
  t.teardown(() => reloader.close())
  return { current: reloader.current, nextReload: () => new Promise((resolve) => { waiting.push(resolve) }) }
}

const ids = (rs: RuleSet): string[] => rs.rules.map((r) => r.id)

t.test('saving keeps a backup and replaces the file, and a reloader watching the file swaps in the new rules', async (t) => {
  const { app, file, dir } = await startPlayground(t)
  const proxy = await watch(t, [file])
  t.same(ids(proxy.current()), ['demo.email', 'demo.stop', 'demo.ignore'])

  const reloaded = proxy.nextReload()
  const res = await app.inject({ method: 'PUT', url: '/api/file', headers: json, payload: { path: file, text: ruleFileWithPhone, baseHash: hashText(ruleFile) } })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.match(body, { saved: true, path: file, backup: `${file}.bak`, hash: hashText(ruleFileWithPhone), check: { ok: true, totals: { fileRules: 4 } } })
  t.equal(readFileSync(file, 'utf8'), ruleFileWithPhone)
  t.equal(readFileSync(`${file}.bak`, 'utf8'), ruleFile, 'the previous version is kept')
  t.same(ids(await reloaded), ['demo.email', 'demo.stop', 'demo.ignore', 'demo.phone'], 'the watching reloader loaded the saved file')
  t.same(readdirSync(dir).filter((n) => n.endsWith('.tmp')), [], 'no temporary file is left behind')

  // The page's own view follows the save.
  const state = (await app.inject('/api/state')).json()
  t.equal(state.disk.rulesId, body.check.rulesId)
})

t.test('a reloader watching the rule directory picks up a save too', async (t) => {
  const { app, file, dir } = await startPlayground(t)
  const proxy = await watch(t, [dir])
  const reloaded = proxy.nextReload()
  const res = await app.inject({ method: 'PUT', url: '/api/file', headers: json, payload: { path: file, text: ruleFileWithPhone } })
  t.equal(res.statusCode, 200)
  t.ok(ids(await reloaded).includes('demo.phone'))
  t.same(ids(proxy.current()), ['demo.email', 'demo.stop', 'demo.ignore', 'demo.phone'], 'the backup and the temporary file are not rule files')
})

t.test('a buffer that does not load is not saved: the file, and a watching proxy, keep the last good rules', async (t) => {
  const { app, file } = await startPlayground(t)
  const broken = ruleFile.replace('action: cut', 'action: cutt')
  const res = await app.inject({ method: 'PUT', url: '/api/file', headers: json, payload: { path: file, text: broken } })
  t.equal(res.statusCode, 422)
  t.match(res.json(), { saved: false, message: /^not saved: /, problems: [{ file, line: 18, column: 13, message: /action must be one of/ }] })
  t.equal(readFileSync(file, 'utf8'), ruleFile)
  t.notOk(existsSync(`${file}.bak`))
})

t.test('a file changed on disk since it was read is not overwritten unless asked again without its hash', async (t) => {
  const { app, file } = await startPlayground(t)
  const opened = (await app.inject(`/api/file?path=${encodeURIComponent(file)}`)).json()
  t.equal(opened.hash, hashText(ruleFile))
  t.equal(opened.text, ruleFile)
  writeFileSync(file, ruleFileWithPhone)
  const stale = await app.inject({ method: 'PUT', url: '/api/file', headers: json, payload: { path: file, text: ruleFile, baseHash: opened.hash } })
  t.equal(stale.statusCode, 409)
  t.match(stale.json(), { saved: false, conflict: true, message: /changed on disk/ })
  t.equal(readFileSync(file, 'utf8'), ruleFileWithPhone, 'the other change is kept')
  const forced = await app.inject({ method: 'PUT', url: '/api/file', headers: json, payload: { path: file, text: ruleFile } })
  t.equal(forced.statusCode, 200)
  t.equal(readFileSync(`${file}.bak`, 'utf8'), ruleFileWithPhone)
})

t.test('only the given rule files and the sample folder can be reached', async (t) => {
  const { app, file, dir, sampleDir } = await startPlayground(t, { defaultRules: true }, { 'other.yaml': ruleFile, 'secret.txt': 'top secret' })
  symlinkSync(join(dir, 'secret.txt'), join(sampleDir, 'link.txt'))
  const refused = async (url: string, method: 'GET' | 'PUT' | 'POST' = 'GET', payload?: object): Promise<string> => {
    const res = await app.inject({ method, url, ...(payload === undefined ? {} : { headers: json, payload }) })
    t.equal(res.statusCode, 400, `${method} ${url} ${JSON.stringify(payload ?? '')}`)
    t.notMatch(res.body, /top secret|demo\.email/, 'nothing of the file is sent')
    return res.json().message as string
  }
  const q = (p: string): string => encodeURIComponent(p)
  t.match(await refused(`/api/file?path=${q(`${dir}/samples/../rules.yaml`)}`), /"\.\." is not allowed/, 'a path with ".." is refused as written, even one that resolves to a rule file')
  t.match(await refused(`/api/file?path=${q(join(dir, 'other.yaml'))}`), /not one of the playground's rule files/, 'a rule file beside it that was not given')
  t.match(await refused(`/api/file?path=${q('/etc/passwd')}`), /not one of the playground's rule files/)
  t.match(await refused(`/api/file?path=${q(`${file}\0`)}`), /NUL/)
  t.match(await refused(`/api/sample?path=${q(`${sampleDir}/../secret.txt`)}`), /"\.\." is not allowed/)
  t.match(await refused(`/api/sample?path=${q(join(dir, 'secret.txt'))}`), /not a file in the sample folder/)
  t.match(await refused(`/api/sample?path=${q(join(sampleDir, 'link.txt'))}`), /not a file in the sample folder/, 'a link out of the folder is followed, and refused')
  t.match(await refused(`/api/sample?path=${q(sampleDir)}`), /not a file in the sample folder/)
  t.match(await refused('/api/file', 'PUT', { path: `${dir}/../x.yaml`, text: ruleFile }), /"\.\." is not allowed/)
  t.match(await refused('/api/file', 'PUT', { path: join(dir, 'other.yaml'), text: ruleFile }), /not one of the playground's rule files/)
  t.match(await refused('/api/check', 'POST', { path: join(dir, 'other.yaml'), text: ruleFile }), /not one of the playground's rule files/)
  const state = (await app.inject('/api/state')).json()
  const shipped = state.files.find((f: { shipped: boolean }) => f.shipped).path
  t.match(await refused('/api/file', 'PUT', { path: shipped, text: ruleFile }), /read-only here/, 'the shipped rules are read-only')
  t.equal((await app.inject(`/api/file?path=${q(shipped)}`)).statusCode, 200, 'but readable')
  t.notOk(state.samples.files.some((f: { name: string }) => f.name === 'link.txt'), 'links are not listed')
  t.equal(readFileSync(join(dir, 'other.yaml'), 'utf8'), ruleFile)
})

t.test('without a token the API answers loopback requests that name a loopback host', async (t) => {
  const { app } = await startPlayground(t)
  t.equal((await app.inject({ url: '/api/state', headers: { host: '127.0.0.1:8787' } })).statusCode, 200)
  t.equal((await app.inject({ url: '/api/state', headers: { host: '[::1]:8787' } })).statusCode, 200)
  const rebound = await app.inject({ url: '/api/state', headers: { host: 'attacker.example:8787' } })
  t.equal(rebound.statusCode, 400, 'a page whose name was rebound to 127.0.0.1 is refused')
  t.match(rebound.json().message, /loopback only/)
  const remote = await app.inject({ url: '/api/state', remoteAddress: '10.1.2.3' })
  t.equal(remote.statusCode, 400, 'another machine is refused')
  t.equal((await app.inject('/')).statusCode, 200, 'the page itself holds nothing and is served')
})

t.test('a change must be JSON from the server\'s own origin', async (t) => {
  const { app, file } = await startPlayground(t)
  const form = await app.inject({ method: 'PUT', url: '/api/file', headers: { 'content-type': 'text/plain' }, payload: JSON.stringify({ path: file, text: 'x' }) })
  t.equal(form.statusCode, 400, 'a cross-site form can send text/plain without asking')
  t.match(form.json().message, /application\/json/)
  const foreign = await app.inject({ method: 'PUT', url: '/api/file', headers: { ...json, origin: 'https://attacker.example' }, payload: { path: file, text: ruleFileWithPhone } })
  t.equal(foreign.statusCode, 400)
  t.match(foreign.json().message, /another origin/)
  const opaque = await app.inject({ method: 'POST', url: '/api/check', headers: { ...json, origin: 'null' }, payload: { path: file, text: ruleFile } })
  t.equal(opaque.statusCode, 400, 'an opaque origin (a sandboxed frame) is another origin')
  const own = await app.inject({ method: 'POST', url: '/api/check', headers: { ...json, origin: 'http://localhost:80', host: 'localhost:80' }, payload: { path: file, text: ruleFile } })
  t.equal(own.statusCode, 200)
  t.equal(readFileSync(file, 'utf8'), ruleFile)
})

t.test('with a token the API needs it, from any address', async (t) => {
  const token = 'playground-test-token'
  for (const options of [{ token }, { tokenHash: hashText(token) }]) {
    const { app } = await startPlayground(t, options)
    const none = await app.inject({ url: '/api/state', remoteAddress: '10.1.2.3', headers: { host: 'proxy.internal' } })
    t.equal(none.statusCode, 401)
    t.equal(none.json().code, 'SLUICE_UNAUTHORIZED')
    t.equal((await app.inject({ url: '/api/state', headers: { authorization: 'Bearer wrong' } })).statusCode, 401)
    const ok = await app.inject({ url: '/api/state', remoteAddress: '10.1.2.3', headers: { host: 'proxy.internal', authorization: `Bearer ${token}` } })
    t.equal(ok.statusCode, 200, Object.keys(options).join())
  }
})

t.test('bad options are refused at registration', async (t) => {
  await t.rejects(startPlayground(t, { token: '' }), /"token" must not be empty/)
  await t.rejects(startPlayground(t, { tokenHash: 'abc' }), /"tokenHash" must be 64 lowercase hex/)
  await t.rejects(startPlayground(t, { rules: ['/nonexistent/rules.yaml'] }), /no such file or directory/)
  await t.rejects(startPlayground(t, { samples: '/nonexistent/samples' }), /no such directory/)
})
