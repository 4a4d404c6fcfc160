import t from 'tap'
import type { Test } from 'tap'
import { rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Fastify from 'fastify'
import { composeRulePaths, loadRuleSet } from '../../src/rules/load-rules.js'
import type { RuleSet } from '../../src/rules/rule-set.js'
import { createRuleReloader } from '../../src/proxy/rule-reloader.js'
import type { RuleReloaderOptions } from '../../src/proxy/rule-reloader.js'

function rule (id: string, pattern: string): string {
  return [
    `  - id: ${id}`,
    '    category: pii',
    `    description: test rule ${id}`,
    `    pattern: '${pattern}'`,
    '    action: redact',
    ''
  ].join('\n')
}

const oneRule = `rules:\n${rule('email', '[a-z]{1,20}@[a-z]{1,20}\\.com')}`
const twoRules = `${oneRule}${rule('phone', '[0-9]{3}-[0-9]{4}')}`

interface LogRecord { level: string, obj: object, msg: string | undefined }

function recordingLogger (): RuleReloaderOptions['logger'] & { records: LogRecord[] } {
  const records: LogRecord[] = []
  const at = (level: string) => (obj: object, msg?: string) => { records.push({ level, obj, msg }) }
  return { records, info: at('info'), warn: at('warn'), error: at('error') }
}

/** A reloader whose next reload or error can be awaited (no sleeping). */
function startReloader (t: Test, paths: string[], initial: RuleSet, extra: Partial<RuleReloaderOptions> = {}) {
  const logger = recordingLogger()
  const reloads: Array<(rs: RuleSet) => void> = []
  const errors: Array<(err: Error) => void> = []
  const reloader = createRuleReloader({
    paths,
    initial,
    logger,
    debounceMs: 20,
    onReload: (rs) => { reloads.shift()?.(rs) },
    onError: (err) => { errors.shift()?.(err) },
    ...extra
  })
  t.teardown(() => { reloader.close() })
  return {
    reloader,
    logger,
    nextReload: () => new Promise<RuleSet>((resolve) => { reloads.push(resolve) }),
    nextError: () => new Promise<Error>((resolve) => { errors.push(resolve) })
  }
}

const ids = (rs: RuleSet) => rs.rules.map((r) => r.id)

t.test('swaps in the new rule set when a file in a watched directory changes', async (t) => {
  const dir = t.testdir({ 'a.yaml': oneRule })
  const initial = await loadRuleSet([dir])
  const { reloader, nextReload, logger } = startReloader(t, [dir], initial)
  t.equal(reloader.current(), initial)

  const reloaded = nextReload()
  await writeFile(join(dir, 'a.yaml'), twoRules)
  const next = await reloaded
  t.same(ids(next), ['email', 'phone'])
  t.equal(reloader.current(), next, 'current() returns the new set')
  t.same(ids(initial), ['email'], 'a stream holding the old set keeps it unchanged')
  t.ok(logger.records.some((r) => r.level === 'info' && r.msg === 'rules reloaded'))
})

t.test('sees a new rule file added to a watched directory', async (t) => {
  const dir = t.testdir({ 'a.yaml': oneRule })
  const { reloader, nextReload } = startReloader(t, [dir], await loadRuleSet([dir]))
  const reloaded = nextReload()
  await writeFile(join(dir, 'b.yaml'), `rules:\n${rule('zip', '[0-9]{5}')}`)
  await reloaded
  t.same(ids(reloader.current()), ['email', 'zip'])
})

t.test('watches a single rule file, also when an editor replaces it by rename', async (t) => {
  const dir = t.testdir({ 'rules.yaml': oneRule, 'other.txt': 'x' })
  const file = join(dir, 'rules.yaml')
  const { reloader, nextReload } = startReloader(t, [file], await loadRuleSet([file]))

  const first = nextReload()
  await writeFile(join(dir, 'rules.yaml.tmp'), twoRules)
  await rename(join(dir, 'rules.yaml.tmp'), file)
  await first
  t.same(ids(reloader.current()), ['email', 'phone'])

  // A second replacement is seen too: the watch is on the directory, not the old inode.
  const second = nextReload()
  await writeFile(join(dir, 'rules.yaml.tmp'), oneRule)
  await rename(join(dir, 'rules.yaml.tmp'), file)
  await second
  t.same(ids(reloader.current()), ['email'])
})

t.test('keeps the last good set and names the file, line and column when the YAML is broken', async (t) => {
  const dir = t.testdir({ 'a.yaml': oneRule })
  const initial = await loadRuleSet([dir])
  const { reloader, nextError, logger } = startReloader(t, [dir], initial)

  const failed = nextError()
  const file = join(dir, 'a.yaml')
  await writeFile(file, 'rules:\n  - id: email\n    category: [unclosed\n')
  const err = await failed
  t.match(err.message, `${file}:3:15: YAML syntax: "[" is not closed`)
  t.equal(reloader.current(), initial, 'the last good set stays current')
  const logged = logger.records.find((r) => r.level === 'error')
  t.ok(logged, 'the failure is logged')
  t.match(logged?.msg, 'keeping the last good rule set')
  t.match(logged?.msg, `${file}:3:15: YAML syntax`, 'the log says what the CLI says')
})

t.test('keeps the last good set and names file, line, column and rule when a pattern is invalid', async (t) => {
  const dir = t.testdir({ 'a.yaml': oneRule })
  const initial = await loadRuleSet([dir])
  const { reloader, nextError, nextReload } = startReloader(t, [dir], initial)

  const failed = nextError()
  const file = join(dir, 'a.yaml')
  // The broken rule's entry starts on line 7 (line 1 "rules:", 2–6 the first rule), its
  // pattern on line 10, where `    pattern: '(unclosed'` is unterminated at column 24.
  await writeFile(file, `${oneRule}${rule('broken', '(unclosed')}`)
  const err = await failed
  t.match(err.message, `${file}:10:24: rule broken: pattern:`)
  t.equal(reloader.current(), initial)

  // Fixing the file brings reloading back.
  const fixed = nextReload()
  await writeFile(file, twoRules)
  await fixed
  t.same(ids(reloader.current()), ['email', 'phone'])
})

t.test('reloads on SIGHUP and removes its listener on close', async (t) => {
  const dir = t.testdir({ 'a.yaml': oneRule })
  const before = process.listenerCount('SIGHUP')
  const initial = await loadRuleSet([dir])
  // debounce long enough that a file watch event cannot be what reloads here
  const { reloader, nextReload } = startReloader(t, [dir], initial, { debounceMs: 60_000 })
  t.equal(process.listenerCount('SIGHUP'), before + 1, 'the listener is installed before the signal is sent')

  const reloaded = nextReload()
  process.kill(process.pid, 'SIGHUP')
  const next = await reloaded
  t.not(next, initial)
  t.equal(reloader.current(), next)

  reloader.close()
  t.equal(process.listenerCount('SIGHUP'), before, 'close() removes the listener')
})

t.test('reload() resolves true when it swapped and false when it failed', async (t) => {
  const dir = t.testdir({ 'a.yaml': oneRule })
  const initial = await loadRuleSet([dir])
  const { reloader } = startReloader(t, [dir], initial, { debounceMs: 60_000, sighup: false })
  t.equal(await reloader.reload(), true)
  const good = reloader.current()
  t.not(good, initial)
  await writeFile(join(dir, 'a.yaml'), 'rules: 3\n')
  t.equal(await reloader.reload(), false)
  t.equal(reloader.current(), good)
})

t.test('runs one reload at a time and coalesces the calls made meanwhile', async (t) => {
  const dir = t.testdir({ 'a.yaml': oneRule })
  let loads = 0
  const duringFirst: Array<Promise<boolean>> = []
  const { reloader } = startReloader(t, [dir], await loadRuleSet([dir]), {
    debounceMs: 60_000,
    sighup: false,
    validate: () => {
      loads++
      // Called while the first reload runs: these must wait for it, then share one reload.
      if (loads === 1) duringFirst.push(reloader.reload(), reloader.reload())
    }
  })
  const first = reloader.reload()
  t.equal(reloader.reload(), first, 'calls made before a reload starts share it')
  t.equal(await first, true)
  t.equal(duringFirst.length, 2)
  t.equal(duringFirst[0], duringFirst[1], 'calls made while a reload runs share the next one')
  t.same(await Promise.all(duringFirst), [true, true])
  t.equal(loads, 2, 'the running reload plus one after it')
})

t.test('rejects a set the validate hook refuses and keeps the last good one', async (t) => {
  const dir = t.testdir({ 'a.yaml': oneRule })
  const initial = await loadRuleSet([dir])
  const { reloader, nextError } = startReloader(t, [dir], initial, {
    debounceMs: 60_000,
    sighup: false,
    validate: (rs) => { if (rs.rules.length > 1) throw new Error('too many rules') }
  })
  await writeFile(join(dir, 'a.yaml'), twoRules)
  const failed = nextError()
  t.equal(await reloader.reload(), false)
  t.equal((await failed).message, 'too many rules')
  t.equal(reloader.current(), initial)
})

t.test('a throwing onReload callback does not break later reloads', async (t) => {
  const dir = t.testdir({ 'a.yaml': oneRule })
  const { reloader, logger } = startReloader(t, [dir], await loadRuleSet([dir]), {
    debounceMs: 60_000,
    sighup: false,
    onReload: () => { throw new Error('listener bug') }
  })
  t.equal(await reloader.reload(), true)
  t.equal(await reloader.reload(), true)
  t.ok(logger.records.some((r) => r.level === 'error' && r.msg === 'rule reloader callback threw'))
})

t.test('logs through a Fastify logger', async (t) => {
  const dir = t.testdir({ 'a.yaml': oneRule })
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'info', stream: { write: (line: string) => { lines.push(line) } } } })
  t.teardown(() => app.close())
  const reloader = createRuleReloader({ paths: [dir], initial: await loadRuleSet([dir]), logger: app.log, debounceMs: 60_000, sighup: false })
  t.teardown(() => { reloader.close() })
  t.equal(await reloader.reload(), true)
  const record = lines.map((l) => JSON.parse(l) as { msg: string, rules?: number }).find((r) => r.msg === 'rules reloaded')
  t.equal(record?.rules, 1)
})

