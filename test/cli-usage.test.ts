/**
 * @module test/cli-usage
 * How the CLI helps its user, as users run it (`node bin/sluice.js …` in a
 * real child process, which loads dist/): `--help` on every command,
 * `--version`, and usage problems that name themselves and exit 2 on every
 * command. What the commands do is tested in cli.test.ts; the parser's
 * cases in-process in cli-args.test.ts.
 */
import t from 'tap'
import type { Test } from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runChild } from './helpers/run-child.js'
import type { ChildRun } from './helpers/run-child.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const bin = join(root, 'bin', 'sluice.js')
// No NODE_OPTIONS: tap puts its process-info loader there, which would slow
// every child down for nothing (coverage is off).
const { NODE_OPTIONS: _nodeOptions, ...childEnv } = process.env

/** Runs `node bin/sluice.js ...args` with an empty stdin; the child is killed if the test ends first. */
function sluice (t: Test, args: readonly string[]): Promise<ChildRun> {
  return runChild(t, [bin, ...args], { cwd: root, env: childEnv })
}

const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version

t.test('--version, -v and version print the version in package.json', async (t) => {
  const runs = await Promise.all([['--version'], ['-v'], ['version']].map((args) => sluice(t, args)))
  for (const r of runs) {
    t.equal(r.code, 0, r.stderr)
    t.equal(r.stdout, `${version}\n`)
    t.equal(r.stderr, '')
  }
})

t.test('--help prints the usage of every command on stdout and exits 0', async (t) => {
  // The command, and how its usage begins.
  const commands: Array<[string[], string]> = [
    [[], 'Usage: sluice <command>'],
    [['scan'], 'Usage: sluice scan [options]'],
    [['rules'], 'Usage: sluice rules <command>'],
    [['rules', 'test'], 'Usage: sluice rules test'],
    [['rules', 'list'], 'Usage: sluice rules list'],
    [['rules', 'schema'], 'Usage: sluice rules schema'],
    [['audit'], 'Usage: sluice audit verify'],
    [['audit', 'verify'], 'Usage: sluice audit verify [options] FILE...'],
    [['proxy'], 'Usage: sluice proxy --upstream URL'],
    [['demo'], 'Usage: sluice demo [options]'],
    [['version'], 'Usage: sluice version']
  ]
  const runs = await Promise.all(commands.map(([args]) => sluice(t, [...args, '--help'])))
  commands.forEach(([args, start], i) => {
    const r = runs[i]
    const name = ['sluice', ...args, '--help'].join(' ')
    t.equal(r?.code, 0, `${name}: exit 0 (${r?.stderr ?? ''})`)
    t.ok(r?.stdout.startsWith(start), `${name}: prints "${start}..."`)
    t.equal(r?.stderr, '', `${name}: nothing on stderr`)
  })
})

t.test('-h is --help, at the top and after a command', async (t) => {
  const commands: Array<[string[], string]> = [[[], 'Usage: sluice <command>'], [['scan'], 'Usage: sluice scan'], [['proxy'], 'Usage: sluice proxy']]
  const runs = await Promise.all(commands.map(([args]) => sluice(t, [...args, '-h'])))
  commands.forEach(([args, start], i) => {
    t.equal(runs[i]?.code, 0)
    t.ok(runs[i]?.stdout.startsWith(start), `sluice ${args.join(' ')} -h prints "${start}..."`)
  })
})

t.test('help COMMAND prints what COMMAND --help prints', async (t) => {
  const [help, flag] = await Promise.all([sluice(t, ['help', 'rules', 'test']), sluice(t, ['rules', 'test', '--help'])])
  t.equal(help.code, 0)
  t.equal(help.stdout, flag.stdout)
  t.match(help.stdout, /^Usage: sluice rules test/)
})

t.test('the top-level usage documents every exit code', async (t) => {
  const r = await sluice(t, ['--help'])
  const codes = /\nExit codes:\n([\s\S]*)$/.exec(r.stdout)?.[1] ?? ''
  t.match(codes, /^ {2}0 {2}done$/m)
  t.match(codes, /^ {2}1 {2}failed: /m)
  t.match(codes, /^ {2}2 {2}usage error: /m)
  t.match(codes, /^ {2}3 {2}audit verify: /m)
  t.match(codes, /^ {2}4 {2}scan: a rule cut the text/m)
})

t.test('a usage problem names itself, shows the usage and exits 2, whatever the command', async (t) => {
  // Arguments, then what stderr must say first, then how the usage shown begins.
  // The parser's own cases (missing values, dashes, positionals) are in cli-args.test.ts.
  const cases: Array<[string[], string | RegExp, string]> = [
    [[], 'sluice: missing command', 'Usage: sluice <command>'],
    [['frobnicate'], 'sluice: unknown command "frobnicate"', 'Usage: sluice <command>'],
    [['--frob'], 'sluice: unknown option "--frob"', 'Usage: sluice <command>'],
    [['scan', '--frob'], 'sluice scan: unknown option "--frob"', 'Usage: sluice scan'],
    [['scan', '--chunk', '0'], 'sluice scan: --chunk must be a positive integer, got "0"', 'Usage: sluice scan'],
    [['rules'], 'sluice rules: missing command: test, list, schema', 'Usage: sluice rules <command>'],
    [['rules', 'frob'], 'sluice rules: unknown command "frob"', 'Usage: sluice rules <command>'],
    [['rules', 'test', '--frob'], 'sluice rules test: unknown option "--frob"', 'Usage: sluice rules test'],
    [['rules', 'list', '--frob'], 'sluice rules list: unknown option "--frob"', 'Usage: sluice rules list'],
    [['rules', 'schema', 'extra'], 'sluice rules schema: unexpected argument "extra"', 'Usage: sluice rules schema'],
    [['audit', 'frob'], 'sluice audit: unknown command "frob"', 'Usage: sluice audit verify'],
    [['audit', 'verify', '--chain-key'], 'sluice audit verify: option "--chain-key" needs a value', 'Usage: sluice audit verify'],
    [['proxy', '--upstream', 'http://127.0.0.1:9', '--frob'], /^sluice proxy: .*'--frob'/, 'Usage: sluice proxy'],
    [['demo', '--frob'], /^sluice demo: .*'--frob'/, 'Usage: sluice demo'],
    [['demo', '--upstream', 'http://127.0.0.1:9'], 'sluice demo: --upstream is not for the demo', 'Usage: sluice demo']
  ]
  const runs = await Promise.all(cases.map(([args]) => sluice(t, args)))
  cases.forEach(([args, problem, usage], i) => {
    const r = runs[i]
    const name = ['sluice', ...args].join(' ')
    t.equal(r?.code, 2, `${name}: exit 2`)
    const [first = '', ...more] = (r?.stderr ?? '').split('\n')
    if (typeof problem === 'string') t.ok(first.startsWith(problem), `${name}: says "${problem}" (got "${first}")`)
    else t.match(first, problem, `${name}: names the problem`)
    t.ok(more.join('\n').includes(usage), `${name}: shows "${usage}"`)
    t.equal(r?.stdout, '', `${name}: nothing on stdout`)
  })
})
