import { jsonNestsDeeperThan, MAX_JSON_DEPTH } from '@rbee/contracts'
import type { z } from 'zod'
import { RbeeError } from './errors.js'

// The bound itself and its one-pass check live in contracts (which refine JSON text fields with
// them); re-exported here beside the parser that enforces them.
export { jsonNestsDeeperThan, MAX_JSON_DEPTH } from '@rbee/contracts'

/** The error for JSON nested deeper than `MAX_JSON_DEPTH`: a 400 naming the limit. */
export function jsonTooDeepError(what = 'JSON'): RbeeError {
  return new RbeeError(
    'RBEE_BAD_REQUEST',
    `${what} nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels, the most rbee accepts`,
  )
}

/**
 * `JSON.parse` for JSON from outside the process, refusing nesting deeper than `MAX_JSON_DEPTH`.
 * @throws RbeeError `RBEE_BAD_REQUEST` for nesting too deep; SyntaxError for text that is not JSON.
 */
export function parseJson(text: string, what?: string): unknown {
  if (jsonNestsDeeperThan(text)) throw jsonTooDeepError(what)
  return JSON.parse(text)
}

/** `parseJson`, then `schema`: the value when `text` is JSON of that shape, else undefined. */
export function parseJsonAs<S extends z.ZodType>(schema: S, text: string): z.output<S> | undefined {
  let json: unknown
  try {
    json = parseJson(text)
  } catch {
    return undefined
  }
  const parsed = schema.safeParse(json)
  return parsed.success ? parsed.data : undefined
}
