/**
 * @module Plain JSON objects: the one type and guard every layer uses when it
 * walks parsed JSON (a request body, a frame, a rule file).
 */

export type JsonObject = Record<string, unknown>

/** True for a non-null, non-array object: what `JSON.parse` gives for `{…}`. */
export function isJsonObject (value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
