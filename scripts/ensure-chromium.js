// Runs before the tests in `npm test`: the playground's browser tests
// (test/playground/browser.test.ts) drive a real Chromium through
// playwright-core, which brings no browser of its own, so one must be at
// /usr/bin/chromium. On a fresh machine it is not, and `npm test` must pass
// there with no other step: when it is missing and the machine has apt-get
// (as root, or with passwordless sudo), Debian's chromium package is
// installed. Anywhere else this prints the command to run and leaves the
// browser tests to fail with the same hint; it never fails `npm test` by
// itself.
import { existsSync } from 'node:fs'
import { execFileSync, spawnSync } from 'node:child_process'

const kChromium = '/usr/bin/chromium'
const kInstall = 'apt-get update && apt-get install -y --no-install-recommends chromium'

function onPath (command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0
}

function run (argv) {
  execFileSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
}

if (!existsSync(kChromium)) {
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  const sudo = root ? [] : onPath('sudo') ? ['sudo', '-n'] : undefined
  if (sudo === undefined || !onPath('apt-get')) {
    console.error(`${kChromium} is missing; the playground's browser tests will fail. Install it, e.g.: ${kInstall}`)
  } else {
    try {
      console.error(`${kChromium} is missing: installing Debian's chromium for the playground's browser tests`)
      run([...sudo, 'apt-get', 'update', '-qq'])
      run([...sudo, 'apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'chromium'])
    } catch (err) {
      console.error(`could not install chromium (${/** @type {Error} */ (err).message}); the playground's browser tests will fail. Install it, e.g.: ${kInstall}`)
    }
  }
}
