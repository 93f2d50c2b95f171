import { deadlineExceeded, errorMessage, formatSeconds, type Logger, RbeeError } from '@rbee/common'
import { QUEEN_DEFAULTS } from '../queen-defaults.js'
import type { Registry, RegistryEvent } from '../registry/registry.js'
import type { WorkerEntry } from '../registry/worker-entry.js'
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
}

export interface SchedulerOptions {
  registry: Registry
  spawner: Spawner
  logger: Logger
  /** Requests that may wait per model. @default 64 */
  queueSize?: number
  /** Longest a request without a deadline of its own waits for a slot. @default 60_000 */
  queueTimeoutMs?: number
}

interface Waiter {
  model: string
  hiveId: string | undefined
  resolve: (lease: Lease) => void
  reject: (err: unknown) => void
  onQueued: ((position: number, depth: number) => void) | undefined
  onSpawn: ((human: string) => void) | undefined
  position: number
  cleanup: () => void
}

/**
 * After a successful spawn, how long its worker may take to show up in the registry (via the
 * hive stream or its heartbeat) before another spawn for the same model is allowed.
 */
const SPAWN_SETTLE_MS = 10_000

const spawnKey = (model: string, hiveId: string | undefined): string =>
  hiveId === undefined ? model : `${model}@${hiveId}`

/**
 * Decides where each request runs. A free slot on the best worker is taken at once (see
 * `Registry.pick`); otherwise the request waits in its model's bounded queue (full → 429, too
 * long → 503) and is handed the next slot that frees up. When a model has no worker at all, one
 * spawn is started for every request that waits for it.
 */
export class Scheduler {
  readonly #o: Required<Omit<SchedulerOptions, 'logger'>> & { logger: Logger }
  readonly #queues = new Map<string, Waiter[]>()
  readonly #spawning = new Map<string, Promise<void>>()
  /**
   * Spawns that succeeded, per key: when, and the model's removal count when they started. Their
   * worker may still be on its way to the registry, unless a worker of the model was removed
   * since (it may have been that one).
   */
  readonly #spawned = new Map<string, { at: number; removals: number }>()
  readonly #removals = new Map<string, number>()
  readonly #ac = new AbortController()
  readonly #unsubscribe: () => void

  constructor(options: SchedulerOptions) {
    this.#o = {
      ...options,
      queueSize: options.queueSize ?? QUEEN_DEFAULTS.queueSize,
      queueTimeoutMs: options.queueTimeoutMs ?? QUEEN_DEFAULTS.queueTimeoutMs,
    }
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

  /** Spawns in flight, by `model` or `model@hive`. */
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
      q.push(waiter)
      this.#notifyPositions(q)
      this.#ensureWorker(model, options.hiveId)
    })
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
    let released = false
    return {
      worker: w,
      release: () => {
        if (released) return
        released = true
        this.#o.registry.release(w)
      },
    }
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
    const done = this.#spawned.get(key)
    if (
      done &&
      Date.now() - done.at < SPAWN_SETTLE_MS &&
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

  /** Starts one spawn for (model, hive) unless a worker exists or is already on its way. */
  #ensureWorker(model: string, hiveId: string | undefined): void {
    if (this.#hasWorkerOrSpawn(model, hiveId)) return
    const key = spawnKey(model, hiveId)
    const narrate = (human: string): void => {
      for (const w of this.#queues.get(model) ?? []) if (w.hiveId === hiveId) w.onSpawn?.(human)
    }
    const removals = this.#removals.get(model) ?? 0
    const p = this.#o.spawner
      .spawn({ model, hiveId }, this.#ac.signal, narrate)
      .then(
        () => {
          this.#spawned.set(key, { at: Date.now(), removals })
          this.#dispatch(model)
        },
        (err: unknown) => {
          if (this.#ac.signal.aborted) return
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
        // A worker that died right after its spawn leaves waiters behind: try again for them.
        if (!this.#ac.signal.aborted) this.#ensureForWaiters(model)
      })
    this.#spawning.set(key, p)
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
    if (this.#spawned.size > 0 && this.#o.registry.routableCount(ev.model) > 0) {
      // The spawned worker has arrived: the settling window is over.
      for (const key of this.#spawned.keys()) {
        if (key === ev.model || key.startsWith(`${ev.model}@`)) this.#spawned.delete(key)
      }
    }
    if (!this.#queues.has(ev.model)) return
    this.#dispatch(ev.model)
    if (this.#queues.has(ev.model)) this.#ensureForWaiters(ev.model)
  }

  /** Rejects every waiting request and stops spawning. Idempotent. */
  close(): void {
    this.#ac.abort(new RbeeError('RBEE_DRAINING', 'queen is shutting down'))
    this.#unsubscribe()
    for (const q of this.#queues.values()) {
      for (const w of q) {
        w.cleanup()
        w.reject(new RbeeError('RBEE_DRAINING', 'queen is shutting down', { retryAfterS: 1 }))
      }
    }
    this.#queues.clear()
  }
}
