/**
 * @module client/decoder-host
 * The Worker's side of off-thread decoding: runs one `createDecoder` per
 * request the client opens, and posts back what each chunk decoded to. Pure
 * wiring over a message endpoint, so it can be served on a worker's global
 * scope (decode-worker.ts) or on a MessagePort (the tests, or an app's own
 * worker that does more).
 */
import { createDecoder } from './create-decoder.js'
import type { DecodedEvent, Decoder } from './create-decoder.js'
import type { FromDecoder, MessageEndpoint, MessageEventLike, ToDecoder } from './worker-messages.js'

/**
 * Serves decoding on `endpoint` until it closes.
 * @example
 * // my-worker.js — a worker of your own that also decodes Sluice streams
 * import { serveDecoder } from 'sluice/client'
 * serveDecoder(self)
 */
export function serveDecoder (endpoint: MessageEndpoint): void {
  const decoders = new Map<number, Decoder>()

  function post (id: number, decoder: Decoder, events: DecodedEvent[]): void {
    if (decoder.finished()) decoders.delete(id)
    if (events.length === 0) return
    const message: FromDecoder = { type: 'events', id, events }
    endpoint.postMessage(message)
  }

  endpoint.addEventListener('message', function onDecoderMessage (event: MessageEventLike) {
    const message = event.data as ToDecoder
    if (message.type === 'ping') {
      const ready: FromDecoder = { type: 'ready' }
      endpoint.postMessage(ready)
      return
    }
    if (message.type === 'open') {
      decoders.set(message.id, createDecoder(message.options))
      return
    }
    const decoder = decoders.get(message.id)
    if (decoder === undefined) return
    switch (message.type) {
      case 'push':
        post(message.id, decoder, decoder.push(message.bytes))
        break
      case 'end':
        post(message.id, decoder, decoder.end())
        break
      case 'fail':
        post(message.id, decoder, decoder.fail(message.error))
        break
    }
  })
  endpoint.start?.()
}
