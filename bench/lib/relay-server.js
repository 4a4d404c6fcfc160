// The shared shell of the two reference relays (raw-relay.js, parse-relay.js):
// a node:http server that forwards every request to one upstream origin with
// an undici Pool (keep-alive, no connection cap, like Sluice's own client),
// aborts the upstream call the moment the client goes away (as Sluice does),
// and hands the upstream body to `transformFor(headers)`: null pipes the bytes
// untouched, a Transform re-frames them. No rules, no logging, no metrics.
//
//   node bench/lib/raw-relay.js --upstream URL [--port N]
// prints `listening on http://127.0.0.1:PORT` when ready; SIGTERM closes it.
import http from 'node:http'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import { Pool } from 'undici'

const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'content-length', 'upgrade', 'te', 'trailer', 'proxy-connection'])

/**
 * @param {string} name
 * @param {(headers: import('node:http').IncomingHttpHeaders) => import('node:stream').Transform | null} transformFor
 */
export async function runRelay (name, transformFor) {
  const { values } = parseArgs({ options: { upstream: { type: 'string' }, port: { type: 'string', default: '0' } } })
  if (values.upstream === undefined) throw new Error(`${name}: --upstream URL is required`)
  const origin = new URL(values.upstream).origin
  const pool = new Pool(origin, { keepAliveTimeout: 30_000, bodyTimeout: 0 })

  const server = http.createServer(async function relayRequest (req, res) {
    /** @type {Buffer[]} */
    const parts = []
    for await (const chunk of req) parts.push(chunk)
    /** @type {Record<string, string | string[]>} */
    const headers = {}
    for (const [k, v] of Object.entries(req.headers)) if (!hopByHop.has(k) && v !== undefined) headers[k] = v
    const controller = new AbortController()
    res.once('close', () => { if (!res.writableFinished) controller.abort() })
    try {
      const up = await pool.request({
        // A server's request always has both.
        method: /** @type {import('undici').Dispatcher.HttpMethod} */ (req.method),
        path: /** @type {string} */ (req.url),
        headers,
        ...(parts.length === 0 ? {} : { body: Buffer.concat(parts) }),
        signal: controller.signal
      })
      const transform = transformFor(up.headers)
      /** @type {import('node:http').OutgoingHttpHeaders} */
      const out = {}
      for (const [k, v] of Object.entries(up.headers)) {
        // A re-framed body changes length; an untouched one keeps it.
        if (hopByHop.has(k) && !(k === 'content-length' && transform === null)) continue
        out[k] = v
      }
      res.writeHead(up.statusCode, out)
      if (transform === null) await pipeline(up.body, res)
      else await pipeline(up.body, transform, res)
    } catch {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json' })
        res.end('{"error":{"message":"relay: upstream failed"}}')
      } else {
        res.destroy()
      }
    }
  })
  server.keepAliveTimeout = 30_000
  // The same accept queue as Sluice's proxy (src/proxy/run-proxy.ts kListenBacklog), so connects compare alike.
  await new Promise((resolve) => server.listen({ port: Number(values.port), host: '127.0.0.1', backlog: 4096 }, () => resolve(undefined)))
  process.stdout.write(`listening on http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}\n`)
  process.once('SIGTERM', () => {
    server.close()
    server.closeAllConnections()
    pool.destroy().catch(() => {})
  })
}
