import { randomUUID } from 'node:crypto'
import { RbeeError, ROUTE_ACCESS, validationError } from '@rbee/common'
import { type InferEvent, InferRequestSchema } from '@rbee/contracts'
import type { FastifyInstance } from 'fastify'
import { resolveSampling } from '../engine/sampling.js'
import type { Worker } from '../worker.js'
import { streamGeneration } from './generation-stream.js'
import { timingsOf } from './timings.js'

const send = (sse: { send: (e: { event: string; data: unknown }) => boolean }, ev: InferEvent): void => {
  sse.send({ event: ev.type, data: ev })
}

/** Health, readiness, info and the native `POST /v1/infer` SSE stream. */
export function registerNativeRoutes(app: FastifyInstance, worker: Worker): void {
  app.get('/health', ROUTE_ACCESS.public, async () => ({
    status: worker.draining ? 'draining' : 'ok',
    service: 'llm-worker-rbee',
    version: worker.version,
    uptime_s: worker.uptimeS,
  }))

  app.get('/v1/ready', ROUTE_ACCESS.node, async (_req, reply) => {
    const r = worker.ready()
    return reply.code(r.ready ? 200 : 503).send(r)
  })

  app.get('/v1/info', ROUTE_ACCESS.node, async () => ({ ...worker.info(), hive_url: worker.hiveUrl ?? null }))

  app.post('/v1/infer', ROUTE_ACCESS.node, async (req, reply) => {
    const parsed = InferRequestSchema.safeParse(req.body)
    if (!parsed.success) throw validationError(parsed.error)
    const body = parsed.data
    const sampling = resolveSampling(body, worker.engine().contextSize)
    let index = 0
    await streamGeneration(
      worker,
      req,
      reply,
      { input: { kind: 'completion', prompt: body.prompt }, sampling },
      {
        onStart: (sse, info) =>
          send(sse, {
            type: 'started',
            request_id: info.requestId,
            slot: info.slot,
            prompt_tokens: info.promptTokens,
          }),
        onText: (sse, t) => send(sse, { type: 'token', t, i: index++ }),
        onEnd: (sse, r) =>
          send(sse, {
            type: 'end',
            tokens_out: r.tokensOut,
            stop_reason: r.stopReason,
            timings: timingsOf(r),
          }),
        onError: (sse, e) => send(sse, { type: 'error', code: e.code, message: e.message }),
      },
      { requestId: body.request_id ?? randomUUID(), timeoutS: body.timeout },
    )
  })

  app.delete<{ Params: { id: string } }>('/v1/infer/:id', ROUTE_ACCESS.node, async (req, reply) => {
    if (!worker.cancel(req.params.id)) {
      throw new RbeeError('RBEE_NOT_FOUND', `no generation in flight with id ${req.params.id}`)
    }
    return reply.code(202).send({ cancelled: req.params.id })
  })
}
