/**
 * @module proxy/settings/kinds
 * The kinds of value a proxy setting takes. One kind says everything about
 * its value: how a flag or an environment variable writes it (its text),
 * how the config file writes it (its TypeBox schema) and the checks both
 * must pass, so `--port`, `SLUICE_PORT` and `port:` cannot accept different
 * things. The settings table (table.ts) gives each setting its kind.
 */
import { Type } from '@sinclair/typebox'
import type { TSchema } from '@sinclair/typebox'
import { integerArgument, usageError } from '../../cli-args.js'
import type { IntegerBounds } from '../../cli-args.js'
import type { ClientPolicy } from '../../policy/policy-rule-sets.js'
import type { BudgetLimit } from '../../usage/budgets.js'
import type { ModelPrice } from '../../usage/price-table.js'

/**
 * How a flag and an environment variable give a value:
 * - `text`: one value (`--port 8080`, `SLUICE_PORT=8080`);
 * - `list`: a repeatable flag (`--rules a --rules b`), a comma list in the variable;
 * - `switch`: a flag without a value that sets `true`, or `false` for a
 *   `--no-…` flag; `true`/`false` in the variable;
 * - `file`: no text form, the config file only.
 */
export type TextForm = 'text' | 'list' | 'switch' | 'file'

/** A problem a check found: the sentence (it starts with the field's name) and where, below the field, it is. */
export interface ValueProblem {
  message: string
  /** Path below the setting's own (`[0, 'forwardHeaders']`), for the file's line and column. */
  at?: Array<string | number>
}

export interface ValueKind<T> {
  readonly form: TextForm
  /** The value in the config file. */
  readonly schema: TSchema
  /** What the value is in the usage text and the reference: `N`, `URL`, `PATH`. */
  readonly placeholder: string
  // Methods, not function properties: a kind of number is then a kind of
  // unknown too, so the table's rows fit one array type.
  /** The value of a flag's or variable's text (a list: its items). Throws a usage error naming `source` (`--port`, `SLUICE_PORT`). */
  read (texts: readonly string[], source: string): T
  /** What the schema cannot say (a header the proxy never takes from a client), for every source; `field` names the value in the message. */
  check? (value: T, field: string): ValueProblem | undefined
}

function only (texts: readonly string[]): string {
  return texts[texts.length - 1] ?? ''
}

function nonEmpty (texts: readonly string[], source: string): readonly string[] {
  if (texts.some((text) => text === '')) throw usageError(`${source} must not be empty`)
  return texts
}

/** A string (a host, a path, a key); `minLength` for secrets that must be long. */
export function text (placeholder: string, { minLength = 1 }: { minLength?: number } = {}): ValueKind<string> {
  return {
    form: 'text',
    schema: Type.String({ minLength }),
    placeholder,
    read (texts, source) {
      const value = only(texts)
      if (value.length === 0) throw usageError(`${source} must not be empty`)
      if (value.length < minLength) throw usageError(`${source} must be at least ${minLength} characters`)
      return value
    }
  }
}

/** An integer within bounds: by default a positive one (a count, a size, a duration in ms), so 0 is refused unless `min` says otherwise. */
export function integer (bounds: IntegerBounds = {}, placeholder = 'N'): ValueKind<number> {
  const { min = 1, max } = bounds
  return {
    form: 'text',
    schema: Type.Integer({ minimum: min, ...(max === undefined ? {} : { maximum: max }) }),
    placeholder,
    read: (texts, source) => integerArgument(source, only(texts), bounds)
  }
}

/** A TCP port; 0 asks the system for a free one. */
export const port = integer({ min: 0, max: 65535 })

/** A switch: `true`/`false` (also `yes`/`no`, `on`/`off`, `1`/`0`) in a variable. */
export const boolean: ValueKind<boolean> = {
  form: 'switch',
  schema: Type.Boolean(),
  placeholder: '',
  read (texts, source) {
    const value = only(texts)
    if (/^(1|true|yes|on)$/i.test(value)) return true
    if (/^(0|false|no|off)$/i.test(value)) return false
    throw usageError(`${source} must be true or false, got "${value}"`)
  }
}

