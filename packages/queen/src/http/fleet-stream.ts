import type { ServerResponse } from 'node:http'
import { SseWriter } from '@rbee/common'
import {
  type FleetStatus,
  type QueenStreamEvent,
  STREAM_KEEP_ALIVE_MS,
  type WorkerRecord,
} from '@rbee/contracts'
import type { Registry } from '../registry/registry.js'

/** A worker's `worker_update` goes out at most this often. */
export const WORKER_UPDATE_EVERY_MS = 1000
/** Workers whose last update time is kept (forgotten all at once beyond: a bound, not a cache). */
const WORKER_UPDATE_TRACKED = 20_000

export interface FleetStreamOptions {
  registry: Registry
  /** Summary event interval. @default 1000 */
  intervalMs?: number
  /** Keep-alive comment interval. @default STREAM_KEEP_ALIVE_MS */
  keepAliveMs?: number
}

/**
 * The queen's aggregated `GET /v1/heartbeats/stream` for UIs: a `queen` summary at once and
 * then every interval, `hive_online` / `hive_offline`, `worker_update` for each worker heartbeat,
 * and every hive event relayed as is; a subscriber that asks for it gets a `fleet` snapshot
 * first. The SSE event name is the event's `type`. Slow readers are dropped by `SseWriter`.
 */
export class FleetStream {
  readonly #o: FleetStreamOptions
  readonly #subs = new Set<SseWriter>()
  /** When each worker's last `worker_update` went out (`performance.now()`). */
  readonly #lastUpdate = new Map<string, number>()
  readonly #unsubscribe: () => void
  #timer: NodeJS.Timeout | undefined

  constructor(options: FleetStreamOptions) {
    this.#o = options
    this.#unsubscribe = options.registry.on((ev) => {
      if (ev.type === 'hive_online' || ev.type === 'hive_offline' || ev.type === 'hive_suspect') {
        this.publish({
          type: ev.type === 'hive_suspect' ? (ev.suspect ? 'hive_suspect' : 'hive_steady') : ev.type,
          timestamp: new Date().toISOString(),
          hive_id: ev.hiveId,
          reason: ev.reason,
        })
      }
    })
  }

  get subscribers(): number {
    return this.#subs.size
  }

  summary(): QueenStreamEvent {
    const c = this.#o.registry.counts()
    return {
      type: 'queen',
      timestamp: new Date().toISOString(),
      hives_online: c.hivesOnline,
      hives_total: c.hivesTotal,
      workers_total: c.workersTotal,
      workers_ready: c.ready,
      workers_busy: c.busy,
    }
  }

  /** Streams to `res`; with `snapshot`, a `fleet` event of it comes first (before any change). */
  subscribe(res: ServerResponse, snapshot?: FleetStatus): void {
    const sse = new SseWriter(res, { keepAliveMs: this.#o.keepAliveMs ?? STREAM_KEEP_ALIVE_MS })
    this.#subs.add(sse)
    sse.onClose(() => {
      this.#subs.delete(sse)
      if (this.#subs.size === 0 && this.#timer) {
        clearInterval(this.#timer)
        this.#timer = undefined
      }
    })
    if (snapshot) {
      sse.send({
        event: 'fleet',
        data: { type: 'fleet', timestamp: new Date().toISOString(), status: snapshot },
      })
    }
    sse.send({ event: 'queen', data: this.summary() })
    if (!this.#timer) {
      this.#timer = setInterval(() => this.publish(this.summary()), this.#o.intervalMs ?? 1000)
      this.#timer.unref()
    }
  }

  /**
   * A worker's record after its heartbeat, as `worker_update`: only when someone follows the
   * stream, and at most once per `WORKER_UPDATE_EVERY_MS` per worker (a worker beats on every
   * ready/busy change; status changes reach readers as the hive's own events, what this adds is
   * its measured speed, which a second's delay does not hurt).
   */
  workerUpdate(worker: () => WorkerRecord, workerId: string): void {
    if (this.#subs.size === 0) return
    const now = performance.now()
    const last = this.#lastUpdate.get(workerId)
    if (last !== undefined && now - last < WORKER_UPDATE_EVERY_MS) return
    if (this.#lastUpdate.size >= WORKER_UPDATE_TRACKED) this.#lastUpdate.clear()
    this.#lastUpdate.set(workerId, now)
    this.publish({ type: 'worker_update', timestamp: new Date().toISOString(), worker: worker() })
  }

  publish(ev: QueenStreamEvent): void {
    if (this.#subs.size === 0) return
    const frame = { event: ev.type, data: ev }
    for (const s of this.#subs) s.send(frame)
  }

  close(): void {
    this.#unsubscribe()
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = undefined
    for (const s of [...this.#subs]) s.close()
    this.#subs.clear()
  }
}
