/**
 * @module demo/routes
 * The demo upstream's routes: `GET /_demo/stats`, `POST /_demo/reset`,
 * `GET /v1/models`, the generation routes (generation.ts), and a 404 in the
 * OpenAI shape for anything else. A body that is too large or not JSON is
 * answered in the route's API error shape.
 */
import type http from 'node:http'
import { isJsonObject } from '../json/json-object.js'
import { DemoRequestError, demoModels, errorBody } from './demo-request.js'
import { serveGeneration } from './generation.js'
import type { DemoState } from './generation.js'
import { emptyStats } from './stats.js'
import type { RouteName } from './wire-format.js'

const routes: Record<string, RouteName> = {
  '/v1/chat/completions': 'chat',
  '/v1/completions': 'completions',
  '/v1/responses': 'responses',
  '/v1/messages': 'messages'
}

export function sendJson (res: http.ServerResponse, status: number, body: unknown, extraHeaders: http.OutgoingHttpHeaders = {}): void {
  const payload = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    ...extraHeaders
  })
  res.end(payload)
}

/** The request body, or 'too-large' past `maxBodyBytes` (the rest is read and dropped); rejects when the client goes away. */
function readBody (req: http.IncomingMessage, maxBodyBytes: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > maxBodyBytes) {
        req.removeListener('data', onData)
        req.resume()
        resolve('too-large')
        return
      }
      parts.push(chunk)
    }
    req.on('data', onData)
    req.once('end', () => resolve(Buffer.concat(parts)))
    req.once('error', reject)
    req.once('close', () => { if (!req.complete) reject(new Error('client closed the request body')) })
  })
}

/** Zeroes the stats and the fault counters; open connections stay counted. */
export function resetStats (demo: DemoState): void {
  const open = demo.stats.openConnections
  demo.stats = emptyStats()
  demo.stats.openConnections = open
}

export async function handleRequest (demo: DemoState, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://demo.invalid')
  const method = req.method ?? 'GET'

  if (url.pathname === '/_demo/stats' && method === 'GET') return sendJson(res, 200, demo.stats)
  if (url.pathname === '/_demo/reset' && method === 'POST') {
    resetStats(demo)
    res.writeHead(204).end()
    return
  }

  const stats = demo.stats
  stats.requests++
  stats.requestsByPath[url.pathname] = (stats.requestsByPath[url.pathname] ?? 0) + 1
  const requestNumber = ++demo.requestCount
  const record = (body: unknown): void => { demo.stats.lastRequest = { method, url: req.url ?? '/', headers: req.headers, body } }

  if (url.pathname === '/v1/models' && method === 'GET') {
    record(null)
    const created = Math.floor(Date.now() / 1000)
    return sendJson(res, 200, {
      object: 'list',
      data: demoModels.map((id) => ({ id, object: 'model', created, owned_by: 'sluice-demo' }))
    })
  }

  const route = routes[url.pathname]
  if (route === undefined || method !== 'POST') {
    record(null)
    return sendJson(res, 404, errorBody(null, 404, `Invalid URL (${method} ${url.pathname})`, null, 'unknown_url'))
  }

  let raw: Buffer | 'too-large'
  try {
    raw = await readBody(req, demo.settings.maxBodyBytes)
  } catch {
    return // the client went away while sending; nothing to answer
  }
  if (raw === 'too-large') {
    record(null)
    return sendJson(res, 413, errorBody(route, 413, `Request body exceeds ${demo.settings.maxBodyBytes} bytes`), { connection: 'close' })
  }
  const text = raw.toString('utf8')
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    record(text)
    return sendJson(res, 400, errorBody(route, 400, 'We could not parse the JSON body of your request. (HINT: This likely means you aren\'t using your HTTP library correctly. The OpenAI API expects a JSON payload.)'))
  }
  record(body)

  try {
    if (!isJsonObject(body)) throw new DemoRequestError('The request body must be a JSON object.')
    serveGeneration(demo, { route, req, url, body, number: requestNumber }, res)
  } catch (err) {
    if (!(err instanceof DemoRequestError)) throw err
    sendJson(res, err.status, errorBody(route, err.status, err.message, err.param, err.code))
  }
}
