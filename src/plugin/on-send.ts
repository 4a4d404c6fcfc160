/**
 * @module plugin/on-send
 * The onSend hook: the payload a route sends, sanitized. Deny by default:
 * every status, every payload type and every media type is scanned or
 * refused with a coded error. Event streams are swapped for
 * `pipeline(payload, transform)` and go out as they are scanned; any other
 * body is read whole (decoded from its content encoding and charset),
 * scanned and re-serialized. Only a stream the route sanitized itself
 * (`reply.sanitize()`) and a binary type where `binary: 'pass'` is set go
 * out as they are; a route with `sluice: false` has no hook at all.
 */
import { createEventCompressor, negotiateEventEncoding } from '../http/event-compression.js'
import { replyScanOf } from './reply-scan.js'
import { Readable, pipeline } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { BodyTooLargeError, UnscannableBodyError, UnscannableMediaTypeError } from '../errors.js'
import { createCharsetTranscoder, decodeBodyText, isUtf8Charset } from '../http/charset.js'
import { collectBody } from '../http/collect-body.js'
import { contentCodings, decodeContent } from '../http/content-encoding.js'
import { canonicalMediaType, parseContentType } from '../http/media-types.js'
import type { BodyKind, ContentType } from '../http/media-types.js'
import { sanitizeWholeBody } from '../http/sanitize-whole-body.js'
import type { SluiceSettings } from './options.js'
import { labelFor, scanReplyHeaders } from './reply-headers.js'
import { reporterFor, sanitizeReplyStream } from './reply-stream.js'
import { kSanitizedStream } from './symbols.js'

/** Fastify's onSend callback: an error, or the payload to send instead. */
type OnSendDone = (err: Error | null, payload?: unknown) => void

/** The onSend hook of a route, with that route's settings. */
export type SluiceOnSend = (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply, payload: unknown, done: OnSendDone) => void

function isReadable (payload: unknown): payload is Readable {
  return payload !== null && typeof payload === 'object' && typeof (payload as Readable).pipe === 'function'
}

/**
 * The hook for a route whose settings are `route`. A callback hook, not an
 * async one: most payloads are settled at once, and every response of the
 * route (errors included) passes here.
 */
export function createOnSend (route: SluiceSettings): SluiceOnSend {
  return function sluiceOnSend (request, reply, payload, done) {
    sendSanitized(route, request, reply, payload, done)
  }
}

/** The body of the onSend hook, for `route`'s settings. */
export function sendSanitized (route: SluiceSettings, request: FastifyRequest, reply: FastifyReply, payload: unknown, done: OnSendDone): void {
  const failed = (err: unknown): void => {
    // Fastify sends the error instead and never reads the stream: destroy
    // it, or the route's upstream request stays open (and billing).
    if (isReadable(payload) && !payload.destroyed) payload.destroy()
    done(err as Error)
  }
  let result: unknown
  try {
    result = sanitizePayload(route, request, reply, payload)
  } catch (err) {
    failed(err)
    return
  }
  if (result instanceof Promise) result.then((next: unknown) => { done(null, next) }, failed)
  else done(null, result)
}

/**
 * The payload as a Node stream, a string or a Buffer. A web `Response`
 * (whose status and headers fastify would apply only after this hook,
 * over ours) is unpacked here, a web stream wrapped; any other payload
 * cannot be scanned, so it is refused.
 */
function payloadOf (reply: FastifyReply, input: unknown): Readable | string | Buffer | null {
  if (typeof input === 'string' || Buffer.isBuffer(input) || isReadable(input)) return input
  if (typeof input === 'object' && input !== null && Object.prototype.toString.call(input) === '[object Response]') {
    const response = input as Response
    void reply.code(response.status)
    response.headers.forEach((value, name) => { void reply.header(name, value) })
    return response.body === null ? null : Readable.fromWeb(response.body as WebReadableStream)
  }
  if (typeof (input as { getReader?: unknown }).getReader === 'function') return Readable.fromWeb(input as WebReadableStream)
  throw new UnscannableBodyError(`payload of type ${typeof input}`)
}

/**
 * The sanitized stream compressed for the client when it accepts `br` or
 * `gzip`; each write is flushed, so events arrive as soon as they are
 * released. A client that leaves destroys the compressor, and the pipeline
 * the sanitizer with it.
 */
