import { type Operation, OperationSchema } from '@rbee/contracts'
import type { FastifyInstance } from 'fastify'
import { validationError } from '../errors.js'
import type { JobContext, JobRegistry } from './job-registry.js'

/** Runs one operation inside a job: resolve → `[DONE]`, throw → `[ERROR] msg`, abort → `[CANCELLED]`. */
export type OperationRunner = (op: Operation, ctx: JobContext) => Promise<void>

export interface JobRoutesOptions {
  /** @default '/v1/jobs' */
  basePath?: string
  /** Checked before the job starts, so a bad target is a 4xx rather than a failed job. */
  precheck?: (op: Operation) => void
}

/**
 * The jobs API: `POST {base}` (an Operation) → `{ job_id, sse_url }`, `GET {base}/:id`,
 * `GET {base}/:id/stream` (SSE; `Last-Event-ID` header or `?last_event_id=` resumes) and
 * `DELETE {base}/:id` (cancel).
 */
export function registerJobRoutes(
  app: FastifyInstance,
  registry: JobRegistry,
  runOperation: OperationRunner,
  options: JobRoutesOptions = {},
): void {
  const base = options.basePath ?? '/v1/jobs'
  app.post(base, async (req, reply) => {
    const parsed = OperationSchema.safeParse(req.body)
    if (!parsed.success) throw validationError(parsed.error, 'operation')
    const op = parsed.data
    options.precheck?.(op)
    const created = registry.start((ctx) => runOperation(op, ctx))
    return reply.code(201).send(created)
  })
  app.get<{ Params: { id: string } }>(`${base}/:id`, async (req) => registry.get(req.params.id))
  app.get<{ Params: { id: string }; Querystring: { last_event_id?: string } }>(
    `${base}/:id/stream`,
    async (req, reply) => {
      const header = req.headers['last-event-id']
      const raw = (Array.isArray(header) ? header[0] : header) ?? req.query.last_event_id ?? '0'
      const last = /^\d{1,15}$/.test(raw) ? Number(raw) : 0
      registry.get(req.params.id)
      reply.hijack()
      registry.stream(req.params.id, reply.raw, last)
    },
  )
  app.delete<{ Params: { id: string } }>(`${base}/:id`, async (req, reply) =>
    reply.code(202).send(registry.cancel(req.params.id)),
  )
}
