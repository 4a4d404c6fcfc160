/**
 * @module playground/safe-paths
 * The playground reads and writes files named in requests, so every path a
 * request names is checked here before any file is opened: a path with a
 * `..` segment or a NUL is refused as written (whatever it would resolve
 * to), and what is left must resolve — symbolic links followed — to one of
 * the rule files the playground was started with, or to a file inside its
 * sample folder. Nothing else on the machine can be read or written
 * through it.
 */
import { realpath } from 'node:fs/promises'
import { isAbsolute, relative, resolve, sep } from 'node:path'
import { BadRequestError } from '../errors.js'

/** Refuses a path with a `..` segment, a NUL, or nothing in it; returns it resolved (not yet following links). */
export function cleanPath (path: unknown, what: string): string {
  if (typeof path !== 'string' || path === '') throw new BadRequestError(`${what}: a path is required`)
  if (path.includes('\0')) throw new BadRequestError(`${what}: the path contains a NUL character`)
  if (path.split(/[\\/]/).includes('..')) throw new BadRequestError(`${what}: ".." is not allowed in a path: ${path}`)
  return resolve(path)
}

/** The path with links followed, or undefined when nothing is there. */
export async function realPathOf (path: string): Promise<string | undefined> {
  return realpath(path).catch(() => undefined)
}

/** Whether `path` (links followed) lies strictly inside the directory `root` (links followed). */
export function isInside (root: string, path: string): boolean {
  const rel = relative(root, path)
  return rel !== '' && !rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel)
}
