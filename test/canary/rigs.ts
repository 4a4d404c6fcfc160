/**
 * @module test/canary/rigs
 * The two ways a hostile answer reaches a client, each one server reused
 * for every case: (a) a Fastify app with the sluice plugin whose route
 * replies with the case's status, headers and body pieces; (b) the proxy
 * (`createProxy`) in front of a tiny `http.createServer` upstream that
 * writes them. The client is undici over a real socket on 127.0.0.1; the
 * bytes that arrived before any error are kept.
 */
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable, Writable } from 'node:stream'
import { setImmediate as nextTurn } from 'node:timers/promises'
import Fastify from 'fastify'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Agent, request } from 'undici'
import { sluice } from '../../src/plugin/index.js'
import { createProxy } from '../../src/proxy/create-proxy.js'
import { resolveProxyConfig } from '../../src/proxy/proxy-config.js'
import { defaultRulesDir } from '../../src/rules/load-rules.js'
import type { RuleSet } from '../../src/rules/rule-set.js'
import type { Received } from './client-decode.js'
import type { BuiltCase } from './hostile-case.js'
import { serialize } from './json-text.js'
import { protocolNamed } from './protocols.js'
import type { ProtocolEntry } from './protocols.js'

export type ThroughPath = 'plugin' | 'proxy'

export interface Delivery {
  built: BuiltCase
  protocol: ProtocolEntry
  streamed: boolean
  sendAs: 'stream' | 'buffer'
}

export interface Rig {
  name: ThroughPath
  /** Serves `delivery` once and returns what the client received. */
  run: (delivery: Delivery) => Promise<Received>
  /**
   * Serves `delivery` to whatever `client` does: it gets an OpenAI-style
   * base URL (append `/chat/completions`, …) and headers to send.
   */
  withCase: <T>(delivery: Delivery, client: (target: { baseURL: string, headers: Record<string, string> }) => Promise<T>) => Promise<T>
  /** Whether an ordinary streamed answer still comes through whole. */
  healthy: () => Promise<{ ok: boolean, detail: string }>
  close: () => Promise<void>
}

const kHealthText = 'All good here, nothing to hide.'

function healthDelivery (): Delivery {
  const protocol = protocolNamed('openai-chat-sse')
  const frames = protocol.stream({ pieces: ['All good ', 'here, nothing', ' to hide.'] })
  const text = frames.map((f) => `data: ${serialize(f.data)}\n\n`).join('')
  return { built: { status: 200, headers: { 'content-type': 'text/event-stream' }, pieces: [Buffer.from(text)] }, protocol, streamed: true, sendAs: 'stream' }
}

function piecesStream (pieces: Buffer[]): Readable {
  let i = 0
  return new Readable({
    read () {
      setImmediate(() => { this.push(i < pieces.length ? pieces[i++] : null) })
    }
  })
}

const dispatcher = new Agent({ keepAliveTimeout: 1000, headersTimeout: 5000, bodyTimeout: 5000 })

async function fetchBytes (url: string, init: { method: 'GET' | 'POST', headers: Record<string, string>, body?: string }): Promise<Received> {
  const res = await request(url, { ...init, dispatcher })
  const chunks: Buffer[] = []
  let error: string | undefined
  try {
    for await (const c of res.body) chunks.push(c as Buffer)
  } catch (err) {
    error = (err as Error).message
  }
  return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), ...(error === undefined ? {} : { error }) }
}

async function checkHealth (run: (d: Delivery) => Promise<Received>): Promise<{ ok: boolean, detail: string }> {
  try {
    const r = await run(healthDelivery())
    const text = r.body.toString('utf8')
    const joined = text.split('\n').filter((l) => l.startsWith('data: {')).map((l) => {
      const v = JSON.parse(l.slice(6)) as { choices?: Array<{ delta?: { content?: string } }> }
      return v.choices?.[0]?.delta?.content ?? ''
    }).join('')
    const ok = r.status === 200 && joined === kHealthText
    return { ok, detail: `status ${r.status}, text ${JSON.stringify(joined)}${r.error === undefined ? '' : `, error ${r.error}`}` }
  } catch (err) {
    return { ok: false, detail: (err as Error).message }
  }
}

