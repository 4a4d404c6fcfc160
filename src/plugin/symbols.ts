/**
 * @module plugin/symbols
 * The keys of the state the plugin keeps on fastify's objects, declared
 * once (as fastify's lib/symbols.js): a symbol cannot collide with a
 * route's own decorations, and stays out of `Object.keys` and JSON.
 */

/**
 * On a reply: the stream `reply.sanitize()` returned, null until the route
 * calls it. A reply that holds one is sent as the route built it: its
 * stream is sanitized already, and sanitizing it twice would re-frame it.
 */
export const kSanitizedStream: unique symbol = Symbol('sluice.sanitizedStream')

/**
 * On a reply: what its route's handler decided for this one request
 * (plugin/reply-scan.ts), null when nothing. Read once the answer is sent.
 */
export const kReplyScan: unique symbol = Symbol('sluice.replyScan')
