import type { GrammarJsonSchema } from '@rbee/contracts'
import type { GbnfJsonSchema, Llama, LlamaGrammar } from 'node-llama-cpp'

/**
 * A schema in rbee's normal form as node-llama-cpp reads it: its alternation is `oneOf` (with
 * `anyOf`'s meaning: any branch may match), everything else is the same JSON.
 */
export function toGbnfSchema(schema: GrammarJsonSchema): GbnfJsonSchema {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk)
    if (typeof v !== 'object' || v === null) return v
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) {
      // `const` and `enum` hold values, not schemas.
      if (k === 'const' || k === 'enum') Object.defineProperty(out, k, { value: x, enumerable: true })
      else Object.defineProperty(out, k === 'anyOf' ? 'oneOf' : k, { value: walk(x), enumerable: true })
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
