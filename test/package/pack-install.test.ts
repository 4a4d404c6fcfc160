/**
 * @module test/package/pack-install
 * The package as a user gets it. A copy of this checkout without dist/ is
 * packed with `npm pack` (so `prepack` must build), the tarball is installed
 * into a scratch project under the OS temp dir, and used as the README shows:
 * the Fastify plugin as the default export of `sluice`, the scanner from
 * `sluice/scanner`, the proxy from `sluice/proxy`, and `npx sluice`. A file
 * the README's usage needs that `files` leaves out (rules/, the JSON Schema,
 * a dist/ entry) fails here, and so does an import of the HTTP stack that
 * creeps into the scanner's import graph.
 *
 * No network and no npm cache: the scratch project's node_modules first gets
 * this checkout's production dependencies as hard links (`npm ls --omit=dev`;
 * re2 is native and would take minutes to compile), then npm installs the
 * tarball with `--offline` and an empty cache, so npm has nothing to fetch
 * and Sluice's own files come from the tarball alone. `--ignore-scripts`
 * only keeps npm from rebuilding the linked re2: a tarball install runs no
 * script of Sluice's (npm runs `prepare` for git and directory installs only).
 */
import t from 'tap'

// Packs, installs into a fresh project and runs each entry in a child process: minutes on a busy 2-core machine, not tap's default 120 s.
t.setTimeout(600_000)
import type { Test } from 'tap'
import {
  copyFileSync, cpSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runChild } from '../helpers/run-child.js'
import type { ChildRun, RunChildOptions } from '../helpers/run-child.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string, version: string, main: string, types: string, bin: Record<string, string>, exports: unknown
}
const kAddress = 'jane.doe@acme.io'
// What a clean clone does not have: built output, installs, local state.
const kNotInClone = new Set(['node_modules', 'dist', '.git', '.tap', 'tmp', 'coverage'])
// The HTTP stack: none of it may load for `sluice/scanner`.
const kHttpStack = ['fastify', 'pino', 'undici', 'ioredis', 'fastify-plugin', '@fastify/rate-limit', 'prom-client', 'light-my-request']

// Children get no npm_* variables from a calling `npm test` (npm would take
// `npm_config_*` as its own config) and no NODE_OPTIONS (tap's loader).
const childEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) && key !== 'NODE_OPTIONS')
)

function run (t: Test, command: string, args: readonly string[], options: RunChildOptions = {}): Promise<ChildRun> {
  return runChild(t, args, { command, env: childEnv, ...options })
}

/** Fails the test with the child's output unless it exited 0. */
function succeeded (t: Test, result: ChildRun, what: string): boolean {
  return t.equal(result.code, 0, what, { stdout: result.stdout.slice(-2000), stderr: result.stderr.slice(-4000) })
}

/**
 * Mirrors a directory tree with hard links (a copy where links cannot be
 * made): fast, and no file in `from` changes (npm's bin linking only sets
 * execute bits that the linked bins already have).
 */
function linkTree (from: string, to: string): void {
  mkdirSync(to, { recursive: true })
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name)
    const target = join(to, entry.name)
    if (entry.isDirectory()) linkTree(source, target)
    else if (entry.isSymbolicLink()) symlinkSync(readlinkSync(source), target)
    else {
      try { linkSync(source, target) } catch { copyFileSync(source, target) }
    }
  }
}

/** Every string in an `exports` map: the files it points to. */
function exportTargets (node: unknown): string[] {
  if (typeof node === 'string') return [node]
  if (node === null || typeof node !== 'object') return []
  return Object.values(node).flatMap(exportTargets)
}

/** The package a loaded file belongs to (the innermost node_modules entry), if any. */
function packageOf (file: string): string | undefined {
  const path = file.startsWith('file:') ? fileURLToPath(file) : file
  const parts = path.split(sep)
  const at = parts.lastIndexOf('node_modules')
  if (at < 0 || at + 1 >= parts.length) return undefined
  const name = parts[at + 1] ?? ''
  return name.startsWith('@') ? `${name}/${parts[at + 2] ?? ''}` : name
}

const work = mkdtempSync(join(tmpdir(), 'sluice-pack-'))
t.teardown(() => { rmSync(work, { recursive: true, force: true }) })

interface Installed {
  /** Paths in the tarball, as `npm pack` lists them. */
  shipped: Set<string>
  /** The scratch project. */
  app: string
  /** The package inside it. */
  installedRoot: string
}
let installed: Installed | undefined