/** Cases a rig's server serves, each under an id for as long as one request about it runs. */
function createCaseBook (): { cases: Map<string, Delivery>, using: <T>(d: Delivery, fn: (id: string) => Promise<T>) => Promise<T> } {
  const cases = new Map<string, Delivery>()
  let next = 0
  return {
    cases,
    async using (d, fn) {
      const id = String(next++)
      cases.set(id, d)
      try {
        return await fn(id)
      } finally {
        cases.delete(id)
      }
    }
  }
}

/** (a) The plugin: the route replies with the case as given. */
export async function startPluginRig (ruleSet: RuleSet, options: { sanitize?: boolean } = {}): Promise<Rig> {
  const { cases, using } = createCaseBook()
  const app: FastifyInstance = Fastify()
  // Without the plugin (`sanitize: false`): the control that shows a case does leak when nothing sanitizes it.
  if (options.sanitize !== false) await app.register(sluice, { rules: ruleSet, hmacKey: 'canary-anywhere' })
  const handler = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const d = cases.get((req.params as { id: string }).id)
    if (d === undefined) return reply.code(410).send()
    reply.code(d.built.status)
    for (const [name, value] of Object.entries(d.built.headers)) reply.header(name, value)
    return reply.send(d.streamed || d.sendAs === 'stream' ? piecesStream(d.built.pieces) : Buffer.concat(d.built.pieces))
  }
  app.route({ method: ['GET', 'POST'], url: '/case/:id', handler })
  // Where an SDK with base URL /case/:id/v1 sends its calls.
  app.route({ method: ['GET', 'POST'], url: '/case/:id/*', handler })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  const run = async (d: Delivery): Promise<Received> => await using(d, async (id) => await fetchBytes(`${url}/case/${id}`, { method: 'GET', headers: {} }))
  const withCase = async <T>(d: Delivery, client: (target: { baseURL: string, headers: Record<string, string> }) => Promise<T>): Promise<T> =>
    await using(d, async (id) => await client({ baseURL: `${url}/case/${id}/v1`, headers: {} }))
  return { name: 'plugin', run, withCase, healthy: () => checkHealth(run), close: () => app.close() }
}

/** (b) The proxy in front of a hostile upstream that writes the case. */
export async function startProxyRig (ruleSet: RuleSet): Promise<Rig> {
  const { cases, using } = createCaseBook()
  const upstream = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume()
    req.once('end', () => {
      const d = cases.get(String(req.headers['x-canary-case']))
      if (d === undefined) {
        res.statusCode = 410
        res.end()
        return
      }
      res.statusCode = d.built.status
      for (const [name, value] of Object.entries(d.built.headers)) res.setHeader(name, value)
      void (async () => {
        for (const piece of d.built.pieces) {
          if (res.destroyed) return
          res.write(piece)
          await nextTurn()
        }
        res.end()
      })()
    })
  })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
  const config = await resolveProxyConfig({
    argv: ['--upstream', upstreamUrl, '--port', '0', '--no-watch', '--retries', '0', '--rules', defaultRulesDir(),
      '--log-level', 'silent', '--idle-timeout', '3000', '--total-timeout', '8000', '--forward-header', 'x-canary-case'],
    env: {}
  })
  const app = await createProxy(config, { ruleSet, logStream: new Writable({ write (_c, _e, cb) { cb() } }) })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  const run = async (d: Delivery): Promise<Received> => await using(d, async (id) => await fetchBytes(url + d.protocol.route, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-canary-case': id },
    body: JSON.stringify(d.protocol.request(d.streamed))
  }))
  const withCase = async <T>(d: Delivery, client: (target: { baseURL: string, headers: Record<string, string> }) => Promise<T>): Promise<T> =>
    await using(d, async (id) => await client({ baseURL: `${url}/v1`, headers: { 'x-canary-case': id } }))
  return {
    name: 'proxy',
    run,
    withCase,
    healthy: () => checkHealth(run),
    close: async () => {
      await app.close()
      await new Promise<void>((resolve) => { upstream.close(() => resolve()); upstream.closeAllConnections() })
    }
  }
}

export async function closeClient (): Promise<void> {
  await dispatcher.close()
}
