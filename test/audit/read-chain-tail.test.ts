import t from 'tap'
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { readChainTail, readFirstRecordTime } from '../../src/audit/read-chain-tail.js'
import { GENESIS, createChainHasher, sealRecord } from '../../src/audit/hash-chain.js'

const hasher = createChainHasher()

function writeChain (file: string, records: Array<Record<string, unknown>>): string {
  let prev = GENESIS
  let text = ''
  for (const r of records) {
    const sealed = sealRecord(r, prev, hasher)
    text += sealed.line
    prev = sealed.hash
  }
  writeFileSync(file, text)
  return prev
}

t.test('a missing or empty file starts at genesis', async (t) => {
  const dir = t.testdir({ 'empty.jsonl': '' })
  t.same(readChainTail(join(dir, 'missing.jsonl'), hasher), { prev: GENESIS, droppedBytes: 0 })
  t.same(readChainTail(join(dir, 'empty.jsonl'), hasher), { prev: GENESIS, droppedBytes: 0 })
})

t.test('returns the hash of the last record, and the record', async (t) => {
  const file = join(t.testdir(), 'a.jsonl')
  const head = writeChain(file, [{ n: 1 }, { n: 2 }, { n: 3 }])
  t.match(readChainTail(file, hasher), { prev: head, droppedBytes: 0, last: { n: 3, hash: head } })
})

t.test('finds the last record when it and the one before are longer than a read chunk', async (t) => {
  const file = join(t.testdir(), 'a.jsonl')
  const head = writeChain(file, [{ blob: 'a'.repeat(150_000) }, { blob: 'b'.repeat(150_000) }])
  t.match(readChainTail(file, hasher), { prev: head, droppedBytes: 0, last: { blob: 'b'.repeat(150_000) } })
  appendFileSync(file, '{' + 'x'.repeat(100_000))
  t.match(readChainTail(file, hasher), { prev: head, droppedBytes: 100_001 })
})

t.test('cuts an interrupted last line off the file', async (t) => {
  const file = join(t.testdir(), 'a.jsonl')
  const head = writeChain(file, [{ n: 1 }])
  const size = statSync(file).size
  appendFileSync(file, '{"n":')
  t.match(readChainTail(file, hasher), { prev: head, droppedBytes: 5, last: { n: 1 } })
  t.equal(statSync(file).size, size)
})

t.test('does not touch a file whose last complete line is not a record', async (t) => {
  const file = join(t.testdir(), 'a.jsonl')
  writeFileSync(file, '{"not":"ours"}\n{"n":')
  t.throws(() => readChainTail(file, hasher), { code: 'SLUICE_AUDIT_FILE', message: /not an audit record/ })
  t.equal(readFileSync(file, 'utf8'), '{"not":"ours"}\n{"n":')
})

t.test('refuses a last record whose hash does not match', async (t) => {
  const file = join(t.testdir(), 'a.jsonl')
  writeChain(file, [{ n: 1 }])
  const edited = readFileSync(file, 'utf8').replace('"n":1', '"n":2')
  writeFileSync(file, edited)
  t.throws(() => readChainTail(file, hasher), { code: 'SLUICE_AUDIT_FILE', message: /hash does not match/ })
})

t.test('leaves an interrupted last line alone and refuses the file when asked not to repair', async (t) => {
  const file = join(t.testdir(), 'a.jsonl')
  writeChain(file, [{ n: 1 }])
  appendFileSync(file, '{"n":')
  const before = readFileSync(file, 'utf8')
  t.throws(() => readChainTail(file, hasher, { repair: false }), { code: 'SLUICE_AUDIT_FILE', message: /incomplete/ })
  t.equal(readFileSync(file, 'utf8'), before)
})

t.test('reads the time of the first record, from which rotation by age counts', async (t) => {
  const dir = t.testdir({ 'empty.jsonl': '', 'partial.jsonl': '{"time":5', 'odd.jsonl': '{"time":"soon"}\n' })
  const file = join(dir, 'a.jsonl')
  writeChain(file, [{ time: 1234, n: 1 }, { time: 5678, n: 2 }])
  t.equal(readFirstRecordTime(file), 1234)
  for (const name of ['missing.jsonl', 'empty.jsonl', 'partial.jsonl', 'odd.jsonl']) {
    t.equal(readFirstRecordTime(join(dir, name)), undefined, name)
  }
})
