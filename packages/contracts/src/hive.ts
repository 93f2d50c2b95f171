import { z } from 'zod'
import { IdSchema, PortSchema, TimestampSchema } from './common.js'
import { ProtocolSchema, VersionSchema } from './protocol.js'
import { BackendSchema, HostSchema, WorkerInfoSchema, WorkerStatusSchema } from './worker.js'

/** Whether a llama.cpp build (backend) works on a device, as the hive found by loading it. */
export const BackendSupportSchema = z.object({
  backend: BackendSchema,
  usable: z.boolean(),
  /** Why it cannot be used, in words a user can act on ("the Vulkan loader is missing: install libvulkan1"). */
  reason: z.string().max(1000).optional(),
})
export type BackendSupport = z.infer<typeof BackendSupportSchema>

/** A compute device of a hive. */
export const DeviceSchema = z.object({
  id: z.string().regex(/^(cpu|gpu):\d+$/),
  name: z.string(),
  type: z.enum(['cpu', 'gpu']),
  memory_total_mb: z.int().min(0),
  memory_free_mb: z.int().min(0),
  /** The backend `auto` runs here: the best usable one, else the one the device would need. */
  backend: BackendSchema,
  /**
   * Every backend the hive tried on this device and whether it loads. Empty from hives that do
   * not probe (their `backend` is taken on trust).
   */
  backends: z.array(BackendSupportSchema).max(8).default([]),
})
export type Device = z.infer<typeof DeviceSchema>

/**
 * The backend a worker would use on `device`, or undefined when none loads there (the device
 * reported `backends` and its `backend` is not among the usable ones).
 */
export function usableBackend(device: Pick<Device, 'backend' | 'backends'>): Device['backend'] | undefined {
  if (device.backends.length === 0) return device.backend
  return device.backends.some((b) => b.backend === device.backend && b.usable) ? device.backend : undefined
}

export const HiveInfoSchema = z.object({
  id: IdSchema,
  hostname: z.string(),
  port: PortSchema,
  operational_status: z.enum(['starting', 'running', 'stopping']),
  health_status: z.enum(['healthy', 'degraded', 'unhealthy']),
  version: VersionSchema,
  /** The wire protocol the hive speaks (`RBEE_PROTOCOL` of its build). */
  protocol: ProtocolSchema,
  devices: z.array(DeviceSchema),
})
export type HiveInfo = z.infer<typeof HiveInfoSchema>

/** `GET /v1/capabilities` on a hive. */
export const CapabilitiesSchema = z.object({ hive_id: IdSchema, devices: z.array(DeviceSchema) })
export type Capabilities = z.infer<typeof CapabilitiesSchema>

/** Per-worker process figures (seed: `ProcessStats`). `instance` is the worker's port. */
export const ProcessStatsSchema = z.object({
  pid: z.int().positive(),
  group: z.string(),
  instance: z.string().regex(/^\d{1,5}$/),
  cpu_pct: z.number().min(0),
  rss_mb: z.number().min(0),
  io_r_mb_s: z.number().min(0),
  io_w_mb_s: z.number().min(0),
  uptime_s: z.number().min(0),
  gpu_util_pct: z.number().min(0),
  vram_mb: z.number().min(0),
  total_vram_mb: z.number().min(0),
  model: z.string().nullable(),
  worker_id: IdSchema,
  status: WorkerStatusSchema,
})
export type ProcessStats = z.infer<typeof ProcessStatsSchema>

/**
 * `POST {queen}/v1/hive/ready`: a hive announcing where it can be reached, and which release and
 * protocol it runs (a queen refuses another protocol with 409 `RBEE_PROTOCOL_MISMATCH`).
 */
export const HiveReadySchema = z.object({
  hive_id: IdSchema,
  hive_url: z.url({ protocol: /^https?$/ }),
  version: VersionSchema,
  protocol: ProtocolSchema,
})
export type HiveReady = z.infer<typeof HiveReadySchema>

