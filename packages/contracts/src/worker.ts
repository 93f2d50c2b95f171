import { z } from 'zod'
import { IdSchema, PortSchema, TimestampSchema } from './common.js'
import { ProtocolSchema, VersionSchema } from './protocol.js'

/**
 * Lifecycle of a worker process (seed: `WorkerStatus`), plus `unresponsive`: its hive's health
 * probe went unanswered (the process is alive but does not answer, e.g. stopped or hung). Such a
 * worker is out of routing; its hive restarts it if it does not recover in time. Only a hive says
 * it; a worker never reports it about itself.
 */
export const WorkerStatusSchema = z.enum(['starting', 'ready', 'busy', 'unresponsive', 'stopping', 'stopped'])
export type WorkerStatus = z.infer<typeof WorkerStatusSchema>

/** Compute backend a worker runs on; `auto` is only a request, never a reported value. */
export const BackendSchema = z.enum(['cpu', 'cuda', 'vulkan', 'metal'])
export type Backend = z.infer<typeof BackendSchema>
export const BackendRequestSchema = z.enum(['cpu', 'cuda', 'vulkan', 'metal', 'auto'])
export type BackendRequest = z.infer<typeof BackendRequestSchema>

/**
 * A host name or address as used in URLs (no scheme, no port). No IPv6 zone ids (`fe80::1%eth0`):
 * WHATWG URLs, and so `fetch`, cannot carry them, so such a host could never be reached.
 */
export const HostSchema = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9.:_\-[\]]+$/, 'must be a host name or IP address')

/**
 * What a worker says about itself (seed: `WorkerInfo`), plus `host`, `hive_id` and slot counts so
 * its URL holds across machines.
 */
export const WorkerInfoSchema = z.object({
  id: IdSchema,
  model_id: z.string().min(1).max(512),
  /** Backend and device index, or indexes for a model split across GPUs (`cuda:0,1`). */
  device: z
    .string()
    .regex(
      /^(cpu|cuda|vulkan|metal):\d{1,2}(,\d{1,2}){0,15}$/,
      'must look like "cpu:0", "cuda:1" or "cuda:0,1"',
    ),
  port: PortSchema,
  status: WorkerStatusSchema,
  implementation: z.string().min(1),
  version: VersionSchema,
  /** The wire protocol the worker speaks (`RBEE_PROTOCOL` of its build). */
  protocol: ProtocolSchema,
  host: HostSchema,
  hive_id: IdSchema.nullable(),
  slots_total: z.int().min(1).max(1024),
  slots_busy: z.int().min(0).max(1024),
})
export type WorkerInfo = z.infer<typeof WorkerInfoSchema>

/** A speed in tokens per second, as a worker measured it (null before it has a figure). */
const RateSchema = z.number().min(0).max(1e9).nullable()

/**
 * How a worker is doing by its own measure, sent with each heartbeat: how late its event loop
 * runs (a worker whose loop lags cannot answer anything in time) and how fast it has been
 * working, which the queen's stall bounds are derived from.
 */
export const WorkerLivenessSchema = z.object({
  /** Longest event-loop delay since the previous heartbeat (ms). */
  event_loop_lag_ms: z.number().min(0).max(86_400_000),
  /** Prompt processing speed of recent requests (tokens/s, smoothed). */
  prompt_tokens_per_s: RateSchema,
  /** Generation speed of recent requests, first token excluded (tokens/s, smoothed). */
  tokens_per_s: RateSchema,
})
export type WorkerLiveness = z.infer<typeof WorkerLivenessSchema>

/** Worker → queen heartbeat (seed's Path 1), with the worker's liveness signal. */
export const WorkerHeartbeatSchema = z.object({
  worker: WorkerInfoSchema,
  timestamp: TimestampSchema,
  liveness: WorkerLivenessSchema.optional(),
})
export type WorkerHeartbeat = z.infer<typeof WorkerHeartbeatSchema>

/** `http://host:port` for a worker; IPv6 literals are bracketed. */
export function workerUrl(info: Pick<WorkerInfo, 'host' | 'port'>): string {
  return hostPortUrl(info.host, info.port)
}

/** `http://host:port`, bracketing IPv6 literals. */
export function hostPortUrl(host: string, port: number): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
  return `http://${h}:${port}`
}

/** The shortest gap between two `slots` lines a worker prints for its parent. */
export const WORKER_SLOTS_REPORT_MS = 100

/**
 * Lines a worker prints on stdout for its parent, one JSON object per line. Anything else on
 * stdout is ignored by the parent.
 */
export const WorkerStdoutMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('loading'), worker_id: IdSchema, progress: z.number().min(0).max(1) }),
  z.object({
    type: z.literal('ready'),
    worker_id: IdSchema,
    host: HostSchema,
    port: PortSchema.min(1),
    model: z.string(),
    model_id: z.string(),
    slots: z.int().min(1),
    pid: z.int().positive(),
    backend: BackendSchema,
  }),
  z.object({ type: z.literal('fatal'), worker_id: IdSchema, code: z.string(), message: z.string() }),
  // Slot use changed (sent at most every `WORKER_SLOTS_REPORT_MS`, the latest value).
  z.object({
    type: z.literal('slots'),
    worker_id: IdSchema,
    status: WorkerStatusSchema,
    slots_busy: z.int().min(0),
  }),
])
export type WorkerStdoutMessage = z.infer<typeof WorkerStdoutMessageSchema>

/** `GET /v1/ready` on a worker. */
export const WorkerReadySchema = z.object({
  ready: z.boolean(),
  status: WorkerStatusSchema,
  progress: z.number().min(0).max(1),
  model_id: z.string(),
  slots_total: z.int().min(1),
  slots_busy: z.int().min(0),
})
export type WorkerReady = z.infer<typeof WorkerReadySchema>
