/**
 * @module cli
 * `sluice <command>`: the command-line face of the library. Each command is
 * a thin shell over a library function; output goes to stdout, problems to
 * stderr, and the exit code says whether things passed.
 */
import { existsSync, readFileSync } from 'node:fs'
import { listRotatedFiles, sortAuditSeries } from './audit/rotated-files.js'
import { verifyAuditLog } from './audit/verify-audit-log.js'
import { commandUsage, isUsageError, parseCommand, usageError, usageProblem, wantsHelp } from './cli-args.js'
import type { CommandOption, CommandSpec, ParsedCommand } from './cli-args.js'
import { createDiskRuleCache } from './disk-rule-cache.js'
import { composeRulePaths, loadRuleSet } from './rules/load-rules.js'
import { RuleFileSchema } from './rules/rule-schema.js'
import type { RuleSet } from './rules/rule-set.js'
import { testRuleExamples } from './rules-test.js'
import { createScanner } from './scanner/create-scanner.js'
import type { Finding } from './scanner/types.js'

/**
 * Exit codes, the same for every command. 1 is "the work could not be done
 * or did not pass"; 3 and 4 are results a script may want to tell apart
 * from a failure.
 */
const kExit = { ok: 0, failed: 1, usage: 2, unsealed: 3, cut: 4 } as const

const usage = `Usage: sluice <command> [options]

Commands:
  scan           sanitize stdin to stdout
  rules test     run every rule's examples
  rules list     print the loaded rules
  rules schema   print the JSON Schema of rule files
  audit verify   check audit log files: hash chain and checkpoints
  proxy          run the compliance proxy in front of a provider
  demo           run the proxy in front of the built-in demo upstream
  playground     edit rules in the browser and watch them work on a stream
  version        print the version

Options:
  -h, --help     print this help; "sluice <command> --help" prints a command's
  -v, --version  print the version

Exit codes:
  0  done
  1  failed: a rule example failed (rules test), the audit chain is broken
     (audit verify), a file could not be read, or the proxy could not start
  2  usage error: unknown command or option, missing argument, bad value
  3  audit verify: every record verifies, but the end of the log is not sealed
  4  scan: a rule cut the text (the rule is named on stderr)`

const rulesUsage = `Usage: sluice rules <command> [options]

Commands:
  rules test [PATH...]   run every rule's examples
  rules list [PATH...]   print the loaded rules
  rules schema           print the JSON Schema of rule files

"sluice rules <command> --help" prints a command's options.`

const auditUsage = `Usage: sluice audit verify [options] FILE...

"sluice audit verify --help" prints its options.`

const rulesOption: CommandOption = { type: 'string', multiple: true, value: 'PATH', help: 'rule file or directory, loaded after the shipped rules' }
const noDefaultRulesOption: CommandOption = { type: 'boolean', help: 'leave the shipped rules out: only the given paths' }

/**
 * The rule paths a command loads: the shipped rules, then the user's
 * (whose files may also disable or override shipped rules), or the user's
 * alone with --no-default-rules.
 */
function rulePathsOf (paths: readonly string[] | undefined, values: ParsedCommand['values'], flag: string): string[] {
  const defaultRules = values['no-default-rules'] !== true
  if (!defaultRules && (paths === undefined || paths.length === 0)) throw usageError(`--no-default-rules needs ${flag}: there would be no rules`)
  return composeRulePaths(paths, defaultRules)
}

/** Loads the rules a command names, its automata cached on disk (disk-rule-cache.ts). */
async function loadRules (paths: readonly string[]): Promise<RuleSet> {
  return loadRuleSet(paths, { cache: createDiskRuleCache() })
}

const scanSpec: CommandSpec = {
  name: 'scan',
  operands: '< INPUT',
  summary: 'Sanitizes stdin to stdout with the rules: redacts what they redact, and\n' +
    'ends the output where a rule cuts (nothing after the cut is released).',
  options: {
    json: { type: 'boolean', help: 'print { text, findings, cut } as JSON instead of the text' },
    chunk: { type: 'string', value: 'N', help: 'feed the scanner N characters at a time, as a stream would' },
    rules: rulesOption,
    'no-default-rules': noDefaultRulesOption
  },
  exitCodes: ['0  sanitized', '4  a rule cut the text (the rule is named on stderr)', '1  the rules could not be loaded', '2  usage error']
}

