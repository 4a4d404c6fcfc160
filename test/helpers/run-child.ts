/**
 * @module test/helpers/run-child
 * Runs a child process (Node unless told otherwise) to its end, as a user's
 * shell would: stdin fed, stdout and stderr collected, the exit code
 * returned. The child is killed if the test ends first.
 */
import { spawn } from 'node:child_process'
import type { Test } from 'tap'

export interface ChildRun {
  code: number | null
  stdout: string
  stderr: string
}

export interface RunChildOptions {
  /** The program to run (default: this Node), e.g. `npm` or `npx` from PATH. */
  command?: string
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** Written to stdin, which is then closed. */
  input?: string
}

/** `node ...args` (or `command ...args`) to completion. */
export function runChild (t: Test, args: readonly string[], { command = process.execPath, cwd, env = process.env, input = '' }: RunChildOptions = {}): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] })
    t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill() })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(input)
  })
}
