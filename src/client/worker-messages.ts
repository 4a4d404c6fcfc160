/**
 * @module client/worker-messages
 * The messages between the client and its decoding Worker, and the least
 * of a Worker (or a MessagePort) the client needs. Only plain data crosses:
 * options (markers are RegExps, which structured clone copies), body chunks
 * (their buffers transferred, not copied) and decoded events.
 */
import type { ClientErrorInit } from './client-error.js'
import type { DecodedEvent, DecoderOptions } from './create-decoder.js'

export type ToDecoder =
  | { type: 'ping' }
  | { type: 'open', id: number, options: DecoderOptions }
  | { type: 'push', id: number, bytes: Uint8Array }
  | { type: 'end', id: number }
  | { type: 'fail', id: number, error: ClientErrorInit }

export type FromDecoder =
  | { type: 'ready' }
  | { type: 'events', id: number, events: DecodedEvent[] }

/** A message event, as Worker, MessagePort and a worker's global scope dispatch it. */
export interface MessageEventLike {
  data: unknown
}

/**
 * Either end of the channel: a `Worker` on the client's side, the worker's
 * global scope on the other (or the two ports of a MessageChannel).
 */
export interface MessageEndpoint {
  postMessage(message: unknown, transfer?: ArrayBuffer[]): void
  addEventListener(type: 'message', listener: (event: MessageEventLike) => void): void
  /** A MessagePort receives nothing until started. */
  start?(): void
}

/** What the client needs of a Worker: an endpoint it can also watch for failure and end. */
export interface WorkerLike extends MessageEndpoint {
  addEventListener(type: 'message' | 'error', listener: (event: MessageEventLike) => void): void
  terminate?(): void
}
