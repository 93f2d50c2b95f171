import { type AuditLog, RbeeError, ROUTE_ACCESS, requestAuditFields, validationError } from '@rbee/common'
import {
  type Activity,
  type FleetStatus,
  type Health,
  type HiveReady,
  HiveReadySchema,
  protocolMismatch,
  type QueenInfo,
  WorkerHeartbeatSchema,
  workerUrl,
} from '@rbee/contracts'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import type { QueenMetrics } from '../metrics.js'
import type { Registry } from '../registry/registry.js'
import { PROTOCOL, VERSION } from '../version.js'
import type { FleetStream } from './fleet-stream.js'

export interface QueenRouteDeps {
  queen: {
    readonly url: string
    readonly uptimeS: number
    readonly draining: boolean
    readonly localHiveId: string | null
    readonly authInfo: QueenInfo['auth']
  }
  registry: Registry
  fleet: FleetStream
  metrics: QueenMetrics
  /** Every hive and worker, for a stream opened with `?snapshot=1`. */
  fleetStatus: () => FleetStatus
  onHiveReady: (ready: HiveReady) => void
  /** A hive of another protocol announced itself (refused with 409; shown in status as such). */
  onHiveRefused: (ready: HiveReady, why: string) => void
  /** A heartbeat from a worker whose hive the queen may not know yet. */
  onWorkerHeartbeat: (hiveId: string, workerUrl: string) => void
  onShutdown: () => void
  audit?: AuditLog | undefined
  /** Body limit of the node endpoints (heartbeats are small). */
  nodeTokenBodyLimit: number
}

/** Health, info, the node endpoints, the fleet stream, metrics and shutdown. */
export function registerQueenRoutes(app: FastifyInstance, deps: QueenRouteDeps): void {
  const { registry, queen } = deps
  const node = { bodyLimit: deps.nodeTokenBodyLimit, ...ROUTE_ACCESS.node }
  app.get(
    '/health',
    ROUTE_ACCESS.public,
    async (): Promise<Health> => ({
      status: queen.draining ? 'draining' : 'ok',
      service: 'queen-rbee',
      version: VERSION,
      uptime_s: queen.uptimeS,
    }),
  )

  app.get('/v1/info', ROUTE_ACCESS.user, async (): Promise<QueenInfo> => {
    const c = registry.counts()
    return {
      service: 'queen-rbee',
      version: VERSION,
      protocol: PROTOCOL,
      uptime_s: queen.uptimeS,
      url: queen.url,
      hives_total: c.hivesTotal,
      hives_online: c.hivesOnline,
      workers_total: c.workersTotal,
      workers_ready: c.ready,
      auth: queen.authInfo,
      local_hive: queen.localHiveId,
    }
  })

  app.post('/v1/hive/ready', node, async (req, reply) => {
    const parsed = HiveReadySchema.safeParse(req.body)
    if (!parsed.success) throw validationError(parsed.error)
    const ready = parsed.data
    const mismatch = protocolMismatch(`hive ${ready.hive_id}`, ready, 'this queen')
    if (mismatch) {
      deps.onHiveRefused(ready, mismatch)
      throw versionRefusal(mismatch, ready)
    }
    deps.onHiveReady(ready)
    return reply.code(202).send({ accepted: true, hive_id: ready.hive_id })
  })

  app.post('/v1/worker-heartbeat', node, async (req, reply) => {
    const parsed = WorkerHeartbeatSchema.safeParse(req.body)
    if (!parsed.success) throw validationError(parsed.error)
    const hb = parsed.data
    const mismatch = protocolMismatch(`worker ${hb.worker.id}`, hb.worker, 'this queen')
    if (mismatch) throw versionRefusal(mismatch, hb.worker)
    const entry = registry.workerHeartbeat(hb)
    if (entry) deps.fleet.workerUpdate(() => entry.toRecord(), entry.id)
    if (hb.worker.hive_id) deps.onWorkerHeartbeat(hb.worker.hive_id, workerUrl(hb.worker))
    return reply.code(202).send({ accepted: true })
  })

  app.get('/v1/heartbeats/stream', ROUTE_ACCESS.user, async (req, reply) => {
    const query = FleetStreamQuerySchema.safeParse(req.query)
    if (!query.success) throw validationError(query.error, 'query')
    reply.hijack()
    deps.fleet.subscribe(reply.raw, query.data.snapshot === '1' ? deps.fleetStatus() : undefined)
  })

  app.get('/v1/activity', ROUTE_ACCESS.user, async (): Promise<Activity> => deps.metrics.activity.snapshot())

  app.get('/metrics', ROUTE_ACCESS.user, async (_req, reply) => {
    const text = await deps.metrics.text()
    return reply.header('content-type', deps.metrics.contentType).send(text)
  })

  app.post('/v1/shutdown', ROUTE_ACCESS.admin, async (req, reply) => {
    req.log.info({ key: req.caller.key }, 'shutdown requested over HTTP')
    deps.audit?.record('admin_action', { ...requestAuditFields(req), operation: 'shutdown' })
    setImmediate(deps.onShutdown)
    return reply.code(202).send({ status: 'stopping' })
  })
}

/** `?snapshot=1`: a `fleet` event with every hive and worker comes first. */
const FleetStreamQuerySchema = z.object({ snapshot: z.enum(['0', '1']).optional() }).strict()

/** 409 `RBEE_PROTOCOL_MISMATCH` for a peer of another protocol, with both releases in the details. */
function versionRefusal(message: string, peer: { version: string; protocol: number }): RbeeError {
  return new RbeeError('RBEE_PROTOCOL_MISMATCH', message, {
    details: {
      peer: { version: peer.version, protocol: peer.protocol },
      queen: { version: VERSION, protocol: PROTOCOL },
    },
  })
}
