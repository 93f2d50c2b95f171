import {
  ANTHROPIC_MESSAGES,
  anthropicErrorBody,
  anthropicPrompt,
  apiRoute,
  type Dialect,
  OPENAI_RESPONSES,
  parseAnthropicCountTokens,
  validationError,
} from '@rbee/common'
import {
  type AnthropicTokenCount,
  type ChatCompletionRequest,
  ChatCompletionRequestSchema,
} from '@rbee/contracts'
import type { FastifyInstance } from 'fastify'
import type { Worker } from '../worker.js'
import { refuseUntilSupported } from './chat-unsupported.js'
import { chatDialect } from './dialect-frames.js'
import { disconnectSignal } from './generation-stream.js'
import { chatInput, serveChat } from './openai-routes.js'

/**
 * The chat request a dialect's request became, checked like a chat request that came from
 * outside (the translation keeps within the chat API's bounds, and this proves it).
 */
function internalChat(chat: ChatCompletionRequest): ChatCompletionRequest {
  const parsed = ChatCompletionRequestSchema.safeParse(chat)
  if (!parsed.success) throw validationError(parsed.error, 'request (as a chat request)')
  return parsed.data
}

function serveDialect<Req>(app: FastifyInstance, worker: Worker, path: string, d: Dialect<Req>): void {
  app.post(path, apiRoute('node', d.errorBody), async (req, reply) => {
    const request = d.parse(req.body)
    return serveChat(worker, req, reply, internalChat(d.toChat(request)), chatDialect(d, request))
  })
}

/**
 * Other APIs over the worker's chat generation: Anthropic's Messages (`/v1/messages`, and
 * `/v1/messages/count_tokens` from the worker's own tokenizer and chat template) and OpenAI's
 * Responses (`/v1/responses`), each answering errors in its own shape.
 */
export function registerDialectRoutes(app: FastifyInstance, worker: Worker): void {
  serveDialect(app, worker, '/v1/messages', ANTHROPIC_MESSAGES)
  serveDialect(app, worker, '/v1/responses', OPENAI_RESPONSES)
  app.post('/v1/messages/count_tokens', apiRoute('node', anthropicErrorBody), async (req, reply) => {
    const chat = internalChat(anthropicPrompt(parseAnthropicCountTokens(req.body)))
    refuseUntilSupported(chat)
    const out: AnthropicTokenCount = {
      input_tokens: await worker.engine().countTokens(chatInput(chat), disconnectSignal(reply)),
    }
    return out
  })
}
