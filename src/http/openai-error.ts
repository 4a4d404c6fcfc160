/**
 * @module The OpenAI-shaped error body `{ error: { message, type, param, code } }`
 * that Sluice answers with on OpenAI-style routes, and that its demo upstream
 * sends. SDKs switch on `type` and `code`, so one table decides them.
 */

export interface OpenAiErrorBody {
  error: { message: string, type: string, param: string | null, code: string | null }
}

/**
 * OpenAI's error `type` for a status. 429 is `requests`, as OpenAI's own
 * request-rate answers say (`tokens` is for token rates, which Sluice does
 * not count per minute); 502 and 504 name Sluice's own upstream failures.
 */
export function openAiErrorType (status: number): string {
  if (status === 401) return 'authentication_error'
  if (status === 429) return 'requests'
  if (status === 504) return 'timeout_error'
  if (status === 502) return 'upstream_error'
  if (status >= 500) return 'server_error'
  return 'invalid_request_error'
}

/** The body for `status`, with Sluice's or the upstream's `code`. */
export function openAiErrorBody (status: number, message: string, code: string | null, param: string | null = null): OpenAiErrorBody {
  return { error: { message, type: openAiErrorType(status), param, code } }
}