/** One of a few words (a log level). */
export function oneOf<const V extends string> (values: readonly V[], placeholder: string): ValueKind<V> {
  return {
    form: 'text',
    schema: Type.Union(values.map((v) => Type.Literal(v))),
    placeholder,
    read (texts, source) {
      const value = only(texts)
      if (!(values as readonly string[]).includes(value)) throw usageError(`${source} must be one of ${values.join(', ')}, got "${value}"`)
      return value as V
    }
  }
}

const StringList = Type.Array(Type.String({ minLength: 1 }))

/** A list of strings: a repeatable flag, a comma list in a variable, a list in the file. */
export function list (placeholder: string): ValueKind<string[]> {
  return { form: 'list', schema: StringList, placeholder, read: (texts, source) => [...nonEmpty(texts, source)] }
}

/** Rule files and directories: a list, or in the file also one path as a string. */
export const rulePaths: ValueKind<string | string[]> = {
  form: 'list',
  schema: Type.Union([Type.String({ minLength: 1 }), StringList]),
  placeholder: 'PATH',
  read: (texts, source) => [...nonEmpty(texts, source)]
}

/**
 * Header names an operator may let clients send upstream. Credentials,
 * cookies, the host and hop-by-hop headers stay the proxy's whatever the
 * config says: the proxy sets them itself or never sends them.
 */
const kNeverForwarded = new Set(['authorization', 'x-api-key', 'x-goog-api-key', 'cookie', 'host', 'content-length',
  'transfer-encoding', 'connection', 'keep-alive', 'te', 'trailer', 'upgrade', 'expect', 'proxy-authorization', 'accept-encoding'])

/** The first name of `names` a client may not send upstream, as a problem of `field`. */
function unforwardableHeader (names: readonly string[], field: string): ValueProblem | undefined {
  for (const [i, name] of names.entries()) {
    const lower = name.trim().toLowerCase()
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(lower)) return { message: `${field}: "${name}" is not a header name`, at: [i] }
    if (kNeverForwarded.has(lower) || lower.startsWith('x-sluice-')) {
      return { message: `${field}: "${name}" is never taken from the client (the proxy sets it or drops it)`, at: [i] }
    }
  }
  return undefined
}

/** Header names, matched case-insensitively (the config keeps them lower-cased). */
export const headerNames: ValueKind<string[]> = { ...list('H'), check: unforwardableHeader }

/** The provider's base URL: http(s), no query, fragment or credentials (keys go in `upstreamKeys`). */
export const httpUrl: ValueKind<string> = {
  ...text('URL'),
  check (value, field) {
    let url: URL
    try {
      url = new URL(value)
    } catch {
      return { message: `${field} must be an http(s) URL, got "${value}"` }
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return { message: `${field} must be an http(s) URL, got "${value}"` }
    if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
      return { message: `${field} must not carry a query, fragment or credentials (use upstreamKeys for keys)` }
    }
    return undefined
  }
}

/** Fastify's `trustProxy`: `true`/`false`, a hop count, or addresses and CIDRs (a comma list in text). */
export const trustProxy: ValueKind<boolean | number | string | string[]> = {
  form: 'text',
  schema: Type.Union([Type.Boolean(), Type.Integer({ minimum: 1 }), Type.String({ minLength: 1 }), StringList]),
  placeholder: 'V',
  read (texts, source) {
    const value = only(texts)
    if (/^(true|false)$/i.test(value)) return value.toLowerCase() === 'true'
    if (/^\d+$/.test(value)) return integerArgument(source, value)
    const addresses = value.split(',').map((s) => s.trim()).filter((s) => s.length > 0)
    if (addresses.length === 0) throw usageError(`${source} must not be empty`)
    return addresses
  }
}

/** The audit log: a file, or `false` (none) in the config file. */
export const auditFile: ValueKind<string | false> = {
  form: 'text',
  schema: Type.Union([Type.String({ minLength: 1 }), Type.Literal(false)]),
  placeholder: 'FILE',
  read: text('FILE').read
}

export interface RateLimitValue { max: number, timeWindow: string | number }

/** Requests per window: `N` (per minute) as text; `{ max, timeWindow }` or `false` in the file. */
export const rateLimit: ValueKind<RateLimitValue | false> = {
  form: 'text',
  schema: Type.Union([
    Type.Literal(false),
    Type.Object({
      max: Type.Integer({ minimum: 1 }),
      timeWindow: Type.Union([Type.String({ minLength: 1 }), Type.Integer({ minimum: 1 })])
    }, { additionalProperties: false })
  ]),
  placeholder: 'N',
  read: (texts, source) => ({ max: integerArgument(source, only(texts)), timeWindow: '1 minute' })
}

