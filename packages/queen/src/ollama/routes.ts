import {
  type AuditLog,
  OLLAMA_EMBED_OPTIONS,
  ROUTE_ACCESS,
  refuseOllamaOptions,
  routeConfig,
  validationError,
} from '@rbee/common'
import {
  OLLAMA_API_VERSION,
  OllamaDeleteRequestSchema,
  OllamaEmbeddingsRequestSchema,
  OllamaEmbedRequestSchema,
  type OllamaPs,
  OllamaPullRequestSchema,
  OllamaShowRequestSchema,
  type OllamaShowResponse,
  type OllamaTags,
  type OllamaVersion,
} from '@rbee/contracts'
import type { FastifyInstance } from 'fastify'
import type { HiveManager } from '../hives/hive-manager.js'
import { clientGoneSignal } from '../proxy/client-signal.js'
import type { InferenceRouter } from '../proxy/inference-router.js'
import type { Registry } from '../registry/registry.js'
import type { IdleReaper } from '../scheduler/idle-reaper.js'
import { VERSION } from '../version.js'
import { deleteModel } from './delete-model.js'
import { fleetModels } from './fleet-models.js'
import { keepAliveOnDispatch } from './keep-alive.js'
import { ollamaPs, ollamaTags } from './model-listing.js'
import { resolveOllamaModel } from './model-names.js'
import { pullModel } from './pull-model.js'
import { showModel } from './show-model.js'

/** Catalogs older than this are re-read when `/api/tags` is asked. */
const CATALOG_MAX_AGE_MS = 5000

export interface OllamaRouteDeps {
  registry: Registry
  hives: HiveManager
  router: InferenceRouter
  /** Says when idle workers are stopped (`/api/ps`'s `expires_at`). */
  reaper: IdleReaper
  /** The queen's in-process hive, if it runs one (where pulls go first). */
  localHiveId: () => string | null
  audit?: AuditLog | undefined
}

/**
 * Ollama's API on the queen, for the parts that generate no text: version, the fleet's models
 * (`tags`, `ps`, `show`), embeddings routed to workers like `/v1/embeddings`, and `pull` / `delete`
 * as hive jobs (admin). Errors are in Ollama's shape (`{"error": "…"}`, plus rbee's `code`).
 */
export function registerOllamaRoutes(app: FastifyInstance, deps: OllamaRouteDeps): void {
  const { registry } = deps
  const user = routeConfig('user', 'ollama')
  const admin = routeConfig('admin', 'ollama')

  // The ollama CLI checks that a server is up with `HEAD /` before most commands. `GET /` is
  // left for the dashboard; clients probe with `GET /api/version`.
  app.head('/', ROUTE_ACCESS.public, async (_req, reply) =>
    reply.code(200).header('content-type', 'text/plain; charset=utf-8').send(),
  )

  app.get(
    '/api/version',
    user,
    async (): Promise<OllamaVersion> => ({ version: OLLAMA_API_VERSION, rbee_version: VERSION }),
  )

  app.get('/api/tags', user, async (): Promise<OllamaTags> => {
    await deps.hives.refreshCatalogs(CATALOG_MAX_AGE_MS)
    return ollamaTags(fleetModels(registry))
  })

  app.get(
    '/api/ps',
    user,
    async (): Promise<OllamaPs> =>
      ollamaPs(registry, fleetModels(registry), (w) => deps.reaper.expiresAtMs(w)),
  )

  app.post('/api/show', user, async (req, reply): Promise<OllamaShowResponse> => {
    const parsed = OllamaShowRequestSchema.safeParse(req.body)
    if (!parsed.success) throw validationError(parsed.error)
    const name = parsed.data.model ?? parsed.data.name ?? ''
    const model = resolveOllamaModel(name, fleetModels(registry))
    return showModel(deps, model, clientGoneSignal(reply))
  })

  // Routed to a worker of the model like `/v1/embeddings`; the worker answers in Ollama's shape.
  // `keep_alive` is the queen's to honour (the worker's idle limit), so it is not sent on.
  const embeddings = [
    ['/api/embed', OllamaEmbedRequestSchema],
    ['/api/embeddings', OllamaEmbeddingsRequestSchema],
  ] as const
  for (const [path, schema] of embeddings) {
    app.post(path, user, async (req, reply) => {
      const parsed = schema.safeParse(req.body)
      if (!parsed.success) throw validationError(parsed.error)
      const { keep_alive, ...body } = parsed.data
      refuseOllamaOptions(body.options, OLLAMA_EMBED_OPTIONS, 'embeddings')
      const model = resolveOllamaModel(body.model, fleetModels(registry))
      await deps.router.openAi(
        req,
        reply,
        path,
        { model },
        {
          body: JSON.stringify({ ...body, model }),
          onDispatch: keepAliveOnDispatch(registry, keep_alive),
        },
      )
    })
  }

  app.post('/api/pull', admin, async (req, reply) => {
    const parsed = OllamaPullRequestSchema.safeParse(req.body)
    if (!parsed.success) throw validationError(parsed.error)
    await pullModel(req, reply, parsed.data, deps)
  })

  app.delete('/api/delete', admin, async (req, reply) => {
    const parsed = OllamaDeleteRequestSchema.safeParse(req.body)
    if (!parsed.success) throw validationError(parsed.error)
    await deleteModel(req, parsed.data.model ?? parsed.data.name ?? '', deps)
    return reply.code(200).send()
  })
}
