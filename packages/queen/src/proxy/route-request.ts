import { delay, errorMessage, type Logger } from '@rbee/common'
import type { QueenMetrics } from '../metrics.js'
import type { Registry } from '../registry/registry.js'
import type { WorkerEntry } from '../registry/worker-entry.js'
import type { AcquireOptions, Scheduler } from '../scheduler/scheduler.js'
import { WorkerFailure } from './worker-proxy.js'

export interface RouteDeps {
  scheduler: Scheduler
  registry: Registry
  metrics: QueenMetrics
  logger: Logger
  /** Tries per request (first one included). @default 3 */
  maxAttempts?: number
  /** How long a worker that dropped a connection leaves routing. @default 5000 */
  quarantineMs?: number
}

export interface RouteOptions extends AcquireOptions {
  signal: AbortSignal
  /** The request goes to `worker` (try number `attempt`). */
  onDispatch?: (worker: WorkerEntry, attempt: number) => void
  /** The try on `worker` failed before any token; another one follows. */
  onRetry?: (err: WorkerFailure, worker: WorkerEntry, attempt: number) => void
}

/**
 * Runs a request on a worker chosen by the scheduler, holding the slot for as long as `run`
 * runs. If the worker fails before anything reached the client (`committed()` still false) the
 * request moves to another worker (or a fresh spawn), up to `maxAttempts` tries; once something
 * has been sent, the failure is the caller's to report.
 */
export async function routeRequest<T>(
  deps: RouteDeps,
  model: string,
  options: RouteOptions,
  run: (worker: WorkerEntry, attempt: number) => Promise<T>,
  committed: () => boolean,
): Promise<T> {
  const maxAttempts = deps.maxAttempts ?? 3
  for (let attempt = 1; ; attempt++) {
    const lease = await deps.scheduler.acquire(model, options)
    const worker = lease.worker
    options.onDispatch?.(worker, attempt)
    try {
      return await run(worker, attempt)
    } catch (err) {
      lease.release()
      if (options.signal.aborted || committed() || !(err instanceof WorkerFailure) || !err.retryable)
        throw err
      if (err.quarantine) deps.registry.quarantine(worker, deps.quarantineMs ?? 5000)
      deps.metrics.retries.inc({ reason: err.quarantine ? 'worker_failed' : 'worker_busy' })
      deps.logger.warn(
        { worker_id: worker.id, model, attempt, err: errorMessage(err) },
        'retrying on another worker',
      )
      if (attempt >= maxAttempts) throw err
      options.onRetry?.(err, worker, attempt)
      // A busy worker (someone else is using it directly) gets a moment before the next try.
      if (!err.quarantine) await delay(50 * attempt, options.signal)
    } finally {
      lease.release()
    }
  }
}
