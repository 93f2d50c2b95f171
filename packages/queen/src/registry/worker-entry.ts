import type { ProcessStats, WorkerInfo, WorkerLiveness, WorkerRecord } from '@rbee/contracts'
import { workerUrl } from '@rbee/contracts'

/** How a worker became known, and who still vouches for it. */
export type WorkerSource = 'heartbeat' | 'hive'

/**
 * The queen's mutable record of one worker: both telemetry paths merged (what the worker says
 * in its heartbeats, what its hive says on its stream) plus the queen's own routing state.
 * Owned by the `Registry`; other modules read it and never write it.
 */
export class WorkerEntry {
  readonly id: string
  info: WorkerInfo
  url: string
  stats: ProcessStats | null = null
  pid: number | null = null
  /** Last time anyone reported on this worker (ms since epoch). */
  lastSeenMs: number
  /** Last worker heartbeat, if it ever sent one. */
  lastHeartbeatMs: number | null = null
  /** True once its hive listed it (telemetry or a spawned/ready event). */
  vouched = false
  /** Requests the queen has routed here and not finished. */
  inflight = 0
  /** When a request routed here last finished (ms since epoch; 0: none yet). */
  lastReleaseMs = 0
  /** Time between finished requests, smoothed (ms; 0 until two have finished). */
  releaseGapMs = 0
  /** Order of last use (a counter, not a time): smaller = used longer ago. */
  useSeq = 0
  /** Time of last use or first sight, for the idle TTL. */
  lastUsedMs: number
  /** When the queen first heard of it (its spawn): eviction spares it for a while after. */
  readonly loadedAtMs: number
  /** Not routable before this time (a connection failure was just seen). */
  quarantinedUntilMs = 0
  /**
   * Idle time before the queen stops it, set by an Ollama request's `keep_alive` (`Infinity`:
   * never, 0: once idle); null: its model's idle TTL.
   */
  keepAliveMs: number | null = null
  /** The queen asked its hive to stop it (idle TTL). */
  stopping = false
  routable = false
  /** Its hive is suspect (quiet): routing prefers other workers. Kept by the registry. */
  onSuspectHive = false
  /** What its last heartbeat said about its liveness and speed, if it sent any. */
  liveness: WorkerLiveness | null = null

  constructor(info: WorkerInfo, nowMs: number) {
    this.id = info.id
    this.info = info
    this.url = workerUrl(info)
    this.lastSeenMs = nowMs
    this.lastUsedMs = nowMs
    this.loadedAtMs = nowMs
  }

  get model(): string {
    return this.info.model_id
  }

  get hiveId(): string | null {
    return this.info.hive_id
  }

  /** Slots the queen may still fill. The queen counts its own in-flight requests. */
  get freeSlots(): number {
    return this.info.slots_total - this.inflight
  }

  /** Free VRAM on the worker's GPU (0 for CPU workers), from its hive's process stats. */
  get vramHeadroomMb(): number {
    const s = this.stats
    return s && s.total_vram_mb > 0 ? Math.max(0, s.total_vram_mb - s.vram_mb) : 0
  }

  toRecord(): WorkerRecord {
    const s = this.stats
    return {
      ...this.info,
      url: this.url,
      pid: this.pid,
      cpu_pct: s?.cpu_pct ?? 0,
      rss_mb: s?.rss_mb ?? 0,
      vram_mb: s?.vram_mb ?? 0,
      gpu_util_pct: s?.gpu_util_pct ?? 0,
      last_seen: new Date(this.lastSeenMs).toISOString(),
      routable: this.routable,
      liveness: this.liveness,
    }
  }
}
