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
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk)
    if (typeof v !== 'object' || v === null) return v
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) {
      // `const` and `enum` hold values, not schemas.
      if (k === 'const' || k === 'enum') Object.defineProperty(out, k, { value: x, enumerable: true })
      else {
        const key =
          k === 'anyOf'
            ? 'oneOf'
            : k === 'format' && typeof x === 'string' && !GBNF_FORMATS.has(x)
              ? RBEE_FORMAT_KEY
              : k
        Object.defineProperty(out, key, { value: walk(x), enumerable: true })
      }
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
