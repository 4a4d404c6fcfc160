/**
 * @module client/text-batcher
 * Coalesces text deltas for the UI: a model streams tens of deltas a
 * second, and a browser paints at most once per animation frame, so
 * rendering each delta is wasted work. Deltas of one channel that arrive
 * before the next flush are concatenated (their spans shifted to match),
 * channels keep the order they first got text in, and the flush runs on
 * the scheduler given: `requestAnimationFrame` in a browser, a microtask
 * elsewhere (see create-stream-client.ts). `flush()` delivers at once;
 * the client calls it before an error or the finish, so no text is ever
 * told after them.
 */
import type { ChannelRef, RedactionSpan } from './types.js'

/** Text of one channel waiting to be delivered. */
export interface PendingText {
  ref: ChannelRef
  text: string
  /** Where `text` starts in the channel's whole text. */
  offset: number
  spans: RedactionSpan[]
}

export interface TextBatcher {
  add(ref: ChannelRef, text: string, offset: number, spans: readonly RedactionSpan[]): void
  /** Delivers everything pending now. */
  flush(): void
}

/** Runs `flush` later, once; undefined delivers every delta at once. */
export type FlushScheduler = (flush: () => void) => void

/**
 * Creates a batcher that hands pending text to `deliver`, one call per channel.
 * @example
 * const batcher = createTextBatcher((p) => render(p.ref.key, p.text), (f) => requestAnimationFrame(f))
 * batcher.add(ref, 'Hel', 0, [])
 * batcher.add(ref, 'lo', 3, []) // one render('0:content', 'Hello') at the next frame
 */
export function createTextBatcher (deliver: (pending: PendingText) => void, schedule: FlushScheduler | undefined): TextBatcher {
  let pending = new Map<string, PendingText>()
  let scheduled = false

  function flush (): void {
    scheduled = false
    if (pending.size === 0) return
    const batch = pending
    pending = new Map()
    for (const item of batch.values()) deliver(item)
  }

  function flushScheduled (): void {
    if (scheduled) flush()
  }

  return {
    add (ref, text, offset, spans) {
      if (schedule === undefined) {
        deliver({ ref, text, offset, spans: [...spans] })
        return
      }
      const item = pending.get(ref.key)
      if (item === undefined) {
        pending.set(ref.key, { ref, text, offset, spans: [...spans] })
      } else {
        const shift = item.text.length
        for (const span of spans) item.spans.push({ ...span, start: span.start + shift, end: span.end + shift })
        item.text += text
        item.ref = ref
      }
      if (!scheduled) {
        scheduled = true
        schedule(flushScheduled)
      }
    },
    flush
  }
}