const rulesTestSpec: CommandSpec = {
  name: 'rules test',
  operands: '[PATH...]',
  summary: "Runs every rule's match and nomatch examples: the shipped rules and the rule\n" +
    'files or directories given (their disable and overrides applied); a failing\n' +
    'example is named by file:line.',
  options: { 'no-default-rules': noDefaultRulesOption },
  positionals: { min: 0, name: 'PATH' },
  exitCodes: ['0  every example passed', '1  an example failed, or a rule file could not be loaded', '2  usage error']
}

const rulesListSpec: CommandSpec = {
  name: 'rules list',
  operands: '[PATH...]',
  summary: 'Prints the shipped rules and those of the files or directories given, one a\n' +
    'line: id, category, action, severity, description.',
  options: { 'no-default-rules': noDefaultRulesOption },
  positionals: { min: 0, name: 'PATH' },
  exitCodes: ['0  listed', '1  a rule file could not be loaded', '2  usage error']
}

const rulesSchemaSpec: CommandSpec = {
  name: 'rules schema',
  summary: 'Prints the JSON Schema that rule files are validated with (for editors and CI).',
  options: {}
}

const auditVerifySpec: CommandSpec = {
  name: 'audit verify',
  operands: 'FILE...',
  summary: 'Checks audit log files: the hash chain through every record, and the signed\n' +
    'checkpoints when a checkpoint key is given. Several files are checked as one\n' +
    'series, oldest first.',
  options: {
    rotated: { type: 'boolean', help: "check each FILE's rotated series too (FILE.1, FILE.2, ..., FILE)" },
    'chain-key': { type: 'string', value: 'KEY', help: 'HMAC key of the hash chain (default: SLUICE_AUDIT_CHAIN_KEY)' },
    'checkpoint-key': { type: 'string', value: 'KEY', help: 'HMAC key of the checkpoints (default: SLUICE_AUDIT_CHECKPOINT_KEY)' }
  },
  positionals: { min: 1, name: 'FILE: the audit log to check' },
  exitCodes: [
    '0  the log verifies',
    '1  the chain is broken (file:line on stderr), or no audit file was found',
    '3  every record verifies, but the end of the log is not sealed',
    '2  usage error'
  ]
}

const playgroundSpec: CommandSpec = {
  name: 'playground',
  summary: 'Serves the rule playground: a page to edit a rule file (checked as you type,\n' +
    'its examples run beside it), stream a sample answer through the rules at a\n' +
    'chosen pace and see what is released, held back, redacted or cut, run the\n' +
    'rules over a folder of samples, and save (FILE.bak kept; a proxy watching the\n' +
    'file reloads it). Only the rule paths and the sample folder given are read.',
  options: {
    port: { type: 'string', value: 'N', help: 'port to listen on (default 8787; 0 picks a free one)' },
    host: { type: 'string', value: 'HOST', help: 'address to listen on (default 127.0.0.1; any other needs the printed token)' },
    rules: { ...rulesOption, help: 'rule file or directory to edit, loaded after the shipped rules' },
    'no-default-rules': noDefaultRulesOption,
    samples: { type: 'string', value: 'DIR', help: 'folder of sample texts to pick from and run the rules over' }
  },
  exitCodes: ['0  shut down cleanly after SIGINT or SIGTERM', '1  could not start (rule path or sample folder missing, port in use)', '2  usage error']
}

type Out = (line: string) => void

export interface CliIo {
  stdout: Out
  stderr: Out
  stdin: () => AsyncIterable<string | Buffer>
}

const defaultIo: CliIo = {
  stdout: (line) => { process.stdout.write(line + '\n') },
  stderr: (line) => { process.stderr.write(line + '\n') },
  stdin: () => process.stdin
}

/** Reports a usage problem the way every command does: what is wrong, then how the command is used. */
function usageFailed (io: CliIo, name: string, err: Error, text: string): number {
  io.stderr(`sluice ${name}: ${usageProblem(err)}\n\n${text}`)
  return kExit.usage
}

