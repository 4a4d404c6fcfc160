/**
 * @module plugin/decorators
 * What the plugin adds to fastify's objects: `fastify.sluice` (scan a text,
 * read or swap the rules), `reply.sanitize()` (a route sanitizes a stream
 * itself), and the reply state behind it. Every property is declared with
 * `decorate*` at register time, references with a null value, as fastify's
 * Decorators guide asks: the objects keep one shape, and nothing is
 * attached to a request or reply on the fly.
 */
import type { Readable } from 'node:stream'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { mediaTypeOf } from '../http/media-types.js'
import type { RuleSet } from '../rules/rule-set.js'
import { scanText } from '../scanner/scan-text.js'
import type { ScanResult } from '../scanner/types.js'
import type { SluiceSettings } from './options.js'
import { sanitizeReplyStream } from './reply-stream.js'
import type { RouteTable } from './route-config.js'
import type { ReplyScan } from './reply-scan.js'
import { kReplyScan, kSanitizedStream } from './symbols.js'

export interface SluiceDecorator {
  /** Scans a whole text with the current rules. */
  scan: (text: string) => ScanResult
  /** The rule set new streams will use. */
  readonly ruleSet: RuleSet
  /** Swaps the rule set for new streams (streams in flight keep theirs). */
  setRuleSet: (ruleSet: RuleSet) => void
}

declare module 'fastify' {
  interface FastifyInstance {
    sluice: SluiceDecorator
  }
  interface FastifyReply {
    /** Sanitizes `stream` for this request and marks the reply as handled by Sluice. */
    sanitize: (stream: Readable, options?: { contentType?: string }) => Readable
    /** The stream `sanitize()` returned, null until the route calls it (plugin/symbols.ts). */
    [kSanitizedStream]: Readable | null
    /** This request's scan changes (plugin/reply-scan.ts), null when none. */
    [kReplyScan]: ReplyScan | null
  }
}

/**
 * Adds the decorators. `settings` are the plugin's (their `rules` getter
 * reads what `setRuleSet` left); `routes` gives `reply.sanitize()` the
 * settings of the request's route.
 */
export function decorateSluice (fastify: FastifyInstance, settings: SluiceSettings, routes: RouteTable, setRuleSet: (ruleSet: RuleSet) => void): void {
  const decorator: SluiceDecorator = {
    scan: (text) => scanText(settings.rules(), text, settings.scannerOptions),
    get ruleSet () { return settings.rules() },
    setRuleSet
  }
  fastify.decorate('sluice', decorator)
  fastify.decorateReply(kSanitizedStream, null)
  fastify.decorateReply(kReplyScan, null)
  fastify.decorateReply('sanitize', function sanitize (this: FastifyReply, stream: Readable, options?: { contentType?: string }): Readable {
    try {
      // A route with `sluice: false` gets the plugin's settings.
      const route = routes.of(this.request.routeOptions.config.sluice)
      const contentType = options?.contentType ?? mediaTypeOf(this.getHeader('content-type'))
      const sanitized = sanitizeReplyStream(route, this.request, this, stream, contentType)
      this[kSanitizedStream] = sanitized
      return sanitized
    } catch (err) {
      // e.g. a content type that is no stream: the caller gets the error, the stream is not left open.
      stream.destroy()
      throw err
    }
  })
}
