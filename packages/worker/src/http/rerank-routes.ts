import { randomUUID } from 'node:crypto'
import { ROUTE_ACCESS, validationError } from '@rbee/common'
import {
  RERANK_PATHS,
  RerankRequestSchema,
  type RerankResponse,
  type RerankResult,
  rerankDocumentText,
} from '@rbee/contracts'
import type { FastifyInstance } from 'fastify'
import type { Worker } from '../worker.js'
import { RequestSignal } from './request-signal.js'

/** Rerank's paths: OpenAI-style (Jina, Cohere clients) and llama.cpp's server's alias. */

/**
 * Rerank on a worker of a reranking model: every document scored against the query by the
 * model's classification head, the most relevant first. A model without one gets a 400 that
 * says why.
 */
export function registerRerankRoutes(app: FastifyInstance, worker: Worker): void {
  for (const path of RERANK_PATHS) {
    app.post(path, ROUTE_ACCESS.node, async (req, reply): Promise<RerankResponse> => {
      const parsed = RerankRequestSchema.safeParse(req.body)
      if (!parsed.success) throw validationError(parsed.error)
      const body = parsed.data
      const texts = body.documents.map(rerankDocumentText)
      const engine = worker.engine()
      const { scores, tokens } = await new RequestSignal(req, reply, body.timeout ?? undefined).run(
        (signal) => worker.track(signal, (s) => engine.rank(body.query, texts, s)),
      )
      const withDocuments = body.return_documents ?? true
      const results: RerankResult[] = scores
        .map((relevance_score, index) => ({ index, relevance_score }))
        .sort((a, b) => b.relevance_score - a.relevance_score || a.index - b.index)
        .slice(0, body.top_n ?? texts.length)
        .map((r) => (withDocuments ? { ...r, document: { text: texts[r.index]! } } : r))
      return {
        id: `rerank-${randomUUID()}`,
        object: 'list',
        model: worker.modelRef,
        results,
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      }
    })
  }
}
