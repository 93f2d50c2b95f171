import { DEFAULT_QUEEN_PORT, STREAM_KEEP_ALIVE_MS } from '@rbee/contracts'
import type { StallSettings } from './proxy/stall-watch.js'
import type { WorkerTransportKind } from './transport/worker-transport.js'

/**
 * A hive whose stream brought nothing for 10 s is offline even though its host still accepts
 * connections: long enough to rule out a hive process starved by its machine's load (measured:
 * quiet streams of up to 1.5 s while 5 workers loaded at once on 2 busy cores), short enough
 * that a hung hive's workers do not stay in routing for long.
 */
export const DEFAULT_HIVE_OFFLINE_MS = 10_000

/**
 * How long work for a known but offline hive waits for it: a hive starting, or reconnecting
 * after a short gap (a cut link is taken back within about a second of its return).
 */
export const DEFAULT_HIVE_WAIT_MS = 5000

/**
 * 60 s to the first token and 30 s between tokens, raised for long prompts and slow workers (see
 * `stallBounds`): a 7B model on a small CPU takes seconds per prompt chunk and a few tokens a
 * second, far inside these; a worker that sends nothing for that long is stopped or hung.
 */
export const DEFAULT_STALL_SETTINGS: Readonly<StallSettings> = Object.freeze({
  firstTokenMs: 60_000,
  tokenGapMs: 30_000,
})

/**
 * Every default of queen-rbee, once: the flag table (and so `--help`) and `new Queen()` read
 * them from here, and the parts of the queen fall back to these same values when used alone.
 */
export const QUEEN_DEFAULTS: Readonly<QueenDefaults> = Object.freeze({
  host: '127.0.0.1',
  port: DEFAULT_QUEEN_PORT,
  keyLimit: 32,
  jobGraceMs: 10_000,
  queueSize: 64,
  queueTimeoutMs: 60_000,
  spawnTimeoutMs: 300_000,
  hiveWaitMs: DEFAULT_HIVE_WAIT_MS,
  idleTtlMs: 600_000,
  builtinIdleTtlMs: 0,
  hiveIntervalMs: 1000,
  hiveOfflineMs: DEFAULT_HIVE_OFFLINE_MS,
  stall: DEFAULT_STALL_SETTINGS,
  keepAliveMs: STREAM_KEEP_ALIVE_MS,
  workerHeartbeatIntervalMs: 10_000,
  bodyLimit: 8 * 1024 * 1024,
  maxAttempts: 3,
  workerTransport: 'raw',
  // A queue whose last request would wait over 3 s gets another replica (if that also beats the
  // model's load time): about what a chat user waits before a first token feels broken.
  scaleOutWaitMs: 3000,
  // Per model, unless models.conf says: a burst on one model cannot take a whole fleet.
  maxReplicas: 8,
  // Two models alternating on a device that holds one would otherwise reload at every switch:
  // a worker keeps its place for 30 s after it loads (a 7B model loads in 5-20 s).
  evictHysteresisMs: 30_000,
  // Stopping a worker takes its grace (10 s) at most, and telemetry a second to show the memory.
  evictWaitMs: 30_000,
})

/** The queen's options that have a default (see `QueenOptions` for what each does). */
export interface QueenDefaults {
  host: string
  port: number
  keyLimit: number
  jobGraceMs: number
  queueSize: number
  queueTimeoutMs: number
  spawnTimeoutMs: number
  hiveWaitMs: number
  idleTtlMs: number
  builtinIdleTtlMs: number
  hiveIntervalMs: number
  hiveOfflineMs: number
  stall: StallSettings
  keepAliveMs: number
  workerHeartbeatIntervalMs: number
  bodyLimit: number
  maxAttempts: number
  workerTransport: WorkerTransportKind
  scaleOutWaitMs: number
  maxReplicas: number
  evictHysteresisMs: number
  evictWaitMs: number
}
