import { ROUTE_ACCESS, validationError } from '@rbee/common'
import {
  ChatCompletionRequestSchema,
  CompletionRequestSchema,
  EmbeddingRequestSchema,
  type ModelList,
  RERANK_PATHS,
  RerankRequestSchema,
} from '@rbee/contracts'
import type { FastifyInstance } from 'fastify'
import type { HiveManager } from '../hives/hive-manager.js'
import type { InferenceRouter } from '../proxy/inference-router.js'
import type { Registry } from '../registry/registry.js'

/** Catalogs older than this are re-read when `/v1/models` is asked. */
const CATALOG_MAX_AGE_MS = 5000

export interface OpenAiRouteDeps {
  registry: Registry
  hives: HiveManager
  router: InferenceRouter
}

/** OpenAI's API on the queen: every request validated, then routed to a worker by model. */
export function registerOpenAiRoutes(app: FastifyInstance, deps: OpenAiRouteDeps): void {
  app.get('/v1/models', ROUTE_ACCESS.user, async () => {
    await deps.hives.refreshCatalogs(CATALOG_MAX_AGE_MS)
    return listModels(deps.registry)
  })

  app.post('/v1/chat/completions', ROUTE_ACCESS.user, async (req, reply) => {
    const parsed = ChatCompletionRequestSchema.safeParse(req.body)
    if (!parsed.success) throw validationError(parsed.error)
    await deps.router.openAi(req, reply, '/v1/chat/completions', parsed.data)
  })

  app.post('/v1/completions', ROUTE_ACCESS.user, async (req, reply) => {
    const parsed = CompletionRequestSchema.safeParse(req.body)
    if (!parsed.success) throw validationError(parsed.error)
    await deps.router.openAi(req, reply, '/v1/completions', parsed.data)
  })

  app.post('/v1/embeddings', ROUTE_ACCESS.user, async (req, reply) => {
    const parsed = EmbeddingRequestSchema.safeParse(req.body)
    if (!parsed.success) throw validationError(parsed.error)
    await deps.router.openAi(req, reply, '/v1/embeddings', { ...parsed.data, stream: false })
  })

  // Rerank (Jina's and Cohere's shape; `/rerank` is llama.cpp's spelling), on workers of the
  // model like embeddings. A model without a classification head gets the worker's 400.
  for (const path of RERANK_PATHS) {
    app.post(path, ROUTE_ACCESS.user, async (req, reply) => {
      const parsed = RerankRequestSchema.safeParse(req.body)
      if (!parsed.success) throw validationError(parsed.error)
      await deps.router.openAi(req, reply, '/v1/rerank', {
        model: parsed.data.model,
        timeout: parsed.data.timeout,
      })
    })
  }
}

/** Every model in an online hive's catalog or served by a routable worker, with `loaded`. */
export function listModels(registry: Registry): ModelList {
  const created = new Map<string, number>()
  for (const hive of registry.hives()) {
    if (!hive.online) continue
    for (const m of hive.catalog ?? []) {
      if (!m.available) continue
      const t = Math.floor(Date.parse(m.added_at) / 1000)
      created.set(m.id, Math.min(created.get(m.id) ?? t, t))
    }
  }
  const loaded = new Set<string>()
  for (const w of registry.workers()) {
    if (!w.routable) continue
    loaded.add(w.model)
    if (!created.has(w.model)) created.set(w.model, Math.floor(w.lastUsedMs / 1000))
  }
  return {
    object: 'list',
    data: [...created.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([id, t]) => ({ id, object: 'model', created: t, owned_by: 'rbee', loaded: loaded.has(id) })),
  }
}
