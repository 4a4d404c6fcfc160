/**
 * @module pseudonym/create-restorer
 * Puts the user's values back into an answer as it streams: every complete
 * placeholder the vault knows is replaced by its value; the only text held
 * back is an end that could still grow into a placeholder (`<EMA`,
 * `<EMAIL_1`), at most one placeholder long. Pure: text in, text out.
 *
 * Any chunking gives the same output as the whole text: complete
 * placeholders are searched for in the held tail plus the new text, and the
 * held tail starts at the earliest position a placeholder could still
 * start, so no placeholder is ever split between what was released and
 * what is held.
 */
import type { PlaceholderFormat } from './placeholder-format.js'

export interface RestorerOptions {
  format: PlaceholderFormat
  /** The value a placeholder stands for in this conversation, or undefined. */
  lookup: (placeholder: string) => string | undefined
  /**
   * A placeholder the conversation does not know (the model invented it,
   * or it belongs to another conversation or client): `keep` it as written
   * (default) or `redact` it with `unknownReplacement`.
   */
  unknown?: 'keep' | 'redact'
  unknownReplacement?: string
}

export interface Restorer {
  write: (text: string) => string
  /** Releases what is held: the stream ended, so it is no placeholder. */
  end: () => string
  /** Characters held back now. */
  readonly held: number
  /** Placeholders restored so far. */
  readonly restored: number
  /** Unknown placeholders seen so far (kept or redacted). */
  readonly unknown: number
}

/**
 * Creates a restorer for one text channel of one answer.
 *
 * @example
 * const r = createRestorer({ format, lookup: (p) => p === '<EMAIL_1>' ? 'jane@acme.com' : undefined })
 * r.write('Mail <EMA') + r.write('IL_1> today') + r.end() // 'Mail jane@acme.com today'
 */
export function createRestorer (options: RestorerOptions): Restorer {
  const { format, lookup, unknown: unknownPolicy = 'keep', unknownReplacement = '[redacted]' } = options
  const pattern = new RegExp(format.pattern.source, 'g')
  let held = ''
  let restored = 0
  let unknown = 0

  function replaceComplete (text: string): { out: string, rest: number } {
    pattern.lastIndex = 0
    let out = ''
    let last = 0
    for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
      const value = lookup(m[0])
      if (value !== undefined) restored++
      else unknown++
      out += text.slice(last, m.index) + (value ?? (unknownPolicy === 'redact' ? unknownReplacement : m[0]))
      last = m.index + m[0].length
    }
    return { out, rest: last }
  }

  return {
    write (text) {
      if (text === '') return ''
      const buffer = held + text
      const { out, rest } = replaceComplete(buffer)
      const tail = buffer.slice(rest)
      const start = format.partialStart(tail)
      if (start === -1) {
        held = ''
        return out + tail
      }
      held = tail.slice(start)
      return out + tail.slice(0, start)
    },
    end () {
      const out = held
      held = ''
      return out
    },
    get held () { return held.length },
    get restored () { return restored },
    get unknown () { return unknown }
  }
}
