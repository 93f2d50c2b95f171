import { errorMessage, type Logger } from '@rbee/common'
import { DEFAULT_MODEL_POLICY, type ModelPolicy } from '../models-conf.js'
import type { Registry } from '../registry/registry.js'
import type { WorkerEntry } from '../registry/worker-entry.js'

export interface IdleReaperOptions {
  registry: Registry
  /** Idle time after which a worker of `model` is stopped; 0 keeps it forever. */
  ttlMs: (model: string) => number
  /** Asks the worker's hive to stop it. */
  stop: (worker: WorkerEntry) => Promise<void>
  logger: Logger
  /** models.conf: a pinned model is never stopped, `ttl` overrides `ttlMs`, `min_replicas` is kept. @default none */
  policy?: (model: string) => ModelPolicy
  now?: () => number
}

/**
 * Stops workers that have been idle longer than their model's TTL so their memory comes back.
 * Only workers a hive runs are stopped (a hive is what can stop them); `sweep()` is driven by
 * the queen's timer and reads only the registry's idle set.
 */
export class IdleReaper {
  readonly #o: IdleReaperOptions

  constructor(options: IdleReaperOptions) {
    this.#o = options
  }

  /**
   * How long `w` may stay idle: its `keep_alive` when an Ollama request set one, else its model's
   * TTL; `Infinity` when it is never stopped.
   */
  idleLimitMs(w: WorkerEntry): number {
    const policy = this.#o.policy?.(w.model) ?? DEFAULT_MODEL_POLICY
    if (policy.pin) return Number.POSITIVE_INFINITY
    if (w.keepAliveMs !== null) return w.keepAliveMs
    const ttl = policy.ttlMs ?? this.#o.ttlMs(w.model)
    return ttl > 0 ? ttl : Number.POSITIVE_INFINITY
  }

  /**
   * When the queen will stop `w` if no request comes (ms since epoch): its idle limit after its
   * last use, or from now while it is busy; `Infinity` when never, or when no hive runs it.
   */
  expiresAtMs(w: WorkerEntry): number {
    if (w.hiveId === null) return Number.POSITIVE_INFINITY
    const now = (this.#o.now ?? Date.now)()
    return (w.inflight > 0 ? now : w.lastUsedMs) + this.idleLimitMs(w)
  }

  sweep(): void {
    const now = (this.#o.now ?? Date.now)()
    const due: WorkerEntry[] = []
    // Per model, workers that may still go before it falls to its min_replicas.
    const spare = new Map<string, number>()
    const idle = [...this.#o.registry.idleWorkers()].sort((a, b) => a.lastUsedMs - b.lastUsedMs)
    for (const w of idle) {
      if (w.hiveId === null || now - w.lastUsedMs < this.idleLimitMs(w)) continue
      let left = spare.get(w.model)
      if (left === undefined) {
        let live = 0
        for (const x of this.#o.registry.workersForModel(w.model)) if (!x.stopping) live++
        left = live - (this.#o.policy?.(w.model) ?? DEFAULT_MODEL_POLICY).minReplicas
      }
      if (left <= 0) continue
      spare.set(w.model, left - 1)
      due.push(w)
    }
    for (const w of due) {
      this.#o.registry.setStopping(w, true)
      this.#o.logger.info(
        { worker_id: w.id, model: w.model, idle_ms: now - w.lastUsedMs },
        'stopping idle worker',
      )
      this.#o.stop(w).catch((err: unknown) => {
        this.#o.logger.warn({ worker_id: w.id, err: errorMessage(err) }, 'could not stop idle worker')
        this.#o.registry.setStopping(w, false)
      })
    }
  }
}