/** The result of spawning a worker. */
export const WorkerSpawnResultSchema = z.object({
  worker_id: IdSchema,
  port: PortSchema.min(1),
  pid: z.int().positive(),
  host: HostSchema,
  url: z.string(),
})
export type WorkerSpawnResult = z.infer<typeof WorkerSpawnResultSchema>

/**
 * A hive's heartbeat stream carries an SSE comment at least this often (a quarter of its
 * telemetry interval when that is shorter), so a reader can tell a silent link from a quiet hive
 * within a second: see `hiveStreamIdleMs`.
 */
export const HIVE_STREAM_PING_MS = 250

/** How often a hive with this telemetry interval pings its heartbeat stream. */
export function hiveStreamPingMs(telemetryIntervalMs: number): number {
  return Math.max(10, Math.min(HIVE_STREAM_PING_MS, Math.floor(telemetryIntervalMs / 4)))
}

/**
 * How long a reader of a hive's heartbeat stream waits without a byte before it suspects the
 * hive or its link: 4 pings, and never more than 3 telemetry intervals. (A suspect hive is not
 * offline yet: the queen then checks whether its host still answers, see the queen's
 * `HiveLiveness`.)
 */
export function hiveStreamIdleMs(telemetryIntervalMs: number): number {
  return Math.min(3 * telemetryIntervalMs, 4 * HIVE_STREAM_PING_MS)
}

/** Events on a hive's `GET /v1/heartbeats/stream`; the SSE `event:` name is the `type`. */
export const HiveStreamEventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('telemetry'),
    hive_id: IdSchema,
    hive_info: HiveInfoSchema,
    timestamp: TimestampSchema,
    workers: z.array(ProcessStatsSchema),
    worker_infos: z.array(WorkerInfoSchema),
  }),
  z.object({
    type: z.enum(['worker_spawned', 'worker_ready']),
    hive_id: IdSchema,
    timestamp: TimestampSchema,
    worker: WorkerInfoSchema,
    pid: z.int().positive(),
  }),
  z.object({
    type: z.literal('worker_exited'),
    hive_id: IdSchema,
    timestamp: TimestampSchema,
    worker_id: IdSchema,
    pid: z.int().positive().nullable(),
    port: PortSchema,
    exit_code: z.int().nullable(),
    signal: z.string().nullable(),
    expected: z.boolean(),
    restarting: z.boolean(),
    reason: z.string(),
  }),
  // A worker's status changed outside its own lifecycle: it stopped answering its hive's health
  // probe (`unresponsive`, out of routing at once) or answers again.
  z.object({
    type: z.literal('worker_status'),
    hive_id: IdSchema,
    timestamp: TimestampSchema,
    worker: WorkerInfoSchema,
    reason: z.string().max(2000),
  }),
])
export type HiveStreamEvent = z.infer<typeof HiveStreamEventSchema>

/** When a hive restarts a worker that exited unexpectedly. */
export const RestartPolicyNameSchema = z.enum(['never', 'on-failure', 'always'])
export type RestartPolicyName = z.infer<typeof RestartPolicyNameSchema>

/** How a worker process last ended. */
export const WorkerExitSchema = z.object({
  exit_code: z.int().nullable(),
  signal: z.string().nullable(),
  at: TimestampSchema,
  reason: z.string(),
})
export type WorkerExit = z.infer<typeof WorkerExitSchema>

/**
 * A worker as its hive reports it (`worker_list`, `worker_get`, `worker_stop` data): what the
 * worker says about itself plus the hive's supervision state. `given_up` keeps why a crashing
 * worker was no longer restarted.
 */
export const HiveWorkerSchema = z.object({
  worker: WorkerInfoSchema,
  pid: z.int().positive().nullable(),
  url: z.string().nullable(),
  started_at: TimestampSchema,
  restarts: z.int().min(0),
  restart_policy: RestartPolicyNameSchema,
  given_up: z.string().nullable(),
  last_exit: WorkerExitSchema.nullable(),
  log_path: z.string(),
})
export type HiveWorker = z.infer<typeof HiveWorkerSchema>
