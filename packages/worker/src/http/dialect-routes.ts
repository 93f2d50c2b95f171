import {
  ANTHROPIC_MESSAGES,
  type Dialect,
  OPENAI_RESPONSES,
  readAnthropicCountTokens,
  routeConfig,
} from '@rbee/common'
import type { AnthropicTokenCount } from '@rbee/contracts'
import type { FastifyInstance } from 'fastify'
import type { Worker } from '../worker.js'
import { chatDialect } from './dialect-frames.js'
import { chatInput } from './openai-chat.js'
import { serveChat } from './openai-routes.js'
import { RequestSignal } from './request-signal.js'

function serveDialect<Req>(app: FastifyInstance, worker: Worker, path: string, d: Dialect<Req>): void {
  app.post(path, routeConfig('node', d.errorShape), async (req, reply) => {
    const { request, chat } = d.read(req.body)
    return serveChat(worker, req, reply, chat, chatDialect(d, request))
  })
}

/**
 * Other APIs over the worker's chat generation: Anthropic's Messages (`/v1/messages`, and
 * `/v1/messages/count_tokens` from the worker's own tokenizer and chat template, tools included)
 * and OpenAI's Responses (`/v1/responses`), each answering errors in its own shape.
 */
export function registerDialectRoutes(app: FastifyInstance, worker: Worker): void {
  serveDialect(app, worker, '/v1/messages', ANTHROPIC_MESSAGES)
  serveDialect(app, worker, '/v1/responses', OPENAI_RESPONSES)
  app.post('/v1/messages/count_tokens', routeConfig('node', 'anthropic'), async (req, reply) => {
    const chat = readAnthropicCountTokens(req.body)
    const rs = new RequestSignal(req, reply)
    try {
      const out: AnthropicTokenCount = {
        input_tokens: await worker.track(rs.signal, (s) => worker.engine().countTokens(chatInput(chat), s)),
      }
      return out
    } finally {
      rs.clear()
    }
  })
}
