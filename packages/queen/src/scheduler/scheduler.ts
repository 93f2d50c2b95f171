import { deadlineExceeded, errorMessage, formatSeconds, type Logger, RbeeError } from '@rbee/common'
import type { QueenMetrics } from '../metrics.js'
import { DEFAULT_MODEL_POLICY, type ModelPolicy } from '../models-conf.js'
import { QUEEN_DEFAULTS } from '../queen-defaults.js'
import type { Registry, RegistryEvent } from '../registry/registry.js'
import type { WorkerEntry } from '../registry/worker-entry.js'
import { type ScaleOutInput, scaleOutNeed } from './scale-out.js'
import type { Spawner } from './spawner.js'

/** A slot held on a worker; `release()` (idempotent) gives it back. */
export interface Lease {
  readonly worker: WorkerEntry
  release(): void
}

export interface AcquireOptions {
  /** Only this hive's workers (and spawns there). */
  hiveId?: string | undefined
  signal?: AbortSignal | undefined
  /**
   * The request's deadline (epoch milliseconds): it waits for a slot (and a spawn) until then,
   * instead of the queen's `queueTimeoutMs`, and then fails with `RBEE_DEADLINE_EXCEEDED`.
   */
  deadlineAt?: number | undefined
  /** Told the request's place in the model's queue (1 = next), each time it changes. */
  onQueued?: (position: number, depth: number) => void
  /** Progress of a spawn this request is waiting for. */
  onSpawn?: (human: string) => void
  /**
   * Its place in the model's queue: higher first, first come first served within one priority
   * (see `REQUEST_PRIORITY_HEADER`). @default the model's priority in models.conf
   */
  priority?: number | undefined
  /**
   * The most `priority` may be (a user key's own priority, normal when it sets none); the
   * model's priority in models.conf is always allowed. @default no cap (an admin key, keys off)
   */
  maxPriority?: number | undefined
}

export interface SchedulerOptions {
  registry: Registry
  spawner: Spawner
  logger: Logger
  /** Requests that may wait per model. @default 64 */
  queueSize?: number
  /** Longest a request without a deadline of its own waits for a slot. @default 60_000 */
  queueTimeoutMs?: number
  /** models.conf, per model (priority, max_replicas, min_replicas). @default no policies */
  policy?: (model: string) => ModelPolicy
  /**
   * Another replica is spawned when a model's queue would wait longer than this for its workers
   * to drain it (0: never). @default QUEEN_DEFAULTS.scaleOutWaitMs
   */
  scaleOutWaitMs?: number
  /** Most workers of one model scale-out runs, unless models.conf says otherwise. @default QUEEN_DEFAULTS.maxReplicas */
  maxReplicas?: number
  metrics?: QueenMetrics | undefined
  /** The clock (epoch ms) for service and load times, settling windows and retry throttles. @default Date.now */
  now?: () => number
}

interface Waiter {
  model: string
  hiveId: string | undefined
  resolve: (lease: Lease) => void
  reject: (err: unknown) => void
  onQueued: ((position: number, depth: number) => void) | undefined
  onSpawn: ((human: string) => void) | undefined
  priority: number
  position: number
  cleanup: () => void
}

/**
 * After a successful spawn, how long its worker may take to show up in the registry (via the
 * hive stream or its heartbeat) before another spawn for the same model is allowed.
 */
const SPAWN_SETTLE_MS = 10_000

/** `model`, or `model on hive`: ids may hold `@` and `:` but never a space. */
const spawnKey = (model: string, hiveId: string | undefined): string =>
  hiveId === undefined ? model : `${model} on ${hiveId}`
/** The key of a model's scale-out spawn (one at a time per model) and of its `min_replicas` upkeep. */
const replicaKey = (model: string): string => `${model}#replica`
/** Weight of the newest request in a model's smoothed service time. */
const SERVICE_WEIGHT = 0.2
/**
 * Least time between two tries of a spawn that found no room: a busy fleet releases slots many
 * times a second, and each try plans placement and eviction over every hive.
 */
export const STARVED_RETRY_MS = 500
/** After a scale-out spawn failed, how long the model waits before trying another replica. */
export const SCALE_OUT_COOLDOWN_MS = 10_000

