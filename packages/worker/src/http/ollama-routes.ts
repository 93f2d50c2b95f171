import {
  OLLAMA_EMBED_OPTIONS,
  refusedField,
  refuseOllamaOptions,
  routeConfig,
  validationError,
} from '@rbee/common'
import {
  OLLAMA_API_VERSION,
  OllamaEmbeddingsRequestSchema,
  type OllamaEmbeddingsResponse,
  OllamaEmbedRequestSchema,
  type OllamaEmbedResponse,
  type OllamaOptions,
  type OllamaVersion,
} from '@rbee/contracts'
import type { FastifyInstance } from 'fastify'
import { normalized, withDimensions } from '../engine/vector-dimensions.js'
import { VERSION } from '../version.js'
import type { Worker } from '../worker.js'
import { RequestSignal } from './request-signal.js'

/** Why a worker refuses `keep_alive` (every Ollama route of a worker). */
export const KEEP_ALIVE_ON_WORKER =
  'not supported on a worker: it stays loaded until its hive stops it; send keep_alive to the queen, which maps it to the idle TTL'

/**
 * The context `options.num_ctx` asks for, refused by name when this worker cannot give it, and
 * every other option refused by name.
 */
function embedContext(worker: Worker, options: OllamaOptions | null | undefined): number | undefined {
  refuseOllamaOptions(options, OLLAMA_EMBED_OPTIONS, 'embeddings')
  const asked = options?.num_ctx
  const max = worker.engine().embeddingContextSize
  if (asked !== undefined && asked > max)
    throw refusedField('options.num_ctx', `this worker embeds with a context of at most ${max} tokens`)
  return asked
}

/**
 * Ollama's embedding API and version on a worker, so an Ollama client can use one directly (the
 * queen routes its own `/api/embed` here). Errors are in Ollama's shape.
 */
export function registerOllamaRoutes(app: FastifyInstance, worker: Worker): void {
  const node = routeConfig('node', 'ollama')

  app.get(
    '/api/version',
    node,
    async (): Promise<OllamaVersion> => ({ version: OLLAMA_API_VERSION, rbee_version: VERSION }),
  )

  app.post('/api/embed', node, async (req, reply): Promise<OllamaEmbedResponse> => {
    const started = process.hrtime.bigint()
    const parsed = OllamaEmbedRequestSchema.safeParse(req.body)
    if (!parsed.success) throw validationError(parsed.error)
    const body = parsed.data
    if (body.keep_alive != null) throw refusedField('keep_alive', KEEP_ALIVE_ON_WORKER)
    const contextSize = embedContext(worker, body.options)
    // Ollama drops an empty string input: nothing to embed.
    const inputs = typeof body.input === 'string' ? (body.input === '' ? [] : [body.input]) : body.input
    const engine = worker.engine()
    const { vectors, tokens } =
      inputs.length === 0
        ? { vectors: [], tokens: 0 }
        : await new RequestSignal(req, reply).run((signal) =>
            worker.track(signal, (s) =>
              engine.embed(inputs, s, { truncate: body.truncate ?? true, contextSize }),
            ),
          )
    const dims = body.dimensions ?? undefined
    return {
      model: worker.modelRef,
      // Ollama's `/api/embed` answers vectors at unit length.
      embeddings: dims === undefined ? vectors.map(normalized) : withDimensions(vectors, dims),
      total_duration: Number(process.hrtime.bigint() - started),
      load_duration: 0,
      prompt_eval_count: tokens,
    }
  })

  app.post('/api/embeddings', node, async (req, reply): Promise<OllamaEmbeddingsResponse> => {
    const parsed = OllamaEmbeddingsRequestSchema.safeParse(req.body)
    if (!parsed.success) throw validationError(parsed.error)
    const body = parsed.data
    if (body.keep_alive != null) throw refusedField('keep_alive', KEEP_ALIVE_ON_WORKER)
    const contextSize = embedContext(worker, body.options)
    if (body.prompt === '') return { embedding: [] }
    // Ollama's older endpoint neither truncates nor normalizes.
    const engine = worker.engine()
    const { vectors } = await new RequestSignal(req, reply).run((signal) =>
      worker.track(signal, (s) => engine.embed([body.prompt], s, { contextSize, field: 'prompt' })),
    )
    return { embedding: vectors[0]! }
  })
}
