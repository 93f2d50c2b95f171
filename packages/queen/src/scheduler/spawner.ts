import type { HiveClient } from '@rbee/client'
import {
  Deadline,
  type ErrorCode,
  errorMessage,
  isServerSideError,
  type Logger,
  RbeeError,
} from '@rbee/common'
import type { WorkerSpawnResult } from '@rbee/contracts'
import type { QueenMetrics } from '../metrics.js'
import { DEFAULT_MODEL_POLICY, type ModelPolicy } from '../models-conf.js'
import { QUEEN_DEFAULTS } from '../queen-defaults.js'
import { waitForHive } from '../registry/hive-wait.js'
import type { HiveEntry, Registry } from '../registry/registry.js'
import type { WorkerEntry } from '../registry/worker-entry.js'
import { deviceUsage } from './device-usage.js'
import { chooseDownloadTarget } from './download-target.js'
import { describeEviction, type EvictionPlan, planEviction } from './eviction.js'
import { choosePlacement, deviceKey, formatMb, type Placement } from './placement.js'
import { SpawnBackoff } from './spawn-backoff.js'

/** A request for one more worker of `model`, optionally on one hive. */
export interface SpawnRequest {
  model: string
  hiveId: string | undefined
  /** The highest priority of the requests waiting for it: what it may displace. @default 0 */
  priority?: number
  /**
   * Another replica of a model that has workers (scale-out): it makes room only by stopping
   * workers loaded before the hysteresis window, whatever its priority.
   */
  replica?: boolean
}

/** Starts workers on demand; the scheduler makes sure only one spawn per model runs at a time. */
export interface Spawner {
  /**
   * Resolves once a hive reports the new worker ready.
   * @throws RbeeError saying why no worker could be started (no capacity, unknown model, …).
   */
  spawn(req: SpawnRequest, signal: AbortSignal, narrate?: (human: string) => void): Promise<void>
  /**
   * After a spawn failed for lack of room: whether stopping workers that are busy now, or loaded
   * too recently to be stopped, would make room once they are idle (its waiters then wait).
   */
  roomOnceIdle?(req: SpawnRequest): RoomOnceIdle | undefined
}

/** There is room for a spawn once the workers that hold it now are idle and old enough. */
export interface RoomOnceIdle {
  /**
   * When the first idle worker that holds the room only because it was loaded within the
   * hysteresis window may be stopped (epoch ms): no slot frees up then, so try again at this
   * time. Undefined when only busy workers hold the room.
   */
  retryAt: number | undefined
}

/**
 * What a hive's spawn job fails with when the device could not load the model: the device is
 * skipped for a while (see `SpawnBackoff`) and the spawn is placed again. A cancel, a full queue,
 * an unknown model, an unreachable hive or a spawn that timed out are not taken as the device's
 * fault.
 */
const DEVICE_FAILURES: ReadonlySet<ErrorCode> = new Set([
  'RBEE_SPAWN_FAILED',
  'RBEE_JOB_FAILED',
  'RBEE_ENGINE',
  'RBEE_WORKER_FAILED',
])

/** What the spawner needs from the hive side of the queen. */
export interface HiveDirectory {
  client(hiveId: string): Pick<HiveClient, 'spawnWorker'> | undefined
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
  /** The clock of the spawn backoff and of eviction. @default Date.now */
  now?: () => number
  /**
   * Making room: when a spawn fits nowhere, idle workers are stopped (see `planEviction`) through
   * `stop`. Without it, such a spawn fails with `RBEE_NO_CAPACITY`.
   */
  eviction?: EvictionSettings | undefined
  /**
   * Has a hive download a model's file (the queen's `model_download` operation, with its
   * narration): used when no hive that has the file has room, even after eviction, and another
   * hive has (see `chooseDownloadTarget`). Without it, such a spawn fails with `RBEE_NO_CAPACITY`.
   */
  download?:
    | ((
        hiveId: string,
        source: string,
        signal: AbortSignal,
        narrate: (human: string) => void,
      ) => Promise<void>)
    | undefined
}

