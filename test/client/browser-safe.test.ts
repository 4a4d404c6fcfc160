/**
 * The client runs in browsers: its modules import nothing but each other
 * (no `node:` module, no package), use no Node global, and the public entry
 * has no effect at import (only the Worker's entry module does, and the
 * entry does not import it).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { projectRoot } from '../proxy/fixtures/harness.js'

const dir = join(projectRoot, 'src', 'client')
const files = readdirSync(dir).filter((f) => f.endsWith('.ts'))

function importsOf (source: string): string[] {
  return [...source.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'|^\s*import\s+'([^']+)'/gm)].map((m) => m[1] ?? m[2] as string)
}

/** The source without comments (they may name anything). */
function code (source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1')
}

t.test('imports only sibling modules', async (t) => {
  for (const file of files) {
    for (const spec of importsOf(readFileSync(join(dir, file), 'utf8'))) {
      t.match(spec, /^\.\/[a-z0-9-]+\.js$/, `${file} imports ${spec}`)
    }
  }
})

t.test('uses no Node global', async (t) => {
  for (const file of files) {
    t.notMatch(code(readFileSync(join(dir, file), 'utf8')), /\b(?:Buffer|process|require|__dirname|setImmediate|global)\b/, file)
  }
})

t.test('the public entry does not reach the worker entry, and every other module only declares', async (t) => {
  const seen = new Set<string>()
  const visit = (file: string): void => {
    if (seen.has(file)) return
    seen.add(file)
    for (const spec of importsOf(readFileSync(join(dir, file), 'utf8'))) visit(spec.slice(2).replace(/\.js$/, '.ts'))
  }
  visit('index.ts')
  t.notOk(seen.has('decode-worker.ts'))
  for (const file of seen) {
    const statements = code(readFileSync(join(dir, file), 'utf8')).split('\n').filter((line) => /^[^\s}\])]/.test(line))
    const effects = statements.filter((line) => !/^(?:import|export|const|let|function|interface|type|class|async function)\b/.test(line))
    t.same(effects, [], `${file}: top level only declares`)
  }
})
