/**
 * @module client/decode-session
 * One response's decoding as the client drives it: chunks pushed in, events
 * handed to a callback, on the main thread (synchronously) or in a Worker
 * (when its messages come back). The Worker is asked to answer a ping
 * before any body is given to it; one that does not (blocked by a CSP, its
 * script missing) leaves decoding on the main thread.
 */
import type { ClientErrorInit } from './client-error.js'
import { createDecoder } from './create-decoder.js'
import type { DecodedEvent, DecoderOptions } from './create-decoder.js'
import type { FromDecoder, MessageEventLike, ToDecoder, WorkerLike } from './worker-messages.js'

export type OnEvents = (events: DecodedEvent[]) => void

export interface DecodeSession {
  push(bytes: Uint8Array): void
  end(): void
  fail(error: ClientErrorInit): void
}

/** Decoding on this thread. */
export function createLocalSession (options: DecoderOptions, onEvents: OnEvents): DecodeSession {
  const decoder = createDecoder(options)
  function hand (events: DecodedEvent[]): void {
    if (events.length > 0) onEvents(events)
  }
  return {
    push: (bytes) => hand(decoder.push(bytes)),
    end: () => hand(decoder.end()),
    fail: (error) => hand(decoder.fail(error))
  }
}

export interface WorkerDecoding {
  /** True once the Worker answered; false if it failed or stayed silent. */
  readonly ready: Promise<boolean>
  open(options: DecoderOptions, onEvents: OnEvents): DecodeSession
  terminate(): void
}

const kWorkerFailed: ClientErrorInit = { code: 'SLUICE_CLIENT_STREAM_ERROR', message: 'The decoding worker failed.' }

/**
 * Drives decoding sessions on a Worker (many at once, by id).
 * @example
 * const decoding = connectWorker(new Worker(workerUrl, { type: 'module' }), 3000)
 * if (await decoding.ready) session = decoding.open(options, onEvents)
 */
export function connectWorker (worker: WorkerLike, readyTimeoutMs: number): WorkerDecoding {
  const sessions = new Map<number, OnEvents>()
  let nextId = 1
  let alive = true

  function post (message: ToDecoder, transfer?: ArrayBuffer[]): void {
    if (transfer === undefined) worker.postMessage(message)
    else worker.postMessage(message, transfer)
  }

  const ready = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), readyTimeoutMs)
    worker.addEventListener('message', function onWorkerMessage (event: MessageEventLike) {
      const message = event.data as FromDecoder
      if (message.type === 'ready') {
        clearTimeout(timer)
        resolve(true)
        return
      }
      const onEvents = sessions.get(message.id)
      if (onEvents === undefined) return
      if (message.events.some((e) => e.type === 'finish')) sessions.delete(message.id)
      onEvents(message.events)
    })
    worker.addEventListener('error', function onWorkerError () {
      clearTimeout(timer)
      alive = false
      resolve(false)
      // Sessions under way lost their decoder: they end in error.
      const open = [...sessions.values()]
      sessions.clear()
      for (const onEvents of open) {
        onEvents([{ type: 'error', error: kWorkerFailed }, { type: 'finish', reason: 'error', raw: undefined, frame: undefined, protocol: undefined }])
      }
    })
    worker.start?.()
    post({ type: 'ping' })
  })

  return {
    ready,
    open (options, onEvents) {
      const id = nextId++
      sessions.set(id, onEvents)
      post({ type: 'open', id, options })
      return {
        push (bytes) {
          if (!alive) return
          // The chunk is not read again here: hand its buffer over instead of copying it.
          const whole = bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
          post({ type: 'push', id, bytes }, whole ? [bytes.buffer as ArrayBuffer] : undefined)
        },
        end () {
          if (alive) post({ type: 'end', id })
        },
        fail (error) {
          if (alive) post({ type: 'fail', id, error })
        }
      }
    },
    terminate () {
      alive = false
      worker.terminate?.()
    }
  }
}
