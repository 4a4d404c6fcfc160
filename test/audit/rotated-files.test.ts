import t from 'tap'
import { join } from 'node:path'
import { listRotatedFiles, nextRotatedPath, sortAuditSeries } from '../../src/audit/rotated-files.js'

t.test('lists the rotated files of an active file, oldest first, by number', async (t) => {
  const dir = t.testdir({
    'audit.jsonl': '',
    'audit.jsonl.1': '',
    'audit.jsonl.2': '',
    'audit.jsonl.10': '',
    'audit.jsonl.9': '',
    'audit.jsonl.01': '',
    'audit.jsonl.3.gz': '',
    'audit.jsonlx.4': '',
    'other.jsonl.5': ''
  })
  t.same(listRotatedFiles(join(dir, 'audit.jsonl')), ['1', '2', '9', '10'].map((n) => join(dir, `audit.jsonl.${n}`)))
})

t.test('a name with regular-expression characters is matched literally', async (t) => {
  const dir = t.testdir({ 'a+b.log.1': '', 'aab.log.2': '' })
  t.same(listRotatedFiles(join(dir, 'a+b.log')), [join(dir, 'a+b.log.1')])
})

t.test('the next rotated name follows the highest number, starting at 1', async (t) => {
  const dir = t.testdir({ 'x.log.1': '', 'x.log.7': '' })
  t.equal(nextRotatedPath(join(dir, 'x.log')), join(dir, 'x.log.8'))
  t.equal(nextRotatedPath(join(dir, 'y.log')), join(dir, 'y.log.1'))
  t.equal(nextRotatedPath(join(dir, 'missing', 'z.log')), join(dir, 'missing', 'z.log.1'))
})

t.test('puts a glob of one series in chain order: numbered oldest first, then the active file', async (t) => {
  t.same(sortAuditSeries(['a.log', 'a.log.1', 'a.log.10', 'a.log.2']), ['a.log.1', 'a.log.2', 'a.log.10', 'a.log'])
  t.same(sortAuditSeries(['a.log.3', 'a.log.2']), ['a.log.2', 'a.log.3'])
  t.same(sortAuditSeries(['audit.2024.1', 'audit.2024']), ['audit.2024.1', 'audit.2024'], 'an active name ending in digits')
})

t.test('keeps files that are not one series in the order given', async (t) => {
  t.same(sortAuditSeries(['b.log', 'a.log.1']), ['b.log', 'a.log.1'])
  t.same(sortAuditSeries(['z.log']), ['z.log'])
})
