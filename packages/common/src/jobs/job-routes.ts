import { type JobList, type Operation, OperationSchema } from '@rbee/contracts'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { z } from 'zod'
import type { AuditLog } from '../audit-log.js'
import type { Access, Authenticator } from '../auth.js'
import { validationError } from '../errors.js'
import { refusalError, requestAuditFields } from '../http/access.js'
import { earliestDeadline, requestDeadline } from '../request-deadline.js'
import type { JobContext, JobRegistry, JobViewer } from './job-registry.js'

/** Runs one operation inside a job: resolve → `[DONE]`, throw → `[ERROR] msg`, abort → `[CANCELLED]`. */
export type OperationRunner = (op: Operation, ctx: JobContext) => Promise<void>

export interface JobRoutesOptions {
  /** @default '/v1/jobs' */
  basePath?: string
  /** Checked before the job starts, so a bad target is a 4xx rather than a failed job. */
  precheck?: (op: Operation) => void
  /** The server's credentials (the same the server checks routes with). */
  auth: Authenticator
  /** Who may call the jobs routes at all (`user` on the queen, `node` on a hive). */
  access: Access
  /** Who may start each operation, beyond the routes' access. @default the routes' access */
  operationAccess?: (op: Operation) => Access
  /** Records refused and admin operations. */
  audit?: AuditLog | undefined
  /** Also serve `GET {base}` (`?limit=1..100`): the caller's recent jobs, newest first. @default false */
  list?: boolean
}

const JobListQuerySchema = z
  .object({
    limit: z
      .string()
      .regex(/^\d{1,3}$/)
      .transform(Number)
      .pipe(z.int().min(1).max(100))
      .optional(),
  })
  .strict()

/** The audit fields that name what an operation touches (ids and refs, never file content). */
function operationTarget(op: Operation): Record<string, string | undefined> {
  return {
    operation: op.operation,
    hive_id: 'hive_id' in op ? op.hive_id : undefined,
    model: 'model' in op ? op.model : undefined,
    worker_id: 'worker_id' in op ? op.worker_id : undefined,
    import_path: op.operation === 'model_import' ? op.path : undefined,
  }
}

/**
 * The jobs API: `POST {base}` (an Operation; its `timeout`, `X-Request-Timeout` and
 * `X-Request-Deadline` set the job's deadline, the earliest winning) → `{ job_id, sse_url }`, `GET {base}/:id`,
 * `GET {base}/:id/stream` (SSE; `Last-Event-ID` header or `?last_event_id=` resumes) and
 * `DELETE {base}/:id` (cancel). Each operation is checked against `operationAccess`; a caller
 * without admin rights sees and cancels only the jobs its own key started.
 */
export function registerJobRoutes(
  app: FastifyInstance,
  registry: JobRegistry,
  runOperation: OperationRunner,
  options: JobRoutesOptions,
): void {
  const base = options.basePath ?? '/v1/jobs'
  const { auth, audit } = options
  const config = { access: options.access }
  const viewer = (req: FastifyRequest): JobViewer => ({
    key: req.caller.key,
    admin: auth.isAdmin(req.caller),
  })
  app.post(base, { config }, async (req, reply) => {
    const now = Date.now()
    const parsed = OperationSchema.safeParse(req.body)
    if (!parsed.success) throw validationError(parsed.error, 'operation')
    const op = parsed.data
    const timing = {
      operation: op.operation,
      deadlineAt: earliestDeadline(
        requestDeadline(req.headers, now),
        op.timeout === undefined ? undefined : now + op.timeout * 1000,
      ),
    }
    const access = options.operationAccess?.(op) ?? options.access
    const refusal = auth.refusal(access, req.caller)
    if (refusal !== undefined) {
      audit?.record(refusal === 'forbidden' ? 'forbidden' : 'auth_failed', {
        ...requestAuditFields(req),
        ...operationTarget(op),
        access,
      })
      throw refusalError(refusal, access, auth)
    }
    options.precheck?.(op)
    const owner = { key: req.caller.key, disclose: auth.isAdmin(req.caller) }
    if (access !== 'admin' || !audit) {
      return reply.code(201).send(registry.start((ctx) => runOperation(op, ctx), owner, timing))
    }
    const fields = { ...requestAuditFields(req), ...operationTarget(op) }
    const created = registry.start(
      async (ctx) => {
        try {
          await runOperation(op, ctx)
          audit.record('admin_result', { ...fields, job_id: ctx.id, outcome: 'done' })
        } catch (err) {
          const outcome = ctx.signal.aborted ? 'cancelled' : 'error'
          audit.record('admin_result', { ...fields, job_id: ctx.id, outcome })
          throw err
        }
      },
      owner,
      timing,
    )
    audit.record('admin_action', { ...fields, job_id: created.job_id })
    return reply.code(201).send(created)
  })
  if (options.list) {
    app.get(base, { config }, async (req): Promise<JobList> => {
      const query = JobListQuerySchema.safeParse(req.query)
      if (!query.success) throw validationError(query.error, 'query')
      return { jobs: registry.list(viewer(req), query.data.limit) }
    })
  }
  app.get<{ Params: { id: string } }>(`${base}/:id`, { config }, async (req) =>
    registry.get(req.params.id, viewer(req)),
  )
  app.get<{ Params: { id: string }; Querystring: { last_event_id?: string } }>(
    `${base}/:id/stream`,
    { config },
    async (req, reply) => {
      const header = req.headers['last-event-id']
      const raw = (Array.isArray(header) ? header[0] : header) ?? req.query.last_event_id ?? '0'
      const last = /^\d{1,15}$/.test(raw) ? Number(raw) : 0
      const who = viewer(req)
      registry.get(req.params.id, who)
      reply.hijack()
      registry.stream(req.params.id, reply.raw, last, who)
    },
  )
  app.delete<{ Params: { id: string } }>(`${base}/:id`, { config }, async (req, reply) =>
    reply.code(202).send(registry.cancel(req.params.id, viewer(req))),
  )
}