/**
 * Runs a command with its table: `--help` prints the usage (exit 0), and a
 * usage problem found while parsing, or thrown by `run` before it does any
 * work (a bad value), is reported with the usage (exit 2).
 */
async function runCommand (spec: CommandSpec, args: string[], io: CliIo, run: (parsed: ParsedCommand) => Promise<number>): Promise<number> {
  let parsed: ParsedCommand | undefined
  try {
    parsed = parseCommand(spec, args)
    if (parsed === undefined) {
      io.stdout(commandUsage(spec))
      return kExit.ok
    }
    return await run(parsed)
  } catch (err) {
    if (isUsageError(err)) return usageFailed(io, spec.name, err, commandUsage(spec))
    throw err
  }
}

function positiveInteger (flag: string, text: string): number {
  const value = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) throw usageError(`${flag} must be a positive integer, got "${text}"`)
  return value
}

/**
 * The version in package.json, read when asked: src/cli.ts and the built
 * dist/cli.js both sit one level under the package root, and importing the
 * JSON would put package.json inside the compiled tree.
 */
function packageVersion (): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown }
  return typeof pkg.version === 'string' ? pkg.version : 'unknown'
}

/** Rows as text columns two spaces apart, each as wide as its widest cell; the last column is not padded. */
function formatColumns (rows: ReadonlyArray<readonly string[]>): string[] {
  const widths: number[] = []
  for (const row of rows) {
    row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length) })
  }
  return rows.map((row) => row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)).join('  '))
}

async function scanCommand (args: string[], io: CliIo): Promise<number> {
  return runCommand(scanSpec, args, io, async ({ values }) => {
    const chunk = typeof values.chunk === 'string' ? positiveInteger('--chunk', values.chunk) : Infinity
    const rules = Array.isArray(values.rules) ? values.rules : undefined
    const ruleSet = await loadRules(rulePathsOf(rules, values, '--rules PATH'))
    const scanner = createScanner(ruleSet)
    const findings: Finding[] = []
    let out = ''
    const decoder = new TextDecoder('utf-8')
    const feed = (text: string): void => {
      for (let i = 0; i < text.length; i += Math.min(chunk, text.length)) {
        const r = scanner.write(text.slice(i, i + chunk))
        out += r.text
        findings.push(...r.findings)
      }
    }
    for await (const data of io.stdin()) {
      feed(typeof data === 'string' ? data : decoder.decode(data, { stream: true }))
    }
    feed(decoder.decode())
    const last = scanner.end()
    out += last.text
    findings.push(...last.findings)
    if (values.json === true) {
      io.stdout(JSON.stringify({ text: out, findings, cut: scanner.cut ?? null }, null, 2))
    } else {
      process.stdout.write(out)
    }
    const cut = scanner.cut
    if (cut === undefined) return kExit.ok
    // On a terminal the cut text rarely ends with a newline: start the note on a line of its own.
    const own = values.json !== true && out !== '' && !out.endsWith('\n') && process.stdout.isTTY === true && process.stderr.isTTY === true ? '\n' : ''
    io.stderr(`${own}sluice scan: cut by rule ${cut.ruleId} (${cut.category}, ${cut.severity}) at offset ${cut.start}: nothing after it was released`)
    return kExit.cut
  })
}

/** The subcommand of a command group (`rules`, `audit`): help for the group, or a usage error naming what is missing or unknown. */
function subcommand (group: string, args: string[], known: readonly string[], text: string, io: CliIo): { sub: string, rest: string[] } | number {
  const [sub, ...rest] = args
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    if (sub === undefined) return usageFailed(io, group, usageError(`missing command: ${known.join(', ')}`), text)
    io.stdout(text)
    return kExit.ok
  }
  if (!known.includes(sub)) {
    const what = sub.startsWith('-') ? `unknown option "${sub}" (a command comes first: ${known.join(', ')})` : `unknown command "${sub}" (one of: ${known.join(', ')})`
    return usageFailed(io, group, usageError(what), text)
  }
  return { sub, rest }
}

