import type { HiveClient } from '@rbee/client'
import { Deadline, errorMessage, type Logger, RbeeError } from '@rbee/common'
import type { WorkerSpawnResult } from '@rbee/contracts'
import type { QueenMetrics } from '../metrics.js'
import type { HiveEntry, Registry } from '../registry/registry.js'
import { choosePlacement } from './placement.js'

/** A request for one more worker of `model`, optionally on one hive. */
export interface SpawnRequest {
  model: string
  hiveId: string | undefined
}

/** Starts workers on demand; the scheduler makes sure only one spawn per model runs at a time. */
export interface Spawner {
  /**
   * Resolves once a hive reports the new worker ready.
   * @throws RbeeError saying why no worker could be started (no capacity, unknown model, …).
   */
  spawn(req: SpawnRequest, signal: AbortSignal, narrate?: (human: string) => void): Promise<void>
}

/** What the spawner needs from the hive side of the queen. */
export interface HiveDirectory {
  client(hiveId: string): HiveClient | undefined
  /** Re-reads every online hive's catalog (a model may have been added since). */
  refreshCatalogs(): Promise<void>
}

export interface HiveSpawnerOptions {
  registry: Registry
  hives: HiveDirectory
  logger: Logger
  metrics?: QueenMetrics | undefined
  /** Longest a spawn may take. @default 300_000 */
  timeoutMs?: number
  /**
   * Longest a spawn waits for a known but offline hive to come (back) online before it gives
   * up, e.g. the queen's own hive right after start or a hive whose stream is reconnecting.
   * @default 5000
   */
  hiveWaitMs?: number
  /** Slots of spawned workers (hive default when unset). */
  slots?: number | undefined
  /** Context size of spawned workers (hive default when unset). */
  ctxSize?: number | undefined
  /** Told about each worker a hive started, e.g. to read its info at once. */
  onSpawned?: (result: WorkerSpawnResult, hiveId: string) => Promise<void>
}

/**
 * Spawns a worker on the hive that fits the model best (see `choosePlacement`), counting the
 * memory promised to spawns still in flight so concurrent spawns do not overbook a device.
 */
export class HiveSpawner implements Spawner {
  readonly #o: HiveSpawnerOptions
  readonly #reserved = new Map<string, number>()

  constructor(options: HiveSpawnerOptions) {
    this.#o = options
  }

