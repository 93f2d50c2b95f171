import type { GrammarJsonSchema } from '@rbee/contracts'
import type { Llama, LlamaGrammar } from 'node-llama-cpp'

/**
 * The grammar an answer in JSON under `schema` is generated with (node-llama-cpp's JSON-schema
 * grammar, with rbee's fixes of llama-patch/json-grammar-patch.ts): whatever the model, the
 * answer parses and validates against the schema the client sent (unless it runs out of
 * tokens first). Building one takes a fraction of a millisecond, so none is kept.
 * @param schema - normal form (`normalizeJsonSchema`), which is node-llama-cpp's GbnfJsonSchema.
 */
export function jsonSchemaGrammar(llama: Llama, schema: GrammarJsonSchema): Promise<LlamaGrammar> {
  // Its parameter type is inferred from a literal schema; a schema from a request has none.
  return llama.createGrammarForJsonSchema(schema as never)
}