/** What the first test made; a test after a failed install fails too, and says why. */
function ready (t: Test): Installed | undefined {
  if (installed === undefined) t.fail('the package was not packed and installed (see the first test)')
  return installed
}

t.test('npm pack builds a clean copy, and npm installs the tarball offline', async (t) => {
  // A copy of the checkout, as a clean clone would be packed.
  const source = join(work, 'source')
  cpSync(root, source, { recursive: true, filter: (path) => !kNotInClone.has(relative(root, path)) })
  symlinkSync(join(root, 'node_modules'), join(source, 'node_modules'), 'dir')
  const packed = await run(t, 'npm', ['pack', '--json', '--pack-destination', work], { cwd: source })
  if (!succeeded(t, packed, 'npm pack (prepack builds dist/ in the copy)')) return
  const [manifest] = JSON.parse(packed.stdout) as Array<{ filename: string, files: Array<{ path: string }> }>
  if (manifest === undefined) return t.fail('npm pack printed no manifest')

  // A scratch project: the production dependencies linked in, then the tarball installed.
  const app = join(work, 'app')
  mkdirSync(join(app, 'node_modules'), { recursive: true })
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'sluice-consumer', version: '1.0.0', private: true, type: 'module' }))
  const tree = await run(t, 'npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root })
  const modules = join(root, 'node_modules')
  const topLevel = tree.stdout.split('\n').map((line) => relative(modules, line.trim()))
    .filter((rel) => rel !== '' && !rel.startsWith('..') && !rel.split(sep).includes('node_modules'))
  if (!t.ok(topLevel.includes('fastify') && topLevel.includes('re2'), 'npm ls lists the production dependencies', { stderr: tree.stderr })) return
  for (const rel of topLevel) linkTree(join(modules, rel), join(app, 'node_modules', rel))
  // Bin links for the linked packages: npm then sees a complete tree and fetches nothing.
  if (!succeeded(t, await run(t, 'npm', ['rebuild', '--ignore-scripts', '--offline'], { cwd: app }), 'npm rebuild links the bins')) return
  const install = await run(t, 'npm', [
    'install', '--offline', '--cache', join(work, 'empty-npm-cache'), '--no-save', '--no-audit', '--no-fund', '--ignore-scripts',
    join(work, manifest.filename)
  ], { cwd: app })
  if (!succeeded(t, install, 'npm installs the tarball offline, with an empty cache')) return
  // @types/node for the consumer's type check, as a TypeScript user has it
  // (linked after the install, which removes what no package.json names).
  for (const rel of [join('@types', 'node'), 'undici-types']) linkTree(join(modules, rel), join(app, 'node_modules', rel))
  installed = { shipped: new Set(manifest.files.map((f) => f.path)), app, installedRoot: join(app, 'node_modules', pkg.name) }
})

