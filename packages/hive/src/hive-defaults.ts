import { DEFAULT_HIVE_PORT, DEFAULT_WORKER_CTX_SIZE, DEFAULT_WORKER_SLOTS } from '@rbee/contracts'

/**
 * Every default of rbee-hive that is a plain value, once: the flag table (and `--help`) and
 * `new Hive()` read them from here (the restart policy, worker probe and disk margin have their
 * own constants beside their code).
 */
export const HIVE_DEFAULTS: Readonly<HiveDefaults> = Object.freeze({
  host: '127.0.0.1',
  port: DEFAULT_HIVE_PORT,
  telemetryIntervalMs: 1000,
  hfEndpoint: 'https://huggingface.co',
  hfTimeoutMs: 30_000,
  downloadStallTimeoutMs: 30_000,
  backendProbeTimeoutMs: 60_000,
  workerStopGraceMs: 10_000,
  workerReadyTimeoutMs: 120_000,
  workerSlots: DEFAULT_WORKER_SLOTS,
  workerCtxSize: DEFAULT_WORKER_CTX_SIZE,
  logMaxBytes: 10 * 1024 * 1024,
  logKeep: 3,
  reannounceCheckMs: 5000,
  peerMaxTransfers: 4,
  peerMaxAttempts: 2,
})

/** The hive's options that have a plain default (see `HiveOptions` for what each does). */
export interface HiveDefaults {
  host: string
  port: number
  telemetryIntervalMs: number
  hfEndpoint: string
  hfTimeoutMs: number
  downloadStallTimeoutMs: number
  backendProbeTimeoutMs: number
  workerStopGraceMs: number
  workerReadyTimeoutMs: number
  workerSlots: number
  workerCtxSize: number
  logMaxBytes: number
  logKeep: number
  reannounceCheckMs: number
  peerMaxTransfers: number
  peerMaxAttempts: number
}
