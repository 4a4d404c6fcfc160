/**
 * @module proxy/relay
 * Sends an upstream answer on to the client through the Sluice plugin,
 * which scans every body whatever its status or type (or refuses it):
 * event streams as streams, everything else whole, bounded by
 * `maxBodySize`. Only the allowed upstream headers go on, each scanned with
 * the rules; Sluice's own (`x-sluice-request-id`) are set by Sluice and
 * never taken from upstream.
 */
import type { FastifyReply } from 'fastify'
import { UpstreamError } from '../errors.js'
import { decodeBodyText } from '../http/charset.js'
import { collectBody } from '../http/collect-body.js'
import { canonicalMediaType, parseContentType, sniffBodyKind } from '../http/media-types.js'
import { allowedResponseHeaders } from '../http/response-headers.js'
import type { ForwardResponse } from './forward.js'

export interface RelayOptions {
  /** Largest whole (non-streamed) answer body, bytes. */
  maxBodySize: number
  /** Counts streamed answers: `started` when one begins, `ended` once its response closes. */
  streams: { started: () => void, ended: () => void }
}

export type Relay = (reply: FastifyReply, res: ForwardResponse) => Promise<FastifyReply>

/**
 * @example
 * const relay = createRelay({ maxBodySize: config.maxBodySize, streams: { started () { active++ }, ended () { active-- } } })
 * return relay(reply, await upstream.forward(request))
 */
export function createRelay ({ maxBodySize, streams }: RelayOptions): Relay {
  return async function relay (reply, res) {
    if (res.status >= 500) {
      res.body.destroy()
      throw new UpstreamError(`upstream answered ${res.status} after ${res.attempts} attempt(s)`)
    }
    const headers = allowedResponseHeaders(res.headers)
    const type = parseContentType(headers['content-type'])
    // A label given twice (or none): the plugin sniffs the body instead.
    if (type.ambiguous) delete headers['content-type']
    void reply.code(res.status).headers(headers)
    if (res.status < 300 && (type.kind === 'sse' || type.kind === 'ndjson')) {
      streams.started()
      reply.raw.once('close', streams.ended)
      return reply.send(res.body)
    }
    // Whole bodies are read here, so an idle or total timeout is still a clean 502/504.
    const bytes = await collectBody(res.body, maxBodySize, () => new UpstreamError('upstream body closed before its end'))
    // Bytes under the upstream's label (the plugin decodes its charset).
    // Unlabelled, or labelled twice: text labelled as what it reads as (the
    // plugin sniffs it again; a Buffer would be labelled octet-stream, and
    // SDKs parse only a body labelled JSON).
    if (!type.ambiguous) return reply.send(bytes)
    const text = decodeBodyText(bytes, undefined)
    return reply.type(canonicalMediaType(sniffBodyKind(text))).send(text)
  }
}
