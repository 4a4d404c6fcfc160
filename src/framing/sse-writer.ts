/**
 * @module framing/sse-writer
 * Serializes frames back to Server-Sent Events. Fields come out in the
 * order OpenAI and Anthropic send them (`event:`, `id:`, then `data:`), with
 * one space after the colon, so a frame passed through unchanged is
 * byte-identical to what those upstreams sent. Data with line breaks
 * becomes several `data:` lines, which a client joins back with LF
 * (HTML §9.2.6), so multi-line data round-trips.
 */
import type { LineEnding } from './sse-parser.js'
import type { DataFrame } from '../protocols/types.js'

const kLineBreak = /\r\n|\r|\n/

/** One event, ended by an empty line. */
export function serializeSseFrame (frame: DataFrame, eol: LineEnding = '\n'): string {
  let out = ''
  if (frame.event !== undefined) out += `event: ${frame.event}${eol}`
  if (frame.id !== undefined) out += `id: ${frame.id}${eol}`
  const data = frame.data
  if (data.indexOf('\n') === -1 && data.indexOf('\r') === -1) {
    out += `data: ${data}${eol}`
  } else {
    for (const line of data.split(kLineBreak)) out += `data: ${line}${eol}`
  }
  return out + eol
}

/**
 * A comment (keep-alive), followed by an empty line as keep-alives usually
 * are. A comment seen in the middle of an event comes out before it; an
 * empty line dispatches nothing when no data is pending, so this is safe.
 */
export function serializeSseComment (comment: string, eol: LineEnding = '\n'): string {
  const lines = comment.split(kLineBreak)
  return lines.map((line) => (line === '' ? ':' : `: ${line}`)).join(eol) + eol + eol
}

/** A reconnection delay, passed on as it came. */
export function serializeSseRetry (ms: number, eol: LineEnding = '\n'): string {
  return `retry: ${ms}${eol}${eol}`
}
