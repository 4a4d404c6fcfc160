/**
 * @module playground/playground-plugin
 * The rule playground as a Fastify plugin: one page (plain HTML, ES modules
 * and CSS from the package's `playground/` folder, no build step) and the
 * JSON API it calls. `sluice playground` runs it on its own server
 * (run-playground.ts); a host such as the proxy may mount it under a prefix.
 *
 * The API (paths under the plugin's prefix):
 * - `GET  api/state`: the rule files (writable or not), the sample folder's
 *   files, the demo's canned answers, and the rule set on disk;
 * - `GET  api/file?path=`: one rule file's text and hash;
 * - `POST api/check {path, text}`: the buffer loaded in the file's place as
 *   the CLI loads rules (problems at file:line:column), and its rules'
 *   examples run as `sluice rules test` runs them; a set that loads gets a
 *   `rulesId` that streams and folder runs name;
 * - `PUT  api/file {path, text, baseHash}`: saves (backup `FILE.bak`, atomic
 *   rename), refusing a buffer that does not load or a file changed on disk;
 * - `GET  api/sample?path=`: one file of the sample folder;
 * - `POST api/samples/run {rulesId}`: findings per rule over the folder;
 * - `POST api/stream {rulesId, text, mode, size, rate}`: a server-sent event
 *   stream, one `write` event per scanner write (released text, held tail,
 *   findings with their place in the output, cut, audit records), then
 *   `end`. The real scanner runs here, at the pace asked for, so the page
 *   shows its real holdback. A reader that leaves ends the run.
 *
 * Access. The API reads and writes files, so it answers only:
 * - with a `token` (or its SHA-256, `tokenHash`, as the proxy keeps its
 *   metrics token): to `Authorization: Bearer TOKEN`, from any address;
 * - without one: to a loopback peer that names the server by a loopback
 *   name in `Host` (a web page whose DNS name was rebound to 127.0.0.1
 *   sends its own name and is refused);
 * and a request that changes something must be `application/json` (a
 * cross-site form cannot send that without a preflight, which is never
 * answered) and, if it has an `Origin`, come from the server's own. Files
 * are read and written only at the rule paths and in the sample folder
 * given (rule-workspace.ts, sample-folder.ts).
 */
import { randomUUID, timingSafeEqual } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, extname, join, resolve } from 'node:path'
import { setImmediate as yieldTurn, setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { Type } from '@sinclair/typebox'
import type { Static } from '@sinclair/typebox'
import type { FastifyError, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { onClientGone } from '../client-gone.js'
import { cannedAnswers } from '../demo/canned-answers.js'
import { BadRequestError, InvalidOptionsError, UnauthorizedError } from '../errors.js'
import type { RuleSet } from '../scanner/index.js'
import { kChunkingModes } from './chunking.js'
import type { ChunkingMode } from './chunking.js'
import { hashText, createRuleWorkspace } from './rule-workspace.js'
import type { CheckResult, LoadRules } from './rule-workspace.js'
import { createSampleFolder } from './sample-folder.js'
import { createStreamRun } from './stream-run.js'

export interface PlaygroundOptions {
  /** The user's rule files and directories: shown and writable. */
  rules?: readonly string[] | undefined
  /** Load the shipped rules first (default true); they are shown read-only. */
  defaultRules?: boolean | undefined
  /** A folder of sample texts to pick from and to run the rules over. */
  samples?: string | undefined
  /** Require `Authorization: Bearer TOKEN` on the API (then any address may use it). */
  token?: string | undefined
  /** The same, given as the token's SHA-256 in hex (as the proxy stores its metrics token). */
  tokenHash?: string | undefined
  /** How rule files are loaded (default `loadRuleSet`; the CLI adds its disk cache). */
  loadRules?: LoadRules | undefined
}

/** Rule sets the page can still name (the latest checks of every open tab); older ones are forgotten. */
const kRememberedSets = 8
/** Largest rule file or sample text accepted in a request, characters. */
const kMaxText = 4 * 1024 * 1024
/** Most writes per second a stream may ask for; 0 is as fast as the scanner goes. */
const kMaxRate = 1000

/** The page's files: `playground/` at the package root, beside `rules/` (the same from src/ and dist/). */
function playgroundAssetsDir (): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'playground')
}

const kTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml'
}

/** Read once at registration: the page is a handful of small files. */
function loadAssets (dir: string): Map<string, { body: Buffer, type: string }> {
  const assets = new Map<string, { body: Buffer, type: string }>()
  for (const name of readdirSync(dir)) {
    const type = kTypes[extname(name)]
    if (type !== undefined) assets.set(name, { body: readFileSync(join(dir, name)), type })
  }
  if (!assets.has('index.html')) throw new InvalidOptionsError(`playground: no index.html in ${dir}`)
  return assets
}

/** No inline script or style, nothing from elsewhere: the page shows untrusted model text. */
const kSecurityHeaders = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store'
}

const CheckBody = Type.Object({ path: Type.String({ minLength: 1 }), text: Type.String({ maxLength: kMaxText }) }, { additionalProperties: false })
const SaveBody = Type.Object({
  path: Type.String({ minLength: 1 }),
  text: Type.String({ maxLength: kMaxText }),
  baseHash: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' }))
}, { additionalProperties: false })
const RunBody = Type.Object({ rulesId: Type.String({ minLength: 1 }) }, { additionalProperties: false })
const StreamBody = Type.Object({
  rulesId: Type.String({ minLength: 1 }),
  text: Type.String({ maxLength: kMaxText }),
  mode: Type.Union(kChunkingModes.map((m) => Type.Literal(m))),
  size: Type.Integer({ minimum: 1, maximum: 10_000 }),
  rate: Type.Number({ minimum: 0, maximum: kMaxRate }),
  seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffffffff }))
}, { additionalProperties: false })
const PathQuery = Type.Object({ path: Type.String({ minLength: 1 }) })

const kLoopbackNames = new Set(['localhost', '127.0.0.1', '[::1]'])

function isLoopbackAddress (address: string | undefined): boolean {
  return address !== undefined && (address === '::1' || /^(?:::ffff:)?127\./.test(address))
}

/** The host name of a `Host` header, without the port. */
function hostName (host: string | undefined): string {
  if (host === undefined) return ''
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d*$/, '')
}

/** Whether `origin` names the host the request was sent to (ports compared as the origin's scheme defaults them). */
function sameHost (origin: string, host: string | undefined): boolean {
  try {
    const from = new URL(origin)
    return host !== undefined && from.host === new URL(`${from.protocol}//${host}`).host
  } catch {
    return false
  }
}

/** SHA-256 of `token` compared in constant time with `hash`. */
function createTokenCheck (hash: string): (authorization: string | undefined) => boolean {
  const expected = Buffer.from(hash, 'hex')
  return function tokenMatches (authorization) {
    const token = /^Bearer\s+(.+)$/i.exec(authorization?.trim() ?? '')?.[1]
    if (token === undefined) return false
    return timingSafeEqual(Buffer.from(hashText(token), 'hex'), expected)
  }
}

/** The API's answer to a check: the rule set itself stays on the server, named by `rulesId`. */
function checkBody (check: CheckResult, remember: (rs: RuleSet) => string): Record<string, unknown> {
  if (!check.ok) return { ok: false, problems: check.problems, message: check.message }
  return { ok: true, rulesId: remember(check.ruleSet), rules: check.rules, totals: check.totals }
}

/**
 * The playground plugin (encapsulated: register it with a `prefix` to mount
 * it beside other routes).
 * @example
 * await app.register(sluicePlayground, { prefix: '/playground', rules: ['./our-rules.yaml'], tokenHash })
 */
