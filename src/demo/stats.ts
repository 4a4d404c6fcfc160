/**
 * @module demo/stats
 * What the demo upstream counts and records, served at `GET /_demo/stats`
 * and zeroed by `POST /_demo/reset`.
 */
import type http from 'node:http'
import type { FaultName } from './faults.js'

/** Responses to generation routes kept in `stats.responses`, the oldest dropped first. */
export const maxRecordedResponses = 100

export interface DemoRecordedRequest {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  /** The parsed JSON body, or the raw text when it was not JSON. */
  body: unknown
}

/** One response to a generation route (streamed or not). */
export interface DemoResponseRecord {
  id: number
  path: string
  streaming: boolean
  status: number
  fault: FaultName | null
  /** Body bytes handed to the socket (headers not counted). */
  bytesWritten: number
  /** The response ended normally. */
  completed: boolean
  /** The connection closed before the response ended (client went away), other than by a reset fault. */
  aborted: boolean
  /** A `reset-mid-stream` fault closed the connection on purpose. */
  reset: boolean
}

export interface DemoUpstreamStats {
  /** Requests to `/v1/...` and unknown paths (not `/_demo/...`). */
  requests: number
  requestsByPath: Record<string, number>
  openConnections: number
  /** Responses to generation routes still being written. */
  activeStreams: number
  completedStreams: number
  abortedStreams: number
  resetStreams: number
  lastRequest: DemoRecordedRequest | null
  /** The last `maxRecordedResponses` (100) responses to generation routes, oldest first. */
  responses: DemoResponseRecord[]
  /** How many requests named each fault (the counters `x-fault-count` compares against). */
  faults: Record<string, number>
}

export function emptyStats (): DemoUpstreamStats {
  return {
    requests: 0,
    requestsByPath: {},
    openConnections: 0,
    activeStreams: 0,
    completedStreams: 0,
    abortedStreams: 0,
    resetStreams: 0,
    lastRequest: null,
    responses: [],
    faults: {}
  }
}