async function rulesCommand (args: string[], io: CliIo): Promise<number> {
  const picked = subcommand('rules', args, ['test', 'list', 'schema'], rulesUsage, io)
  if (typeof picked === 'number') return picked
  const { sub, rest } = picked
  if (sub === 'schema') {
    return runCommand(rulesSchemaSpec, rest, io, async () => {
      io.stdout(JSON.stringify(RuleFileSchema, null, 2))
      return kExit.ok
    })
  }
  if (sub === 'list') {
    return runCommand(rulesListSpec, rest, io, async ({ values, positionals }) => {
      const ruleSet = await loadRules(rulePathsOf(positionals, values, 'a PATH'))
      const changed = (o: { file: string, line: number }): string => `${o.file}:${o.line}`
      const rows = ruleSet.rules.map((r) => [r.id, r.category, r.action, r.severity,
        `${r.enabled ? '' : `(disabled${r.origin.disabledAt === undefined ? '' : ` at ${changed(r.origin.disabledAt)}`}) `}` +
        `${r.origin.overrides === undefined ? '' : `(overridden at ${r.origin.overrides.map(changed).join(', ')}) `}${r.description}`])
      // On a terminal, one line per rule keeps the columns readable: long descriptions are cut at its width.
      const width = process.stdout.isTTY === true ? process.stdout.columns : Infinity
      for (const line of formatColumns(rows)) io.stdout(line.length > width ? line.slice(0, width - 1) + '…' : line)
      io.stdout(`${ruleSet.rules.length} rules from ${ruleSet.files.length} file(s)`)
      return kExit.ok
    })
  }
  return runCommand(rulesTestSpec, rest, io, async ({ values, positionals }) => {
    const ruleSet = await loadRules(rulePathsOf(positionals, values, 'a PATH'))
    const report = testRuleExamples(ruleSet)
    for (const f of report.failures) {
      io.stderr(`${f.file}:${f.line}: ${f.ruleId}: ${f.kind} example ${JSON.stringify(f.text)}: ${f.reason}`)
    }
    for (const s of report.skipped) {
      io.stderr(`note: ${s.file}:${s.line}: ${s.ruleId}: match example ${JSON.stringify(s.text)} skipped: ${s.reason}`)
    }
    const skipped = report.skipped.length === 0 ? '' : `, ${report.skipped.length} skipped`
    io.stdout(`${report.rules} rules, ${report.examples} examples, ${report.failures.length} failed${skipped}`)
    return report.failures.length === 0 ? kExit.ok : kExit.failed
  })
}

/** The files `audit verify` checks: each FILE's rotated series with `--rotated`, else the FILEs put in series order. */
function auditFiles (paths: string[], rotated: boolean): string[] {
  if (!rotated) return sortAuditSeries(paths)
  return paths.flatMap((active) => [...listRotatedFiles(active), ...(existsSync(active) ? [active] : [])])
}

/** An empty variable means no key, as in the proxy's config (proxy-config.ts). */
function keyFromEnv (name: string): string | undefined {
  return process.env[name]?.trim() || undefined
}

async function auditCommand (args: string[], io: CliIo): Promise<number> {
  const picked = subcommand('audit', args, ['verify'], auditUsage, io)
  if (typeof picked === 'number') return picked
  return runCommand(auditVerifySpec, picked.rest, io, async ({ values, positionals }) => auditVerify(values, positionals, io))
}