export const sluicePlayground: FastifyPluginAsync<PlaygroundOptions> = async function sluicePlayground (app: FastifyInstance, opts: PlaygroundOptions) {
  if (opts.token !== undefined && opts.token.length === 0) throw new InvalidOptionsError('playground: "token" must not be empty')
  if (opts.tokenHash !== undefined && !/^[0-9a-f]{64}$/.test(opts.tokenHash)) throw new InvalidOptionsError('playground: "tokenHash" must be 64 lowercase hex characters (a SHA-256)')
  const tokenHash = opts.tokenHash ?? (opts.token === undefined ? undefined : hashText(opts.token))
  const tokenMatches = tokenHash === undefined ? undefined : createTokenCheck(tokenHash)
  const assets = loadAssets(playgroundAssetsDir())
  const workspace = createRuleWorkspace({ rules: opts.rules, defaultRules: opts.defaultRules, load: opts.loadRules })
  // Fails registration on a rule path that does not exist, as the CLI would.
  await workspace.files()
  const samples = opts.samples === undefined ? undefined : createSampleFolder(opts.samples)
  if (samples !== undefined) await samples.list()

  const sets = new Map<string, RuleSet>()
  function remember (ruleSet: RuleSet): string {
    const id = randomUUID()
    sets.set(id, ruleSet)
    for (const old of sets.keys()) {
      if (sets.size <= kRememberedSets) break
      sets.delete(old)
    }
    return id
  }
  function recall (id: string): RuleSet {
    const ruleSet = sets.get(id)
    if (ruleSet === undefined) throw new BadRequestError('rulesId: this rule set is no longer kept: check the rule file again')
    // Most recently used last: the oldest is forgotten first.
    sets.delete(id)
    sets.set(id, ruleSet)
    return ruleSet
  }
  /** The set on disk, loaded at the first page load and after each save. */
  let disk: Promise<Record<string, unknown>> | undefined
  const diskState = (): Promise<Record<string, unknown>> => (disk ??= workspace.loadDisk().then((check) => checkBody(check, remember)))

  // The Sluice plugin, when the host has it (the proxy), leaves these routes
  // alone: its sanitizer would redact the rule files' examples.
  const routeConfig = { config: { sluice: false as const } }

  app.setErrorHandler(function playgroundError (err: FastifyError, _request, reply) {
    const statusCode = err.statusCode !== undefined && err.statusCode >= 400 ? err.statusCode : 500
    void reply.code(statusCode).headers(kSecurityHeaders).send({ statusCode, code: err.code ?? 'SLUICE_INTERNAL', message: err.message })
  })

  app.get('/', routeConfig, async function page (request, reply) {
    // The page loads its modules relative to itself: `/playground` must be `/playground/`.
    const path = request.url.split('?')[0] ?? ''
    if (!path.endsWith('/')) return reply.redirect(`${path}/`)
    const index = assets.get('index.html')
    return reply.headers(kSecurityHeaders).type(index?.type ?? 'text/html').send(index?.body)
  })
  app.get<{ Params: { name: string } }>('/:name', routeConfig, async function asset (request, reply) {
    const asset = request.params.name === 'index.html' ? undefined : assets.get(request.params.name)
    if (asset === undefined) return reply.code(404).headers(kSecurityHeaders).send({ statusCode: 404, code: 'SLUICE_NOT_FOUND', message: 'No such file' })
    return reply.headers(kSecurityHeaders).type(asset.type).send(asset.body)
  })

  await app.register(async function api (api: FastifyInstance) {
    api.addHook('onRequest', async function playgroundAccess (request: FastifyRequest, reply: FastifyReply) {
      void reply.headers(kSecurityHeaders)
      if (tokenMatches !== undefined) {
        if (!tokenMatches(request.headers.authorization)) throw new UnauthorizedError()
      } else if (!isLoopbackAddress(request.socket.remoteAddress) || !kLoopbackNames.has(hostName(request.headers.host))) {
        throw new BadRequestError('the playground answers on loopback only (localhost, 127.0.0.1, [::1]) unless it is given a token')
      }
      if (request.method === 'GET' || request.method === 'HEAD') return
      if (!/^application\/json\s*(?:;|$)/i.test(request.headers['content-type'] ?? '')) throw new BadRequestError('the playground API takes application/json')
      // An opaque origin ("null": a sandboxed frame, a file) is another origin too.
      const origin = request.headers.origin
      if (origin !== undefined && !sameHost(origin, request.headers.host)) throw new BadRequestError(`requests from another origin (${origin}) are refused`)
    })

    api.get('/state', routeConfig, async function state () {
      const [files, listing] = await Promise.all([workspace.files(), samples?.list()])
      return {
        files,
        samples: listing === undefined ? null : { folder: listing.folder, files: listing.files, truncated: listing.truncated },
        canned: cannedAnswers.map((a) => ({ name: a.name, description: a.description, text: a.text })),
        disk: await diskState(),
        limits: { maxRate: kMaxRate, modes: kChunkingModes }
      }
    })

    api.get<{ Querystring: Static<typeof PathQuery> }>('/file', { ...routeConfig, schema: { querystring: PathQuery } }, async function file (request) {
      const { file, text, hash } = await workspace.read(request.query.path)
      return { ...file, text, hash }
    })

    api.post<{ Body: Static<typeof CheckBody> }>('/check', { ...routeConfig, bodyLimit: 2 * kMaxText, schema: { body: CheckBody } }, async function check (request) {
      return checkBody(await workspace.check(request.body.path, request.body.text), remember)
    })

    api.put<{ Body: Static<typeof SaveBody> }>('/file', { ...routeConfig, bodyLimit: 2 * kMaxText, schema: { body: SaveBody } }, async function save (request, reply) {
      const result = await workspace.save(request.body.path, request.body.text, request.body.baseHash)
      if (!result.saved) {
        return reply.code(result.conflict ? 409 : 422).send(result.conflict
          ? { saved: false, conflict: true, message: result.message }
          : { saved: false, problems: result.problems, message: result.message })
      }
      const body = checkBody(result.check, remember)
      disk = Promise.resolve(body)
      return { saved: true, path: result.path, backup: result.backup, hash: result.hash, check: body }
    })

    api.get<{ Querystring: Static<typeof PathQuery> }>('/sample', { ...routeConfig, schema: { querystring: PathQuery } }, async function sample (request) {
      if (samples === undefined) throw new BadRequestError('sample: the playground was started without a sample folder (--samples DIR)')
      return samples.read(request.query.path)
    })

    api.post<{ Body: Static<typeof RunBody> }>('/samples/run', { ...routeConfig, schema: { body: RunBody } }, async function runSamples (request) {
      if (samples === undefined) throw new BadRequestError('samples: the playground was started without a sample folder (--samples DIR)')
      return samples.run(recall(request.body.rulesId))
    })

    api.post<{ Body: Static<typeof StreamBody> }>('/stream', { ...routeConfig, bodyLimit: 2 * kMaxText, schema: { body: StreamBody } }, async function stream (request, reply) {
      const { rulesId, text, mode, size, rate, seed } = request.body
      const run = createStreamRun({ ruleSet: recall(rulesId), text, mode: mode as ChunkingMode, size, ...(seed === undefined ? {} : { seed }), requestId: `playground-${request.id}` })
      reply.hijack()
      const res = reply.raw
      res.writeHead(200, { ...kSecurityHeaders, 'content-type': 'text/event-stream; charset=utf-8', 'x-accel-buffering': 'no' })
      let gone = false
      const leave = (): void => { gone = true }
      onClientGone(res, leave)
      res.once('close', leave)
      /** Resolves once the socket takes more (or the reader left). */
      const drained = (): Promise<void> => new Promise((resolve) => {
        const done = (): void => { res.off('drain', done); res.off('close', done); resolve() }
        res.once('drain', done)
        res.once('close', done)
      })
      const send = async (event: string, data: unknown): Promise<void> => {
        if (!res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)) await drained()
      }
      const pause = rate > 0 ? 1000 / rate : 0
      try {
        await send('start', { pieces: run.pieces.length, mode, size, rate })
        for (let step = run.next(); step !== undefined; step = run.next()) {
          await send('write', step)
          if (pause > 0) await sleep(pause)
          else await yieldTurn()
          // Set by the socket's events while we waited.
          if (gone) break
        }
        const end = await run.end(gone)
        if (!gone) {
          await send('end', end)
          res.end()
        }
      } catch (err) {
        request.log.error({ err }, 'playground stream failed')
        if (!res.destroyed) res.end(`event: error\ndata: ${JSON.stringify({ message: (err as Error).message })}\n\n`)
      }
    })
  }, { prefix: '/api' })
}
