/**
 * onClientGone over real sockets: a client's FIN or RST is reported at once,
 * before the response's own 'close'; a finished response never is; kept-alive
 * sockets do not collect listeners. No timing is asserted: only the order of
 * events.
 */
import t from 'tap'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import Fastify from 'fastify'
import { Client } from 'undici'
import type { Test } from 'tap'
import { onClientGone } from '../src/client-gone.js'

async function listen (t: Test, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server, port: number }> {
  const server = createServer(handler)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => { resolve() })
  }))
  return { server, port: (server.address() as AddressInfo).port }
}

/** A raw client that sends one streaming request and waits for the response head. */
async function openStream (port: number): Promise<Socket> {
  const socket = net.connect(port, '127.0.0.1')
  await once(socket, 'connect')
  socket.write('POST /stream HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}')
  await once(socket, 'data')
  return socket
}

/** A server that streams until its client leaves, recording the order of what it sees. */
async function streamingServer (t: Test): Promise<{ port: number, events: string[], closed: Promise<void> }> {
  const events: string[] = []
  let resolveClosed = (): void => {}
  const closed = new Promise<void>((resolve) => { resolveClosed = resolve })
  const { port } = await listen(t, (req, res) => {
    req.resume()
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write('data: hello\n\n')
    const timer = setInterval(() => { res.write('data: more\n\n') }, 5)
    // Listening to 'close' first: a watch that waited for the response's
    // 'close' would come after this one.
    res.once('close', () => {
      clearInterval(timer)
      events.push('response close')
      resolveClosed()
    })
    onClientGone(res, () => { events.push(`gone (ended: ${String(res.writableEnded)})`) })
  })
  return { port, events, closed }
}

t.test("tells at the client's FIN, before the response closes", async (t) => {
  const { port, events, closed } = await streamingServer(t)
  const socket = await openStream(port)
  socket.resume()
  // Half-close: FIN sent, still reading. Node's HTTP server ends the socket in turn.
  socket.end()
  await closed
  socket.destroy()
  t.same(events, ['gone (ended: false)', 'response close'])
})

t.test("tells at the client's RST, before the response closes", async (t) => {
  const { port, events, closed } = await streamingServer(t)
  const socket = await openStream(port)
  socket.resetAndDestroy()
  await closed
  t.same(events, ['gone (ended: false)', 'response close'])
})

t.test('never tells once the response finished, and leaves no listeners on a kept-alive socket', async (t) => {
  let gone = 0
  const sockets = new Set<Socket>()
  const listenerCounts: number[] = []
  const { port } = await listen(t, (req, res) => {
    sockets.add(req.socket)
    onClientGone(res, () => { gone++ })
    // Pipelined responses would add theirs too: several watchers, one socket listener.
    onClientGone(res, () => { gone++ })
    listenerCounts.push(req.socket.listenerCount('end') + req.socket.listenerCount('error') + req.socket.listenerCount('close'))
    req.resume()
    req.once('end', () => { res.end('ok') })
  })
  const client = new Client(`http://127.0.0.1:${port}`, { pipelining: 1 })
  for (let i = 0; i < 20; i++) {
    const { body } = await client.request({ method: 'POST', path: '/', body: 'x' })
    t.equal(await body.text(), 'ok')
  }
  t.equal(sockets.size, 1, 'one kept-alive connection served every request')
  t.equal(new Set(listenerCounts).size, 1, 'the socket has as many listeners at the 20th request as at the first')
  await client.close()
  const [socket] = sockets
  if (socket !== undefined && !socket.destroyed) await once(socket, 'close')
  t.equal(gone, 0, 'a finished response is never reported, not even when the client closes later')
})

t.test('a client already gone when the watch starts is reported', async (t) => {
  const events: string[] = []
  let resolveDone = (): void => {}
  const done = new Promise<void>((resolve) => { resolveDone = resolve })
  const { port } = await listen(t, (req, res) => {
    req.resume()
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write('data: hello\n\n')
    // Start watching only after Node has read the client's FIN.
    req.socket.once('end', () => {
      setImmediate(() => {
        onClientGone(res, () => {
          events.push('gone')
          resolveDone()
        })
      })
    })
  })
  const socket = await openStream(port)
  socket.resume()
  socket.end()
  await done
  socket.destroy()
  t.same(events, ['gone'])
})

t.test('works on responses without a real socket (fastify inject)', async (t) => {
  const app = Fastify()
  let gone = 0
  app.get('/', async (_request, reply) => {
    onClientGone(reply.raw, () => { gone++ })
    return { ok: true }
  })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/' })
  t.equal(res.statusCode, 200)
  t.equal(gone, 0)
})

t.test('over HTTP/2: the end of a request body is no cancellation, a stream reset is', async (t) => {
  const app = Fastify({ http2: true })
  const seen: string[] = []
  let release = (): void => {}
  let arrived = (): void => {}
  const waitArrived = new Promise<void>((resolve) => { arrived = resolve })
  app.post('/', async (request, reply) => {
    const url = String((request.body as { url?: string } | undefined)?.url ?? '')
    onClientGone(reply.raw as unknown as ServerResponse, () => { seen.push(`gone ${url}`) })
    if (url === 'wait') {
      arrived()
      await new Promise<void>((resolve) => { release = resolve })
    }
    return { ok: true }
  })
  // Watching from the first hook of a bodiless GET too.
  app.get('/', { onRequest: (_request, reply, done) => { onClientGone(reply.raw as unknown as ServerResponse, () => { seen.push('gone get') }); done() } },
    async () => ({ ok: true }))
  const address = await app.listen({ host: '127.0.0.1', port: 0 })
  const session = http2.connect(address)
  t.teardown(async () => {
    session.destroy()
    await app.close()
  })
  const post = (url: string): http2.ClientHttp2Stream => {
    const req = session.request({ ':method': 'POST', ':path': '/', 'content-type': 'application/json' })
    req.end(JSON.stringify({ url }))
    return req
  }
  const done = post('done')
  let body = ''
  done.setEncoding('utf8')
  done.on('data', (chunk: string) => { body += chunk })
  await once(done, 'end')
  t.equal(body, '{"ok":true}')
  const get = session.request({ ':method': 'GET', ':path': '/' })
  get.resume()
  await once(get, 'end')

  const waiting = post('wait')
  waiting.on('error', () => {})
  await waitArrived
  waiting.close(http2.constants.NGHTTP2_CANCEL)
  for (let i = 0; i < 200 && seen.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  release()
  t.same(seen, ['gone wait'])
})
