/**
 * @module playground/output-marks
 * Where each finding of a stream sits in the text the scanner released, so
 * the playground can mark a redaction over its replacement and a flag over
 * the words it flagged. The scanner reports findings at input offsets and
 * releases text with replacements in it; it does not say where a
 * replacement landed, and it need not (nothing downstream asks). This
 * works it out from what the scanner does guarantee:
 *
 * - outside matches the output is the input, character for character (the
 *   raw text is released, whatever view the rules read);
 * - a redaction's finding is reported by the write that releases its
 *   replacement, whole;
 * - after a write, the output stands for the input up to `decided`
 *   (characters written minus those held), unless a first-stage replacement
 *   is still held by the second stage (then `decided` is off by the
 *   difference in length, and the check below refuses it).
 *
 * So a redaction starts where the verbatim text before it ends, and ends
 * where the verbatim text after it begins: the text up to the next
 * redaction of the write (found in the output), or the write's tail, which
 * is the input up to `decided`. A region rule swallows text after its match
 * that no finding covers (a private key's body up to its END line): then
 * only the end of that text is found again, and the mapping re-anchors
 * there, or at the end of the next write whose tail is verbatim input.
 * Redactions with no text between them released by one write are one mark
 * with both rule ids (their boundary is not in the output; released by two
 * writes, they are two marks).
 */
import type { Finding } from '../scanner/index.js'

export interface OutputMark {
  kind: 'redact' | 'flag' | 'cut'
  /** The rule, or for adjacent redactions the rules, in input order. */
  ruleIds: string[]
  /** Span in the input, UTF-16 units. */
  inStart: number
  inEnd: number
  /** Span in the released output, UTF-16 units (a cut: where the output stops). */
  outStart: number
  outEnd: number
}

export interface OutputAligner {
  /**
   * Records one write: `input` is everything written so far, `released`
   * what this write released, `findings` what it reported, `decided` the
   * input offset the output now stands for. Returns the marks of those
   * findings, at offsets in the whole output.
   */
  push: (input: string, released: string, findings: readonly Finding[], decided: number) => OutputMark[]
}

/** From here on (until the next redaction) output offset = input offset − inAt + outAt. */
interface Anchor { inAt: number, outAt: number }

interface Cluster { inStart: number, inEnd: number, ruleIds: string[] }

/** Redactions that touch or overlap, merged: nothing in the output separates them. */
function clusters (redactions: readonly Finding[]): Cluster[] {
  const out: Cluster[] = []
  for (const f of [...redactions].sort((a, b) => a.start - b.start)) {
    const last = out.at(-1)
    if (last !== undefined && f.start <= last.inEnd) {
      last.inEnd = Math.max(last.inEnd, f.start + f.length)
      last.ruleIds.push(f.ruleId)
    } else {
      out.push({ inStart: f.start, inEnd: f.start + f.length, ruleIds: [f.ruleId] })
    }
  }
  return out
}

/**
 * An aligner for one stream.
 * @example
 * const aligner = createOutputAligner()
 * const r = scanner.write(piece)
 * marks.push(...aligner.push(input, r.text, r.findings, scanner.charsIn - scanner.held))
 */
export function createOutputAligner (): OutputAligner {
  let out = ''
  const anchors: Anchor[] = [{ inAt: 0, outAt: 0 }]
  const redactions: OutputMark[] = []

  const clamp = (x: number): number => Math.max(0, Math.min(out.length, x))

  /** The output offset of input offset `x` (unclamped); inside a redaction, its start or end. */
  function mapIn (x: number, side: 'start' | 'end'): number {
    for (let i = redactions.length - 1; i >= 0; i--) {
      const r = redactions[i] as OutputMark
      if (r.inStart > x) continue
      if (x < r.inEnd) return side === 'start' ? r.outStart : r.outEnd
      break
    }
    for (let i = anchors.length - 1; i >= 0; i--) {
      const a = anchors[i] as Anchor
      if (a.inAt <= x) return x - a.inAt + a.outAt
    }
    return x
  }

  /**
   * Between a redaction and the next one of the same write: where the text
   * between them (`gap`) resumes in the output, at or after `from`, and how
   * much of its start a region rule swallowed (usually none).
   */
  function resumeGap (gap: string, from: number): { outAt: number, skipped: number } | undefined {
    for (let skipped = 0; skipped < gap.length; skipped++) {
      const at = out.indexOf(gap.slice(skipped), from)
      if (at !== -1) return { outAt: at, skipped }
    }
    return undefined
  }

  /**
   * After the write's last redaction: the longest tail of the output, after
   * `from`, that is the input just before `decided` and after `inAt` (all of
   * it, unless a region rule swallowed text after the match).
   */
  function verbatimTail (input: string, inAt: number, from: number, decided: number): number {
    for (let n = Math.min(out.length - from, decided - inAt); n > 0; n--) {
      if (out.endsWith(input.slice(decided - n, decided))) return n
    }
    return 0
  }

  return {
    push (input, released, findings, decided) {
      const writeStart = out.length
      out += released
      const marks: OutputMark[] = []
      const spans = clusters(findings.filter((f) => f.action === 'redact'))
      spans.forEach((c, i) => {
        const outStart = Math.max(writeStart, clamp(mapIn(c.inStart, 'start')))
        const next = spans[i + 1]
        let outEnd: number
        let inResume: number
        if (next !== undefined) {
          const found = resumeGap(input.slice(c.inEnd, next.inStart), outStart)
          outEnd = found?.outAt ?? clamp(outStart + c.inEnd - c.inStart)
          inResume = c.inEnd + (found?.skipped ?? 0)
        } else {
          const tail = verbatimTail(input, c.inEnd, outStart, decided)
          outEnd = out.length - tail
          inResume = tail > 0 ? decided - tail : c.inEnd
        }
        const mark: OutputMark = { kind: 'redact', ruleIds: c.ruleIds, inStart: c.inStart, inEnd: c.inEnd, outStart, outEnd }
        redactions.push(mark)
        anchors.push({ inAt: inResume, outAt: outEnd })
        marks.push(mark)
      })
      // Re-anchor on the write's tail when it is the input up to `decided`
      // and the mapping disagrees (text swallowed by a region rule).
      const verbatimFrom = Math.max(writeStart, marks.at(-1)?.outEnd ?? 0)
      const verbatim = out.length - verbatimFrom
      if (verbatim > 0 && decided - verbatim >= 0 && mapIn(decided, 'end') !== out.length && out.slice(verbatimFrom) === input.slice(decided - verbatim, decided)) {
        anchors.push({ inAt: decided, outAt: out.length })
      }
      for (const f of findings) {
        if (f.action === 'flag') {
          marks.push({ kind: 'flag', ruleIds: [f.ruleId], inStart: f.start, inEnd: f.start + f.length, outStart: clamp(mapIn(f.start, 'start')), outEnd: clamp(mapIn(f.start + f.length, 'end')) })
        } else if (f.action === 'cut') {
          marks.push({ kind: 'cut', ruleIds: [f.ruleId], inStart: f.start, inEnd: f.start + f.length, outStart: out.length, outEnd: out.length })
        }
      }
      return marks
    }
  }
}
