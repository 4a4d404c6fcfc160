import t from 'tap'
import { mkdirSync, readFileSync, renameSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { createFileSink } from '../../src/audit/file-sink.js'

function noErrors (t: { fail: (msg: string) => void }): (err: Error) => void {
  return (err) => { t.fail(`unexpected error: ${err.message}`) }
}

t.test('each write is in the file when write() returns, appended after what was there', async (t) => {
  const file = join(t.testdir({ 'a.log': 'old\n' }), 'a.log')
  const sink = createFileSink(file, { fsync: false, onError: noErrors(t) })
  t.equal(sink.size, 4)
  sink.write('one\n')
  t.equal(readFileSync(file, 'utf8'), 'old\none\n')
  sink.write('é\n')
  t.equal(sink.size, 4 + 4 + 3, 'sizes count UTF-8 bytes')
  t.equal(statSync(file).size, sink.size)
  sink.close()
})

t.test('creates the directory and a file readable by its owner only', async (t) => {
  const file = join(t.testdir(), 'deep', 'a.log')
  const sink = createFileSink(file, { fsync: true, onError: noErrors(t) })
  sink.write('x\n')
  sink.close()
  t.equal(statSync(file).mode & 0o077, 0)
  t.equal(readFileSync(file, 'utf8'), 'x\n')
})

t.test('reopen starts a new file at the path after the old one was renamed', async (t) => {
  const dir = t.testdir()
  const file = join(dir, 'a.log')
  const sink = createFileSink(file, { fsync: false, onError: noErrors(t) })
  sink.write('first\n')
  renameSync(file, file + '.1')
  sink.reopen()
  t.equal(sink.size, 0)
  sink.write('second\n')
  sink.close()
  t.equal(readFileSync(file + '.1', 'utf8'), 'first\n')
  t.equal(readFileSync(file, 'utf8'), 'second\n')
})

t.test('a reopen that cannot open the path throws and keeps writing to the old file', async (t) => {
  const file = join(t.testdir(), 'a.log')
  const sink = createFileSink(file, { fsync: false, onError: noErrors(t) })
  renameSync(file, file + '.1')
  // A directory where the new file should go: opening it fails (EISDIR).
  mkdirSync(file)
  t.throws(() => sink.reopen(), { code: 'EISDIR' })
  sink.write('still here\n')
  sink.close()
  t.equal(readFileSync(file + '.1', 'utf8'), 'still here\n')
})

t.test('a failed write is reported, its bytes are kept in order, and flush says they are still owed', async (t) => {
  const errors: Error[] = []
  const sink = createFileSink('/dev/full', { fsync: false, onError: (err) => { errors.push(err) } })
  sink.write('a\n')
  sink.write('bc\n')
  t.match(errors, [{ code: 'ENOSPC' }, { code: 'ENOSPC' }])
  t.equal(sink.pendingBytes, 5)
  t.equal(sink.size, 5, 'owed bytes count toward the file size')
  t.equal(sink.flush(), false)
  sink.close()
  t.equal(sink.pendingBytes, 0, 'close gives up on them (each failure was reported)')
})
