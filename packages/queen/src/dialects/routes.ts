import {
  ANTHROPIC_MESSAGES,
  type Dialect,
  OPENAI_RESPONSES,
  readAnthropicCountTokens,
  routeConfig,
} from '@rbee/common'
import type { FastifyInstance } from 'fastify'
import type { InferenceRouter } from '../proxy/inference-router.js'

function routeDialect<Req>(
  app: FastifyInstance,
  router: InferenceRouter,
  path: string,
  d: Dialect<Req>,
): void {
  app.post(path, routeConfig('user', d.errorShape), async (req, reply) => {
    const { chat } = d.read(req.body)
    await router.openAi(req, reply, path, chat, { protocol: d.protocol })
  })
}

/**
 * Other APIs than OpenAI's on the queen: Anthropic's Messages and OpenAI's Responses. Each
 * request is validated here, the chat request it becomes included (a 400 in the API's own shape,
 * before any worker is asked), then routed by model like a chat request (the scheduler, retry
 * before the first token, deadlines, the per-key limit, metrics by route); the worker translates
 * it and its answer, which the queen relays as it comes.
 */
export function registerDialectRoutes(app: FastifyInstance, router: InferenceRouter): void {
  routeDialect(app, router, '/v1/messages', ANTHROPIC_MESSAGES)
  routeDialect(app, router, '/v1/responses', OPENAI_RESPONSES)
  app.post('/v1/messages/count_tokens', routeConfig('user', 'anthropic'), async (req, reply) => {
    const chat = readAnthropicCountTokens(req.body)
    // Counted by a worker of the model: its own tokenizer and chat template.
    await router.openAi(req, reply, '/v1/messages/count_tokens', chat, {
      protocol: ANTHROPIC_MESSAGES.protocol,
    })
  })
}
