/**
 * @module playground/stream-view
 * Shows one stream as it runs: the released text with each redaction and
 * flag marked by its rule id, the tail the scanner holds back after it,
 * a cut with its rule and offset, the findings table and the audit
 * records. Events may arrive many times per frame (a fast pace, or a burst
 * after a slow network): they are queued, and the DOM is changed at most
 * once per animation frame, in one go. Model text is only ever set as
 * text (textContent), never parsed as HTML.
 */

/** Segments of `text` between mark boundaries, each with the marks covering it. */
function segments (text, marks) {
  const points = new Set([0, text.length])
  for (const m of marks) {
    points.add(Math.min(m.outStart, text.length))
    points.add(Math.min(m.outEnd, text.length))
  }
  const sorted = [...points].sort((a, b) => a - b)
  const out = []
  for (let i = 0; i < sorted.length; i++) {
    const at = sorted[i]
    const next = sorted[i + 1]
    const starting = marks.filter((m) => m.kind !== 'cut' && Math.min(m.outStart, text.length) === at)
    const covering = next === undefined ? [] : marks.filter((m) => m.kind !== 'cut' && m.outStart <= at && m.outEnd >= next && m.outEnd > m.outStart)
    out.push({ at, end: next ?? at, starting, covering })
  }
  return out
}

function el (tag, className, text) {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined) node.textContent = text
  return node
}

function badge (mark) {
  const node = el('span', `badge ${mark.kind}`, mark.ruleIds.join(' + '))
  node.dataset.rule = mark.ruleIds.join(' ')
  node.title = `${mark.kind === 'redact' ? 'redacted' : 'flagged'} by ${mark.ruleIds.join(', ')} (input ${mark.inStart}–${mark.inEnd})`
  return node
}

/**
 * @param {{ output: HTMLElement, findings: HTMLTableSectionElement, audit: HTMLElement, stats: HTMLElement }} nodes
 * @param {(callback: () => void) => void} [onFrame] requestAnimationFrame (tests may pass another scheduler)
 */
export function createStreamView (nodes, onFrame = (cb) => window.requestAnimationFrame(cb)) {
  let state
  let queue = []
  let scheduled = false

  function reset () {
    state = { out: '', held: '', marks: [], cut: undefined, findings: 0, writes: 0, charsIn: 0, charsOut: 0, maxHeld: 0, ended: false, cancelled: false, summary: undefined }
    queue = []
    nodes.output.replaceChildren()
    nodes.findings.replaceChildren()
    nodes.audit.textContent = ''
    nodes.stats.textContent = ''
    delete nodes.output.dataset.state
  }

  function apply (event, data, added) {
    if (event === 'write' || event === 'end') {
      state.out += data.released
      state.held = data.held
      state.marks.push(...data.marks)
      if (data.cut) state.cut = data.cut
      state.charsIn = data.charsIn
      state.charsOut = data.charsOut
      state.maxHeld = Math.max(state.maxHeld, data.heldCount)
      if (event === 'write') state.writes++
      added.findings.push(...data.findings)
      added.audit.push(...data.audit)
    }
    if (event === 'end') {
      state.ended = true
      state.cancelled = data.cancelled
      state.summary = data.audit.find((r) => r.kind === 'summary')
    }
    if (event === 'cancelled') {
      state.ended = true
      state.cancelled = true
    }
  }

  function renderOutput () {
    const frag = document.createDocumentFragment()
    for (const s of segments(state.out, state.marks)) {
      for (const m of s.starting) frag.append(badge(m))
      if (s.end <= s.at) continue
      const text = state.out.slice(s.at, s.end)
      if (s.covering.length === 0) {
        frag.append(text)
        continue
      }
      const kinds = [...new Set(s.covering.map((m) => m.kind))]
      const span = el('span', kinds.map((k) => `mark-${k}`).join(' '), text)
      span.dataset.rules = s.covering.flatMap((m) => m.ruleIds).join(' ')
      frag.append(span)
    }
    if (state.held !== '' && !state.ended) {
      const held = el('span', 'held', state.held)
      held.title = `held back: ${state.held.length} characters that could still become a match`
      frag.append(held)
    }
    if (state.cut) {
      const cut = el('span', 'cut-mark', `✂ cut by ${state.cut.ruleId} at input offset ${state.cut.start}: nothing after it is released`)
      cut.dataset.rule = state.cut.ruleId
      cut.dataset.offset = String(state.cut.start)
      frag.append(cut)
    }
    nodes.output.replaceChildren(frag)
    nodes.output.dataset.state = state.ended ? (state.cancelled ? 'cancelled' : state.cut ? 'cut' : 'done') : 'streaming'
  }

  function render () {
    scheduled = false
    const added = { findings: [], audit: [] }
    for (const [event, data] of queue.splice(0)) apply(event, data, added)
    renderOutput()
    for (const f of added.findings) {
      state.findings++
      const row = el('tr', `finding ${f.action}`)
      for (const cell of [state.findings, f.ruleId, f.category, f.action, f.severity, f.start, f.length, f.digest.slice(0, 12) + '…']) row.append(el('td', '', String(cell)))
      nodes.findings.append(row)
    }
    if (added.audit.length > 0) nodes.audit.append(added.audit.map((r) => JSON.stringify(r)).join('\n') + '\n')
    const status = state.ended ? (state.cancelled ? 'cancelled' : state.cut ? 'cut' : 'ended') : 'streaming'
    nodes.stats.textContent = `${status} · ${state.writes} writes · ${state.charsIn} in · ${state.charsOut} out · held now ${state.ended ? 0 : state.held.length}, at most ${state.maxHeld}`
  }

  reset()
  return {
    reset,
    /** Queues an event (`write`, `end`, `cancelled`); the DOM follows at the next frame. */
    push (event, data) {
      queue.push([event, data])
      if (!scheduled) {
        scheduled = true
        onFrame(render)
      }
    },
    get state () { return state }
  }
}
