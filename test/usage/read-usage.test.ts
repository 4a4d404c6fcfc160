import t from 'tap'
import { isUsageOnlyChunk, mergeUsage, noUsage, usageOf } from '../../src/usage/read-usage.js'
import { createPriceLookup } from '../../src/usage/price-table.js'

t.test('reads each provider\'s usage into input, cached input and output', async (t) => {
  t.same(usageOf({ choices: [], usage: { prompt_tokens: 120, completion_tokens: 30, total_tokens: 150, prompt_tokens_details: { cached_tokens: 100 } } }), { input: 20, cachedInput: 100, output: 30 }, 'OpenAI chat: cached tokens are part of prompt_tokens')
  t.same(usageOf({ type: 'response.completed', response: { usage: { input_tokens: 50, output_tokens: 7, input_tokens_details: { cached_tokens: 10 } } } }), { input: 40, cachedInput: 10, output: 7 }, 'OpenAI Responses')
  t.same(usageOf({ type: 'message_start', message: { usage: { input_tokens: 25, cache_read_input_tokens: 1000, cache_creation_input_tokens: 5, output_tokens: 1 } } }), { input: 30, cachedInput: 1000, output: 1 }, 'Anthropic: cache reads are apart, cache writes billed as input')
  t.same(usageOf({ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 42 } }), { input: 0, cachedInput: 0, output: 42 })
  t.same(usageOf({ candidates: [], usageMetadata: { promptTokenCount: 9, candidatesTokenCount: 4, thoughtsTokenCount: 2, cachedContentTokenCount: 3 } }), { input: 6, cachedInput: 3, output: 6 }, 'Gemini: thoughts billed as output')
  t.same(usageOf({ done: true, prompt_eval_count: 11, eval_count: 22 }), { input: 11, cachedInput: 0, output: 22 }, 'Ollama')
  t.same(usageOf({ type: 'message-end', delta: { finish_reason: 'COMPLETE', usage: { billed_units: { input_tokens: 3, output_tokens: 4 } } } }), { input: 3, cachedInput: 0, output: 4 }, 'Cohere v2')
  t.equal(usageOf({ choices: [{ delta: { content: 'usage' } }] }), undefined, 'text that says usage is no usage')
  t.equal(usageOf('usage'), undefined)
  t.same(usageOf({ usage: { prompt_tokens: -5, completion_tokens: 'x' } }), { input: 0, cachedInput: 0, output: 0 }, 'nonsense counts read as 0')
})

t.test('a stream\'s usage is the largest cumulative count of each kind', async (t) => {
  let total = noUsage
  total = mergeUsage(total, { input: 30, cachedInput: 0, output: 1 })
  total = mergeUsage(total, { input: 0, cachedInput: 0, output: 42 })
  total = mergeUsage(total, undefined)
  t.same(total, { input: 30, cachedInput: 0, output: 42 })
})

t.test('recognizes the usage-only chunk', async (t) => {
  t.ok(isUsageOnlyChunk({ choices: [], usage: { prompt_tokens: 1 } }))
  t.notOk(isUsageOnlyChunk({ choices: [{ delta: {} }], usage: { prompt_tokens: 1 } }))
  t.notOk(isUsageOnlyChunk({ choices: [] }))
})

t.test('prices usage per million tokens, by model or model family', async (t) => {
  const prices = createPriceLookup({ 'gpt-4o': { input: 2.5, output: 10, cachedInput: 1.25 }, 'gpt-4o-mini': { input: 0.15, output: 0.6 }, '*': { input: 1, output: 1 } })
  t.equal(prices.costOf('gpt-4o', { input: 1_000_000, cachedInput: 0, output: 0 }), 2.5)
  t.equal(prices.costOf('gpt-4o-2024-08-06', { input: 0, cachedInput: 1_000_000, output: 100_000 }), 1.25 + 1, 'a dated model takes its family price')
  t.equal(prices.costOf('gpt-4o-mini-2024-07-18', { input: 1_000_000, cachedInput: 1_000_000, output: 0 }), 0.3, 'the longest family wins; cached defaults to the input price')
  t.equal(prices.costOf('claude-x', { input: 10, cachedInput: 0, output: 10 }), 20 / 1e6, 'the * entry')
  t.equal(createPriceLookup({}).costOf('gpt-4o', { input: 10, cachedInput: 0, output: 10 }), 0, 'unpriced costs 0')
  t.equal(createPriceLookup({}).priceOf('gpt-4o'), undefined)
})
