/**
 * @module cli
 * `sluice <command>`: the command-line face of the library. Each command is
 * a thin shell over a library function; output goes to stdout, problems to
 * stderr, and the exit code says whether things passed.
 */
import { existsSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { listRotatedFiles, sortAuditSeries } from './audit/rotated-files.js'
import { verifyAuditLog } from './audit/verify-audit-log.js'
import { defaultRulesDir, loadRuleSet } from './rules/load-rules.js'
import { RuleFileSchema } from './rules/rule-schema.js'
import { testRuleExamples } from './rules/test-rules.js'
import { createScanner } from './scanner/create-scanner.js'
import type { Finding } from './scanner/types.js'

const usage = `Usage: sluice <command> [options]

Commands:
  scan [--json] [--chunk N] [--rules PATH]...   sanitize stdin to stdout
  rules test [PATH...]                          run every rule's examples (default: shipped rules)
  rules list [PATH...]                          print the loaded rules
  rules schema                                  print the JSON Schema of rule files
  audit verify [--rotated] [--chain-key KEY] [--checkpoint-key KEY] FILE...
                                                check audit files (rotated ones oldest first): hash
                                                chain and checkpoints; exit 1 broken, 3 end not sealed
  proxy --upstream URL [--port N] [--host H] [--rules DIR]... [--audit FILE] [--config FILE]
  demo [--port N]                               the proxy in front of the built-in demo upstream
`

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

async function scanCommand (args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { json: { type: 'boolean' }, chunk: { type: 'string' }, rules: { type: 'string', multiple: true } }
  })
  const ruleSet = await loadRuleSet(values.rules ?? defaultRulesDir())
  const scanner = createScanner(ruleSet)
  const chunk = values.chunk === undefined ? Infinity : Number(values.chunk)
  if (!(chunk > 0)) throw new Error('--chunk must be a positive number')
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
  return 0
}

async function rulesCommand (args: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args
  if (sub === 'schema') {
    io.stdout(JSON.stringify(RuleFileSchema, null, 2))
    return 0
  }
  if (sub !== 'list' && sub !== 'test') {
    io.stderr(usage)
    return 2
  }
  const paths = rest.length > 0 ? rest : [defaultRulesDir()]
  const ruleSet = await loadRuleSet(paths)
  if (sub === 'list') {
    for (const r of ruleSet.rules) {
      io.stdout(`${r.id.padEnd(28)} ${r.category.padEnd(10)} ${r.action.padEnd(7)} ${r.severity.padEnd(8)} ${r.enabled ? '' : '(disabled) '}${r.description}`)
    }
    io.stdout(`${ruleSet.rules.length} rules from ${ruleSet.files.length} file(s)`)
    return 0
  }
  const report = testRuleExamples(ruleSet)
  for (const f of report.failures) {
    io.stderr(`${f.file}:${f.line}: ${f.ruleId}: ${f.kind} example ${JSON.stringify(f.text)}: ${f.reason}`)
  }
  io.stdout(`${report.rules} rules, ${report.examples} examples, ${report.failures.length} failed`)
  return report.failures.length === 0 ? 0 : 1
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
  const [sub, ...rest] = args
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { 'chain-key': { type: 'string' }, 'checkpoint-key': { type: 'string' }, rotated: { type: 'boolean' } }
  })
  if (sub !== 'verify' || positionals.length === 0) {
    io.stderr(usage)
    return 2
  }
  const files = auditFiles(positionals, values.rotated === true)
  if (files.length === 0) {
    io.stderr(`no audit files found for ${positionals.join(', ')}`)
    return 1
  }
  const chainKey = values['chain-key'] ?? keyFromEnv('SLUICE_AUDIT_CHAIN_KEY')
  const checkpointKey = values['checkpoint-key'] ?? keyFromEnv('SLUICE_AUDIT_CHECKPOINT_KEY')
  const result = await verifyAuditLog(files, {
    ...(chainKey === undefined ? {} : { chainKey }),
    ...(checkpointKey === undefined ? {} : { checkpointKey })
  })
  if (!result.ok) {
    io.stderr(`${result.file}:${result.line}: ${result.reason}`)
    // 3: every record verifies, only the end is not vouched for (a crash, a
    // log still open, or a cut tail); 1: the chain itself is broken.
    return result.truncated === true || result.unsealed === true ? 3 : 1
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
  return 0
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
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout(usage)
        return command === undefined ? 2 : 0
      default:
        io.stderr(`unknown command "${command}"\n${usage}`)
        return 2
    }
  } catch (err) {
    io.stderr(`sluice ${command}: ${(err as Error).message}`)
    return 1
  }
}
