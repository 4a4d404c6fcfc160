/**
 * @module playground/app
 * The playground page: wires the editor, the sample text, the stream view
 * and the folder run to the API. The rules a stream or a folder run uses
 * are the last version of the file that loaded ("last good"): a broken
 * edit shows its problems and leaves them running.
 */
import { createApi } from './api.js'
import { createEditor } from './editor.js'
import { createStreamView } from './stream-view.js'

const $ = (id) => document.getElementById(id)
const api = createApi()
const editor = createEditor({ textarea: $('editor'), gutter: $('gutter'), problems: $('problems'), examples: $('examples'), summary: $('examples-summary') })
const view = createStreamView({ output: $('output'), findings: $('findings').tBodies[0], audit: $('audit'), stats: $('stream-stats') })

/** The file being edited: as listed by the server, with the hash and text last read or saved. */
let current
/** The last rule set that loaded, by id: what streams and folder runs use. */
let lastGood
let checking = false
let checkAgain = false
let checkTimer
let streaming

function setStatus (node, text, state) {
  node.textContent = text
  if (state === undefined) delete node.dataset.state
  else node.dataset.state = state
}

function baseName (path) {
  return path.split(/[\\/]/).pop()
}

function updateSave () {
  $('save').disabled = current === undefined || !current.writable || editor.text === current.savedText
}

function showCheck (result) {
  if (result.ok) {
    lastGood = result.rulesId
    editor.showProblems([], current.path)
    editor.showExamples(result.rules, result.totals)
    $('examples').classList.remove('stale')
    setStatus($('check-status'), `✓ loads: ${result.totals.rules} rules in the set; streams use this version`, 'ok')
  } else {
    editor.showProblems(result.problems, current.path)
    $('examples').classList.add('stale')
    setStatus($('check-status'), `✗ ${result.problems.length} problem(s): streams keep the last good rules`, 'bad')
  }
  $('run-folder').disabled = $('run-folder').dataset.folder === undefined || lastGood === undefined
}

/** Checks the buffer; one check at a time, and one more if it changed meanwhile. */
async function check () {
  if (current === undefined) return
  if (checking) {
    checkAgain = true
    return
  }
  checking = true
  setStatus($('check-status'), 'checking…', 'busy')
  const path = current.path
  try {
    const result = await api.post('check', { path, text: editor.text })
    if (path === current.path && !checkAgain) showCheck(result)
  } catch (err) {
    setStatus($('check-status'), `check failed: ${err.message}`, 'bad')
  } finally {
    checking = false
    if (checkAgain) {
      checkAgain = false
      void check()
    }
  }
}

async function openFile (path) {
  const file = await api.get(`file?path=${encodeURIComponent(path)}`)
  current = { ...file, savedText: file.text }
  editor.text = file.text
  $('file-note').textContent = file.writable ? '' : 'read-only (shipped rules): edits are checked and streamed, not saved'
  setStatus($('save-status'), '')
  updateSave()
  await check()
}

async function save (overwrite) {
  if (current === undefined) return
  const text = editor.text
  setStatus($('save-status'), 'saving…', 'busy')
  try {
    const result = await api.put('file', { path: current.path, text, ...(overwrite ? {} : { baseHash: current.hash }) })
    current.hash = result.hash
    current.savedText = text
    setStatus($('save-status'), `saved ${baseName(result.path)} (previous version in ${baseName(result.backup)})`, 'ok')
    if (editor.text === text) showCheck(result.check)
  } catch (err) {
    if (err.status === 409) {
      setStatus($('save-status'), err.message, 'bad')
      if (window.confirm(`${err.message}\n\nOverwrite it with your version?`)) return save(true)
    } else if (err.status === 422) {
      editor.showProblems(err.body.problems, current.path)
      setStatus($('save-status'), 'not saved: the file does not load (see the problems)', 'bad')
    } else {
      setStatus($('save-status'), `not saved: ${err.message}`, 'bad')
    }
  }
  updateSave()
}

function streamButtons (running) {
  $('stream').disabled = running
  $('cancel').disabled = !running
}

/** The server keeps the last few rule sets only: when it forgot ours, check the buffer again and retry once. */
async function withRules (run) {
  try {
    return await run(lastGood)
  } catch (err) {
    if (err.status !== 400 || !/no longer kept/.test(err.message)) throw err
    await check()
    return run(lastGood)
  }
}

