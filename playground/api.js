/**
 * @module playground/api
 * The page's calls to the playground API, relative to the page (the
 * playground may be mounted under a prefix). A token given in the address
 * (`#token=…`, which browsers never send to the server) is kept for the
 * tab's life and sent as `Authorization: Bearer`.
 */
import { createSseReader } from './sse.js'

const kTokenKey = 'sluice-playground-token'

function takeToken () {
  const fromHash = new URLSearchParams(window.location.hash.slice(1)).get('token')
  if (fromHash) {
    sessionStorage.setItem(kTokenKey, fromHash)
    window.history.replaceState(null, '', window.location.pathname + window.location.search)
  }
  return sessionStorage.getItem(kTokenKey)
}

/** An API error: the server's message, and its body (problems, conflict). */
export class ApiError extends Error {
  constructor (status, body) {
    super(body?.message ?? body?.error?.message ?? `HTTP ${status}`)
    this.status = status
    this.body = body
  }
}

export function createApi () {
  const token = takeToken()
  const headers = (json) => ({
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    ...(json ? { 'content-type': 'application/json' } : {})
  })

  async function call (method, path, body, signal) {
    const res = await fetch(new URL(`api/${path}`, window.location.href), {
      method,
      headers: headers(body !== undefined),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal
    })
    const data = await res.json().catch(() => undefined)
    if (!res.ok) throw new ApiError(res.status, data)
    return data
  }

  return {
    get: (path, signal) => call('GET', path, undefined, signal),
    post: (path, body, signal) => call('POST', path, body, signal),
    put: (path, body, signal) => call('PUT', path, body, signal),
    /** Posts to the stream endpoint and calls `onEvent` with each parsed event until it ends or `signal` aborts. */
    async stream (body, signal, onEvent) {
      const res = await fetch(new URL('api/stream', window.location.href), { method: 'POST', headers: headers(true), body: JSON.stringify(body), signal })
      if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => undefined))
      const reader = createSseReader(({ event, data }) => onEvent(event, JSON.parse(data)))
      const decoder = new TextDecoder()
      // getReader, not `for await`: Safari's streams are not async iterable.
      const chunks = res.body.getReader()
      for (let r = await chunks.read(); !r.done; r = await chunks.read()) reader.feed(decoder.decode(r.value, { stream: true }))
      reader.feed(decoder.decode())
    }
  }
}