t.test('the tarball holds what the package needs at run time and none of the repository\'s own files', async (t) => {
  const ok = ready(t)
  if (ok === undefined) return
  const { shipped } = ok
  const needed = [
    'package.json', 'README.md', 'LICENSE', pkg.main, pkg.types, ...Object.values(pkg.bin), ...exportTargets(pkg.exports),
    ...readdirSync(join(root, 'rules')).map((file) => `rules/${file}`)
  ].map((path) => path.replace(/^\.\//, ''))
  for (const path of new Set(needed)) t.ok(shipped.has(path), `ships ${path}`)
  t.ok(shipped.has('rules/rule-file.schema.json'), 'ships the rule files\' JSON Schema')
  t.ok(shipped.has('dist/cli.js'), 'ships the CLI that bin/ loads')
  const strays = [...shipped].filter((path) => /^(test|bench|scripts|docs|\.ci|\.tap|node_modules)\//.test(path) || /^tsconfig/.test(path))
  t.same(strays, [], 'no tests, benchmarks, scripts or build config')
  t.notOk([...shipped].some((path) => /^dist\/.*\.test\./.test(path)), 'no compiled tests')
})

t.test('every source map points at a source file in the package', async (t) => {
  const ok = ready(t)
  if (ok === undefined) return
  const { shipped, installedRoot } = ok
  const maps = [...shipped].filter((path) => path.endsWith('.js.map'))
  t.ok(maps.length > 0, 'dist/ has source maps')
  const missing: string[] = []
  for (const map of maps) {
    const { sources } = JSON.parse(readFileSync(join(installedRoot, map), 'utf8')) as { sources: string[] }
    for (const src of sources) {
      const path = relative(installedRoot, resolve(dirname(join(installedRoot, map)), src)).split(sep).join('/')
      if (!shipped.has(path)) missing.push(`${map} -> ${src}`)
    }
  }
  t.same(missing, [], 'stack traces and debuggers can show the TypeScript')
})

t.test('import sluice from \'sluice\' is the Fastify plugin, and sanitizes a stream', async (t) => {
  const ok = ready(t)
  if (ok === undefined) return
  const { app } = ok
  writeFileSync(join(app, 'plugin.mjs'), `
import Fastify from 'fastify'
import { Readable } from 'node:stream'
import sluice from 'sluice'

const chunk = (content) => 'data: ' + JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] }) + '\\n\\n'
const app = Fastify()
await app.register(sluice, { hmacKey: 'k' })
app.get('/chat', async (request, reply) => {
  reply.type('text/event-stream')
  return Readable.from([chunk('mail jane.doe'), chunk('@acme.io, thanks'), 'data: [DONE]\\n\\n'])
})
const res = await app.inject('/chat')
console.log(JSON.stringify({ status: res.statusCode, body: res.body }))
await app.close()
`)
  const result = await run(t, process.execPath, ['plugin.mjs'], { cwd: app })
  if (!succeeded(t, result, 'the plugin example runs')) return
  const { status, body } = JSON.parse(result.stdout) as { status: number, body: string }
  t.equal(status, 200)
  t.notMatch(body, kAddress, 'the address never reaches the client')
  t.match(body, /\[email:[0-9a-f]{6}\]/, 'a pseudonym in its place')
  t.match(body, 'data: [DONE]')
})

t.test('sluice/scanner scans with the shipped rules and loads none of the HTTP stack', async (t) => {
  const ok = ready(t)
  if (ok === undefined) return
  const { app } = ok
  // A resolve hook sees every ESM resolution; require.cache holds every CJS
  // file (fastify, pino, undici and ioredis are CJS, and an ESM import of
  // CJS goes through the CJS loader). The hook runs in its own thread, so
  // it reports through a file.
  writeFileSync(join(app, 'record-resolve.mjs'), `
import { appendFileSync } from 'node:fs'
let log
export function initialize (data) { log = new URL(data.log) }
export async function resolve (specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context)
  appendFileSync(log, result.url + '\\n')
  return result
}
`)
  writeFileSync(join(app, 'loaded.mjs'), `
import { createRequire, register } from 'node:module'
import { readFileSync, writeFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

const [entry, log] = process.argv.slice(2)
writeFileSync(log, '')
register('./record-resolve.mjs', import.meta.url, { data: { log: pathToFileURL(log).href } })
const api = await import(entry)
const scanner = api.createScanner(await api.loadRuleSet(), { hmacKey: 'k' })
const text = scanner.write('mail jane.doe').text + scanner.write('@acme.io').text + scanner.end().text
const files = [...readFileSync(log, 'utf8').split('\\n').filter(Boolean), ...Object.keys(createRequire(import.meta.url).cache)]
console.log(JSON.stringify({ text, files }))
`)
  async function load (entry: string): Promise<{ text: string, packages: Set<string> } | undefined> {
    const result = await run(t, process.execPath, ['loaded.mjs', entry, join(work, `resolved-${entry.replace('/', '-')}.log`)], { cwd: app })
    if (!succeeded(t, result, `import('${entry}') runs`)) return undefined
    const { text, files } = JSON.parse(result.stdout) as { text: string, files: string[] }
    return { text, packages: new Set(files.map(packageOf).filter((name) => name !== undefined)) }
  }

  const scanner = await load('sluice/scanner')
  const whole = await load('sluice')
  if (scanner === undefined || whole === undefined) return
  t.match(scanner.text, /^mail \[email:[0-9a-f]{6}\]$/, 'createScanner from sluice/scanner redacts with the rules in the package')
  t.equal(whole.text, scanner.text, 'the main entry exports the same scanner')
  // The check sees what loads: re2 (CJS) and yaml (ESM) for the scanner;
  // pino and fastify-plugin with the main entry's audit log and plugin
  // (fastify itself is the user's to import).
  t.ok(scanner.packages.has('re2') && scanner.packages.has('yaml'), 'the scanner\'s own dependencies are seen', { packages: [...scanner.packages] })
  t.ok(whole.packages.has('pino') && whole.packages.has('fastify-plugin'), 'the main entry\'s HTTP packages are seen', { packages: [...whole.packages] })
  t.same(kHttpStack.filter((name) => scanner.packages.has(name)), [], 'sluice/scanner loads no HTTP stack package')
})

t.test('sluice/proxy exports the proxy', async (t) => {
  const ok = ready(t)
  if (ok === undefined) return
  const { app, installedRoot } = ok
  const result = await run(t, process.execPath, ['--input-type=module', '-e', `
import { createProxy, resolveProxyConfig, runProxy } from 'sluice/proxy'
const config = await resolveProxyConfig({ argv: ['--upstream', 'http://127.0.0.1:9'], env: {} })
console.log(JSON.stringify({ kinds: [typeof createProxy, typeof runProxy], upstream: config.upstream, rules: config.rules }))
`], { cwd: app })
  if (!succeeded(t, result, 'import from sluice/proxy runs')) return
  const { kinds, upstream, rules } = JSON.parse(result.stdout) as { kinds: string[], upstream: string, rules: string[] }
  t.same(kinds, ['function', 'function'])
  t.equal(upstream, 'http://127.0.0.1:9')
  t.same(rules.map((dir) => relative(installedRoot, dir)), ['rules'], 'the default rules are the ones in the package')
})

t.test('the types of every entry check in a TypeScript consumer', async (t) => {
  const ok = ready(t)
  if (ok === undefined) return
  const { app } = ok
  writeFileSync(join(app, 'consumer.ts'), `
import sluice, { createSanitizeStream, type SluicePluginOptions } from 'sluice'
import { createScanner, loadRuleSet, type Scanner, type Finding } from 'sluice/scanner'
import { createProxy, resolveProxyConfig, type ProxyConfig } from 'sluice/proxy'

export const plugin: unknown = sluice
export const stream: typeof createSanitizeStream = createSanitizeStream
export async function scan (text: string): Promise<string> {
  const scanner: Scanner = createScanner(await loadRuleSet(), { hmacKey: 'k' })
  const findings: Finding[] = scanner.write(text).findings
  return scanner.end().text + findings.length
}
export async function proxy (): Promise<unknown> {
  const config: ProxyConfig = await resolveProxyConfig({ argv: ['--upstream', 'http://127.0.0.1:9'] })
  return createProxy(config)
}
// Real types, not \`any\`: a number is not a rule set.
// @ts-expect-error
export const wrong: SluicePluginOptions = { rules: 1 }
`)
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  const common = ['--noEmit', '--strict', '--skipLibCheck', '--types', 'node', '--target', 'es2022', 'consumer.ts']
  // node16 resolution reads `exports` and its `types` conditions; node10 (old
  // resolvers) reads `types` and `typesVersions`.
  for (const [resolution, module] of [['node16', 'node16'], ['node10', 'commonjs']] as const) {
    const result = await run(t, process.execPath, [tsc, '--moduleResolution', resolution, '--module', module, ...common], { cwd: app })
    t.equal(result.stdout, '', `no type errors (${resolution})`)
    succeeded(t, result, `tsc --moduleResolution ${resolution} finds the types of sluice, sluice/scanner and sluice/proxy`)
  }
})

t.test('npx sluice runs the CLI from the package', async (t) => {
  const ok = ready(t)
  if (ok === undefined) return
  const { app } = ok
  // The README's commands as typed; offline and never installing, so only
  // the package's own bin can answer.
  const npx = (args: readonly string[], input = ''): Promise<ChildRun> =>
    run(t, 'npx', ['sluice', ...args], { cwd: app, input, env: { ...childEnv, npm_config_offline: 'true', npm_config_yes: 'false' } })
  const help = await npx(['--help'])
  succeeded(t, help, 'npx sluice --help exits 0')
  t.match(help.stdout, /^Usage: sluice /, 'the CLI\'s usage, not npx\'s')

  const version = await npx(['--version'])
  succeeded(t, version, 'npx sluice --version exits 0')
  t.equal(version.stdout.trim(), pkg.version, 'prints the package version')

  const scan = await npx(['scan'], `mail ${kAddress}\n`)
  succeeded(t, scan, 'echo \'mail jane.doe@acme.io\' | npx sluice scan exits 0')
  t.notMatch(scan.stdout, kAddress, 'the address is redacted')
  t.match(scan.stdout, /^mail \[email:[0-9a-f]{6}\]\n?$/)
})
