/**
 * @module bench/lib/corpus-report
 * Scans the real-text corpus (real-corpus.ts) with a rule set, each
 * document whole (scan-all.ts, so a cut does not hide the rest), and prints
 * what the rules did to it as markdown tables: per rule, documents altered
 * (a redact finding), cut and flagged, prose and code apart; every cut with
 * its context; the share of prose documents altered at all and by rules
 * other than pii.email and pii.phone_* (the target: at most 3% and no cut);
 * and the first findings of each rule with their context, so a reader can
 * judge them.
 */
import type { RuleSet } from '../../src/rules/rule-set.js'
import type { Finding } from '../../src/scanner/types.js'
import type { Corpus, CorpusDocument, CorpusKind } from './real-corpus.js'
import { scanAll } from './scan-all.js'

export interface DocumentScan {
  doc: CorpusDocument
  findings: Finding[]
  cuts: Finding[]
}

export function scanCorpus (ruleSet: RuleSet, corpus: Corpus, hmacKey: Buffer): DocumentScan[] {
  return [...corpus.prose, ...corpus.code].map((doc) => {
    const { findings, cuts } = scanAll(ruleSet, doc.text, hmacKey)
    return { doc, findings, cuts }
  })
}

/** Rules whose findings are expected on real text and measured apart: e-mail addresses and phone numbers. */
export const contactRule = (id: string): boolean => id === 'pii.email' || id.startsWith('pii.phone_')

const pct = (a: number, b: number): string => (b === 0 ? '—' : `${(100 * a / b).toFixed(a === 0 ? 0 : 1)}%`)

const esc = (s: string): string => JSON.stringify(s).slice(1, -1)

/** The match in ⟦⟧ with `around` characters either side, escaped; a match over 160 characters shows its head and tail. */
function context (text: string, f: Finding, around: number): string {
  const a = Math.max(0, f.start - around)
  const b = Math.min(text.length, f.start + f.length + around)
  const match = text.slice(f.start, f.start + f.length)
  const shown = match.length > 160 ? `${esc(match.slice(0, 100))}…(${match.length} chars)…${esc(match.slice(-40))}` : esc(match)
  return (a > 0 ? '…' : '') + esc(text.slice(a, f.start)) + '⟦' + shown + '⟧' + esc(text.slice(f.start + f.length, b)) + (b < text.length ? '…' : '')
}

const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(2)

export interface CorpusTotals {
  kind: CorpusKind
  documents: number
  altered: number
  alteredExclContact: number
  cut: number
}

export function corpusTotals (scans: readonly DocumentScan[], kind: CorpusKind): CorpusTotals {
  const mine = scans.filter((s) => s.doc.kind === kind)
  const alters = (f: Finding): boolean => f.action === 'redact' || f.action === 'cut'
  return {
    kind,
    documents: mine.length,
    altered: mine.filter((s) => s.findings.some(alters)).length,
    alteredExclContact: mine.filter((s) => s.findings.some((f) => alters(f) && !contactRule(f.ruleId))).length,
    cut: mine.filter((s) => s.cuts.length > 0).length
  }
}

export interface CorpusReportOptions {
  /** Findings shown per rule (first N in document-path order). */
  samples: number
  /** Characters of context either side of a sample. */
  around: number
  /** The run's identification (lockfile, tree check, fingerprint), printed with the composition. */
  provenance: string
}

