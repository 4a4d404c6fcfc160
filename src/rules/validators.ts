// PLACEHOLDER written by the lead so the scanner compiles; helper-1 (rules author) replaces this file wholesale.
import type { Validator } from './types.js'
export function luhnValid (digits: string): boolean {
  let sum = 0
  let dbl = false
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48
    if (dbl) { d *= 2; if (d > 9) d -= 9 }
    sum += d
    dbl = !dbl
  }
  return sum % 10 === 0
}
export function shannonEntropy (s: string): number {
  const counts = new Map<string, number>()
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1)
  let h = 0
  const n = [...s].length
  for (const c of counts.values()) { const p = c / n; h -= p * Math.log2(p) }
  return h
}
export const validators: Readonly<Record<string, Validator>> = {
  luhn: (v) => luhnValid(v.replace(/[ -]/g, ''))
}