async function auditVerify (values: ParsedCommand['values'], positionals: string[], io: CliIo): Promise<number> {
  const files = auditFiles(positionals, values.rotated === true)
  if (files.length === 0) {
    io.stderr(`no audit files found for ${positionals.join(', ')}`)
    return kExit.failed
  }
  const chainKey = typeof values['chain-key'] === 'string' ? values['chain-key'] : keyFromEnv('SLUICE_AUDIT_CHAIN_KEY')
  const checkpointKey = typeof values['checkpoint-key'] === 'string' ? values['checkpoint-key'] : keyFromEnv('SLUICE_AUDIT_CHECKPOINT_KEY')
  const result = await verifyAuditLog(files, {
    ...(chainKey === undefined ? {} : { chainKey }),
    ...(checkpointKey === undefined ? {} : { checkpointKey })
  })
  if (!result.ok) {
    io.stderr(`${result.file}:${result.line}: ${result.reason}`)
    // 3: every record verifies, only the end is not vouched for (a crash, a
    // log still open, or a cut tail); 1: the chain itself is broken.
    return result.truncated === true || result.unsealed === true ? kExit.unsealed : kExit.failed
  }
  let summary = `ok: ${result.records} records`
  if (files.length > 1) summary += ` in ${files.length} files`
  if (result.checkpoints !== undefined) summary += `, sealed by a "${result.sealedBy}" checkpoint (${result.checkpoints} checkpoints)`
  io.stdout(summary)
  if (result.checkpoints === undefined) {
    const found = result.uncheckedCheckpoints === undefined ? '' : ` (${result.uncheckedCheckpoints} checkpoints not checked)`
    io.stderr(`note: no checkpoint key${found}: records cut off the end of the log cannot be detected`)
  }
  if (result.continues !== undefined) {
    io.stderr(`note: ${files[0]} continues ${result.continues.file}, which was not checked`)
  }
  for (const r of result.resumed ?? []) {
    io.stderr(`note: ${r.file}:${r.line}: a writer resumed a log that was not closed cleanly; ${r.unsealedRecords} records before this were unsealed until then`)
  }
  return kExit.ok
}

/** `sluice playground`: the page and its API on their own server (playground/run-playground.ts), until a signal. */
async function playgroundCommand (args: string[], io: CliIo): Promise<number> {
  return runCommand(playgroundSpec, args, io, async ({ values }) => {
    const portText = typeof values.port === 'string' ? values.port : '8787'
    const port = Number(portText)
    if (!/^\d+$/.test(portText) || port > 65535) throw usageError(`--port must be an integer from 0 to 65535, got "${portText}"`)
    const rules = Array.isArray(values.rules) ? values.rules : []
    if (values['no-default-rules'] === true && rules.length === 0) throw usageError('--no-default-rules needs --rules PATH: there would be no rules')
    // Fastify is loaded only when asked, as for the proxy.
    const { runPlayground } = await import('./playground/run-playground.js')
    return runPlayground({
      host: typeof values.host === 'string' ? values.host : '127.0.0.1',
      port,
      rules,
      defaultRules: values['no-default-rules'] !== true,
      samples: typeof values.samples === 'string' ? values.samples : undefined
    }, io)
  })
}

/** `sluice help [COMMAND [SUBCOMMAND]]`: the usage of a command, as its own `--help` prints it. */
async function helpCommand (args: string[], io: CliIo): Promise<number> {
  const [first] = args
  if (first === undefined || first === 'help' || first === '--help' || first === '-h') {
    io.stdout(usage)
    return kExit.ok
  }
  return main([...args, '--help'], io)
}

/** Runs the CLI; resolves to the exit code. */
export async function main (argv: string[], io: CliIo = defaultIo): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'scan': return await scanCommand(rest, io)
      case 'rules': return await rulesCommand(rest, io)
      case 'audit': return await auditCommand(rest, io)
      // The proxy pulls in fastify, undici and prom-client: load it only when asked.
      case 'proxy': return await (await import('./proxy/run-proxy.js')).runProxy(rest)
      case 'demo': return await (await import('./proxy/run-proxy.js')).runDemo(rest)
      case 'playground': return await playgroundCommand(rest, io)
      case 'version':
      case '--version':
      case '-v':
        if (rest.length > 0 && !wantsHelp(rest)) return usageFailed(io, command, usageError(`unexpected argument "${rest[0] ?? ''}"`), usage)
        io.stdout(wantsHelp(rest) ? 'Usage: sluice version\n\nPrints the version of Sluice.' : packageVersion())
        return kExit.ok
      case 'help':
      case '--help':
      case '-h':
        return helpCommand(rest, io)
      case undefined:
        io.stderr(`sluice: missing command\n\n${usage}`)
        return kExit.usage
      default: {
        const what = command.startsWith('-') ? `unknown option "${command}"` : `unknown command "${command}"`
        io.stderr(`sluice: ${what}\n\n${usage}`)
        return kExit.usage
      }
    }
  } catch (err) {
    io.stderr(`sluice ${command}: ${(err as Error).message}`)
    return kExit.failed
  }
}
