#!/usr/bin/env node
// Thin launcher: the CLI runs from dist/ (shipped built in the package; built by `npm install` in a clone).
import { main } from '../dist/cli.js'

/**
 * The process ends when its event loop is empty, so every log line and audit
 * record is flushed. After a failure, a handle something left open (a file
 * watcher, a socket) must not keep it running: a supervisor restarts on exit.
 * The timer is unref'd, so a process that ends on its own ends sooner.
 */
function fail (code) {
  process.exitCode = code
  setTimeout(() => { process.exit(code) }, 1000).unref()
}

// A reader that stops early (`sluice rules list | head`) closes the pipe:
// stop quietly, as cat and grep do, instead of dying on an unhandled EPIPE.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0)
  throw err
})

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code !== 'number') return
    if (code === 0) process.exitCode = 0
    else fail(code)
  },
  (err) => { console.error(err?.message ?? err); fail(1) }
)