  #candidates(model: string, hiveId: string | undefined): HiveEntry[] {
    return this.#o.registry
      .hivesWithModel(model)
      .filter((h) => h.online && (hiveId === undefined || h.id === hiveId))
  }

  /** Known hives (or just `hiveId`) that are offline. */
  #offlineHives(hiveId: string | undefined): string[] {
    const ids: string[] = []
    for (const h of this.#o.registry.hives()) {
      if (!h.online && (hiveId === undefined || h.id === hiveId)) ids.push(h.id)
    }
    return ids
  }

  /**
   * Resolves true when one of those hives comes online, false after `ms`; rejects on abort.
   * `onWaiting` runs once the wait is armed.
   */
  #hiveOnline(
    hiveId: string | undefined,
    ms: number,
    signal: AbortSignal,
    onWaiting: () => void,
  ): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        off()
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
      }
      const onAbort = (): void => {
        settle()
        reject(signal.reason)
      }
      const off = this.#o.registry.on((ev) => {
        if (ev.type !== 'hive_online' || (hiveId !== undefined && ev.hiveId !== hiveId)) return
        settle()
        resolve(true)
      })
      const timer = setTimeout(() => {
        settle()
        resolve(false)
      }, ms)
      if (signal.aborted) return onAbort()
      signal.addEventListener('abort', onAbort, { once: true })
      onWaiting()
    })
  }

  async spawn(req: SpawnRequest, signal: AbortSignal, narrate?: (human: string) => void): Promise<void> {
    const { registry } = this.#o
    const { model, hiveId } = req
    if (hiveId !== undefined && !registry.hive(hiveId)) {
      throw new RbeeError('RBEE_HIVE_NOT_FOUND', `no hive ${hiveId}`)
    }
    let candidates = this.#candidates(model, hiveId)
    if (candidates.length === 0) {
      await this.#o.hives.refreshCatalogs()
      candidates = this.#candidates(model, hiveId)
    }
    // A hive that is known but offline may be starting or reconnecting: wait for it (bounded)
    // rather than fail a request that a second later would have been served.
    const waitUntil = performance.now() + (this.#o.hiveWaitMs ?? 5000)
    while (candidates.length === 0 && this.#offlineHives(hiveId).length > 0) {
      const left = waitUntil - performance.now()
      if (left <= 0) break
      const waiting = `waiting for hive ${this.#offlineHives(hiveId).join(', ')} to come online`
      if (!(await this.#hiveOnline(hiveId, left, signal, () => narrate?.(waiting)))) break
      await this.#o.hives.refreshCatalogs()
      candidates = this.#candidates(model, hiveId)
    }
    if (hiveId !== undefined && !registry.hive(hiveId)?.online) {
      throw new RbeeError('RBEE_HIVE_OFFLINE', `hive ${hiveId} is offline`, { retryAfterS: 5 })
    }
    if (candidates.length === 0) {
      const offline = registry
        .hivesWithModel(model)
        .filter((h) => !h.online && (hiveId === undefined || h.id === hiveId))
        .map((h) => h.id)
      if (offline.length > 0) {
        throw new RbeeError(
          'RBEE_HIVE_OFFLINE',
          `model ${model} is only in the catalog of offline hives (${offline.join(', ')})`,
          { retryAfterS: 5 },
        )
      }
      const online = [...registry.hives()].filter((h) => h.online).map((h) => h.id)
      if (online.length === 0) {
        throw new RbeeError('RBEE_NO_CAPACITY', `no hive is online to start a worker for ${model}`, {
          retryAfterS: 5,
        })
      }
      throw new RbeeError(
        'RBEE_MODEL_NOT_FOUND',
        `model ${model} is in no online hive's catalog (${hiveId ?? online.join(', ')}); download or import it first`,
      )
    }
    const placement = choosePlacement(model, candidates, this.#reserved)
    const key = `${placement.hive.id}/${placement.device.id}`
    this.#reserved.set(key, (this.#reserved.get(key) ?? 0) + placement.needMb)
    const client = this.#o.hives.client(placement.hive.id)
    const started = performance.now()
    const labels = { model, hive: placement.hive.id }
    const log = this.#o.logger.child({ model, hive_id: placement.hive.id })
    log.info({ device: placement.device.id, need_mb: placement.needMb }, 'spawning worker')
    narrate?.(
      `starting a worker for ${model} on ${placement.hive.id} (${placement.device.id}, needs ${placement.needMb} MB)`,
    )
    const spawnMs = this.#o.timeoutMs ?? 300_000
    const deadline = new Deadline({
      ms: spawnMs,
      parent: signal,
      message: `the hive started no worker within ${spawnMs} ms`,
    })
    try {
      if (!client) throw new RbeeError('RBEE_HIVE_NOT_FOUND', `no connection to hive ${placement.hive.id}`)
      const result = await client.spawnWorker(
        {
          hive_id: placement.hive.id,
          model,
          worker: placement.backend,
          device: placement.deviceIndex,
          ...(this.#o.slots ? { slots: this.#o.slots } : {}),
          ...(this.#o.ctxSize ? { ctx_size: this.#o.ctxSize } : {}),
        },
        {
          signal: deadline.signal,
          onNarration: (h) => narrate?.(`${placement.hive.id}: ${h}`),
        },
      )
      this.#o.metrics?.spawnSeconds.observe(
        { ...labels, outcome: 'ok' },
        (performance.now() - started) / 1000,
      )
      log.info({ worker_id: result.worker_id, ms: Math.round(performance.now() - started) }, 'worker spawned')
      await this.#o.onSpawned?.(result, placement.hive.id).catch((err: unknown) => {
        log.debug({ err: errorMessage(err) }, 'could not read the new worker info; waiting for the hive')
      })
    } catch (err) {
      this.#o.metrics?.spawnSeconds.observe(
        { ...labels, outcome: 'error' },
        (performance.now() - started) / 1000,
      )
      if (signal.aborted) throw signal.reason
      const message = `could not start a worker for ${model} on ${placement.hive.id}: ${errorMessage(err)}`
      throw err instanceof RbeeError
        ? new RbeeError(err.code === 'RBEE_JOB_FAILED' ? 'RBEE_SPAWN_FAILED' : err.code, message, {
            cause: err,
          })
        : new RbeeError('RBEE_SPAWN_FAILED', message, { cause: err })
    } finally {
      deadline.clear()
      const left = (this.#reserved.get(key) ?? 0) - placement.needMb
      if (left > 0) this.#reserved.set(key, left)
      else this.#reserved.delete(key)
    }
  }
}
