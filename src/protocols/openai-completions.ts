/**
 * @module protocols/openai-completions
 * Legacy OpenAI Completions, streamed (`text_completion` chunks) and not (a
 * `text_completion` body): each `choices[i].text` is one channel (`i:text`),
 * scanned whole in a body. `logprobs` of a changed choice become null (they
 * list the original tokens). The streaming rules (holdback, flush before
 * the finishing chunk, cut as `content_filter` then `[DONE]`) are in
 * openai-choices.ts.
 */
import type { Scanner } from '../scanner/types.js'
import { indexOf, isText } from './json-frame.js'
import { choiceTextInfo, createChoiceCodec, sanitizeChoicesBody, soleChoice } from './openai-choices.js'
import type { ChoiceFlavor } from './openai-choices.js'
import type { CodecContext, JsonSanitizeOptions, JsonSanitizeResult, ProtocolCodec } from './types.js'

const kSimpleChoiceKeys = new Set(['index', 'text', 'logprobs', 'finish_reason'])

const completionsFlavor: ChoiceFlavor = {
  protocol: 'openai-completions',
  object: 'text_completion',
  textPath: ['text'],
  ownsChoicePath (rest) {
    return rest.length === 1 && rest[0] === 'text'
  },
  scanChoice (choice, i, ctx) {
    const text = choice.text
    if (!isText(text)) return false
    const released = ctx.channels.scan(choiceTextInfo('text', i), text)
    if (released === text) return false
    choice.text = released
    return true
  },
  appendFlush (choice, _info, text) {
    if (typeof choice.text !== 'string') return false
    choice.text += text
    return true
  },
  flushChoice (index, parts) {
    return { text: parts.map((p) => p.text).join(''), index, logprobs: null, finish_reason: null }
  },
  cutChoice (index) {
    return { text: '', index, logprobs: null, finish_reason: 'content_filter' }
  },
  simpleText (chunk) {
    const choice = soleChoice(chunk, kSimpleChoiceKeys)
    if (choice === undefined) return undefined
    const text = choice.text
    if (!isText(text)) return undefined
    return { info: choiceTextInfo('text', indexOf(choice.index, 0)), text }
  },
  isEmptyChoice (choice) {
    return (choice.text === '' || choice.text === undefined) && (choice.finish_reason === null || choice.finish_reason === undefined)
  }
}

/** A codec for legacy Completions chunks. */
export function createOpenAiCompletionsCodec (ctx: CodecContext, options: { coalesce?: boolean } = {}): ProtocolCodec {
  return createChoiceCodec(ctx, completionsFlavor, { doneMarker: true, coalesce: options.coalesce ?? true })
}

/** Sanitizes a non-streamed `text_completion` body. Cut: `finish_reason: "content_filter"` on every choice. */
export function sanitizeOpenAiCompletionsBody (input: unknown, newScanner: () => Scanner, options: JsonSanitizeOptions = {}): JsonSanitizeResult {
  return sanitizeChoicesBody(input, newScanner, options, 'openai-completions', (scan, choice, i) =>
    scan.scanField(choice, 'text', choiceTextInfo('text', i)))
}