function compressed (request: FastifyRequest, reply: FastifyReply, sanitized: Readable): Readable {
  void reply.header('vary', 'accept-encoding')
  const accept = request.headers['accept-encoding']
  const encoding = negotiateEventEncoding(typeof accept === 'string' ? accept : undefined)
  if (encoding === undefined) return sanitized
  void reply.header('content-encoding', encoding)
  const compressor = createEventCompressor(encoding)
  pipeline(sanitized, compressor, () => {})
  return compressor
}

/** The payload to send, sanitized: now, or (a body still to be read whole) a promise of it. */
function sanitizePayload (route: SluiceSettings, request: FastifyRequest, reply: FastifyReply, input: unknown): unknown {
  if (reply[kSanitizedStream] !== null) return input
  scanReplyHeaders(reply, route.rules(), route.scannerOptions)
  if (input === undefined || input === null) return input
  const payload = payloadOf(reply, input)
  if (payload === null) return null
  const ct = parseContentType(reply.getHeader('content-type'))
  let kind = ct.kind
  // `contentTypes` only adds event streams; it never lets a body pass.
  if ((kind === 'text' || kind === 'binary') && route.contentTypes.includes(ct.mediaType)) kind = route.protocol === 'ndjson' ? 'ndjson' : 'sse'
  if (kind === 'binary') {
    if (route.binary === 'pass') return payload
    throw new UnscannableMediaTypeError(ct.mediaType)
  }
  // A body the route compressed itself is decoded and sent as identity;
  // the headers go first, so an error reply is not labelled compressed.
  const encoding = reply.getHeader('content-encoding')
  reply.removeHeader('content-encoding')
  reply.removeHeader('content-length')
  const codings = contentCodings(encoding)
  const charset = isUtf8Charset(ct.charset) ? undefined : ct.charset
  if ((kind === 'sse' || kind === 'ndjson') && isReadable(payload)) {
    let source = decodeContent(payload, codings)
    if (charset !== undefined) source = pipeline(source, createCharsetTranscoder(charset), () => {})
    void reply.header('content-type', labelFor(ct, kind, route.rules(), route.scannerOptions))
    const sanitized = sanitizeReplyStream(route, request, reply, source, canonicalMediaType(kind))
    return route.compress ? compressed(request, reply, sanitized) : sanitized
  }
  if (codings.length === 0 && !isReadable(payload)) {
    // Already whole (most JSON answers): sanitized now, no promise.
    if ((typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length) > route.maxBodySize) throw new BodyTooLargeError(route.maxBodySize)
    // A string is text already: fastify writes it as UTF-8 whatever the label says.
    const text = typeof payload === 'string' ? payload : decodeBodyText(payload, charset)
    return sanitizeWhole(route, request, reply, text, kind, ct)
  }
  const source = decodeContent(isReadable(payload) ? payload : Readable.from([Buffer.from(payload)]), codings)
  return collectBody(source, route.maxBodySize).then((bytes) => sanitizeWhole(route, request, reply, decodeBodyText(bytes, charset), kind, ct))
}

/** A body held whole: read the way a client may read it, scanned, re-serialized, re-labelled. */
function sanitizeWhole (route: SluiceSettings, request: FastifyRequest, reply: FastifyReply, text: string, kind: BodyKind, ct: ContentType): string {
  const { onFinding } = reporterFor(route, request)
  const scan = replyScanOf(reply)
  const rules = scan.ruleSet ?? route.rules()
  const result = sanitizeWholeBody(text, kind, {
    ruleSet: rules,
    ...(scan.wrapScanner === undefined ? {} : { wrapScanner: scan.wrapScanner }),
    ...(scan.onParsed === undefined ? {} : { onParsed: scan.onParsed }),
    scannerOptions: route.scannerOptions,
    ...(route.protocol === undefined ? {} : { protocol: route.protocol }),
    ...(route.maxEventSize === undefined ? {} : { maxEventSize: route.maxEventSize }),
    onFinding,
    onCut: (finding) => { route.onCut?.(finding, request) }
  })
  void reply.header('content-type', labelFor(ct, result.kind, rules, route.scannerOptions))
  return result.text
}
