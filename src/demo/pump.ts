/**
 * @module demo/pump
 * Writes a response as a sequence of steps — bytes, paced or not, or a
 * fault that ends writing — at the pace asked for, and never faster than
 * the client reads. Every timer and listener of a response is kept on its
 * handle, so all stop the moment the connection closes.
 */
import type http from 'node:http'
import type { Socket } from 'node:net'

/** With no pacing, yield to the event loop after this many frames so an endless stream cannot starve other sockets. */
const maxFramesPerTick = 64

/** A step of a response: bytes to write (`paced` ones wait one interval first), or a fault that ends writing. */
export type Step = { data: string | Buffer; paced: boolean } | { control: 'reset' | 'stall' }

/** Per-response state, kept so every timer and listener can be dropped the moment the connection closes. */
export interface ResponseHandle {
  timer: NodeJS.Timeout | undefined
  immediate: NodeJS.Immediate | undefined
  onDrain: (() => void) | undefined
  closed: boolean
  /** What the response did, as its stats record (stats.ts) keeps it. */
  record: { bytesWritten: number, reset: boolean }
}

export function stopHandle (handle: ResponseHandle, res: http.ServerResponse): void {
  handle.closed = true
  if (handle.timer !== undefined) clearTimeout(handle.timer)
  if (handle.immediate !== undefined) clearImmediate(handle.immediate)
  if (handle.onDrain !== undefined) res.removeListener('drain', handle.onDrain)
  handle.timer = undefined
  handle.immediate = undefined
  handle.onDrain = undefined
}

/**
 * Writes `steps` to `res`, waiting `intervalMs` before each paced step and for
 * `drain` whenever the socket is full, so a slow reader slows the stream
 * instead of filling memory. Headers go out with the first write.
 */
export function pump (res: http.ServerResponse, steps: Iterator<Step>, intervalMs: number, handle: ResponseHandle): void {
  let waited: Step | undefined
  const writeSome = (): void => {
    handle.timer = undefined
    handle.immediate = undefined
    handle.onDrain = undefined
    if (handle.closed) return
    let frames = 0
    // Corking turns a burst of small frames into one syscall when unpaced.
    res.cork()
    try {
      for (;;) {
        let step: Step
        if (waited !== undefined) {
          step = waited
          waited = undefined
        } else {
          const next = steps.next()
          if (next.done === true) {
            res.end()
            return
          }
          step = next.value
          if ('data' in step && step.paced && intervalMs > 0) {
            waited = step
            handle.timer = setTimeout(writeSome, intervalMs)
            return
          }
        }
        if ('control' in step) {
          if (step.control === 'reset') resetConnection(res, handle)
          // 'stall': write nothing more and keep the connection open, until the client or close() ends it.
          return
        }
        handle.record.bytesWritten += typeof step.data === 'string' ? Buffer.byteLength(step.data) : step.data.length
        if (!res.write(step.data)) {
          handle.onDrain = writeSome
          res.once('drain', writeSome)
          return
        }
        if (intervalMs === 0 && ++frames >= maxFramesPerTick) {
          handle.immediate = setImmediate(writeSome)
          return
        }
      }
    } finally {
      res.uncork()
    }
  }
  writeSome()
}

/**
 * Closes the connection mid-body: what was written is flushed, then the socket
 * ends without the chunked terminator (or short of `content-length`), which a
 * client sees as a premature close.
 */
function resetConnection (res: http.ServerResponse, handle: ResponseHandle): void {
  handle.record.reset = true
  const socket: Socket | null = res.socket
  if (socket === null) return
  res.uncork()
  socket.end(() => socket.destroy())
}

/** Steps from a list. */
export function stepsOf (...steps: Step[]): Iterator<Step> {
  return steps[Symbol.iterator]()
}
