/**
 * @module proxy/client-auth
 * Who a request comes from: its client key, found among the configured
 * ones (plain `apiKeys`, then `clients` with the identity headers each may
 * send upstream) by SHA-256 and a constant-time comparison, once per
 * request. The same matcher checks the `/metrics` token.
 */
import { timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { UnauthorizedError } from '../errors.js'
import { hashApiKey } from './proxy-config.js'
import type { ProxyClient } from './proxy-config.js'

/** A known client: its key's position and the identity headers it may send upstream. */
export interface KnownClient {
  readonly index: number
  /** The configured id (`clients[].id`), or `key-N` for the Nth plain key. */
  readonly id: string
  readonly forwardHeaders: ReadonlySet<string>
}

/** The token of `Authorization: Bearer TOKEN`, if that is what the header holds. */
function bearerToken (authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined
  return /^Bearer\s+(.+)$/i.exec(authorization.trim())?.[1]
}

/**
 * The client's key: `Authorization: Bearer KEY` (OpenAI), `x-api-key: KEY`
 * (Anthropic), `x-goog-api-key: KEY` or a `key` query parameter (Gemini's SDKs).
 */
function clientKeyOf (request: FastifyRequest): string | undefined {
  const bearer = bearerToken(request.headers.authorization)
  if (bearer !== undefined) return bearer
  for (const name of ['x-api-key', 'x-goog-api-key']) {
    const value = request.headers[name]
    if (typeof value === 'string' && value.length > 0) return value
  }
  const key = (request.query as Record<string, unknown> | undefined)?.key
  return typeof key === 'string' && key.length > 0 ? key : undefined
}

/**
 * Finds which stored SHA-256 hash a secret (a client key, the metrics token)
 * has: its index, or -1. Compares against every stored hash, always all of
 * them, with `timingSafeEqual` on equal-length digests: neither the position
 * of a match nor a prefix of the secret shows in the timing.
 */
function createSecretMatcher (hashes: readonly string[]): (secret: string | undefined) => number {
  const digests = hashes.map((h) => Buffer.from(h, 'hex'))
  return function matchSecret (secret) {
    if (secret === undefined) return -1
    const digest = Buffer.from(hashApiKey(secret), 'hex')
    let found = -1
    for (let i = 0; i < digests.length; i++) {
      if (timingSafeEqual(digest, digests[i] as Buffer) && found < 0) found = i
    }
    return found
  }
}

/** `Authorization: Bearer TOKEN` whose SHA-256 is `tokenHash`. */
export function createBearerCheck (tokenHash: string): (authorization: string | undefined) => boolean {
  const match = createSecretMatcher([tokenHash])
  return (authorization) => match(bearerToken(authorization)) === 0
}

export interface ClientAuthOptions {
  /** Hex SHA-256 of each plain client key. */
  apiKeyHashes: readonly string[]
  /** Client keys with their own settings. */
  clients: readonly ProxyClient[]
  /** Identity headers every client may send upstream. */
  forwardHeaders: readonly string[]
}

export interface ClientAuth {
  /** True when a client key is required (some are configured). */
  readonly required: boolean
  /** The client a request authenticates as (looked up once per request), or undefined. */
  clientOf: (request: FastifyRequest) => KnownClient | undefined
  /** The identity headers the request's client may send upstream (everyone's when it has no key). */
  forwardHeadersOf: (request: FastifyRequest) => ReadonlySet<string>
  /** What the rate limit counts by: the authenticated client when keys are required, else the address. */
  rateLimitKey: (request: FastifyRequest) => string
  /** An `onRequest` hook refusing a request without a known key (401). */
  authenticate: (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => void
}

/** The request's client as looked up (null: its key matched none). */
const kClient = Symbol('sluice.client')

/**
 * The proxy's client keys.
 *
 * @example
 * const auth = createClientAuth(config)
 * app.post('/v1/chat/completions', auth.required ? { onRequest: auth.authenticate } : {}, handler)
 */
export function createClientAuth ({ apiKeyHashes, clients, forwardHeaders }: ClientAuthOptions): ClientAuth {
  const all = [...apiKeyHashes.map((keyHash, i) => ({ id: `key-${i}`, keyHash, forwardHeaders: [] as string[] })), ...clients]
  const known: KnownClient[] = all.map((c, index) => ({ index, id: c.id, forwardHeaders: new Set([...forwardHeaders, ...c.forwardHeaders]) }))
  const match = createSecretMatcher(all.map((c) => c.keyHash))
  const everyone = new Set(forwardHeaders)
  const required = all.length > 0

  function clientOf (request: FastifyRequest): KnownClient | undefined {
    const holder = request as unknown as Record<symbol, KnownClient | null | undefined>
    let client = holder[kClient]
    if (client === undefined) {
      client = known[match(clientKeyOf(request))] ?? null
      holder[kClient] = client
    }
    return client ?? undefined
  }

  return {
    required,
    clientOf,
    forwardHeadersOf: (request) => (clientOf(request)?.forwardHeaders ?? everyone),
    // A key the proxy does not know is no identity, or a fresh random key
    // per request would get a fresh bucket: it is counted by address
    // (`trustProxy`-aware).
    rateLimitKey (request) {
      const client = required ? clientOf(request) : undefined
      return client === undefined ? `ip:${request.ip}` : `client:${client.index}`
    },
    authenticate (request, _reply, done) {
      done(clientOf(request) === undefined ? new UnauthorizedError() : undefined)
    }
  }
}
