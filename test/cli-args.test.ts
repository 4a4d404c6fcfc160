/**
 * @module test/cli-args
 * The commands' argument parser in-process: what it accepts, the problem
 * each usage error names, and the usage text built from the same table.
 * The CLI around it runs in child processes in cli.test.ts.
 */
import t from 'tap'
import { commandUsage, integerArgument, isUsageError, parseCommand, usageError, usageProblem, wantsHelp } from '../src/cli-args.js'
import type { CommandSpec } from '../src/cli-args.js'

const spec: CommandSpec = {
  name: 'audit verify',
  operands: 'FILE...',
  summary: 'Checks audit log files.',
  options: {
    rotated: { type: 'boolean', help: 'check rotated files too' },
    'chain-key': { type: 'string', value: 'KEY', help: 'HMAC key of the chain' },
    rules: { type: 'string', multiple: true, value: 'PATH', help: 'rule file' }
  },
  positionals: { min: 1, max: 2, name: 'FILE' },
  exitCodes: ['0  ok', '2  usage error']
}

/** The problem `args` is refused for, or a note that it was accepted. */
function problemOf (args: string[], command = spec): string {
  try {
    parseCommand(command, args)
    return 'accepted'
  } catch (err) {
    if (!isUsageError(err)) throw err
    return usageProblem(err)
  }
}

t.test('parses options and positionals as the table says', async (t) => {
  const parsed = parseCommand(spec, ['--rotated', '--chain-key', 'k1', '--rules', 'a', '--rules=b', 'x.jsonl'])
  t.same(parsed, { values: { rotated: true, 'chain-key': 'k1', rules: ['a', 'b'] }, positionals: ['x.jsonl'] })
})

t.test('a value that starts with "-" is taken when written inline', async (t) => {
  t.same(parseCommand(spec, ['--chain-key=-k', 'f'])?.values, { 'chain-key': '-k' })
  t.same(parseCommand(spec, ['--', '-f'])?.positionals, ['-f'], 'after --, arguments are positionals')
})

t.test('each usage problem is named', async (t) => {
  t.equal(problemOf(['--frob', 'f']), 'unknown option "--frob"')
  t.equal(problemOf(['-x', 'f']), 'unknown option "-x"')
  t.equal(problemOf(['--rotated=yes', 'f']), 'option "--rotated" takes no value')
  t.equal(problemOf(['f', '--chain-key']), 'option "--chain-key" needs a value: --chain-key KEY')
  t.equal(problemOf(['--chain-key', '--rotated', 'f']), 'option "--chain-key" needs a value: --chain-key KEY, got "--rotated" (write --chain-key=--rotated if that is the value)')
  t.equal(problemOf([]), 'missing FILE')
  t.equal(problemOf(['a', 'b', 'c']), 'unexpected argument "c"')
  t.equal(problemOf(['a', 'b']), 'accepted')
  t.equal(problemOf(['x'], { name: 'rules schema', summary: 's', options: {} }), 'unexpected argument "x"', 'no positionals when the table has none')
  t.equal(problemOf(['a', 'b', 'c', 'd'], { ...spec, positionals: { min: 0, name: 'PATH' } }), 'accepted', 'no upper limit when max is unset')
})

t.test('-h and --help anywhere before -- ask for help, even beside a bad option', async (t) => {
  t.equal(parseCommand(spec, ['--help']), undefined)
  t.equal(parseCommand(spec, ['f', '-h']), undefined)
  t.equal(parseCommand(spec, ['--frob', '--help']), undefined)
  t.not(parseCommand(spec, ['--', '--help']), undefined, 'after --, "--help" is a file name')
  t.equal(wantsHelp(['a', '--', '-h']), false)
})

t.test('the usage text lists every option of the table, its value, and the exit codes', async (t) => {
  const usage = commandUsage(spec)
  t.match(usage, /^Usage: sluice audit verify \[options\] FILE\.\.\.\n\nChecks audit log files\.\n\nOptions:\n/)
  t.match(usage, /^ {2}--rotated {8}check rotated files too$/m)
  t.match(usage, /^ {2}--chain-key KEY {2}HMAC key of the chain$/m)
  t.match(usage, /^ {2}--rules PATH {5}rule file, repeatable$/m)
  t.match(usage, /^ {2}-h, --help {7}print this help$/m)
  t.match(usage, /\nExit codes:\n {2}0 {2}ok\n {2}2 {2}usage error$/)
  t.notMatch(commandUsage({ name: 'rules schema', summary: 's', options: {} }), /\[options\]/, 'no [options] for a command without any')
})

t.test('a usage error is a coded InvalidOptionsError; its problem reads without the catalogue prefix', async (t) => {
  const err = usageError('missing FILE')
  t.equal((err as Error & { code: string }).code, 'SLUICE_INVALID_OPTIONS')
  t.equal(err.message, 'Invalid options: missing FILE')
  t.equal(usageProblem(err), 'missing FILE')
  t.ok(isUsageError(err))
  t.notOk(isUsageError(new Error('ENOENT')))
  t.notOk(isUsageError(null))
})

t.test('an integer option takes decimal digits within its bounds, and names itself otherwise', async (t) => {
  t.equal(integerArgument('--chunk', '3'), 3)
  t.equal(integerArgument('--port', '0', { min: 0, max: 65535 }), 0)
  const problem = (fn: () => unknown): string => {
    try {
      fn()
      return 'accepted'
    } catch (err) {
      return usageProblem(err as Error)
    }
  }
  t.equal(problem(() => integerArgument('--chunk', '0')), '--chunk must be a positive integer, got "0"', 'positive by default: 0 is refused')
  t.equal(problem(() => integerArgument('--port', '70000', { min: 0, max: 65535 })), '--port must be an integer from 0 to 65535, got "70000"')
  t.equal(problem(() => integerArgument('SLUICE_GRACE', '-1', { min: 0 })), 'SLUICE_GRACE must be an integer of 0 or more, got "-1"')
  for (const text of ['', ' 5', '1e3', '0x10', '2.5', '9007199254740993']) {
    t.match(problem(() => integerArgument('--n', text)), /^--n must be a positive integer/, JSON.stringify(text))
  }
})

t.test('options a command cannot run without come before [options] in the usage line', async (t) => {
  t.match(commandUsage({ name: 'proxy', required: '--upstream URL', summary: 's', options: { port: { type: 'string', value: 'N', help: 'port' } } }), /^Usage: sluice proxy --upstream URL \[options\]\n/)
})
