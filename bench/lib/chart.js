// A hand-built SVG line chart of the end-to-end streaming figures against
// concurrency, one line per contender: chunks/s at saturation; added latency
// per chunk including holdback (the wait for the next chunk when a tail is
// held back); added processing latency (from the write of the chunk that
// released the characters), p50 solid and p99 dashed. No dependency; the
// numbers come from e2e-stream's summary.

const colors = { raw: '#1f77b4', parse: '#2ca02c', sluice: '#d62728' }
const labels = { raw: 'raw byte relay', parse: 'parse-only relay', sluice: 'Sluice (default rules)' }

function esc (s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;')
}

function niceMax (v) {
  if (!(v > 0)) return 1
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p
  return 10 * p
}

function panel ({ x0, title, unit, concurrencies, series }) {
  const w = 380
  const h = 240
  const left = x0 + 60
  const top = 50
  const all = series.flatMap((s) => s.values).filter(Number.isFinite)
  const yMax = niceMax(Math.max(0, ...all))
  const yMin = Math.min(0, ...all)
  const xs = (i) => left + (concurrencies.length === 1 ? w / 2 : (i * w) / (concurrencies.length - 1))
  const ys = (v) => top + h - ((v - yMin) / (yMax - yMin)) * h
  const out = [`<text x="${left + w / 2}" y="30" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`]
  for (let k = 0; k <= 4; k++) {
    const v = yMin + ((yMax - yMin) * k) / 4
    out.push(`<line x1="${left}" x2="${left + w}" y1="${ys(v)}" y2="${ys(v)}" stroke="#ddd"/>`)
    out.push(`<text x="${left - 6}" y="${ys(v) + 4}" text-anchor="end" font-size="11">${esc(v >= 1000 ? Math.round(v).toLocaleString('en-US') : +v.toFixed(2))}</text>`)
  }
  concurrencies.forEach((c, i) => {
    out.push(`<text x="${xs(i)}" y="${top + h + 18}" text-anchor="middle" font-size="11">${c}</text>`)
  })
  out.push(`<text x="${left + w / 2}" y="${top + h + 36}" text-anchor="middle" font-size="12">concurrent streams</text>`)
  out.push(`<text x="${x0 + 14}" y="${top + h / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 ${x0 + 14} ${top + h / 2})">${esc(unit)}</text>`)
  out.push(`<rect x="${left}" y="${top}" width="${w}" height="${h}" fill="none" stroke="#888"/>`)
  for (const s of series) {
    const pts = s.values.map((v, i) => (Number.isFinite(v) ? [xs(i), ys(v)] : null)).filter(Boolean)
    const dash = s.dashed ? ' stroke-dasharray="5 4"' : ''
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${pts.map((p) => p.join(',')).join(' ')}"/>`)
    for (const [x, y] of pts) out.push(`<circle cx="${x}" cy="${y}" r="3" fill="${s.color}"/>`)
  }
  return out.join('\n')
}

/** The SVG text for `summary` (e2e-stream's), at `concurrencies`. */
export function renderChart ({ summary, concurrencies, caption }) {
  const names = ['raw', 'parse', 'sluice']
  const latencySeries = (p50, p99) => names.flatMap((n) => [
    { color: colors[n], values: concurrencies.map((c) => summary[c][n][p50]) },
    { color: colors[n], dashed: true, values: concurrencies.map((c) => summary[c][n][p99]) }
  ])
  const panels = [
    panel({
      x0: 0,
      title: 'Throughput at saturation',
      unit: 'upstream chunks / s',
      concurrencies,
      series: names.map((n) => ({ color: colors[n], values: concurrencies.map((c) => summary[c][n].chunksPerSec) }))
    }),
    panel({
      x0: 470,
      title: 'Added latency per chunk, incl. holdback',
      unit: 'ms over direct (solid p50, dashed p99)',
      concurrencies,
      series: latencySeries('addedHoldLatP50', 'addedHoldLatP99')
    }),
    panel({
      x0: 940,
      title: 'Added processing latency per chunk',
      unit: 'ms over direct (solid p50, dashed p99)',
      concurrencies,
      series: latencySeries('addedProcLatP50', 'addedProcLatP99')
    })
  ]
  const legend = names.map((n, i) => `<rect x="${60 + i * 220}" y="345" width="14" height="4" fill="${colors[n]}"/><text x="${80 + i * 220}" y="351" font-size="12">${esc(labels[n])}</text>`).join('\n')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="1410" height="390" viewBox="0 0 1410 390" font-family="sans-serif">
<rect width="1410" height="390" fill="white"/>
${panels.join('\n')}
${legend}
<text x="705" y="380" text-anchor="middle" font-size="11" fill="#555">${esc(caption)}</text>
</svg>
`
}
