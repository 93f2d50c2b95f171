import {
  ANTHROPIC_MESSAGES,
  anthropicErrorBody,
  apiRoute,
  type Dialect,
  OPENAI_RESPONSES,
  parseAnthropicCountTokens,
} from '@rbee/common'
import type { FastifyInstance } from 'fastify'
import type { InferenceRouter } from '../proxy/inference-router.js'

function routeDialect<Req>(
  app: FastifyInstance,
  router: InferenceRouter,
  path: string,
  d: Dialect<Req>,
): void {
  app.post(path, apiRoute('user', d.errorBody), async (req, reply) => {
    const request = d.parse(req.body)
    await router.openAi(req, reply, path, d.model(request), d.streamed(request), d.protocol)
  })
}

/**
 * Other APIs than OpenAI's on the queen: Anthropic's Messages and OpenAI's Responses. Each
 * request is validated here (a 400 in the API's own shape), then routed by model like a chat
 * request (the scheduler, retry before the first token, the per-key limit, metrics by route);
 * the worker translates it and its answer, which the queen relays as it comes.
 */
export function registerDialectRoutes(app: FastifyInstance, router: InferenceRouter): void {
  routeDialect(app, router, '/v1/messages', ANTHROPIC_MESSAGES)
  routeDialect(app, router, '/v1/responses', OPENAI_RESPONSES)
  app.post('/v1/messages/count_tokens', apiRoute('user', anthropicErrorBody), async (req, reply) => {
    const request = parseAnthropicCountTokens(req.body)
    // Counted by a worker of the model: its own tokenizer and chat template.
    await router.openAi(
      req,
      reply,
      '/v1/messages/count_tokens',
      request.model,
      false,
      ANTHROPIC_MESSAGES.protocol,
    )
  })
}
