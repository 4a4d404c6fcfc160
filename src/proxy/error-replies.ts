/**
 * @module proxy/error-replies
 * How errors leave the proxy: in the OpenAI error shape, `{ error: {
 * message, type, param, code } }` (http/openai-error.ts), with our
 * `SLUICE_*` code, whatever raised them (our routes, fastify's body parser,
 * the rate limiter), and the process keeps serving.
 *
 * Messages that may quote a request body (JSON syntax errors quote the
 * text) are replaced before they are logged or sent.
 */
import type { ServerResponse } from 'node:http'
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify'
import { BadRequestError, NotFoundError, PayloadTooLargeError, ProxyInternalError } from '../errors.js'
import { drainRequest } from '../http/drain-request.js'
import { openAiErrorBody } from '../http/openai-error.js'

/** An error with the request-body field it is about (OpenAI's `param`). */
type ParamError = FastifyError & { param?: string | null }

/** A 400 about a field of the request body (OpenAI's `param`), or about the body as a whole (`null`). */
export function badRequest (message: string, param: string | null): Error {
  const err = new BadRequestError(message)
  ;(err as Error & { param?: string | null }).param = param
  return err
}

/** What a client is told about an error. */
interface PublicError {
  status: number
  message: string
  code: string
  param: string | null
}

/** Error messages safe to send and log (they never quote the request). */
function publicError (err: ParamError, bodyLimit: number): PublicError {
  const code = err.code
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.statusCode === 413) {
    return { status: 413, message: new PayloadTooLargeError(bodyLimit).message, code: 'SLUICE_PAYLOAD_TOO_LARGE', param: null }
  }
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return { status: 400, message: "Unsupported Content-Type: send 'application/json'.", code: 'SLUICE_BAD_REQUEST', param: null }
  }
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return { status: 400, message: 'The request body is empty; expected a JSON object.', code: 'SLUICE_BAD_REQUEST', param: null }
  }
  if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError || (err.statusCode === 400 && code === undefined)) {
    // Node's JSON.parse messages quote the body: never echo them.
    return { status: 400, message: 'The request body is not valid JSON.', code: 'SLUICE_BAD_REQUEST', param: null }
  }
  if (typeof code === 'string' && code.startsWith('SLUICE_')) {
    return { status: err.statusCode ?? 500, message: err.message, code, param: err.param ?? null }
  }
  const status = err.statusCode ?? 500
  if (status === 429) return { status, message: err.message || 'Rate limit exceeded.', code: 'SLUICE_RATE_LIMITED', param: null }
  if (status >= 400 && status < 500) return { status, message: err.message, code: code ?? 'SLUICE_BAD_REQUEST', param: null }
  const internal = new ProxyInternalError()
  return { status: 500, message: internal.message, code: internal.code, param: null }
}

/** Answers a plain Node response (a listener outside fastify) with an error in the OpenAI shape. */
export function sendRawError (res: ServerResponse, status: number, message: string, code: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(openAiErrorBody(status, message, code)))
}

/** Largest request body read only to be thrown away, so a 413 reaches the client. */
const kMaxDrainBytes = 64 * 1024 * 1024

export interface ErrorRepliesOptions {
  /** The request body limit, named in a 413. */
  bodyLimit: number
  /** How long a refused body may take to arrive before the 413 goes out anyway. */
  requestTimeoutMs: number
  /** True when the request's client went away (its upstream call was aborted for that). */
  clientGone: (request: FastifyRequest) => boolean
}

/** Logs an error without content: a failure of ours (5xx, not the upstream's) as an error, the rest as a refusal. */
function logError (request: FastifyRequest, err: ParamError, status: number): void {
  // `code` is not always a string (a DOMException's is a number).
  if (status >= 500 && !String(err.code ?? '').startsWith('SLUICE_UPSTREAM')) request.log.error({ err }, 'request failed')
  else request.log.info({ err, statusCode: status }, 'request refused')
}

/**
 * The app's error and not-found handlers: every error in the OpenAI shape,
 * logged without content, a 413 sent once the client has finished sending,
 * nothing sent to a client that left.
 *
 * @example
 * setErrorReplies(app, { bodyLimit: config.bodyLimit, requestTimeoutMs: 30_000, clientGone: () => false })
 */
export function setErrorReplies (app: FastifyInstance, { bodyLimit, requestTimeoutMs, clientGone }: ErrorRepliesOptions): void {
  app.setErrorHandler(function sluiceErrorHandler (err: ParamError, request, reply) {
    const aborted = err.name === 'AbortError' || err.code === 'UND_ERR_ABORTED'
    if (aborted && (reply.raw.destroyed || clientGone(request))) {
      // The client went away before the answer started: nothing to send, nothing wrong.
      request.log.info('request cancelled by the client before the answer started')
      return
    }
    const e = publicError(err, bodyLimit)
    logError(request, err, e.status)
    if (reply.sent || reply.raw.headersSent) return
    const body = openAiErrorBody(e.status, e.message, e.code, e.param)
    if (e.status === 413 && !request.raw.complete) {
      // Answer once the client has finished sending (see http/drain-request.ts), then close.
      return drainRequest(request.raw, kMaxDrainBytes, requestTimeoutMs).then(() => {
        void reply.code(413).header('connection', 'close').type('application/json').send(body)
        return reply
      })
    }
    const headers = (err as { headers?: Record<string, string> }).headers
    if (headers !== undefined) void reply.headers(headers)
    void reply.code(e.status).type('application/json').send(body)
  })
  app.setNotFoundHandler(function sluiceNotFound (request, reply) {
    const err = new NotFoundError(request.method, (request.url).split('?')[0])
    void reply.code(404).type('application/json').send(openAiErrorBody(404, err.message, err.code))
  })
}
