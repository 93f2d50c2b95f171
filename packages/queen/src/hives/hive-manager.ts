import type { HiveClient } from '@rbee/client'
import { errorMessage, type Logger } from '@rbee/common'
import { type HiveStreamEvent, hiveStreamIdleMs } from '@rbee/contracts'
import type { HiveSource, Registry } from '../registry/registry.js'
import type { HiveDirectory } from '../scheduler/spawner.js'
import { HiveConnection } from './hive-connection.js'
import type { HiveLivenessBounds } from './hive-liveness.js'

export interface HiveManagerOptions {
  registry: Registry
  logger: Logger
  /** Node token presented to hives. */
  token?: string | undefined
  /** Hive telemetry interval (its stream's pings follow from it). */
  hiveIntervalMs: number
  /**
   * A hive whose stream is silent this long is offline even though its host still answers (a
   * quiet one whose host does not answer is offline as soon as it is suspect).
   */
  hiveOfflineMs: number
  onEvent?: (ev: HiveStreamEvent) => void
  /** How long a catalog fetch may take. @default 10_000 */
  catalogTimeoutMs?: number
}

/**
 * How quiet a hive stream may be, at this telemetry interval: asked after half the stream's idle
 * time (2 pings), suspect after all of it (4 pings, 1 s at the default), the host given half of
 * it to accept a connection.
 */
export function hiveLivenessBounds(hiveIntervalMs: number): HiveLivenessBounds {
  const suspectAfterMs = hiveStreamIdleMs(hiveIntervalMs)
  return {
    probeAfterMs: Math.floor(suspectAfterMs / 2),
    suspectAfterMs,
    probeTimeoutMs: Math.floor(suspectAfterMs / 2),
  }
}

/**
 * Owns one `HiveConnection` per known hive (from config, registration, discovery or the local
 * hive) and each hive's catalog, refreshed when the hive comes online and on demand.
 */
export class HiveManager implements HiveDirectory {
  readonly #o: HiveManagerOptions
  readonly #conns = new Map<string, HiveConnection>()
  readonly #catalogLoads = new Map<string, Promise<void>>()
  readonly #unsubscribe: () => void
  #closed = false

  constructor(options: HiveManagerOptions) {
    this.#o = options
    this.#unsubscribe = options.registry.on((ev) => {
      if (ev.type === 'hive_online') void this.refreshCatalog(ev.hiveId)
    })
  }

  /** Adds a hive (or moves it to a new URL) and connects to its stream. */
  add(id: string, url: string, source: HiveSource): void {
    if (this.#closed) return
    const normalized = new URL(url).origin
    this.#o.registry.upsertHive(id, normalized, source)
    const existing = this.#conns.get(id)
    if (existing?.url === normalized) {
      // A hive that restarted announces itself at its old URL: reconnect now, not after backoff.
      existing.wake()
      return
    }
    if (existing) {
      this.#o.logger.info({ hive_id: id, from: existing.url, to: normalized }, 'hive moved')
      this.#o.registry.hiveDisconnected(id, 'hive moved')
      void existing.close()
    }
    const conn = new HiveConnection({
      id,
      url: normalized,
      token: this.#o.token,
      registry: this.#o.registry,
      logger: this.#o.logger,
      idleTimeoutMs: this.#o.hiveOfflineMs,
      liveness: hiveLivenessBounds(this.#o.hiveIntervalMs),
      onEvent: this.#o.onEvent,
    })
    this.#conns.set(id, conn)
    conn.start()
  }

  /** Forgets a hive (dropped from hives.conf): closes its stream, drops it and its workers. */
  remove(id: string): void {
    const conn = this.#conns.get(id)
    this.#conns.delete(id)
    if (conn) void conn.close()
    this.#o.registry.removeHive(id)
  }

  has(id: string): boolean {
    return this.#conns.has(id)
  }

  client(hiveId: string): HiveClient | undefined {
    return this.#conns.get(hiveId)?.client
  }

  /** Re-reads one hive's catalog (concurrent calls share one fetch). */
  refreshCatalog(hiveId: string): Promise<void> {
    const running = this.#catalogLoads.get(hiveId)
    if (running) return running
    const client = this.client(hiveId)
    if (!client) return Promise.resolve()
    const p = client
      .models(AbortSignal.timeout(this.#o.catalogTimeoutMs ?? 10_000))
      .then((models) => this.#o.registry.setCatalog(hiveId, models))
      .catch((err: unknown) => {
        this.#o.logger.warn({ hive_id: hiveId, err: errorMessage(err) }, 'could not read hive catalog')
      })
      .finally(() => this.#catalogLoads.delete(hiveId))
    this.#catalogLoads.set(hiveId, p)
    return p
  }

  /** Re-reads the catalogs of online hives older than `maxAgeMs`. */
  async refreshCatalogs(maxAgeMs = 0): Promise<void> {
    const now = Date.now()
    await Promise.all(
      [...this.#o.registry.hives()]
        .filter((h) => h.online && now - h.catalogAtMs >= maxAgeMs)
        .map((h) => this.refreshCatalog(h.id)),
    )
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#unsubscribe()
    await Promise.all([...this.#conns.values()].map((c) => c.close()))
    this.#conns.clear()
  }
}
