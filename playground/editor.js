/**
 * @module playground/editor
 * The rule file editor: a plain textarea with a line-number gutter that
 * marks the lines the loader found problems on, the list of those problems
 * (file:line:column and message, as `sluice rules test` prints them; a
 * click goes to the line), and the panel of the file's rules with each
 * example passed, failed or skipped.
 */

function el (tag, className, text) {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined) node.textContent = text
  return node
}

/**
 * @param {{ textarea: HTMLTextAreaElement, gutter: HTMLElement, problems: HTMLElement, examples: HTMLElement, summary: HTMLElement }} nodes
 */
export function createEditor (nodes) {
  const { textarea, gutter } = nodes
  let badLines = new Set()
  let lineCount = 0

  function renderGutter (force) {
    const count = textarea.value.split('\n').length
    if (count === lineCount && !force) return
    lineCount = count
    const frag = document.createDocumentFragment()
    for (let i = 1; i <= count; i++) frag.append(el('span', badLines.has(i) ? 'bad' : '', `${i}\n`))
    gutter.replaceChildren(frag)
    gutter.scrollTop = textarea.scrollTop
  }

  /** Selects line `line` and scrolls it into view. */
  function goToLine (line) {
    const lines = textarea.value.split('\n')
    let start = 0
    for (let i = 0; i < line - 1 && i < lines.length; i++) start += (lines[i]?.length ?? 0) + 1
    textarea.focus()
    textarea.setSelectionRange(start, start + (lines[line - 1]?.length ?? 0))
    const lineHeight = parseFloat(window.getComputedStyle(textarea).lineHeight) || 18
    textarea.scrollTop = Math.max(0, (line - 3) * lineHeight)
  }

  function lineLink (line, label) {
    const a = el('button', 'line-link', label)
    a.type = 'button'
    a.addEventListener('click', () => goToLine(line))
    return a
  }

  textarea.addEventListener('input', () => renderGutter(false))
  textarea.addEventListener('scroll', () => { gutter.scrollTop = textarea.scrollTop })

  return {
    get text () { return textarea.value },
    set text (value) {
      textarea.value = value
      textarea.scrollTop = 0
      renderGutter(true)
    },
    goToLine,
    /** Problems of the last check; those in `file` mark its lines. */
    showProblems (problems, file) {
      badLines = new Set(problems.filter((p) => p.file === file && p.line !== undefined).map((p) => p.line))
      renderGutter(true)
      const items = problems.map((p) => {
        const li = el('li', 'problem')
        if (p.file === file && p.line !== undefined) {
          li.append(lineLink(p.line, `${p.line}:${p.column ?? 1}`), ' ')
          li.dataset.line = String(p.line)
        }
        li.append(el('span', 'message', p.file === file || p.file === undefined ? p.message : p.text))
        return li
      })
      nodes.problems.replaceChildren(...items)
    },
    /** The file's rules and their examples (the check's `rules`). */
    showExamples (rules, totals) {
      const frag = document.createDocumentFragment()
      for (const rule of rules) {
        const box = el('div', `rule${rule.enabled ? '' : ' disabled'}`)
        box.dataset.rule = rule.id
        const head = el('div', 'rule-head')
        head.append(lineLink(rule.line, String(rule.line)), ' ', el('strong', '', rule.id), ' ', el('span', `action ${rule.action}`, rule.action), ' ', el('span', 'severity', rule.severity))
        if (!rule.enabled) head.append(' ', el('span', 'off', 'disabled'))
        box.append(head)
        const list = el('ul', 'examples')
        for (const ex of rule.examples) {
          const li = el('li', `example ${ex.status}`)
          li.dataset.status = ex.status
          const mark = { pass: '✓', fail: '✗', skip: '–', off: '·' }[ex.status]
          li.append(el('span', 'verdict', mark), ' ', lineLink(ex.line, String(ex.line)), ' ', el('span', 'kind', ex.kind), ' ', el('code', '', ex.text))
          if (ex.reason) li.append(el('div', 'reason', ex.reason))
          list.append(li)
        }
        if (rule.examples.length === 0) list.append(el('li', 'example none', 'no examples'))
        box.append(list)
        frag.append(box)
      }
      if (rules.length === 0) frag.append(el('p', 'empty', 'No rules in this file (it may only disable or override others).'))
      nodes.examples.replaceChildren(frag)
      nodes.summary.textContent = totals === undefined ? '' : `${totals.fileRules} rules here · ${totals.examples} examples · ${totals.failed} failed${totals.skipped > 0 ? ` · ${totals.skipped} skipped` : ''}`
      nodes.summary.dataset.failed = String(totals?.failed ?? 0)
    }
  }
}
