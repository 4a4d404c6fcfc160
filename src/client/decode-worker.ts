/**
 * @module client/decode-worker
 * The entry module of the decoding Worker that `worker: true` starts (as
 * `new Worker(new URL('./decode-worker.js', import.meta.url), { type:
 * 'module' })`, the form bundlers recognise). Serving the decoder is its one
 * effect; nothing imports this module but the Worker.
 */
import { serveDecoder } from './decoder-host.js'
import type { MessageEndpoint } from './worker-messages.js'

serveDecoder(globalThis as unknown as MessageEndpoint)