/** What the input stage does with a rule's findings (proxy/input-stage.ts). */
const kInputDecisions = ['reject', 'redact', 'pseudonymize', 'flag', 'off'] as const
export type InputDecision = typeof kInputDecisions[number]

/** Per rule id, an input decision: `ID=DECISION` items as text, a mapping in the file. */
export const inputDecisions: ValueKind<Record<string, InputDecision>> = {
  form: 'list',
  schema: Type.Record(Type.String({ minLength: 1 }), Type.Union(kInputDecisions.map((d) => Type.Literal(d)))),
  placeholder: 'ID=DECISION',
  read (texts, source) {
    const decisions: Record<string, InputDecision> = {}
    for (const item of nonEmpty(texts, source)) {
      const [id = '', decision = ''] = item.split('=').map((s) => s.trim())
      if (id === '' || !(kInputDecisions as readonly string[]).includes(decision)) {
        throw usageError(`${source} takes RULE_ID=DECISION with a decision of ${kInputDecisions.join(', ')}, got "${item}"`)
      }
      decisions[id] = decision as InputDecision
    }
    return decisions
  }
}

export interface ClientEntry { id?: string, key?: string, keySha256?: string, forwardHeaders?: string[], budget?: BudgetLimit }

const kBudget = Type.Object({
  period: Type.Union(['minute', 'hour', 'day', 'week', 'month'].map((p) => Type.Literal(p))),
  tokens: Type.Optional(Type.Integer({ minimum: 1 })),
  cost: Type.Optional(Type.Number({ exclusiveMinimum: 0 }))
}, { additionalProperties: false })

/** Client keys with their own settings: a list of objects, so the config file only. */
export const clientList: ValueKind<ClientEntry[]> = {
  form: 'file',
  schema: Type.Array(Type.Object({
    id: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' })),
    budget: Type.Optional(kBudget),
    key: Type.Optional(Type.String({ minLength: 1 })),
    keySha256: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{64}$' })),
    forwardHeaders: Type.Optional(StringList)
  }, { additionalProperties: false })),
  placeholder: '',
  read: (_texts, source) => { throw usageError(`${source}: client entries are set in the config file only`) },
  check (clients, field) {
    for (const [i, client] of clients.entries()) {
      if ((client.key === undefined) === (client.keySha256 === undefined)) return { message: `${field}[${i}] needs exactly one of key or keySha256`, at: [i] }
      const problem = unforwardableHeader(client.forwardHeaders ?? [], `${field}[${i}].forwardHeaders`)
      if (problem !== undefined) return { message: problem.message, at: [i, 'forwardHeaders', ...(problem.at ?? [])] }
    }
    return undefined
  }
}

/** Prices per model, per million tokens: a table, so the config file only. */
export const prices: ValueKind<Record<string, ModelPrice>> = {
  form: 'file',
  schema: Type.Record(Type.String({ minLength: 1 }), Type.Object({
    input: Type.Number({ minimum: 0 }),
    output: Type.Number({ minimum: 0 }),
    cachedInput: Type.Optional(Type.Number({ minimum: 0 }))
  }, { additionalProperties: false })),
  placeholder: '',
  read: (_texts, source) => { throw usageError(`${source}: prices are set in the config file only`) }
}

/** Rule policies per client or route: a list of objects, so the config file only. */
export const policies: ValueKind<ClientPolicy[]> = {
  form: 'file',
  schema: Type.Array(Type.Object({
    name: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }),
    clients: Type.Optional(StringList),
    routes: Type.Optional(StringList),
    files: Type.Optional(StringList),
    disable: Type.Optional(StringList),
    actions: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.Union([Type.Literal('redact'), Type.Literal('cut'), Type.Literal('flag')]))),
    monitor: Type.Optional(Type.Union([Type.Boolean(), StringList]))
  }, { additionalProperties: false })),
  placeholder: '',
  read: (_texts, source) => { throw usageError(`${source}: policies are set in the config file only`) },
  check (list, field) {
    const seen = new Set<string>()
    for (const [i, policy] of list.entries()) {
      if (seen.has(policy.name)) return { message: `${field}[${i}].name "${policy.name}" is used twice`, at: [i, 'name'] }
      seen.add(policy.name)
    }
    return undefined
  }
}