t.test('reloads the composed set and keeps it, logging file:line:column, when a user file breaks', async (t) => {
  const dir = t.testdir({ 'user.yaml': 'overrides:\n  - id: pii.email\n    action: flag\n' })
  const file = join(dir, 'user.yaml')
  const paths = composeRulePaths([dir])
  const initial = await loadRuleSet(paths)
  const email = (rs: RuleSet) => rs.rules.find((r) => r.id === 'pii.email')
  t.equal(email(initial)?.action, 'flag', 'the user file overrides a shipped rule')
  const { reloader, logger } = startReloader(t, paths, initial, { debounceMs: 60_000, sighup: false })

  // Line 4 is indented one space short of the lines above it.
  await writeFile(file, 'overrides:\n  - id: pii.email\n    action: flag\n   severity: low\n')
  t.equal(await reloader.reload(), false)
  t.equal(reloader.current(), initial, 'the last good composed set keeps serving')
  const logged = logger.records.find((r) => r.level === 'error')
  t.match(logged?.msg, `keeping the last good rule set: 1 problem(s) in rule files:\n  ${file}:4:4: YAML syntax: `)
  t.same((logged?.obj as { problems?: string[] }).problems?.map((p) => p.split(': ')[0]), [`${file}:4:4`], 'each problem is in the log record too')

  await writeFile(file, 'disable: [pii.emial]\n')
  t.equal(await reloader.reload(), false)
  t.match(logger.records.filter((r) => r.level === 'error')[1]?.msg, `${file}:1:11: disable: unknown rule id "pii.emial" (did you mean "pii.email"?)`)
  t.equal(reloader.current(), initial)

  await writeFile(file, 'disable: [pii.email]\n')
  t.equal(await reloader.reload(), true)
  t.equal(email(reloader.current())?.enabled, false, 'the fixed file is composed over the shipped rules again')
  t.ok(reloader.current().rules.length > 50, 'with every shipped rule')
})
