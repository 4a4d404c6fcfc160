// npm's `prepare` script. npm runs it after `npm install`/`npm ci` in a
// clone (and for a git dependency), where dist/ must be built for bin/ and
// the exports to work. `npm pack` and `npm publish` run it too, right after
// `prepack` has already made a clean build; a second tsc run there would only
// cost time (about 15 s on 2 cores), so it is skipped. `prepack` is the one
// that builds for a tarball, because pnpm and yarn run `prepack` and not
// `prepare` when they pack.
import { spawnSync } from 'node:child_process'

const command = process.env.npm_command
if (command !== 'pack' && command !== 'publish') {
  // npm_execpath: the package manager's own script (npm, pnpm and yarn set
  // it), so the build runs with the tool that runs this; plain `npm` if unset.
  const npm = process.env.npm_execpath
  const result = npm === undefined
    ? spawnSync('npm', ['run', 'build'], { stdio: 'inherit', shell: process.platform === 'win32' })
    : spawnSync(process.execPath, [npm, 'run', 'build'], { stdio: 'inherit' })
  process.exitCode = result.status ?? 1
}
