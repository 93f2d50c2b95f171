import { OLLAMA_CHAT, OLLAMA_GENERATE, type OllamaDialect, RbeeError, routeConfig } from '@rbee/common'
import { keepAliveMs, type OllamaKeepAlive } from '@rbee/contracts'
import type { FastifyInstance } from 'fastify'
import type { InferenceRouter } from '../proxy/inference-router.js'
import { progressRequested } from '../proxy/queue-progress.js'
import type { Registry } from '../registry/registry.js'
import { fleetModels } from './fleet-models.js'
import { keepAliveOnDispatch } from './keep-alive.js'
import { resolveOllamaModel } from './model-names.js'

export interface OllamaGenerateDeps {
  registry: Registry
  router: InferenceRouter
}

const NO_PROGRESS = 'not supported on Ollama routes: NDJSON has no comments to carry queue news'

function routeOllama<
  Req extends {
    model: string
    keep_alive?: OllamaKeepAlive | null | undefined
    stream?: boolean | null | undefined
  },
>(app: FastifyInstance, deps: OllamaGenerateDeps, path: string, d: OllamaDialect<Req>): void {
  app.post(path, routeConfig('user', 'ollama'), async (req, reply) => {
    if (progressRequested(req.headers)) {
      throw new RbeeError('RBEE_VALIDATION', `invalid X-Rbee-Progress header: ${NO_PROGRESS}`, {
        details: { issues: [{ path: 'X-Rbee-Progress', message: NO_PROGRESS }] },
      })
    }
    const { request, chat } = d.readLoad(req.body)
    const model = resolveOllamaModel(request.model, fleetModels(deps.registry))
    const { keep_alive, ...rest } = request
    if (chat === undefined && keep_alive != null && keepAliveMs(keep_alive) === 0) {
      // Ollama's unload call: each worker of the model stops once idle; none is started for it.
      for (const w of deps.registry.workersForModel(model)) deps.registry.setKeepAlive(w, 0)
      return d.loadAnswer({ ...request, model }, 'unload')
    }
    // A load call is routed like a generation: the scheduler finds or spawns a worker of the model,
    // which answers at once.
    await deps.router.openAi(
      req,
      reply,
      path,
      { model, stream: chat !== undefined && request.stream !== false },
      {
        body: JSON.stringify({ ...rest, model }),
        onDispatch: keepAliveOnDispatch(deps.registry, keep_alive),
        protocol: d.protocol,
      },
    )
  })
}

/**
 * Ollama's generating endpoints on the queen, `/api/chat` and `/api/generate`: validated here (a
 * 400 in Ollama's shape before any worker is asked), routed by model like a chat request (the
 * scheduler, retry before the first token, deadlines, the per-key limit, metrics by route
 * `api/chat` / `api/generate`), `keep_alive` honoured as the worker's idle limit. The worker
 * translates the request and its answer; the queen relays the NDJSON lines as they come.
 */
export function registerOllamaGenerateRoutes(app: FastifyInstance, deps: OllamaGenerateDeps): void {
  routeOllama(app, deps, '/api/chat', OLLAMA_CHAT)
  routeOllama(app, deps, '/api/generate', OLLAMA_GENERATE)
}
