import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import t from 'tap'
import { classify, listCandidates, rankOf, selectCorpus } from '../../bench/lib/real-corpus.js'

function write (root: string, path: string, text: string): void {
  const file = join(root, path)
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, text)
}

function pkg (root: string, dir: string, name: string, version: string, contents: Record<string, string>): void {
  write(root, join(dir, 'package.json'), JSON.stringify({ name, version }))
  for (const [path, text] of Object.entries(contents)) write(root, join(dir, path), text)
}

function files (i: number): Record<string, string> {
  return {
    'README.md': `# p${i}\n\n` + `Some prose about package ${i}.\n`.repeat(20),
    'index.js': `module.exports = ${i}\n`.repeat(30),
    'lib/util.ts': `export const x${i} = ${i}\n`.repeat(30),
    'dist/p.min.js': `var a=${i}\n`,
    // One line over the 500-character limit: generated.
    'dist/bundle.js': String(i) + 'x'.repeat(600) + '\n'
  }
}

/** A small installed tree: twelve packages, a scoped one, and p3 installed twice (nested inside p5). */
function tree (): string {
  const root = mkdtempSync(join(tmpdir(), 'sluice-corpus-'))
  const mod = join(root, 'node_modules')
  for (let i = 0; i < 12; i++) pkg(mod, `p${i}`, `p${i}`, '1.0.0', files(i))
  pkg(mod, '@scope/q', '@scope/q', '2.0.0', { 'CHANGELOG.md': '## 2.0.0\n- changes\n', 'docs/guide.txt': 'a guide\n' })
  // The same p3@1.0.0 nested inside p5: same ranks, same content.
  pkg(mod, 'p5/node_modules/p3', 'p3', '1.0.0', files(3))
  write(mod, '.bin/tool.js', 'ignored\n')
  return root
}

t.test('classifies prose and code by name', async (t) => {
  t.equal(classify('README.md'), 'prose')
  t.equal(classify('Readme'), 'prose')
  t.equal(classify('CHANGELOG.markdown'), 'prose')
  t.equal(classify('HISTORY.md'), 'prose')
  t.equal(classify('docs/api/usage.md'), 'prose')
  t.equal(classify('doc/notes.txt'), 'prose')
  t.equal(classify('notes.txt'), undefined)
  t.equal(classify('lib/index.js'), 'code')
  t.equal(classify('types/index.d.ts'), 'code')
  t.equal(classify('x.cjs'), 'code')
  t.equal(classify('x.js.map'), undefined)
  t.equal(classify('package.json'), undefined)
})

t.test('lists every package file in sorted order, dot entries left out', async (t) => {
  const root = tree()
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const candidates = listCandidates(join(root, 'node_modules'))
  const paths = candidates.map((c) => c.path)
  t.same(listCandidates(join(root, 'node_modules')).map((c) => c.path), paths, 'the walk is deterministic')
  t.notOk(paths.some((p) => p.startsWith('.bin/')), 'no .bin')
  t.ok(paths.includes('@scope/q/docs/guide.txt'), 'scoped package, docs .txt')
  const nested = candidates.find((c) => c.path === 'p5/node_modules/p3/README.md')
  t.equal(nested?.pkg, 'p3@1.0.0', 'a nested package is its own package')
  t.equal(nested?.inPackage, 'README.md')
})

t.test('selects the same documents every time, deduplicated, without minified files', async (t) => {
  const root = tree()
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const modulesDir = join(root, 'node_modules')
  const a = selectCorpus(listCandidates(modulesDir), { modulesDir, budgetBytes: 1e9 })
  const b = selectCorpus(listCandidates(modulesDir), { modulesDir, budgetBytes: 1e9 })
  t.equal(a.fingerprint, b.fingerprint)
  t.same(a.code.map((d) => d.path), b.code.map((d) => d.path))
  t.equal(a.code.filter((d) => d.pkg === 'p3@1.0.0').length, 2, 'the nested copy of p3 is a duplicate')
  t.equal(a.stats.code.duplicates, 4, 'every code file of the nested copy')
  t.equal(a.stats.prose.duplicates, 1)
  t.notOk(a.code.some((d) => d.path.includes('/dist/')), 'minified and long-line files are skipped')
  t.equal(a.stats.code.minified, 24)
  t.equal(a.prose.length, 12 + 2)
})

t.test('a package added later only displaces documents at the edge of the budget', async (t) => {
  const root = tree()
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const modulesDir = join(root, 'node_modules')
  const options = { modulesDir, budgetBytes: 3000 }
  const before = selectCorpus(listCandidates(modulesDir), options)
  pkg(modulesDir, 'zz-new', 'zz-new', '0.1.0', { 'README.md': 'new prose\n'.repeat(30), 'index.js': 'exports.n = 1\n'.repeat(30) })
  const after = selectCorpus(listCandidates(modulesDir), options)
  for (const kind of ['prose', 'code'] as const) {
    const byRank = [...before[kind]].sort((x, y) => (rankOf(x) < rankOf(y) ? -1 : 1)).map((d) => d.path)
    const old = new Set(byRank)
    const kept = new Set(after[kind].filter((d) => old.has(d.path)).map((d) => d.path))
    const added = after[kind].filter((d) => !old.has(d.path))
    t.ok(added.every((d) => d.pkg === 'zz-new@0.1.0'), `${kind}: only the new package's files come in`)
    t.same(byRank.filter((p) => kept.has(p)), byRank.slice(0, kept.size), `${kind}: what stays is the old sample's head in rank order`)
    t.ok(kept.size >= byRank.length - added.length - 1, `${kind}: about one document displaced per document added (${kept.size} of ${byRank.length} kept)`)
  }
})

t.test('caps a document at the last line break before the cap', async (t) => {
  const root = tree()
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const modulesDir = join(root, 'node_modules')
  const corpus = selectCorpus(listCandidates(modulesDir), { modulesDir, budgetBytes: 1e9, maxDocBytes: 100 })
  for (const d of [...corpus.prose, ...corpus.code]) {
    t.ok(d.bytes <= 100, `${d.path} within the cap`)
    if (d.truncated) t.ok(d.text.endsWith('\n'), `${d.path} ends at a line break`)
  }
  t.ok(corpus.code.some((d) => d.truncated))
})
