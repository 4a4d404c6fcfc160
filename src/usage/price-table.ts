/**
 * @module usage/price-table
 * What tokens cost: a table of prices per model from the configuration, in
 * a currency of the operator's choosing per million tokens, as providers
 * publish them. A model matches its own entry, else the longest entry that
 * is a prefix of it followed by `-` or `@` (`gpt-4o` prices
 * `gpt-4o-2024-08-06`), else `*` if configured; an unpriced model costs 0
 * and is reported as such.
 */
import type { TokenUsage } from './read-usage.js'

export interface ModelPrice {
  /** Per million input tokens. */
  input: number
  /** Per million output tokens. */
  output: number
  /** Per million cached input tokens (default: the input price). */
  cachedInput?: number
}

export type PriceTable = Readonly<Record<string, ModelPrice>>

export interface PriceLookup {
  /** The price entry for `model`, or undefined when none applies. */
  priceOf: (model: string) => ModelPrice | undefined
  /** Cost of `usage` on `model` (0 when unpriced). */
  costOf: (model: string, usage: TokenUsage) => number
}

export function createPriceLookup (table: PriceTable = {}): PriceLookup {
  const names = Object.keys(table).filter((name) => name !== '*').sort((a, b) => b.length - a.length)
  const cache = new Map<string, ModelPrice | undefined>()
  function priceOf (model: string): ModelPrice | undefined {
    if (cache.has(model)) return cache.get(model)
    let price = table[model]
    if (price === undefined) {
      const prefix = names.find((name) => model.startsWith(name) && (model[name.length] === '-' || model[name.length] === '@'))
      price = prefix === undefined ? table['*'] : table[prefix]
    }
    if (cache.size < 1024) cache.set(model, price)
    return price
  }
  return {
    priceOf,
    costOf (model, usage) {
      const price = priceOf(model)
      if (price === undefined) return 0
      return (usage.input * price.input + usage.cachedInput * (price.cachedInput ?? price.input) + usage.output * price.output) / 1e6
    }
  }
}
