/**
 * @module client/client-error
 * The one error class the client hands to `onError`. Codes the proxy sent
 * (`SLUICE_UPSTREAM`, `SLUICE_RATE_LIMITED`…, see docs/errors.md) are kept
 * as they came; what the client itself detects has a `SLUICE_CLIENT_` code.
 */

/** Codes the client gives errors it detects itself. */
export type ClientErrorCode =
  /** `fetch` failed or the body broke off (connection refused, reset, DNS). */
  | 'SLUICE_CLIENT_NETWORK'
  /** A non-2xx answer whose body named no error code. */
  | 'SLUICE_CLIENT_HTTP'
  /** A 2xx answer that is no event stream or NDJSON (e.g. `application/json`). */
  | 'SLUICE_CLIENT_NOT_A_STREAM'
  /** One SSE event or NDJSON line exceeded `maxEventSize`. */
  | 'SLUICE_CLIENT_FRAME_TOO_LARGE'
  /** An in-band error frame that carried no code. */
  | 'SLUICE_CLIENT_STREAM_ERROR'

/** What a `StreamClientError` is made from (all structured-cloneable, for the Worker). */
export interface ClientErrorInit {
  code: string
  message: string
  /** The HTTP status, for errors answered before the stream started. */
  status?: number | undefined
  /** The provider's error type (`api_error`, `server_error`, `INTERNAL`…), when the frame said. */
  type?: string | undefined
}

/**
 * An error told to `onError`: `code` is the proxy's (`SLUICE_*`) or the
 * client's (`SLUICE_CLIENT_*`).
 * @example
 * onError (err) { if (err.code === 'SLUICE_RATE_LIMITED') showRetryLater() }
 */
export class StreamClientError extends Error {
  readonly code: string
  readonly status: number | undefined
  readonly type: string | undefined

  constructor (init: ClientErrorInit) {
    super(init.message)
    this.name = 'StreamClientError'
    this.code = init.code
    this.status = init.status
    this.type = init.type
  }
}

/** A Sluice code named inside a message (the Anthropic error shape carries none of its own). */
export function codeInMessage (message: string): string | undefined {
  return /\bSLUICE_[A-Z_]+\b/.exec(message)?.[0]
}
