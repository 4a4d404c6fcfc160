/**
 * @module cli-args
 * Argument parsing for the CLI's commands. One table per command gives
 * both the parser and its usage text, so the two cannot drift; every
 * command takes `-h`/`--help`; and a usage problem (an unknown option, a
 * missing value, an unexpected or missing argument) is an
 * `InvalidOptionsError` whose message names it, which the CLI prints with
 * the command's usage and exit code 2.
 *
 * Node's `parseArgs` runs non-strict and the checks are ours: its strict
 * messages name no command and suggest `--` for a typo'd flag.
 */
import { parseArgs } from 'node:util'
import { InvalidOptionsError } from './errors.js'

export interface CommandOption {
  type: 'string' | 'boolean'
  /** May be given more than once (values collected in order). */
  multiple?: boolean
  /** What the value is, in the usage text: `N`, `PATH`, `KEY`. */
  value?: string
  help: string
}

export interface CommandSpec {
  /** As typed after `sluice`: `scan`, `rules test`. */
  name: string
  /** Options the command cannot run without, before `[options]` in the usage line: `--upstream URL`. */
  required?: string
  /** After the options in the usage line: `FILE...`, `[PATH...]`, `< input`. */
  operands?: string
  /** What the command does, one or more lines. */
  summary: string
  options: Record<string, CommandOption>
  /** Positional arguments: at least `min`, at most `max` (no limit if unset); none when absent. `name` is used in "missing NAME". */
  positionals?: { min: number, max?: number, name: string }
  /** Lines under "Exit codes:" in the usage text. */
  exitCodes?: string[]
}

export interface ParsedCommand {
  values: Record<string, string | boolean | string[] | undefined>
  positionals: string[]
}

/** The usage text of a command, built from its table. */
export function commandUsage (spec: CommandSpec): string {
  const hasOptions = Object.keys(spec.options).length > 0
  const line = `Usage: sluice ${spec.name}${spec.required === undefined ? '' : ' ' + spec.required}${hasOptions ? ' [options]' : ''}${spec.operands === undefined ? '' : ' ' + spec.operands}`
  const flags: Array<[string, string]> = Object.entries(spec.options).map(([name, o]) => [`--${name}${o.value === undefined ? '' : ' ' + o.value}`, o.help + (o.multiple === true ? ', repeatable' : '')])
  flags.push(['-h, --help', 'print this help'])
  const width = Math.max(...flags.map(([flag]) => flag.length))
  const parts = [line, '', spec.summary, '', 'Options:', ...flags.map(([flag, help]) => `  ${flag.padEnd(width)}  ${help}`)]
  if (spec.exitCodes !== undefined) parts.push('', 'Exit codes:', ...spec.exitCodes.map((l) => `  ${l}`))
  return parts.join('\n')
}

/** A usage problem, as the CLI reports it (exit code 2). */
export function usageError (problem: string): Error {
  return new InvalidOptionsError(problem)
}

export interface IntegerBounds {
  /** Smallest value allowed (default 1: a count, a size, a duration). */
  min?: number
  /** Largest value allowed (default: the largest safe integer). */
  max?: number
}

/** The range an integer option takes, as its error message says it: "a positive integer", "an integer from 0 to 65535". */
function integerRange ({ min = 1, max = Number.MAX_SAFE_INTEGER }: IntegerBounds = {}): string {
  if (max < Number.MAX_SAFE_INTEGER) return `an integer from ${min} to ${max}`
  return min === 1 ? 'a positive integer' : `an integer of ${min} or more`
}

/**
 * An integer option's value (`--chunk 3`, `SLUICE_PORT=8080`): decimal
 * digits only (no sign, exponent, hex or fraction), within the bounds.
 * Anything else is a usage error naming the option and what it takes.
 *
 * @example
 * integerArgument('--port', '8080', { min: 0, max: 65535 }) // 8080
 * integerArgument('--chunk', '0') // throws: --chunk must be a positive integer, got "0"
 */
export function integerArgument (name: string, text: string, bounds: IntegerBounds = {}): number {
  const { min = 1, max = Number.MAX_SAFE_INTEGER } = bounds
  const value = Number(text)
  if (/^\d+$/.test(text) && Number.isSafeInteger(value) && value >= min && value <= max) return value
  throw usageError(`${name} must be ${integerRange(bounds)}, got "${text}"`)
}

/** Whether `err` is a usage problem (bad flag, argument, value or config) rather than a failure to do the work. */
export function isUsageError (err: unknown): err is Error {
  return (err as { code?: unknown } | null)?.code === 'SLUICE_INVALID_OPTIONS'
}

const kCatalogPrefix = 'Invalid options: '

/** The problem alone, without the catalogue's "Invalid options: " (the CLI says which command it is). */
export function usageProblem (err: Error): string {
  return err.message.startsWith(kCatalogPrefix) ? err.message.slice(kCatalogPrefix.length) : err.message
}

/** True when `-h` or `--help` is among the options (not after `--`). */
export function wantsHelp (args: readonly string[]): boolean {
  for (const arg of args) {
    if (arg === '--') return false
    if (arg === '--help' || arg === '-h') return true
  }
  return false
}

/**
 * Parses a command's arguments against its table. Returns `undefined` when
 * help was asked for; throws a usage error naming the problem otherwise.
 *
 * @example
 * const parsed = parseCommand(scanSpec, ['--chunk', '3'])
 * if (parsed === undefined) io.stdout(commandUsage(scanSpec))
 */
export function parseCommand (spec: CommandSpec, args: readonly string[]): ParsedCommand | undefined {
  if (wantsHelp(args)) return undefined
  const options: Record<string, { type: 'string' | 'boolean', multiple?: boolean }> = {}
  for (const [name, o] of Object.entries(spec.options)) options[name] = { type: o.type, ...(o.multiple === true ? { multiple: true } : {}) }
  const { values, positionals, tokens } = parseArgs({ args: [...args], options, strict: false, allowPositionals: true, tokens: true })
  for (const token of tokens) {
    if (token.kind !== 'option') continue
    const option = spec.options[token.name]
    if (option === undefined) throw usageError(`unknown option "${token.rawName}"`)
    if (option.type === 'boolean' && token.inlineValue === true) throw usageError(`option "${token.rawName}" takes no value`)
    if (option.type === 'string') {
      const needs = `option "${token.rawName}" needs a value: ${token.rawName} ${option.value ?? 'VALUE'}`
      if (token.value === undefined) throw usageError(needs)
      // "--chain-key --rotated" is a forgotten value far more often than a key that starts with "-".
      if (token.inlineValue !== true && token.value.startsWith('-')) {
        throw usageError(`${needs}, got "${token.value}" (write ${token.rawName}=${token.value} if that is the value)`)
      }
    }
  }
  const { min = 0, max = Infinity, name = '' } = spec.positionals ?? { max: 0 }
  if (positionals.length < min) throw usageError(`missing ${name}`)
  if (positionals.length > max) throw usageError(`unexpected argument "${positionals[max] ?? ''}"`)
  return { values: values as ParsedCommand['values'], positionals }
}