/** How the spawner makes room. */
export interface EvictionSettings {
  /** Asks the worker's hive to stop it. */
  stop: (worker: WorkerEntry) => Promise<void>
  /** models.conf, per model. @default no policies */
  policy?: (model: string) => ModelPolicy
  /** A worker loaded this recently is kept unless the request outranks it. @default QUEEN_DEFAULTS.evictHysteresisMs */
  hysteresisMs?: number
  /** Longest wait for the hive's telemetry to show the memory back. @default QUEEN_DEFAULTS.evictWaitMs */
  waitMs?: number
}

/** Rounds of eviction one spawn may go through (a hive's own figures may disagree with ours once). */
const EVICTION_ROUNDS = 2

/** Memory an eviction frees, promised to the spawn that evicted until it places its worker. */
interface RoomHold {
  readonly key: string
  readonly mb: number
}
/** After a download to load a model elsewhere failed, how long that hive is not asked again for it. */
export const DOWNLOAD_BACKOFF_MS = 60_000

/**
 * Spawns a worker on the hive that fits the model best (see `choosePlacement`), counting the
 * memory promised to spawns still in flight so concurrent spawns do not overbook a device.
 */
export class HiveSpawner implements Spawner {
  readonly #o: HiveSpawnerOptions
  readonly #reserved = new Map<string, number>()
  /**
   * Evictions in progress, oldest first: each is counted in `#reserved` too, so that no other
   * spawn takes the memory it frees (see `#reservedBefore`).
   */
  readonly #holds = new Set<RoomHold>()
  readonly #backoff: SpawnBackoff
  /** Per `model on hive`, until when a download of the model to that hive is not tried again. */
  readonly #downloadFailedUntil = new Map<string, number>()

