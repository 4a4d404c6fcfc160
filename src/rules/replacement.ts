/**
 * @module rules/replacement
 * Replacement templates for `redact` rules, compiled once at load time.
 *
 * Placeholders: `{hmac}` / `{hmac:N}` (first N hex chars of the keyed HMAC:
 * a stable pseudonym), `{mask}` / `{mask:N}` (letters and digits starred
 * except the last N, separators kept), `{last:N}`, `{len}`, `{id}`,
 * `{category}`. Everything else is literal; `{{` and `}}` escape braces.
 */
import { ReplacementTemplateError } from '../errors.js'

export interface ReplacementContext {
  value: string
  id: string
  category: string
  /** Lazily computed hex HMAC of the value (only templates using it pay). */
  digest: () => string
}

export type RenderReplacement = (ctx: ReplacementContext) => string

type Part = string | ((ctx: ReplacementContext) => string)

const placeholder = /\{\{|\}\}|\{([a-z]+)(?::(\d{1,3}))?\}/g

function mask (value: string, keep: number): string {
  let remaining = keep
  const chars = [...value]
  for (let i = chars.length - 1; i >= 0; i--) {
    const ch = chars[i] as string
    if (!/[\p{L}\p{N}]/u.test(ch)) continue
    if (remaining > 0) remaining--
    else chars[i] = '*'
  }
  return chars.join('')
}

/** Compiles a template; throws ReplacementTemplateError on an unknown placeholder. */
export function compileReplacement (template: string): RenderReplacement {
  const parts: Part[] = []
  let last = 0
  for (const m of template.matchAll(placeholder)) {
    const index = m.index ?? 0
    if (index > last) parts.push(template.slice(last, index))
    last = index + m[0].length
    if (m[0] === '{{') { parts.push('{'); continue }
    if (m[0] === '}}') { parts.push('}'); continue }
    const n = m[2] === undefined ? undefined : Number(m[2])
    switch (m[1]) {
      case 'hmac': { const len = n ?? 6; parts.push((c) => c.digest().slice(0, len)); break }
      case 'mask': { const keep = n ?? 4; parts.push((c) => mask(c.value, keep)); break }
      case 'last': { const k = n ?? 4; parts.push((c) => [...c.value].slice(-k).join('')); break }
      case 'len': parts.push((c) => String(c.value.length)); break
      case 'id': parts.push((c) => c.id); break
      case 'category': parts.push((c) => c.category); break
      default: throw new ReplacementTemplateError(`unknown placeholder "${m[0]}" in "${template}"`)
    }
  }
  if (last < template.length) parts.push(template.slice(last))
  if (parts.every((p) => typeof p === 'string')) {
    const fixed = parts.join('')
    return () => fixed
  }
  return function renderReplacement (ctx) {
    let out = ''
    for (const p of parts) out += typeof p === 'string' ? p : p(ctx)
    return out
  }
}
