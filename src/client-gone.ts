/**
 * @module client-gone
 * Tells, as early as Node lets us know, that the client of a response went
 * away, so the upstream request behind it is cancelled at once: every
 * token generated after the client left is paid for and never read.
 *
 * Why not just the response's `'close'`: when the client closes its socket
 * (FIN), Node's HTTP server reads the EOF, aborts the request and ends its
 * own side of the socket; the response's `'close'` only follows once that
 * shutdown has completed and the handle is closed, one or more event-loop
 * turns later. Under load a turn takes tens of milliseconds. The socket's
 * `'end'` (peer FIN) and `'error'` (peer RST) come in the very poll callback
 * that reads them. An `'end'` is final here: Node's HTTP server does not
 * allow half-open sockets (`httpAllowHalfOpen` is false unless a custom
 * server sets it), it ends the socket itself, so the response can no longer
 * complete. With `httpAllowHalfOpen`, only `'error'` and `'close'` count.
 *
 * One listener per event per socket (not per request), behind a Symbol key:
 * keep-alive sockets serve many requests, and pipelined requests would
 * otherwise pile up listeners.
 */
import { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

const kWatchers = Symbol('sluice.clientGoneWatchers')

type WatchedSocket = Socket & { [kWatchers]?: Set<() => void>, server?: { httpAllowHalfOpen?: boolean } }

function watchersOf (socket: WatchedSocket): Set<() => void> {
  let watchers = socket[kWatchers]
  if (watchers !== undefined) return watchers
  const set = new Set<() => void>()
  watchers = set
  socket[kWatchers] = set
  const fire = (): void => {
    // Each watcher removes itself; copy first.
    for (const watcher of [...set]) watcher()
  }
  if (socket.server?.httpAllowHalfOpen !== true) socket.once('end', fire)
  socket.once('error', fire)
  socket.once('close', fire)
  return set
}

/**
 * Calls `onGone` once if the client goes away before `res` has ended (its
 * last byte written: nothing is left to cancel after that); never after.
 * Listeners go away with the response. `writableEnded`, not
 * `writableFinished`: the latter stays false under `inject`, which has no
 * real socket to flush.
 *
 * @example
 * const controller = new AbortController()
 * onClientGone(reply.raw, () => { controller.abort() })
 */
export function onClientGone (res: ServerResponse, onGone: () => void): void {
  // HTTP/1 only: an HTTP/2 response's `socket` is a proxy whose `once` binds
  // to the request's own stream (its 'end' is the end of the request body),
  // and one connection carries many streams; there the response's 'close'
  // (stream reset or connection gone) tells. `inject` has a mock socket that
  // never ends: the same.
  const socket = res instanceof ServerResponse ? res.socket as WatchedSocket | null : null
  const watchers = socket !== null && typeof socket.once === 'function' ? watchersOf(socket) : undefined
  let settled = false
  const check = (): void => {
    if (settled) return
    settled = true
    watchers?.delete(check)
    res.off('close', check)
    if (!res.writableEnded) onGone()
  }
  watchers?.add(check)
  res.once('close', check)
  // Gone before we started watching (an EOF read while the body was parsed, say).
  if (res.destroyed || socket?.destroyed === true || (socket?.readableEnded === true && socket.server?.httpAllowHalfOpen !== true)) {
    process.nextTick(check)
  }
}
