/**
 * @module test/import-graph
 * The shape of src/'s static import graph (relative specifiers, read with
 * the TypeScript parser; `import()` is not static and not followed):
 * - no cycle among the modules, counting the imports that run (a cycle
 *   through `import type` only is erased at build time, and reported apart);
 * - the public entries do not load the demo upstream: no chain of imports
 *   that run leads from `src/index.ts`, `src/proxy/index.ts` or
 *   `src/scanner/index.ts` to `src/demo/**` (an `import type` loads
 *   nothing);
 * - the layers keep their direction: the rules never import the scanner
 *   (the scanner runs rules; what needs both sits above them, as
 *   src/rules-test.ts);
 * - the core does no I/O: the rules, the scanner, the codecs, the framings
 *   and the stream sanitizer import no file, socket or process module
 *   (rules/load-rules.ts, which reads rule files, is the one exception).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import ts from 'typescript'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src')

interface Edge {
  /** Path relative to src/, or the bare specifier (`node:fs`) of a package. */
  to: string
  /** `import type` / `export type`: erased at build time. */
  typeOnly: boolean
}

function sourceFiles (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : []
  })
}

function name (path: string): string {
  return relative(root, path).split('\\').join('/')
}

/** The static imports and re-exports of `file`. */
function importsOf (file: string): Edge[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false, ts.ScriptKind.TS)
  const edges: Edge[] = []
  for (const statement of source.statements) {
    let specifier: ts.Expression | undefined
    let typeOnly = false
    if (ts.isImportDeclaration(statement)) {
      specifier = statement.moduleSpecifier
      typeOnly = statement.importClause?.isTypeOnly === true
    } else if (ts.isExportDeclaration(statement)) {
      specifier = statement.moduleSpecifier
      typeOnly = statement.isTypeOnly
    }
    if (specifier === undefined || !ts.isStringLiteral(specifier)) continue
    const text = specifier.text
    const to = text.startsWith('.') ? name(resolve(dirname(file), text.replace(/\.js$/, '.ts'))) : text
    edges.push({ to, typeOnly })
  }
  return edges
}

const graph = new Map<string, Edge[]>(sourceFiles(root).map((file) => [name(file), importsOf(file)]))

function localEdges (from: string, runtimeOnly: boolean): string[] {
  return (graph.get(from) ?? []).filter((e) => graph.has(e.to) && !(runtimeOnly && e.typeOnly)).map((e) => e.to)
}

/** Every elementary cycle found by a depth-first walk, as `a.ts -> b.ts -> a.ts` (one per back edge). */
function cycles (runtimeOnly: boolean): string[] {
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const found: string[] = []
  function visit (node: string): void {
    state.set(node, 'open')
    stack.push(node)
    for (const next of localEdges(node, runtimeOnly)) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next].join(' -> '))
      else if (!state.has(next)) visit(next)
    }
    stack.pop()
    state.set(node, 'done')
  }
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node)
  return found
}

/** The chain of imports that run from `entry` to the first module `target` accepts, if any. */
function pathTo (entry: string, target: (node: string) => boolean): string[] | undefined {
  const from = new Map<string, string | undefined>([[entry, undefined]])
  const queue = [entry]
  while (queue.length > 0) {
    const node = queue.shift() as string
    if (target(node)) {
      const path = [node]
      for (let at = from.get(node); at !== undefined; at = from.get(at)) path.unshift(at)
      return path
    }
    for (const next of localEdges(node, true)) {
      if (from.has(next)) continue
      from.set(next, node)
      queue.push(next)
    }
  }
  return undefined
}

t.test('the walk reads the whole tree', async (t) => {
  t.ok(graph.size > 100, `${graph.size} modules`)
  t.ok(localEdges('index.ts', false).includes('scanner/index.ts'), 'index.ts imports scanner/index.ts')
  t.ok(graph.get('scanner/find-match.ts')?.some((e) => e.to === 'rules/entropy.ts' && !e.typeOnly), 'a runtime import is seen')
  t.ok(graph.get('scanner/find-match.ts')?.some((e) => e.to === 'rules/rule-set.ts' && e.typeOnly), 'a type-only import is seen as one')
})

t.test('no import cycle among the modules', async (t) => {
  const runtime = cycles(true)
  t.same(runtime, [], `cycles through imports that run:\n  ${runtime.join('\n  ')}`)
  const all = cycles(false)
  t.same(all, [], `cycles through type imports:\n  ${all.join('\n  ')}`)
})

t.test('the public entries do not load the demo upstream', async (t) => {
  for (const entry of ['index.ts', 'proxy/index.ts', 'scanner/index.ts']) {
    t.ok(graph.has(entry), `${entry} exists`)
    const path = pathTo(entry, (node) => node.startsWith('demo/'))
    t.equal(path, undefined, path === undefined ? `${entry} does not load src/demo/` : `${entry} loads the demo: ${path.join(' -> ')}`)
  }
})

/** `module -> import` for each import that `bad` picks out, of the modules `from` picks out. */
function violations (from: (node: string) => boolean, bad: (edge: Edge) => boolean): string[] {
  return [...graph].filter(([node]) => from(node)).flatMap(([node, edges]) => edges.filter(bad).map((e) => `${node} -> ${e.to}`))
}

t.test('the rules never import the scanner', async (t) => {
  const found = violations((node) => node.startsWith('rules/'), (e) => e.to.startsWith('scanner/'))
  t.same(found, [], found.join('\n'))
})

t.test('the core imports no file, socket or process module', async (t) => {
  const core = ['rules/', 'scanner/', 'protocols/', 'framing/', 'stream/', 'json/']
  const io = /^(node:)?(fs|fs\/promises|net|tls|http|https|http2|dgram|child_process|worker_threads|os|cluster|readline)$/
  const found = violations((node) => core.some((c) => node.startsWith(c)) && node !== 'rules/load-rules.ts', (e) => !e.typeOnly && io.test(e.to))
  t.same(found, [], found.join('\n'))
  t.ok(graph.get('rules/load-rules.ts')?.some((e) => io.test(e.to)), 'the check sees node:fs (rules/load-rules.ts reads rule files)')
})