/**
 * A spawn key whose spawn found no room while busy or freshly loaded workers would make some once
 * idle: one episode, from its first such failure until a spawn succeeds or fails for good.
 */
interface Starved {
  readonly model: string
  readonly hiveId: string | undefined
  /** When its spawn was last tried (see `STARVED_RETRY_MS`). */
  triedAt: number
  /** The throttled retry, when one is due. */
  retry: ReturnType<typeof setTimeout> | undefined
  /** The retry when the hysteresis window of a worker that holds the room ends. */
  wake: ReturnType<typeof setTimeout> | undefined
}

/**
 * Decides where each request runs. A free slot on the best worker is taken at once (see
 * `Registry.pick`); otherwise the request waits in its model's bounded queue (full → 429, too
 * long → 503) and is handed the next slot that frees up. When a model has no worker at all, one
 * spawn is started for every request that waits for it.
 */
export class Scheduler {
  readonly #o: Required<Omit<SchedulerOptions, 'logger' | 'metrics' | 'now'>> & {
    logger: Logger
    metrics: QueenMetrics | undefined
  }
  readonly #queues = new Map<string, Waiter[]>()
  readonly #spawning = new Map<string, Promise<void>>()
  /**
   * Spawns that succeeded, per key: when, and the model's removal count when they started. Their
   * worker may still be on its way to the registry, unless a worker of the model was removed
   * since (it may have been that one).
   */
  readonly #spawned = new Map<string, { at: number; removals: number }>()
  readonly #removals = new Map<string, number>()
  /** Per model, the smoothed time a request holds its slot (ms), once one has finished. */
  readonly #serviceMs = new Map<string, number>()
  /**
   * Spawn keys (see `spawnKey`) whose spawn found no room while busy or freshly loaded workers
   * would make some once idle: tried again when a worker's state changes (at most once per
   * `STARVED_RETRY_MS`) or when the hysteresis window that held the room back ends.
   */
  readonly #starved = new Map<string, Starved>()
  /** Per model, when its last scale-out spawn failed (see `SCALE_OUT_COOLDOWN_MS`). */
  readonly #scaleOutFailedAt = new Map<string, number>()
  readonly #now: () => number
  /** Per model, how long its last successful spawn took (ms). */
  readonly #loadMs = new Map<string, number>()
  /** Per model, the worker count when its last replica spawn succeeded (see `#maybeScaleOut`). */
  readonly #replicaSettle = new Map<string, { at: number; workers: number }>()
  readonly #ac = new AbortController()
  readonly #unsubscribe: () => void

  constructor(options: SchedulerOptions) {
    this.#o = {
      ...options,
      queueSize: options.queueSize ?? QUEEN_DEFAULTS.queueSize,
      queueTimeoutMs: options.queueTimeoutMs ?? QUEEN_DEFAULTS.queueTimeoutMs,
      policy: options.policy ?? (() => DEFAULT_MODEL_POLICY),
      scaleOutWaitMs: options.scaleOutWaitMs ?? QUEEN_DEFAULTS.scaleOutWaitMs,
      maxReplicas: options.maxReplicas ?? QUEEN_DEFAULTS.maxReplicas,
      metrics: options.metrics,
    }
    this.#now = options.now ?? Date.now
    this.#unsubscribe = this.#o.registry.on((ev) => this.#onRegistry(ev))
  }

  /** Waiting requests per model. */
  queueDepths(): IterableIterator<[string, number]> {
    const out = new Map<string, number>()
    for (const [model, q] of this.#queues) out.set(model, q.length)
    return out.entries()
  }

  queueDepth(model: string): number {
    return this.#queues.get(model)?.length ?? 0
  }

  /** Spawns in flight, by `model` or `model on hive` (`model#replica` for scale-out and upkeep). */
  get spawning(): ReadonlySet<string> {
    return new Set(this.#spawning.keys())
  }

  /**
   * Resolves with a slot on a worker serving `model`.
   * @throws RbeeError `RBEE_QUEUE_FULL` (429) when the model's queue is full, `RBEE_QUEUE_TIMEOUT`
   * (503) after waiting too long, `RBEE_DEADLINE_EXCEEDED` (504) when the request's deadline
   * passes first, the spawn's error when no worker could be started, or the signal's reason when
   * aborted.
   */
  acquire(model: string, options: AcquireOptions = {}): Promise<Lease> {
    if (this.#ac.signal.aborted) {
      return Promise.reject(new RbeeError('RBEE_DRAINING', 'queen is shutting down', { retryAfterS: 1 }))
    }
    if (options.signal?.aborted) return Promise.reject(options.signal.reason)
    const { deadlineAt } = options
    const queuedAt = Date.now()
    if (deadlineAt !== undefined && deadlineAt <= queuedAt) {
      return Promise.reject(deadlineExceeded(`no time was left to find a slot for ${model}`))
    }
    const queue = this.#queues.get(model)
    if (!queue || queue.length === 0) {
      const w = this.#o.registry.pick(model, options.hiveId)
      if (w) return Promise.resolve(this.#lease(w))
    }
    const depth = queue?.length ?? 0
    if (depth >= this.#o.queueSize) {
      return Promise.reject(
        new RbeeError(
          'RBEE_QUEUE_FULL',
          `all workers for ${model} are busy and ${depth} requests are waiting`,
          {
            retryAfterS: 1,
          },
        ),
      )
    }
    return new Promise<Lease>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          // What it waited for, read before it leaves the queue.
          const why = deadlineAt === undefined ? undefined : this.#waitedFor(waiter, queuedAt)
          this.#drop(waiter)
          reject(
            why !== undefined
              ? deadlineExceeded(why)
              : new RbeeError(
                  'RBEE_QUEUE_TIMEOUT',
                  `no slot for ${model} became free within ${this.#o.queueTimeoutMs} ms`,
                  { retryAfterS: 5 },
                ),
          )
        },
        deadlineAt === undefined ? this.#o.queueTimeoutMs : deadlineAt - queuedAt,
      )
      const onAbort = (): void => {
        this.#drop(waiter)
        reject(options.signal?.reason)
      }
      options.signal?.addEventListener('abort', onAbort, { once: true })
      const waiter: Waiter = {
        model,
        hiveId: options.hiveId,
        resolve,
        reject,
        onQueued: options.onQueued,
        onSpawn: options.onSpawn,
        priority: this.#priority(model, options),
        position: 0,
        cleanup: () => {
          clearTimeout(timer)
          options.signal?.removeEventListener('abort', onAbort)
        },
      }
      let q = this.#queues.get(model)
      if (!q) {
        q = []
        this.#queues.set(model, q)
      }
      // Higher priority first; within one priority, first come first served.
      let at = q.length
      while (at > 0 && q[at - 1]!.priority < waiter.priority) at--
      q.splice(at, 0, waiter)
      this.#notifyPositions(q)
      this.#ensureWorker(model, options.hiveId)
      this.#maybeScaleOut(model)
    })
  }

  #priority(model: string, o: AcquireOptions): number {
    const own = this.#o.policy(model).priority
    if (o.priority === undefined) return own
    return o.maxPriority === undefined ? o.priority : Math.min(o.priority, Math.max(o.maxPriority, own))
  }

  /** What a waiter whose deadline passed was waiting for, for its error. */
  #waitedFor(waiter: Waiter, since: number): string {
    const waited = formatSeconds(Date.now() - since)
    if (this.#spawning.has(spawnKey(waiter.model, waiter.hiveId))) {
      return `waited ${waited} for a worker of ${waiter.model} to start (the spawn goes on for later requests)`
    }
    const depth = this.queueDepth(waiter.model)
    return `waited ${waited} in the queue for ${waiter.model} (position ${waiter.position} of ${depth}): no slot became free`
  }

  #lease(w: WorkerEntry): Lease {
    this.#o.registry.acquire(w)
    const since = this.#now()
    let released = false
    return {
      worker: w,
      release: () => {
        if (released) return
        released = true
        const ms = this.#now() - since
        const was = this.#serviceMs.get(w.model)
        this.#serviceMs.set(w.model, was === undefined ? ms : was + SERVICE_WEIGHT * (ms - was))
        this.#o.registry.release(w)
      },
    }
  }

  /** Live workers of `model` (starting or routable, not being stopped). */
  #liveWorkers(model: string): number {
    let n = 0
    for (const w of this.#o.registry.workersForModel(model)) {
      if (!w.stopping && w.info.status !== 'stopping' && w.info.status !== 'stopped') n++
    }
    return n
  }

  /** What scale-out decides on for `model` now (see `scaleOutNeed`). */
  #scaleOutInput(model: string): ScaleOutInput {
    const { registry } = this.#o
    let slots = 0
    for (const w of registry.workersForModel(model)) if (w.routable) slots += w.info.slots_total
    const q = this.#queues.get(model) ?? []
    return {
      queued: q.filter((w) => w.hiveId === undefined).length,
      slots,
      serviceMs: this.#serviceMs.get(model),
      workers: this.#liveWorkers(model),
      maxReplicas: this.#o.policy(model).maxReplicas ?? this.#o.maxReplicas,
      targetWaitMs: this.#o.scaleOutWaitMs,
      loadMs: this.#loadMs.get(model),
    }
  }

  /**
   * Spawns one more replica of `model` when its queue would wait longer than the scale-out
   * target (see `scaleOutNeed`): one such spawn at a time per model, and none until the last one's
   * worker has arrived (a burst never spawns more replicas than it needs).
   */
  #maybeScaleOut(model: string): void {
    const key = replicaKey(model)
    if (this.#ac.signal.aborted || this.#spawning.has(key) || this.#spawning.has(model)) return
    const input = this.#scaleOutInput(model)
    const failedAt = this.#scaleOutFailedAt.get(model)
    if (failedAt !== undefined) {
      if (this.#now() - failedAt < SCALE_OUT_COOLDOWN_MS) return
      this.#scaleOutFailedAt.delete(model)
    }
    const settle = this.#replicaSettle.get(model)
    if (settle) {
      if (input.workers <= settle.workers && this.#now() - settle.at < SPAWN_SETTLE_MS) return
      this.#replicaSettle.delete(model)
    }
    const need = scaleOutNeed(input)
    if (!need) return
    this.#o.logger.info({ model, ...input, wait_ms: need.waitMs }, 'scaling out')
    const priority = Math.max(
      this.#o.policy(model).priority,
      ...(this.#queues.get(model) ?? []).map((w) => w.priority),
    )
    this.#startSpawn(
      key,
      model,
      { priority, replica: true },
      `scaling out ${model}: ${input.queued} queued would wait ~${formatSeconds(need.waitMs)} on ${input.slots} slot(s) of ${input.workers} worker(s) (target ${formatSeconds(input.targetWaitMs)}); starting replica ${input.workers + 1}`,
      () => {
        this.#o.metrics?.scaleOuts.inc({ model })
        this.#replicaSettle.set(model, { at: this.#now(), workers: input.workers })
      },
      () => this.#scaleOutFailedAt.set(model, this.#now()),
    )
  }

  /**
   * Keeps `min` workers of `model` (models.conf `min_replicas`, a pinned model's 1) up: starts one
   * spawn when fewer live and none is on its way. Called by the queen's timer.
   */
  keepUp(model: string, min: number): void {
    if (this.#ac.signal.aborted || min <= 0) return
    const key = replicaKey(model)
    if (this.#spawning.has(key) || this.#spawning.has(model)) return
    const live = this.#liveWorkers(model)
    if (live >= min) return
    this.#startSpawn(
      key,
      model,
      { priority: this.#o.policy(model).priority, replica: false },
      `keeping ${model} at min_replicas ${min}: ${live} running; starting one`,
      () => {},
      () => {},
    )
  }

  /**
   * A spawn nobody waits on (scale-out, upkeep): `why` is told to the model's waiters with the
   * spawn's first progress, its failure is logged, its waiters keep waiting.
   */
  #startSpawn(
    key: string,
    model: string,
    o: { priority: number; replica: boolean },
    why: string,
    onDone: () => void,
    onFailed: () => void,
  ): void {
    const tell = (human: string): void => {
      for (const w of this.#queues.get(model) ?? []) if (w.hiveId === undefined) w.onSpawn?.(human)
    }
    // Said once the spawn has somewhere to go: a replica no device can take is given up quietly.
    let told = false
    const narrate = (human: string): void => {
      if (!told) tell(why)
      told = true
      tell(human)
    }
    const started = this.#now()
    const p = this.#o.spawner
      .spawn({ model, hiveId: undefined, ...o }, this.#ac.signal, narrate)
      .then(
        () => {
          this.#loadMs.set(model, this.#now() - started)
          onDone()
          this.#dispatch(model)
        },
        (err: unknown) => {
          if (this.#ac.signal.aborted) return
          onFailed()
          this.#o.logger.info({ model, err: errorMessage(err) }, 'no replica could be added')
        },
      )
      .finally(() => this.#spawning.delete(key))
    this.#spawning.set(key, p)
  }

  #drop(waiter: Waiter): void {
    waiter.cleanup()
    const q = this.#queues.get(waiter.model)
    if (!q) return
    const i = q.indexOf(waiter)
    if (i >= 0) q.splice(i, 1)
    if (q.length === 0) this.#queues.delete(waiter.model)
    else this.#notifyPositions(q)
  }

  #notifyPositions(q: Waiter[]): void {
    q.forEach((w, i) => {
      if (w.position !== i + 1) {
        w.position = i + 1
        w.onQueued?.(i + 1, q.length)
      }
    })
  }

  /** A worker exists or is coming for (model, hive)? */
  #hasWorkerOrSpawn(model: string, hiveId: string | undefined): boolean {
    const key = spawnKey(model, hiveId)
    if (this.#spawning.has(key)) return true
    // A replica or min_replicas spawn on its way serves the model's waiters too.
    if (hiveId === undefined && this.#spawning.has(replicaKey(model))) return true
    const done = this.#spawned.get(key)
    if (
      done &&
      this.#now() - done.at < SPAWN_SETTLE_MS &&
      done.removals === (this.#removals.get(model) ?? 0)
    ) {
      return true
    }
    const { registry } = this.#o
    if (hiveId === undefined && registry.routableCount(model) > 0) return true
    for (const w of registry.workersForModel(model)) {
      if (hiveId !== undefined && w.hiveId !== hiveId) continue
      if (w.routable) return true
      const hive = w.hiveId ? registry.hive(w.hiveId) : undefined
      if (w.info.status === 'starting' && !w.stopping && (hive?.online ?? true)) return true
    }
    return false
  }

  /**
   * Starts one spawn for (model, hive) unless a worker exists or is already on its way, or the
   * key is starved and was tried less than `STARVED_RETRY_MS` ago (then one retry is armed).
   */
  #ensureWorker(model: string, hiveId: string | undefined): void {
    if (this.#hasWorkerOrSpawn(model, hiveId)) return
    const key = spawnKey(model, hiveId)
    const starved = this.#starved.get(key)
    if (starved) {
      const due = starved.triedAt + STARVED_RETRY_MS - this.#now()
      if (due > 0) {
        starved.retry ??= setTimeout(() => {
          starved.retry = undefined
          this.#retryStarved(key)
        }, due)
        return
      }
      clearTimeout(starved.retry)
      starved.retry = undefined
      starved.triedAt = this.#now()
    }
    const narrate = (human: string): void => {
      for (const w of this.#queues.get(model) ?? []) if (w.hiveId === hiveId) w.onSpawn?.(human)
    }
    const removals = this.#removals.get(model) ?? 0
    const started = this.#now()
    let priority = this.#o.policy(model).priority
    for (const w of this.#queues.get(model) ?? [])
      if (w.hiveId === hiveId) priority = Math.max(priority, w.priority)
    const p = this.#o.spawner
      .spawn({ model, hiveId, priority }, this.#ac.signal, narrate)
      .then(
        () => {
          this.#endStarved(key)
          this.#loadMs.set(model, this.#now() - started)
          this.#spawned.set(key, { at: this.#now(), removals })
          this.#dispatch(model)
        },
        (err: unknown) => {
          if (this.#ac.signal.aborted) return
          const room =
            err instanceof RbeeError && err.code === 'RBEE_NO_CAPACITY'
              ? this.#o.spawner.roomOnceIdle?.({ model, hiveId, priority })
              : undefined
          if (room) {
            // Busy workers hold the room: the waiters wait (queue timeout, deadline) for one to
            // go idle, and the spawn is tried again then, instead of failing them now. Said once
            // per episode: a busy fleet retries it many times.
            let s = this.#starved.get(key)
            if (!s) {
              s = { model, hiveId, triedAt: this.#now(), retry: undefined, wake: undefined }
              this.#starved.set(key, s)
              this.#o.logger.info({ model, hive_id: hiveId }, 'no room until a worker goes idle')
              narrate(`no room for ${model} now; waiting for a busy worker to go idle to make room`)
            }
            // A worker held back only by the hysteresis window frees no slot when its window
            // ends: nothing else would try again then.
            clearTimeout(s.wake)
            s.wake = undefined
            if (room.retryAt !== undefined) {
              const entry = s
              entry.wake = setTimeout(
                () => {
                  entry.wake = undefined
                  entry.triedAt = -Infinity
                  this.#retryStarved(key)
                },
                Math.max(0, room.retryAt - this.#now()),
              )
            }
            return
          }
          this.#endStarved(key)
          this.#o.logger.warn({ model, hive_id: hiveId, err: errorMessage(err) }, 'spawn failed')
          // Everyone waiting for this spawn learns why it failed, unless a worker turned up anyway.
          const q = this.#queues.get(model) ?? []
          for (const w of [...q]) {
            if (w.hiveId !== hiveId) continue
            if (this.#o.registry.pick(model, hiveId)) break
            this.#drop(w)
            w.reject(err)
          }
        },
      )
      .finally(() => {
        this.#spawning.delete(key)
        // A worker that died right after its spawn leaves waiters behind: try again for them
        // (a spawn waiting for room is tried again when a worker's state changes instead).
        if (!this.#ac.signal.aborted && !this.#starved.has(key)) this.#ensureForWaiters(model)
      })
    this.#spawning.set(key, p)
  }

  /** A starved spawn tries again (throttled), or its episode ends when nobody waits for it. */
  #retryStarved(key: string): void {
    const s = this.#starved.get(key)
    if (!s || this.#ac.signal.aborted) return
    if (this.#queues.get(s.model)?.some((w) => w.hiveId === s.hiveId)) this.#ensureWorker(s.model, s.hiveId)
    else this.#endStarved(key)
  }

  #endStarved(key: string): void {
    const s = this.#starved.get(key)
    if (!s) return
    clearTimeout(s.retry)
    clearTimeout(s.wake)
    this.#starved.delete(key)
  }

  #ensureForWaiters(model: string): void {
    const q = this.#queues.get(model)
    if (!q) return
    const keys = new Set<string | undefined>(q.map((w) => w.hiveId))
    for (const hiveId of keys) this.#ensureWorker(model, hiveId)
  }

  /** Hands free slots to waiting requests, oldest first. */
  #dispatch(model: string): void {
    const q = this.#queues.get(model)
    if (!q) return
    let handed = false
    for (let i = 0; i < q.length; ) {
      const waiter = q[i]!
      const w = this.#o.registry.pick(model, waiter.hiveId)
      if (!w) {
        i++
        continue
      }
      q.splice(i, 1)
      waiter.cleanup()
      handed = true
      waiter.resolve(this.#lease(w))
    }
    if (q.length === 0) this.#queues.delete(model)
    else if (handed) this.#notifyPositions(q)
  }

  #onRegistry(ev: RegistryEvent): void {
    if (ev.type === 'worker_removed') {
      const model = ev.worker.model
      this.#removals.set(model, (this.#removals.get(model) ?? 0) + 1)
      return
    }
    if (ev.type !== 'model') return
    for (const key of [...this.#starved.keys()]) this.#retryStarved(key)
    if (this.#spawned.size > 0 && this.#o.registry.routableCount(ev.model) > 0) {
      // The spawned worker has arrived: the settling window is over.
      for (const key of this.#spawned.keys()) {
        if (key === ev.model || key.startsWith(`${ev.model} on `)) this.#spawned.delete(key)
      }
    }
    if (!this.#queues.has(ev.model)) return
    this.#dispatch(ev.model)
    if (this.#queues.has(ev.model)) {
      this.#ensureForWaiters(ev.model)
      this.#maybeScaleOut(ev.model)
    }
  }

  /** Rejects every waiting request and stops spawning. Idempotent. */
  close(): void {
    this.#ac.abort(new RbeeError('RBEE_DRAINING', 'queen is shutting down'))
    this.#unsubscribe()
    for (const key of [...this.#starved.keys()]) this.#endStarved(key)
    for (const q of this.#queues.values()) {
      for (const w of q) {
        w.cleanup()
        w.reject(new RbeeError('RBEE_DRAINING', 'queen is shutting down', { retryAfterS: 1 }))
      }
    }
    this.#queues.clear()
  }
}