async function startStream () {
  if (lastGood === undefined) {
    setStatus($('stream-stats'), 'no rules loaded yet: fix the rule file first', 'bad')
    return
  }
  streaming?.abort()
  const controller = new AbortController()
  streaming = controller
  view.reset()
  streamButtons(true)
  const body = {
    text: $('text').value,
    mode: $('mode').value,
    size: Math.max(1, Number($('size').value) || 1),
    rate: Math.max(0, Number($('rate').value) || 0)
  }
  try {
    await withRules((rulesId) => api.stream({ ...body, rulesId }, controller.signal, (event, data) => view.push(event, data)))
  } catch (err) {
    if (controller.signal.aborted) view.push('cancelled', {})
    else setStatus($('stream-stats'), `stream failed: ${err.message}`, 'bad')
  } finally {
    if (streaming === controller) {
      streaming = undefined
      streamButtons(false)
    }
  }
}

async function runFolder () {
  setStatus($('folder-status'), 'running…', 'busy')
  try {
    const result = await withRules((rulesId) => api.post('samples/run', { rulesId }))
    const rows = result.rules.map((r) => {
      const tr = document.createElement('tr')
      tr.dataset.rule = r.ruleId
      for (const cell of [r.ruleId, r.action, r.count, r.files]) {
        const td = document.createElement('td')
        td.textContent = String(cell)
        tr.append(td)
      }
      return tr
    })
    $('folder-rules').tBodies[0].replaceChildren(...rows)
    const cut = result.files.filter((f) => f.cut !== undefined).length
    setStatus($('folder-status'), `${result.files.length} files${result.truncated ? ' (more left out)' : ''}, ${result.rules.reduce((n, r) => n + r.count, 0)} findings, ${cut} cut, ${result.ms} ms`, 'ok')
  } catch (err) {
    setStatus($('folder-status'), `failed: ${err.message}`, 'bad')
  }
}

function addOptions (select, label, items) {
  if (items.length === 0) return
  const group = document.createElement('optgroup')
  group.label = label
  for (const [value, text] of items) {
    const option = document.createElement('option')
    option.value = value
    option.textContent = text
    group.append(option)
  }
  select.append(group)
}

async function start () {
  const state = await api.get('state')
  const select = $('file')
  for (const f of state.files) {
    const option = document.createElement('option')
    option.value = f.path
    option.textContent = `${f.name}${f.writable ? '' : ' (read-only)'}`
    select.append(option)
  }
  const canned = new Map(state.canned.map((a) => [`canned:${a.name}`, a.text]))
  addOptions($('sample'), 'Demo answers', state.canned.map((a) => [`canned:${a.name}`, `${a.name}: ${a.description}`]))
  if (state.samples !== null) {
    addOptions($('sample'), 'Sample folder', state.samples.files.map((f) => [`file:${f.path}`, f.name]))
    $('folder-name').textContent = state.samples.folder
    $('run-folder').dataset.folder = state.samples.folder
  } else {
    $('folder-name').textContent = 'none given (sluice playground --samples DIR)'
  }
  $('text').value = state.canned[0]?.text ?? ''
  if (state.disk.ok) lastGood = state.disk.rulesId

  select.addEventListener('change', () => { void openFile(select.value) })
  $('sample').addEventListener('change', async (event) => {
    const value = event.target.value
    if (canned.has(value)) $('text').value = canned.get(value)
    else if (value.startsWith('file:')) $('text').value = (await api.get(`sample?path=${encodeURIComponent(value.slice(5))}`)).text
  })
  $('editor').addEventListener('input', () => {
    updateSave()
    clearTimeout(checkTimer)
    checkTimer = setTimeout(() => { void check() }, 300)
  })
  $('editor').addEventListener('keydown', (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === 's') {
      event.preventDefault()
      void save(false)
    }
  })
  $('save').addEventListener('click', () => { void save(false) })
  $('stream').addEventListener('click', () => { void startStream() })
  $('cancel').addEventListener('click', () => { streaming?.abort() })
  $('run-folder').addEventListener('click', () => { void runFolder() })

  const first = state.files.find((f) => f.writable) ?? state.files[0]
  if (first !== undefined) {
    select.value = first.path
    await openFile(first.path)
  }
  document.body.dataset.ready = 'true'
}

start().catch((err) => {
  setStatus($('check-status'), `cannot start: ${err.message}`, 'bad')
})