export function reportCorpus (corpus: Corpus, scans: readonly DocumentScan[], ruleSet: RuleSet, options: CorpusReportOptions): string[] {
  const lines: string[] = []
  lines.push(`real-text corpus from node_modules (${options.provenance})`)
  lines.push('')
  lines.push('| kind | documents | MiB | packages (name@version) | package names | truncated at the cap | candidates | read | duplicates skipped | minified skipped |')
  lines.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
  for (const kind of ['prose', 'code'] as const) {
    const docs = corpus[kind]
    const st = corpus.stats[kind]
    const bytes = docs.reduce((n, d) => n + d.bytes, 0)
    const pkgs = new Set(docs.map((d) => d.pkg))
    const names = new Set(docs.map((d) => d.pkg.slice(0, d.pkg.lastIndexOf('@') > 0 ? d.pkg.lastIndexOf('@') : d.pkg.length)))
    lines.push(`| ${kind} | ${docs.length} | ${mib(bytes)} | ${pkgs.size} | ${names.size} | ${docs.filter((d) => d.truncated).length} | ${st.candidates} | ${st.read} | ${st.duplicates} | ${st.minified} |`)
  }
  lines.push('')

  // Per rule, per kind: documents with a redact finding, with a cut, with a flag; findings in all.
  const ruleIds = ruleSet.rules.filter((r) => r.enabled).map((r) => r.id)
  const action = new Map(ruleSet.rules.map((r) => [r.id, r.action]))
  interface Row { docs: Record<CorpusKind, { altered: number, cut: number, flagged: number }>, findings: number }
  const rows = new Map<string, Row>()
  const row = (id: string): Row => {
    let r = rows.get(id)
    if (r === undefined) rows.set(id, r = { docs: { prose: { altered: 0, cut: 0, flagged: 0 }, code: { altered: 0, cut: 0, flagged: 0 } }, findings: 0 })
    return r
  }
  for (const s of scans) {
    const kinds = new Map<string, Set<string>>()
    for (const f of s.findings) {
      row(f.ruleId).findings++
      let set = kinds.get(f.ruleId)
      if (set === undefined) kinds.set(f.ruleId, set = new Set())
      set.add(f.action)
    }
    for (const [id, acts] of kinds) {
      const d = row(id).docs[s.doc.kind]
      if (acts.has('redact')) d.altered++
      if (acts.has('cut')) d.cut++
      if (acts.has('flag')) d.flagged++
    }
  }
  const nProse = corpus.prose.length
  const nCode = corpus.code.length
  const weight = (r: Row): number => r.docs.prose.altered + r.docs.prose.cut + r.docs.code.altered + r.docs.code.cut + (r.docs.prose.flagged + r.docs.code.flagged) / 1000
  const ordered = [...rows].sort((a, b) => weight(b[1]) - weight(a[1]) || (a[0] < b[0] ? -1 : 1))
  lines.push(`per rule (documents with at least one finding of the rule; ${nProse} prose, ${nCode} code documents); rules with no finding: ${ruleIds.filter((id) => !rows.has(id)).length} of ${ruleIds.length}`)
  lines.push('')
  lines.push('| rule | action | prose altered | % | prose cut | prose flagged | % | code altered | % | code cut | code flagged | % | findings |')
  lines.push('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
  for (const [id, r] of ordered) {
    const p = r.docs.prose
    const c = r.docs.code
    lines.push(`| ${id} | ${action.get(id) ?? ''} | ${p.altered} | ${pct(p.altered, nProse)} | ${p.cut} | ${p.flagged} | ${pct(p.flagged, nProse)} | ${c.altered} | ${pct(c.altered, nCode)} | ${c.cut} | ${c.flagged} | ${pct(c.flagged, nCode)} | ${r.findings} |`)
  }
  lines.push('')

  lines.push('| totals | documents | altered by any rule | % | altered by rules other than pii.email, pii.phone_* | % | documents cut |')
  lines.push('|---|--:|--:|--:|--:|--:|--:|')
  for (const kind of ['prose', 'code'] as const) {
    const t = corpusTotals(scans, kind)
    lines.push(`| ${kind} | ${t.documents} | ${t.altered} | ${pct(t.altered, t.documents)} | ${t.alteredExclContact} | ${pct(t.alteredExclContact, t.documents)} | ${t.cut} |`)
  }
  const prose = corpusTotals(scans, 'prose')
  const share = prose.documents === 0 ? 0 : prose.alteredExclContact / prose.documents
  lines.push('')
  lines.push(`target (prose altered by rules other than e-mail and phone ≤ 3%, no cut): ${pct(prose.alteredExclContact, prose.documents)} and ${prose.cut} cut documents → ${share <= 0.03 && prose.cut === 0 ? 'ok' : 'MISS'}`)
  lines.push('')

  const cuts = scans.flatMap((s) => s.cuts.map((f) => ({ s, f })))
  lines.push(`every cut (${cuts.length}), ±60 characters:`)
  for (const { s, f } of cuts) lines.push(`  CUT ${s.doc.kind} ${s.doc.path} @${f.start} ${f.ruleId}: ${context(s.doc.text, f, 60)}`)
  lines.push('')

  lines.push(`first ${options.samples} findings of each rule (document path order), ±${options.around} characters, the match in ⟦⟧:`)
  for (const [id] of ordered) {
    let n = 0
    for (const s of scans) {
      for (const f of s.findings) {
        if (f.ruleId !== id || n >= options.samples) continue
        n++
        lines.push(`  ${id} (${f.action}) ${s.doc.kind} ${s.doc.path} @${f.start}: ${context(s.doc.text, f, options.around)}`)
      }
      if (n >= options.samples) break
    }
  }
  return lines
}
