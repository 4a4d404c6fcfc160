/**
 * @module proxy/proxy-logger
 * The proxy's pino logger. Logs never carry credentials or message
 * content: the request serializer keeps method, path, id and peer only;
 * redaction paths are a second line of defence; an error keeps its message
 * only when it is one of ours (coded `SLUICE_*`, written to be free of
 * content).
 */
import pino from 'pino'
import type { DestinationStream, Logger } from 'pino'

/** pino options for request logs: no headers, no bodies, no query strings. */
function loggerOptions (level: string): pino.LoggerOptions {
  return {
    level,
    redact: {
      paths: [
        'req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers["x-goog-api-key"]', 'req.headers.cookie',
        'headers.authorization', 'headers["x-api-key"]', 'headers["x-goog-api-key"]', 'upstreamKeys', 'apiKeys', 'body', 'req.body'
      ],
      censor: '[redacted]'
    },
    serializers: {
      req (req: { method?: string, url?: string, id?: string, ip?: string, socket?: { remoteAddress?: string } }) {
        // The query string could carry a key (`?api_key=`): log the path only.
        return { id: req.id, method: req.method, path: (req.url ?? '').split('?')[0], remoteAddress: req.ip ?? req.socket?.remoteAddress }
      },
      res (res: { statusCode?: number }) {
        return { statusCode: res.statusCode }
      },
      err (err: { code?: string, statusCode?: number, name?: string, message?: string, stack?: string }) {
        // Only our coded errors have messages we wrote (and know to be free of content).
        const ours = typeof err.code === 'string' && err.code.startsWith('SLUICE_')
        return { type: err.name, code: err.code, statusCode: err.statusCode, ...(ours ? { message: err.message } : {}) }
      }
    }
  }
}

/** The logger at `level`, writing to `stream` (default stdout). */
export function createProxyLogger (level: string, stream?: DestinationStream): Logger {
  return stream === undefined ? pino(loggerOptions(level)) : pino(loggerOptions(level), stream)
}
