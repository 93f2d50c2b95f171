import { OLLAMA_CHAT, OLLAMA_GENERATE, type OllamaDialect, refusedField, routeConfig } from '@rbee/common'
import type { OllamaOptions } from '@rbee/contracts'
import type { FastifyInstance } from 'fastify'
import type { Worker } from '../worker.js'
import { chatDialect } from './dialect-frames.js'
import { KEEP_ALIVE_ON_WORKER } from './ollama-routes.js'
import { serveChat } from './openai-routes.js'

/**
 * `options.num_ctx` is the context a generation must have at least: a worker with less refuses it
 * by name (its context is fixed when the hive spawns it).
 */
function checkContext(worker: Worker, options: OllamaOptions | null | undefined): void {
  const asked = options?.num_ctx
  const has = worker.engine().contextSize
  if (asked !== undefined && asked > has)
    throw refusedField('options.num_ctx', `this worker's context is ${has} tokens (its hive sets it)`)
}

function serveOllama<Req extends { model: string; keep_alive?: unknown; options?: OllamaOptions | null }>(
  app: FastifyInstance,
  worker: Worker,
  path: string,
  d: OllamaDialect<Req>,
): void {
  app.post(path, routeConfig('node', 'ollama'), async (req, reply) => {
    const { request, chat } = d.readLoad(req.body)
    if (request.keep_alive != null) throw refusedField('keep_alive', KEEP_ALIVE_ON_WORKER)
    checkContext(worker, request.options)
    // Ollama's load call: this worker has its model loaded.
    if (chat === undefined) return d.loadAnswer(request, 'load')
    return serveChat(worker, req, reply, chat, chatDialect(d, request))
  })
}

/**
 * Ollama's generating endpoints on a worker, `/api/chat` and `/api/generate`, over its chat
 * generation (tools and `format` included), streamed as NDJSON or answered whole; the queen routes
 * its own here. Errors are in Ollama's shape.
 */
export function registerOllamaGenerateRoutes(app: FastifyInstance, worker: Worker): void {
  serveOllama(app, worker, '/api/chat', OLLAMA_CHAT)
  serveOllama(app, worker, '/api/generate', OLLAMA_GENERATE)
}
