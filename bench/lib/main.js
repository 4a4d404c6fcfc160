// Runs a bench module as a script: `node bench/x.bench.js [--quick]` calls its
// `run({ quick })`, prints its report, and stops every child process (by PID)
// whatever happens.
import { stopAll } from './procs.js'

export async function runAsScript (bench) {
  const quick = process.argv.includes('--quick')
  try {
    const result = await bench.run({ quick, log: (line) => console.log(line) })
    console.log(bench.report(result))
  } catch (err) {
    console.error(err?.stack ?? err)
    process.exitCode = 1
  } finally {
    await stopAll()
  }
}

/** True when `metaUrl` is the module node was started with. */
export function isMain (metaUrl) {
  return process.argv[1] !== undefined && new URL(metaUrl).pathname === process.argv[1]
}
