/**
 * @module demo/upstream-main
 * Runs the demo upstream as its own process, for tests and benchmarks that
 * need the upstream outside the process under test:
 *
 *   node dist/demo/upstream-main.js [--port N] [--host H] [--rate N] [--chunk MIN-MAX] [--seed N]
 *
 * When ready it prints exactly one line to stdout, `listening on <base url>`,
 * which callers parse; SIGTERM or SIGINT close it cleanly (exit code 0).
 */
import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { InvalidOptionsError } from '../errors.js'
import { createDemoUpstream } from './create-demo-upstream.js'
import type { DemoUpstream, DemoUpstreamOptions } from './create-demo-upstream.js'

export interface UpstreamMainArgs {
  port: number
  host: string
  options: DemoUpstreamOptions
}

function integerArg (name: string, text: string, min: number, max: number): number {
  const value = Number(text)
  if (text.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionsError(`--${name} must be an integer from ${min} to ${max}, got "${text}"`)
  }
  return value
}

function readFlags (argv: readonly string[]): Partial<Record<'port' | 'host' | 'rate' | 'chunk' | 'seed', string>> {
  try {
    return parseArgs({
      args: [...argv],
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        rate: { type: 'string' },
        chunk: { type: 'string' },
        seed: { type: 'string' }
      },
      strict: true,
      allowPositionals: false
    }).values
  } catch (err) {
    // parseArgs throws plain TypeErrors (unknown option, missing value); give them our code.
    throw new InvalidOptionsError(err instanceof Error ? err.message : String(err))
  }
}

/**
 * Parses the command line; throws `InvalidOptionsError` (SLUICE_INVALID_OPTIONS) on a bad one.
 *
 * @example
 * parseUpstreamArgs(['--port', '0', '--rate', '0', '--chunk', '2-5'])
 * // { port: 0, host: '127.0.0.1', options: { chunksPerSecond: 0, chunkSize: [2, 5] } }
 */
export function parseUpstreamArgs (argv: readonly string[]): UpstreamMainArgs {
  const values = readFlags(argv)
  const options: DemoUpstreamOptions = {}
  if (values.rate !== undefined) {
    const rate = Number(values.rate)
    if (values.rate.trim() === '' || !Number.isFinite(rate) || rate < 0) {
      throw new InvalidOptionsError(`--rate must be a number >= 0, got "${values.rate}"`)
    }
    options.chunksPerSecond = rate
  }
  if (values.chunk !== undefined) {
    const m = /^(\d+)-(\d+)$/.exec(values.chunk)
    const min = Number(m?.[1])
    const max = Number(m?.[2])
    if (m === null || min < 1 || max < min) {
      throw new InvalidOptionsError(`--chunk must be MIN-MAX with 1 <= MIN <= MAX, got "${values.chunk}"`)
    }
    options.chunkSize = [min, max]
  }
  if (values.seed !== undefined) options.seed = integerArg('seed', values.seed, -(2 ** 31), 2 ** 32 - 1)
  return {
    port: values.port === undefined ? 0 : integerArg('port', values.port, 0, 65535),
    host: values.host ?? '127.0.0.1',
    options
  }
}

/** Starts the upstream and wires the signals; resolves with it once it listens. */
export async function main (argv: readonly string[]): Promise<DemoUpstream> {
  const args = parseUpstreamArgs(argv)
  const upstream = createDemoUpstream(args.options)
  const url = await upstream.listen(args.port, args.host)
  process.stdout.write(`listening on ${url}\n`)
  const shutdown = (): void => {
    process.removeListener('SIGTERM', shutdown)
    process.removeListener('SIGINT', shutdown)
    // close() clears every timer and destroys every socket, so the event loop empties and the process exits 0 by itself.
    upstream.close().catch((err: unknown) => {
      process.stderr.write(`demo upstream: close failed: ${String(err)}\n`)
      process.exitCode = 1
    })
  }
  process.once('SIGTERM', shutdown)
  process.once('SIGINT', shutdown)
  return upstream
}

/** True when this file is the process entry (argv[1] may be a symlink, hence realpath). */
function isEntry (): boolean {
  const entry = process.argv[1]
  if (entry === undefined) return false
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href
  } catch {
    return false
  }
}

// Run only when executed directly, so tests can import parseUpstreamArgs.
if (isEntry()) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`demo upstream: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 2
  })
}
