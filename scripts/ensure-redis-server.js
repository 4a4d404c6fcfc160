// Runs first in `npm test`: the Redis tests (test/helpers/redis-server.ts)
// start their own redis-server on free 127.0.0.1 ports, so one must be on
// PATH. On a fresh machine it is not, and `npm test` must pass there with no
// other step: when it is missing and the machine has apt-get (as root, or
// with passwordless sudo), Debian's redis-server package is installed. The
// package starts a system service on 6379 that the tests do not use, so it
// is stopped again. Anywhere else this prints the command to run and leaves
// the Redis tests to fail with the same hint; it never fails `npm test` by
// itself.
import { execFileSync, spawnSync } from 'node:child_process'

const kInstall = 'apt-get update && apt-get install -y --no-install-recommends redis-server'

function onPath (command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0
}

function run (argv) {
  execFileSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
}

if (!onPath('redis-server')) {
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  const sudo = root ? [] : onPath('sudo') ? ['sudo', '-n'] : undefined
  if (sudo === undefined || !onPath('apt-get')) {
    console.error(`redis-server is not on PATH; the Redis tests will fail. Install it, e.g.: ${kInstall}`)
  } else {
    try {
      console.error('redis-server is not on PATH: installing Debian\'s redis-server for the Redis tests')
      run([...sudo, 'apt-get', 'update', '-qq'])
      run([...sudo, 'apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'redis-server'])
      const [command, ...args] = [...sudo, 'service', 'redis-server', 'stop']
      spawnSync(command, args, { stdio: 'ignore' })
    } catch (err) {
      console.error(`could not install redis-server (${/** @type {Error} */ (err).message}); the Redis tests will fail. Install it, e.g.: ${kInstall}`)
    }
  }
}
