/**
 * @module plugin/audit
 * The plugin's audit log: one it opens from a path or options (and closes
 * with the app), or an `AuditLog` shared with its owner (the proxy, which
 * audits the request side into the same chain, and closes it itself).
 */
import type { FastifyInstance } from 'fastify'
import { createAuditLog } from '../audit/create-audit-log.js'
import type { AuditLog } from '../audit/create-audit-log.js'
import { isAuditLog } from './options.js'
import type { SluicePluginOptions } from './options.js'

/**
 * The log the hooks write to, or undefined for none. A shared no-op log
 * (the proxy without --audit) counts as none: `audit?.x(...)` then skips
 * building the records it would drop, per finding and per stream.
 */
export function openAuditLog (fastify: FastifyInstance, given: SluicePluginOptions['audit']): AuditLog | undefined {
  if (given === undefined || given === false) return undefined
  if (isAuditLog(given)) return given.enabled === false ? undefined : given
  const audit = createAuditLog(typeof given === 'string' ? { destination: given } : given)
  fastify.addHook('onClose', async function closeAuditLog () { await audit.close() })
  return audit
}
