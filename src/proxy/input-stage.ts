/**
 * @module proxy/input-stage
 * The request side of the proxy: the text a client sends (chat `messages`,
 * completions `prompt`, Responses `input`/`instructions`, Anthropic
 * `system`/`messages`) goes through the same rules as the answers before it
 * leaves for the provider. Per category the policy says what a finding does:
 * `reject` (the request is refused, e.g. an injected instruction), `redact`
 * (PII and secrets are replaced, so the provider never sees them), anything
 * else is flagged only (reported and audited, text unchanged).
 *
 * Pure: a JSON body and a rule set in, a rewritten body and findings out.
 */
import type { CompiledRuleInternal } from '../rules/compile-rule.js'
import { createRuleSet } from '../rules/rule-set.js'
import type { RuleSet } from '../rules/rule-set.js'
import type { RuleAction } from '../rules/types.js'
import { scanText } from '../scanner/scan-text.js'
import type { Finding, ScannerOptions } from '../scanner/types.js'
import type { InputPolicy } from './proxy-config.js'

/** The request body shapes the input stage knows. */
export type InputRoute = 'chat' | 'completions' | 'responses' | 'messages'

/** A finding in the request, with where it was found (`messages.2.content`, `prompt`, …). */
export interface InputFinding extends Finding {
  /** What the input stage did: `redact`, `reject` or `flag`. */
  decision: 'redact' | 'reject' | 'flag'
  /** JSON path of the text field, dot separated. */
  field: string
}

export interface InputStageResult {
  /** The body to send upstream (a copy when anything was redacted, else the same object; the same object when rejected). */
  body: Record<string, unknown>
  findings: InputFinding[]
  /** The first finding of a `reject` category, if any: the request must not be forwarded. */
  rejected: InputFinding | undefined
}

type JsonObject = Record<string, unknown>

