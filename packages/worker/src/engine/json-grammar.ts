import type { GrammarJsonSchema } from '@rbee/contracts'
import type { GbnfJsonSchema, Llama, LlamaGrammar } from 'node-llama-cpp'

/** node-llama-cpp's own string formats; it refuses to check a call's arguments with another. */
const GBNF_FORMATS = new Set(['date', 'time', 'date-time'])

/** Where a format rbee writes itself travels through node-llama-cpp (see json-grammar-patch.ts). */
export const RBEE_FORMAT_KEY = 'x-rbee-format'

/**
 * A schema in rbee's normal form as node-llama-cpp reads it: its alternation is `oneOf` (with
 * `anyOf`'s meaning: any branch may match), and a format of rbee's own (uri, email, …) moves to
 * RBEE_FORMAT_KEY, where node-llama-cpp's checks do not see it; everything else is the same JSON.
 */
export function toGbnfSchema(schema: GrammarJsonSchema): GbnfJsonSchema {
  // Keywords whose value maps names to schemas: the names are the client's, never renamed.
  const NAMED = new Set(['properties', '$defs', 'definitions'])
  const walk = (node: unknown): unknown => {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return node
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(node)) {
      let key = k
      let value: unknown
      // `const` and `enum` hold values, not schemas.
      if (k === 'const' || k === 'enum') value = x
      else if (NAMED.has(k) && typeof x === 'object' && x !== null)
        value = Object.fromEntries(Object.entries(x).map(([name, sub]) => [name, walk(sub)]))
      else {
        if (k === 'anyOf') key = 'oneOf'
        else if (k === 'format' && typeof x === 'string' && !GBNF_FORMATS.has(x)) key = RBEE_FORMAT_KEY
        // anyOf and prefixItems hold schemas; items and additionalProperties one (or a boolean).
        value = Array.isArray(x) ? x.map(walk) : walk(x)
      }
      Object.defineProperty(out, key, { value, enumerable: true })
    }
    return out
  }
  // Its parameter type is inferred from a literal schema; a schema from a request has none.
  return walk(schema) as GbnfJsonSchema
}

/**
 * The grammar an answer in JSON under `schema` is generated with (node-llama-cpp's JSON-schema
 * grammar, with rbee's additions of llama-patch/json-grammar-patch.ts): whatever the model, the
 * answer parses and fits the schema as far as a grammar can hold it (what it cannot is checked
 * after generation, see output-check.ts). Building one takes a fraction of a millisecond, so none
 * is kept.
 * @param schema - normal form (`normalizeJsonSchema`).
 */
export function jsonSchemaGrammar(llama: Llama, schema: GrammarJsonSchema): Promise<LlamaGrammar> {
  return llama.createGrammarForJsonSchema(toGbnfSchema(schema) as never)
}