  constructor(options: HiveSpawnerOptions) {
    this.#o = options
    this.#backoff = new SpawnBackoff({ now: options.now })
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
    const waitUntil = performance.now() + (this.#o.hiveWaitMs ?? QUEEN_DEFAULTS.hiveWaitMs)
    while (candidates.length === 0 && this.#offlineHives(hiveId).length > 0) {
      const left = waitUntil - performance.now()
      if (left <= 0) break
      const waiting = `waiting for hive ${this.#offlineHives(hiveId).join(', ')} to come online`
      if (!(await waitForHive(registry, hiveId, left, signal, () => narrate?.(waiting)))) break
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
    return this.#placeAndSpawn(req, candidates, signal, narrate)
  }

  /**
   * Places the worker and spawns it; when the device cannot load the model, skips it (for a
   * while, see `SpawnBackoff`) and places it again, until a spawn succeeds or no device is left.
   * @throws the last spawn's error when no other device can take the model.
   */
  async #placeAndSpawn(
    req: SpawnRequest,
    candidates: HiveEntry[],
    signal: AbortSignal,
    narrate: ((human: string) => void) | undefined,
  ): Promise<void> {
    const { model } = req
    let evictions = 0
    let downloaded = false
    // Devices this spawn found unable to take the model, for the rest of it (a hive's refusal
    // for lack of memory is not worth a backoff: its figures were newer than ours).
    const excluded = new Map<string, string>()
    const blocked = (hive: string, device: string): string | undefined => {
      const key = deviceKey(hive, device)
      return this.#backoff.blocked(model, key) ?? excluded.get(key) ?? this.#runsAlready(req, hive, device)
    }
    let failed: RbeeError | undefined
    // The room the last eviction made: this spawn's, until it is placed.
    let hold: RoomHold | undefined
    for (;;) {
      let placement: Placement
      try {
        const reserved = hold ? this.#reservedBefore(hold) : this.#reserved
        if (hold) this.#unhold(hold)
        hold = undefined
        placement = choosePlacement(model, candidates, { reserved, blocked })
      } catch (err) {
        if (!(err instanceof RbeeError)) throw err
        if (!failed && evictions < EVICTION_ROUNDS) {
          const plan = this.#planRoom(req, candidates, blocked)
          if (plan) {
            evictions++
            hold = await this.#makeRoom(plan, model, signal, narrate)
            continue
          }
          if (!downloaded && this.#o.download) {
            const got = await this.#downloadElsewhere(req, candidates, blocked, signal, narrate)
            if (got) {
              downloaded = true
              candidates = got
              continue
            }
          }
        }
        // After a failed try, that failure is the answer; the narration says why no other device.
        if (failed) {
          narrate?.(`no other device can take ${model}: ${err.message}`)
          throw failed
        }
        throw this.#recentFailure(model, candidates, err) ?? err
      }
      const keys = placement.shares.map((s) => deviceKey(placement.hive.id, s.device.id))
      try {
        await this.#spawnOn(model, placement, signal, narrate)
        for (const key of keys) this.#backoff.succeeded(model, key)
        return
      } catch (err) {
        // What the hive answered (`#spawnOn` wraps it to name the model and the devices).
        if (signal.aborted || !(err instanceof RbeeError) || !(err.cause instanceof RbeeError)) throw err
        const hiveError = err.cause
        // Reasons reach every caller (narration, 503s): a server-side message, which may carry
        // paths and command lines, stays in the log and in the error an admin reads.
        const said = isServerSideError(hiveError) ? hiveError.code : hiveError.message
        const log = this.#o.logger.child({ model, hive_id: placement.hive.id })
        if (DEVICE_FAILURES.has(hiveError.code)) {
          for (const key of keys) {
            const ms = this.#backoff.failed(model, key, hiveError)
            log.warn(
              { device: key, backoff_ms: ms, err: err.message },
              'spawn failed; device skipped for a while',
            )
          }
        } else if (hiveError.code === 'RBEE_NO_CAPACITY') {
          log.info({ err: err.message }, 'hive refused the spawn for lack of memory; placing it again')
        } else {
          throw err
        }
        for (const key of keys) excluded.set(key, `failed in this spawn (${said})`)
        narrate?.(`${keys.join(', ')} could not start ${model} (${said}); placing it again`)
        failed = err
      }
    }
  }

  /**
   * Has a hive without the model's file but with room download it (see `chooseDownloadTarget`),
   * bounded by the spawn timeout; returns the candidates once its catalog lists the model, or
   * undefined when no hive can. A download that fails is logged and narrated, that hive is not
   * asked for the model again for `DOWNLOAD_BACKOFF_MS`, and undefined is returned: the spawn
   * then fails for lack of room, which its requests may wait out, not with the download's error.
   * @throws the signal's reason; RbeeError `RBEE_MODEL_NOT_FOUND` when the hive's catalog names
   * the file otherwise.
   */
  async #downloadElsewhere(
    req: SpawnRequest,
    candidates: readonly HiveEntry[],
    blocked: (hive: string, device: string) => string | undefined,
    signal: AbortSignal,
    narrate: ((human: string) => void) | undefined,
  ): Promise<HiveEntry[] | undefined> {
    const { model } = req
    const now = this.#o.now ?? Date.now
    const target = chooseDownloadTarget(model, candidates, this.#o.registry.hives(), {
      hiveId: req.hiveId,
      reserved: this.#reserved,
      blocked: (hive, device) => {
        const key = `${model} on ${hive}`
        const until = this.#downloadFailedUntil.get(key)
        if (until !== undefined && until > now()) return 'a download of the model there failed recently'
        this.#downloadFailedUntil.delete(key)
        return blocked(hive, device)
      },
    })
    if (!target) return undefined
    const hiveId = target.hive.id
    const log = this.#o.logger.child({ model, hive_id: hiveId })
    log.info({ source: target.source, need_mb: target.needMb }, 'downloading the model to a hive with room')
    narrate?.(`downloading ${target.source} to ${hiveId} for ${model}: ${target.reason}`)
    const spawnMs = this.#o.timeoutMs ?? QUEEN_DEFAULTS.spawnTimeoutMs
    const deadline = new Deadline({
      ms: spawnMs,
      parent: signal,
      message: `the download of ${target.source} to ${hiveId} did not end within ${spawnMs} ms`,
    })
    try {
      await this.#o.download!(hiveId, target.source, deadline.signal, (h) => narrate?.(`${hiveId}: ${h}`))
    } catch (err) {
      if (signal.aborted) throw signal.reason
      this.#downloadFailedUntil.set(`${model} on ${hiveId}`, now() + DOWNLOAD_BACKOFF_MS)
      const said = err instanceof RbeeError && isServerSideError(err) ? err.code : errorMessage(err)
      log.warn(
        { source: target.source, err: errorMessage(err) },
        'download to load the model elsewhere failed',
      )
      narrate?.(
        `downloading ${target.source} to ${hiveId} failed (${said}); not trying there again for a while`,
      )
      return undefined
    } finally {
      deadline.clear()
    }
    await this.#o.hives.refreshCatalogs()
    const next = this.#candidates(model, req.hiveId)
    if (!next.some((h) => h.id === hiveId)) {
      throw new RbeeError(
        'RBEE_MODEL_NOT_FOUND',
        `${hiveId} downloaded ${target.source}, but its catalog names it otherwise than ${model}`,
      )
    }
    return next
  }

  /**
   * A scale-out replica shares no device with a worker of its model: on the same device it would
   * split that device's compute and serve no faster.
   */
  #runsAlready(req: SpawnRequest, hiveId: string, deviceId: string): string | undefined {
    if (req.replica !== true) return undefined
    const hive = this.#o.registry.hive(hiveId)
    const ofModel = hive ? (deviceUsage(hive, req.model).get(deviceId)?.ofModel ?? 0) : 0
    return ofModel > 0 ? `runs ${req.model} already (a replica goes to another device)` : undefined
  }

  /** Promises `mb` on `key` to an eviction in progress (see `#holds`). */
  #hold(key: string, mb: number): RoomHold {
    const hold = { key, mb }
    this.#holds.add(hold)
    this.#reserved.set(key, (this.#reserved.get(key) ?? 0) + mb)
    return hold
  }

  #unhold(hold: RoomHold): void {
    if (!this.#holds.delete(hold)) return
    const left = (this.#reserved.get(hold.key) ?? 0) - hold.mb
    if (left > 0) this.#reserved.set(hold.key, left)
    else this.#reserved.delete(hold.key)
  }

  /**
   * What is promised, as `hold`'s spawn sees it: not its own room, nor that of evictions started
   * after it (their plans counted on its room being taken, and wait for their own victims).
   */
  #reservedBefore(hold: RoomHold): Map<string, number> {
    const view = new Map(this.#reserved)
    let after = false
    for (const h of this.#holds) {
      after ||= h === hold
      if (after) view.set(h.key, (view.get(h.key) ?? 0) - h.mb)
    }
    return view
  }

  #policy(model: string): ModelPolicy {
    return this.#o.eviction?.policy?.(model) ?? DEFAULT_MODEL_POLICY
  }

  roomOnceIdle(req: SpawnRequest): RoomOnceIdle | undefined {
    const ev = this.#o.eviction
    if (!ev) return undefined
    const candidates = this.#candidates(req.model, req.hiveId)
    const blocked = (hive: string, device: string): string | undefined =>
      this.#backoff.blocked(req.model, deviceKey(hive, device))
    const plan = this.#planRoom({ ...req, onceIdle: true }, candidates, blocked)
    if (!plan) return undefined
    const hysteresisMs = ev.hysteresisMs ?? QUEEN_DEFAULTS.evictHysteresisMs
    const now = (this.#o.now ?? Date.now)()
    let retryAt: number | undefined
    for (const { worker: w } of plan.victims) {
      const idle = w.inflight === 0 && w.info.slots_busy === 0
      const until = w.loadedAtMs + hysteresisMs
      if (idle && until > now && (retryAt === undefined || until < retryAt)) retryAt = until
    }
    return { retryAt }
  }

  #planRoom(
    req: SpawnRequest & { onceIdle?: boolean },
    candidates: readonly HiveEntry[],
    blocked: (hive: string, device: string) => string | undefined,
  ): EvictionPlan | undefined {
    const ev = this.#o.eviction
    if (!ev) return undefined
    const policy = (m: string): ModelPolicy => this.#policy(m)
    const own = policy(req.model)
    const { registry } = this.#o
    return planEviction(
      {
        model: req.model,
        priority: Math.max(req.priority ?? own.priority, own.priority),
        modelPriority: own.priority,
        pinned: own.pin,
        strict: req.replica === true,
        onceIdle: req.onceIdle === true,
      },
      candidates,
      {
        policy,
        liveWorkers: (m) => {
          let n = 0
          for (const w of registry.workersForModel(m)) if (!w.stopping) n++
          return n
        },
        hysteresisMs: ev.hysteresisMs ?? QUEEN_DEFAULTS.evictHysteresisMs,
        reserved: this.#reserved,
        blocked,
        now: (this.#o.now ?? Date.now)(),
      },
    )
  }

  /**
   * Stops the plan's victims through their hive and waits (bounded) until the hive's telemetry
   * shows the memory back on the device; that memory is held for the caller (see `#holds`),
   * which releases it when it places its worker.
   * @throws RbeeError `RBEE_NO_CAPACITY` when it does not come back in time; the signal's reason.
   */
  async #makeRoom(
    plan: EvictionPlan,
    model: string,
    signal: AbortSignal,
    narrate: ((human: string) => void) | undefined,
  ): Promise<RoomHold> {
    const where = deviceKey(plan.hive.id, plan.device.id)
    const hold = this.#hold(where, plan.needMb)
    try {
      await this.#stopVictims(plan, model, hold, signal, narrate)
      return hold
    } catch (err) {
      this.#unhold(hold)
      throw err
    }
  }

  async #stopVictims(
    plan: EvictionPlan,
    model: string,
    hold: RoomHold,
    signal: AbortSignal,
    narrate: ((human: string) => void) | undefined,
  ): Promise<void> {
    const ev = this.#o.eviction!
    const { registry } = this.#o
    const where = hold.key
    const log = this.#o.logger.child({ model, hive_id: plan.hive.id })
    for (const v of plan.victims) {
      const human = describeEviction(plan, v, model)
      log.info({ worker_id: v.worker.id, victim_model: v.worker.model, idle_ms: v.idleMs }, 'evicting worker')
      narrate?.(human)
      registry.setStopping(v.worker, true)
    }
    this.#o.metrics?.evictions.inc({ model }, plan.victims.length)
    const started = performance.now()
    // A stop that fails ends the wait at once: that memory is not coming back.
    const gaveUp = new AbortController()
    const onAbort = (): void => gaveUp.abort()
    signal.addEventListener('abort', onAbort, { once: true })
    let failure: string | undefined
    const stops = plan.victims.map((v) =>
      ev.stop(v.worker).catch((err: unknown) => {
        log.warn({ worker_id: v.worker.id, err: errorMessage(err) }, 'could not stop a worker to make room')
        registry.setStopping(v.worker, false)
        failure ??= `could not stop ${v.worker.id}: ${errorMessage(err)}`
        gaveUp.abort()
      }),
    )
    const waitMs = ev.waitMs ?? QUEEN_DEFAULTS.evictWaitMs
    const back = await waitForMemory(registry, plan, waitMs, gaveUp.signal, () =>
      Math.max(0, this.#reservedBefore(hold).get(where) ?? 0),
    )
    signal.removeEventListener('abort', onAbort)
    await Promise.all(stops)
    if (signal.aborted) throw signal.reason
    if (!back) {
      throw new RbeeError(
        'RBEE_NO_CAPACITY',
        failure !== undefined
          ? `making room on ${where} for ${model} failed: ${failure}`
          : `stopped ${plan.victims.length} worker(s) on ${where} for ${model}, but its memory did not come back within ${waitMs} ms`,
        { retryAfterS: 5 },
      )
    }
    narrate?.(`made room on ${where} in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  }

  /**
   * When nothing can take the model because its spawns failed on the devices that could, that
   * failure (a spawn error, whose details only an admin reads) instead of a plain no-capacity one.
   */
  #recentFailure(
    model: string,
    candidates: readonly HiveEntry[],
    noCapacity: RbeeError,
  ): RbeeError | undefined {
    const devices = candidates.flatMap((h) => h.devices.map((d) => deviceKey(h.id, d.id)))
    const last = this.#backoff.lastFailure(model, devices)
    if (!last) return undefined
    return new RbeeError(last.error.code, `${noCapacity.message}; the last failure: ${last.error.message}`, {
      cause: last.error,
      retryAfterS: Math.ceil(last.retryInMs / 1000),
    })
  }

  /** One spawn on the placement's devices, with their memory reserved until it reports. */
  async #spawnOn(
    model: string,
    placement: Placement,
    signal: AbortSignal,
    narrate: ((human: string) => void) | undefined,
  ): Promise<void> {
    const reserved = placement.shares.map((s) => ({
      key: deviceKey(placement.hive.id, s.device.id),
      mb: s.mb,
    }))
    for (const r of reserved) this.#reserved.set(r.key, (this.#reserved.get(r.key) ?? 0) + r.mb)
    const client = this.#o.hives.client(placement.hive.id)
    const started = performance.now()
    const labels = { model, hive: placement.hive.id }
    const log = this.#o.logger.child({ model, hive_id: placement.hive.id })
    const devices = placement.shares.map((s) => s.device.id).join(',')
    log.info(
      { device: devices, backend: placement.backend, need_mb: placement.needMb, reason: placement.reason },
      'spawning worker',
    )
    narrate?.(
      `starting a worker for ${model} on ${placement.hive.id} (needs ${formatMb(placement.needMb)}): ${placement.reason}`,
    )
    const spawnMs = this.#o.timeoutMs ?? QUEEN_DEFAULTS.spawnTimeoutMs
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
          device: placement.selection,
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
      const message = `could not start a worker for ${model} on ${placement.hive.id} (${devices}): ${errorMessage(err)}`
      throw err instanceof RbeeError
        ? new RbeeError(err.code === 'RBEE_JOB_FAILED' ? 'RBEE_SPAWN_FAILED' : err.code, message, {
            cause: err,
          })
        : new RbeeError('RBEE_SPAWN_FAILED', message, { cause: err })
    } finally {
      deadline.clear()
      for (const r of reserved) {
        const left = (this.#reserved.get(r.key) ?? 0) - r.mb
        if (left > 0) this.#reserved.set(r.key, left)
        else this.#reserved.delete(r.key)
      }
    }
  }
}

/** Free memory of the plan's device, after what spawns in flight were promised. */
function availableMb(registry: Registry, plan: EvictionPlan, reservedMb: number): number {
  const device = registry.hive(plan.hive.id)?.devices.find((d) => d.id === plan.device.id)
  if (!device) return 0
  return device.memory_free_mb - reservedMb
}

/**
 * Resolves true once the hive's telemetry shows the plan's model fitting on its device, false
 * after `ms` or when `signal` aborts.
 */
function waitForMemory(
  registry: Registry,
  plan: EvictionPlan,
  ms: number,
  signal: AbortSignal,
  /** What other spawns were promised on the plan's device first. */
  reservedMb: () => number,
): Promise<boolean> {
  const gone = (): boolean => plan.victims.every((v) => registry.worker(v.worker.id) !== v.worker)
  const fits = (): boolean => gone() && availableMb(registry, plan, reservedMb()) >= plan.needMb
  if (fits()) return Promise.resolve(true)
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer)
      off()
      signal.removeEventListener('abort', onAbort)
      resolve(ok)
    }
    const onAbort = (): void => done(false)
    const timer = setTimeout(() => done(false), ms)
    const off = registry.on((ev) => {
      if ((ev.type === 'hive_devices' && ev.hiveId === plan.hive.id) || ev.type === 'worker_removed') {
        if (fits()) done(true)
      }
    })
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