function isObject (value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * The rule set the input stage scans with: the same rules, with actions
 * mapped from the input policy instead of the output's. Rejecting and
 * flagging categories only need to be found, so they become `flag` (never
 * alter text, never cut it short); redacting categories redact, even where
 * the output would cut: a request is rewritten, never truncated.
 */
function inputRuleSet (ruleSet: RuleSet, policy: InputPolicy): RuleSet {
  const redact = new Set(policy.redact)
  const rules = (ruleSet.rules as readonly CompiledRuleInternal[]).map((rule) => {
    const action: RuleAction = redact.has(rule.category) && rule.action !== 'flag' ? 'redact' : 'flag'
    return action === rule.action ? rule : { ...rule, action }
  })
  return createRuleSet(rules, ruleSet.files)
}

/** A text slot in the body: read it, and write its sanitized version back. */
interface TextSlot {
  field: string
  text: string
  write: (text: string) => void
}

/** Text of a `content` that is a string or a list of parts with `text` (OpenAI `text`/`input_text`, Anthropic `text`). */
function contentSlots (holder: JsonObject, key: string, field: string, out: TextSlot[]): void {
  const content = holder[key]
  if (typeof content === 'string') {
    out.push({ field, text: content, write: (text) => { holder[key] = text } })
  } else if (Array.isArray(content)) {
    content.forEach((part, i) => {
      if (isObject(part) && typeof part.text === 'string') {
        out.push({ field: `${field}.${i}.text`, text: part.text, write: (text) => { part.text = text } })
      } else if (isObject(part) && part.type === 'tool_result') {
        // Anthropic tool results carry text the model reads like any prompt.
        contentSlots(part, 'content', `${field}.${i}.content`, out)
      }
    })
  }
}

function messageSlots (messages: unknown, field: string, out: TextSlot[]): void {
  if (!Array.isArray(messages)) return
  messages.forEach((message, i) => {
    if (isObject(message)) contentSlots(message, 'content', `${field}.${i}.content`, out)
  })
}

/** Every text slot of a request body, by route. Mutates only through `write`. */
export function textSlotsOf (route: InputRoute, body: JsonObject): TextSlot[] {
  const out: TextSlot[] = []
  switch (route) {
    case 'chat':
      messageSlots(body.messages, 'messages', out)
      break
    case 'completions':
      contentSlots(body, 'prompt', 'prompt', out)
      // `prompt` may be a list of strings.
      if (Array.isArray(body.prompt)) {
        const prompts = body.prompt
        prompts.forEach((p, i) => {
          if (typeof p === 'string') out.push({ field: `prompt.${i}`, text: p, write: (text) => { prompts[i] = text } })
        })
      }
      break
    case 'responses':
      contentSlots(body, 'instructions', 'instructions', out)
      if (typeof body.input === 'string') contentSlots(body, 'input', 'input', out)
      else messageSlots(body.input, 'input', out)
      break
    case 'messages':
      contentSlots(body, 'system', 'system', out)
      messageSlots(body.messages, 'messages', out)
      break
  }
  return out
}

export interface InputStage {
  /** Scans a request body with the rule set current for this request. */
  run: (ruleSet: RuleSet, route: InputRoute, body: JsonObject) => InputStageResult
  /**
   * Derives the input rule set for `ruleSet` now (at startup, after a rule
   * reload), so that no request pays for it: it compiles the rule groups
   * again, ~200 ms for the default rules, during which the event loop stops.
   */
  prepare: (ruleSet: RuleSet) => void
}

/**
 * Creates the input stage for a policy. Derived rule sets are cached per
 * loaded set, so a hot reload costs one rebuild, not one per request.
 *
 * @example
 * const stage = createInputStage({ reject: ['injection'], redact: ['pii', 'secret'], enabled: true })
 * const { body, rejected } = stage.run(ruleSet, 'chat', requestBody)
 */
export function createInputStage (policy: InputPolicy, scannerOptions: ScannerOptions = {}): InputStage {
  const cache = new WeakMap<RuleSet, RuleSet>()
  const reject = new Set(policy.reject)
  const redact = new Set(policy.redact)
  function derivedOf (ruleSet: RuleSet): RuleSet {
    let derived = cache.get(ruleSet)
    if (derived === undefined) {
      derived = inputRuleSet(ruleSet, policy)
      cache.set(ruleSet, derived)
    }
    return derived
  }
  return {
    prepare: function prepareInputStage (ruleSet) {
      if (policy.enabled) derivedOf(ruleSet)
    },
    run: function runInputStage (ruleSet, route, original) {
      if (!policy.enabled) return { body: original, findings: [], rejected: undefined }
      const derived = derivedOf(ruleSet)
      const findings: InputFinding[] = []
      // Scan the body as sent, and copy it only when a text changes (most
      // requests have nothing to redact; the copy cost as much as the scan).
      const slots = textSlotsOf(route, original)
      let rewrites: Array<{ index: number, text: string }> | undefined
      slots.forEach((slot, index) => {
        const result = scanText(derived, slot.text, scannerOptions)
        for (const f of result.findings) {
          const decision = reject.has(f.category) ? 'reject' : redact.has(f.category) && f.action === 'redact' ? 'redact' : 'flag'
          findings.push({ ...f, decision, field: slot.field })
        }
        if (result.text !== slot.text) (rewrites ??= []).push({ index, text: result.text })
      })
      const rejected = findings.find((f) => f.decision === 'reject')
      // A rejected request is never forwarded: no rewritten body needed.
      if (rewrites === undefined || rejected !== undefined) return { body: original, findings, rejected }
      // Rewrite a copy: the parsed body stays as the client sent it (logs,
      // retries never see a half-rewritten one). A copy has the same slots in
      // the same order.
      const body = structuredClone(original)
      const copySlots = textSlotsOf(route, body)
      for (const { index, text } of rewrites) copySlots[index]?.write(text)
      return { body, findings, rejected }
    }
  }
}
