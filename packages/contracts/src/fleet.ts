import { z } from 'zod'
import { IdSchema, TimestampSchema } from './common.js'
import { DeviceSchema, HiveStreamEventSchema } from './hive.js'
import { ProtocolSchema, VersionSchema } from './protocol.js'
import { WorkerInfoSchema, WorkerLivenessSchema } from './worker.js'

/** One hive as the queen sees it. */
export const HiveRecordSchema = z.object({
  id: IdSchema,
  url: z.string(),
  online: z.boolean(),
  /**
   * Online but quiet: nothing on its stream for a moment while its host still answers (a busy or
   * stopped hive). New requests prefer other hives; it goes offline only after a longer silence.
   */
  suspect: z.boolean().default(false),
  source: z.enum(['config', 'registration', 'local']),
  last_seen: TimestampSchema.nullable(),
  devices: z.array(DeviceSchema),
  workers: z.int().min(0),
  error: z.string().nullable(),
  /** The release and protocol the hive last reported (registration or telemetry); null before. */
  version: VersionSchema.nullable(),
  protocol: ProtocolSchema.nullable(),
  /** False for a hive of another protocol: refused, never used; `error` says why. */
  compatible: z.boolean(),
})
export type HiveRecord = z.infer<typeof HiveRecordSchema>

/** One worker as the queen sees it: both telemetry paths merged. */
export const WorkerRecordSchema = WorkerInfoSchema.extend({
  url: z.string(),
  pid: z.int().positive().nullable(),
  cpu_pct: z.number().min(0),
  rss_mb: z.number().min(0),
  vram_mb: z.number().min(0),
  gpu_util_pct: z.number().min(0),
  last_seen: TimestampSchema,
  routable: z.boolean(),
  /** What the worker's last heartbeat said about its event loop and speed (null: none yet). */
  liveness: WorkerLivenessSchema.nullable().default(null),
})
export type WorkerRecord = z.infer<typeof WorkerRecordSchema>

/** The `status` operation's payload and `rbee status --json`. */
export const FleetStatusSchema = z.object({
  queen: z.object({
    version: VersionSchema,
    protocol: ProtocolSchema,
    uptime_s: z.number().min(0),
    url: z.string(),
  }),
  hives: z.array(HiveRecordSchema),
  workers: z.array(WorkerRecordSchema),
})
export type FleetStatus = z.infer<typeof FleetStatusSchema>

/**
 * Events on the queen's aggregated `GET /v1/heartbeats/stream`: the queen's own events plus every
 * hive event relayed as is. Discriminated on `type` (hive events included) so a bad event is
 * reported by field, not as a bare "Invalid input".
 */
export const QueenStreamEventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('queen'),
    timestamp: TimestampSchema,
    hives_online: z.int().min(0),
    hives_total: z.int().min(0),
    workers_total: z.int().min(0),
    workers_ready: z.int().min(0),
    workers_busy: z.int().min(0),
  }),
  z.object({
    // hive_suspect: quiet, still online; hive_steady: heard again after being suspect.
    type: z.enum(['hive_online', 'hive_offline', 'hive_suspect', 'hive_steady']),
    timestamp: TimestampSchema,
    hive_id: IdSchema,
    reason: z.string(),
  }),
  // Everything at once, first on a stream opened with `?snapshot=1` (what a dashboard draws from).
  z.object({ type: z.literal('fleet'), timestamp: TimestampSchema, status: FleetStatusSchema }),
  // A worker's heartbeat reached the queen: its merged record, liveness (tokens/s) included.
  z.object({ type: z.literal('worker_update'), timestamp: TimestampSchema, worker: WorkerRecordSchema }),
  HiveStreamEventSchema,
])
export type QueenStreamEvent = z.infer<typeof QueenStreamEventSchema>

/** `GET /v1/info` on the queen. */
export const QueenInfoSchema = z.object({
  service: z.literal('queen-rbee'),
  version: VersionSchema,
  protocol: ProtocolSchema,
  uptime_s: z.number().min(0),
  url: z.string(),
  hives_total: z.int().min(0),
  hives_online: z.int().min(0),
  workers_total: z.int().min(0),
  workers_ready: z.int().min(0),
  /** Whether the public API wants an API key, and whether hives/workers must present a node token. */
  auth: z.object({ api_keys: z.boolean(), node_token: z.boolean() }),
  /** Id of the hive the queen runs in-process when none is configured, else null. */
  local_hive: IdSchema.nullable(),
})
export type QueenInfo = z.infer<typeof QueenInfoSchema>
