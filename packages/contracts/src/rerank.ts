import { z } from 'zod'
import { TimeoutSecondsSchema } from './deadline.js'

/** The rerank routes (llama.cpp's, Jina's and Cohere's shape); their errors take OpenAI's shape. */
export const RERANK_PATHS = ['/v1/rerank', '/rerank'] as const

// Rerank (`POST /v1/rerank`, `POST /rerank`) in the shape llama.cpp's server, Jina's and
// Cohere's clients send and read. Strict: a field rbee does not serve (Cohere's
// `max_tokens_per_doc`, TEI's `texts`) is a 400 naming it, not a silent default.

/** Documents one rerank request may carry. */
export const RERANK_MAX_DOCUMENTS = 1024

/** A document: its text, or `{ text }` as Jina's and Cohere's clients may send it. */
export const RerankDocumentSchema = z.union([z.string(), z.object({ text: z.string() }).strict()])
export type RerankDocument = z.infer<typeof RerankDocumentSchema>

export const RerankRequestSchema = z
  .object({
    model: z.string().min(1).max(512),
    query: z.string().min(1),
    documents: z.array(RerankDocumentSchema).min(1).max(RERANK_MAX_DOCUMENTS),
    /** Only the best this many results. @default every document */
    top_n: z.int().min(1).nullish(),
    /** Whether each result carries its document's text. @default true */
    return_documents: z.boolean().nullish(),
    /** rbee's extension, as on its OpenAI routes: seconds the request may take, waiting included. */
    timeout: TimeoutSecondsSchema.nullish(),
  })
  .strict()
export type RerankRequest = z.infer<typeof RerankRequestSchema>

export const RerankResultSchema = z.object({
  /** The document's position in the request. */
  index: z.int().min(0),
  /** How relevant the document is to the query: a probability in [0, 1]. */
  relevance_score: z.number().min(0).max(1),
  document: z.object({ text: z.string() }).optional(),
})
export type RerankResult = z.infer<typeof RerankResultSchema>

/** Results from the most relevant document to the least (ties in request order). */
export const RerankResponseSchema = z.object({
  id: z.string(),
  object: z.literal('list'),
  model: z.string(),
  results: z.array(RerankResultSchema),
  usage: z.object({ prompt_tokens: z.int().min(0), total_tokens: z.int().min(0) }),
})
export type RerankResponse = z.infer<typeof RerankResponseSchema>

/** The text of a document, however it was sent. */
export function rerankDocumentText(d: RerankDocument): string {
  return typeof d === 'string' ? d : d.text
}
