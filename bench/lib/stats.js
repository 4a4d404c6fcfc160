// Small statistics helpers shared by the benches.

/** The p-quantile of an ascending array (nearest rank). */
export function quantile (sorted, p) {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]
}

/** The median; the mean of the two middle values for an even count (two rounds give their mean). */
export function median (xs) {
  const s = [...xs].sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

export function summarize (xs) {
  const s = [...xs].sort((a, b) => a - b)
  return { n: s.length, p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s.at(-1) ?? NaN }
}

export function fmt (x, digits = 2) {
  if (x === undefined || Number.isNaN(x)) return 'n/a'
  if (!Number.isFinite(x)) return String(x)
  return Math.abs(x) >= 1000 ? Math.round(x).toLocaleString('en-US') : x.toFixed(digits)
}

/** A fixed-width text table: rows of cells, first row the header. */
export function table (rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)))
  return rows.map((r) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ')).join('\n')
}

/**
 * `xs` rotated left by `by` places: the order of round `by` when each round
 * starts one contender later.
 * @template T
 * @param {readonly T[]} xs
 * @param {number} by
 * @returns {T[]}
 */
export function rotate (xs, by) {
  const k = xs.length === 0 ? 0 : by % xs.length
  return [...xs.slice(k), ...xs.slice(0, k)]
}

export function rng (seed) {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
