/**
 * @module test/playground/cli
 * `sluice playground` as users run it (`node bin/sluice.js playground …` in
 * a child process; bin/ loads dist/, which `npm test` builds first): help,
 * usage errors with exit code 2, a start that cannot happen with exit code
 * 1, and a server on the address and port asked for, with the rule paths
 * and sample folder given, closed cleanly by SIGTERM.
 */
import t from 'tap'
import type { Test } from 'tap'
import { join } from 'node:path'
import { request } from 'undici'
import { projectRoot, spawnNode } from '../proxy/fixtures/harness.js'
import { runChild } from '../helpers/run-child.js'
import type { ChildRun } from '../helpers/run-child.js'
import { ruleFile, samples } from './fixtures.js'

const bin = join(projectRoot, 'bin', 'sluice.js')
// No NODE_OPTIONS: tap's loader would slow every child down for nothing.
const { NODE_OPTIONS: _nodeOptions, ...env } = process.env

function sluice (t: Test, args: readonly string[]): Promise<ChildRun> {
  return runChild(t, [bin, ...args], { cwd: projectRoot, env })
}

t.test('--help prints the options and exit codes, and the command is listed in the top-level help', async (t) => {
  const help = await sluice(t, ['playground', '--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /^Usage: sluice playground \[options\]/)
  for (const flag of ['--port N', '--host HOST', '--rules PATH', '--no-default-rules', '--samples DIR', '-h, --help']) t.match(help.stdout, flag)
  t.match(help.stdout, /Exit codes:\n {2}0 {2}shut down cleanly/)
  t.match((await sluice(t, ['--help'])).stdout, /\n {2}playground {5}edit rules in the browser/)
  t.equal((await sluice(t, ['help', 'playground'])).stdout, help.stdout)
})

t.test('a usage problem names itself, shows the usage and exits 2', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--port', 'abc'], /--port must be an integer from 0 to 65535, got "abc"/],
    [['--port', '70000'], /--port must be an integer from 0 to 65535, got "70000"/],
    [['--port'], /option "--port" needs a value/],
    [['--sample', 'x'], /unknown option "--sample"/],
    [['--no-default-rules'], /--no-default-rules needs --rules PATH/],
    [['extra'], /unexpected argument "extra"/]
  ]
  const runs = await Promise.all(cases.map(([args]) => sluice(t, ['playground', ...args])))
  cases.forEach(([args, problem], i) => {
    const run = runs[i] as ChildRun
    t.equal(run.code, 2, args.join(' '))
    t.match(run.stderr, /^sluice playground: /)
    t.match(run.stderr, problem)
    t.match(run.stderr, /Usage: sluice playground/)
  })
})

t.test('a rule path or sample folder that is not there: cannot start, exit 1', async (t) => {
  const dir = t.testdir({ 'rules.yaml': ruleFile })
  const noRules = await sluice(t, ['playground', '--port', '0', '--rules', join(dir, 'missing.yaml')])
  t.equal(noRules.code, 1)
  t.match(noRules.stderr, /^sluice playground: cannot start: .*missing\.yaml: no such file or directory/)
  const noSamples = await sluice(t, ['playground', '--port', '0', '--rules', join(dir, 'rules.yaml'), '--samples', join(dir, 'nope')])
  t.equal(noSamples.code, 1)
  t.match(noSamples.stderr, /cannot start: sample folder: no such directory/)
})

t.test('serves on 127.0.0.1 and the port asked for, with the rules and samples given; SIGTERM closes it with 0', async (t) => {
  const dir = t.testdir({ 'rules.yaml': ruleFile, samples })
  const file = join(dir, 'rules.yaml')
  const child = await spawnNode(t, ['bin/sluice.js', 'playground', '--port', '0', '--rules', file, '--no-default-rules', '--samples', join(dir, 'samples')], /sluice playground on (http:\/\/127\.0\.0\.1:\d+\/)\n/, env as Record<string, string>)
  const url = child.match[1] ?? ''
  const page = await request(url)
  t.equal(page.statusCode, 200)
  t.match(await page.body.text(), /<title>Sluice rule playground<\/title>/)
  const state = await (await request(`${url}api/state`)).body.json() as { files: Array<{ path: string, writable: boolean }>, samples: { files: unknown[] } }
  t.same(state.files.map((f) => [f.path, f.writable]), [[file, true]])
  t.equal(state.samples.files.length, 3)
  child.child.kill('SIGTERM')
  t.equal(await child.exited, 0)
})

t.test('on another address it makes a token, prints it in the page address, and the API needs it', async (t) => {
  const dir = t.testdir({ 'rules.yaml': ruleFile })
  const child = await spawnNode(t, ['bin/sluice.js', 'playground', '--host', '0.0.0.0', '--port', '0', '--rules', join(dir, 'rules.yaml'), '--no-default-rules'], /sluice playground on (http:\/\/127\.0\.0\.1:\d+\/)#token=([\w-]{32})\n/, env as Record<string, string>)
  const [, url, token] = child.match
  t.equal((await request(`${url}api/state`)).statusCode, 401)
  t.equal((await request(`${url}api/state`, { headers: { authorization: `Bearer ${token}` } })).statusCode, 200)
  t.match(child.stderr(), /not loopback: the page needs the token/)
  child.child.kill('SIGINT')
  t.equal(await child.exited, 0)
})
