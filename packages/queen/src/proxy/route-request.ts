import { delay, errorMessage, type Logger } from '@rbee/common'
import type { QueenMetrics } from '../metrics.js'
import { QUEEN_DEFAULTS } from '../queen-defaults.js'
import type { Registry } from '../registry/registry.js'
import type { WorkerEntry } from '../registry/worker-entry.js'
import type { AcquireOptions, Scheduler } from '../scheduler/scheduler.js'
import { WorkerFailure } from '../transport/worker-failure.js'
import { requestDeadlineSignal } from './request-deadline.js'
import { NO_STALL_WATCH, type StallBounds, StallWatch, type TokenProgress } from './stall-watch.js'

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
  /** The stall bounds of a try on `worker` (see `StallWatch`); none: no bound. */
  stall?: (worker: WorkerEntry) => StallBounds
}

/**
 * Runs a request on a worker chosen by the scheduler, holding the slot for as long as `run`
 * runs. If the worker fails before anything reached the client (`committed()` still false) the
 * request moves to another worker (or a fresh spawn), up to `maxAttempts` tries; once something
 * has been sent, the failure is the caller's to report. A try is aborted with a `WorkerFailure`
 * when its worker is lost, or stalls past `options.stall` (`run` reports tokens to `progress`).
 * With `deadlineAt`, waiting for a slot ends there, and `run`'s signal aborts with
 * `RBEE_DEADLINE_EXCEEDED` shortly after it (the worker, told the deadline, ends the request
 * itself first; this catches one that does not).
 */
export async function routeRequest<T>(
  deps: RouteDeps,
  model: string,
  options: RouteOptions,
  run: (worker: WorkerEntry, attempt: number, signal: AbortSignal, progress: TokenProgress) => Promise<T>,
  committed: () => boolean,
): Promise<T> {
  const maxAttempts = deps.maxAttempts ?? QUEEN_DEFAULTS.maxAttempts
  const outer = requestDeadlineSignal(options.signal, options.deadlineAt)
  try {
    for (let attempt = 1; ; attempt++) {
      const lease = await deps.scheduler.acquire(model, options)
      const worker = lease.worker
      options.onDispatch?.(worker, attempt)
      const lost = workerLostSignal(deps.registry, worker, outer.signal)
      const watch = options.stall ? new StallWatch(worker, options.stall(worker), lost.abort) : NO_STALL_WATCH
      try {
        return await run(worker, attempt, lost.signal, watch)
      } catch (thrown) {
        // The worker left routing (its hive went offline, or it exited) or stalled while this
        // request ran on it: that is the failure, whatever error the aborted connection produced.
        const err = lost.signal.aborted && !outer.signal.aborted ? lost.signal.reason : thrown
        lease.release()
        // Past the deadline, that is the error, whatever the aborted connection made of it.
        if (outer.signal.aborted && !options.signal.aborted) throw outer.signal.reason
        const stalled = err instanceof WorkerFailure && err.code === 'RBEE_WORKER_STALLED'
        if (options.signal.aborted || committed() || !(err instanceof WorkerFailure) || !err.retryable)
          throw err
        if (err.quarantine) deps.registry.quarantine(worker, deps.quarantineMs ?? 5000)
        deps.metrics.retries.inc({
          reason: stalled ? 'worker_stalled' : err.quarantine ? 'worker_failed' : 'worker_busy',
        })
        deps.logger.warn(
          { worker_id: worker.id, model, attempt, err: errorMessage(err) },
          'retrying on another worker',
        )
        if (attempt >= maxAttempts) throw err
        options.onRetry?.(err, worker, attempt)
        // A busy worker (someone else is using it directly) gets a moment before the next try.
        if (!err.quarantine) await delay(50 * attempt, outer.signal)
      } finally {
        // A worker that stalled mid-stream leaves routing too, though its request cannot move:
        // whether the relay threw or ended the stream itself with the stall's error frame.
        const why: unknown = lost.signal.reason
        if (committed() && why instanceof WorkerFailure && why.code === 'RBEE_WORKER_STALLED')
          deps.registry.quarantine(worker, deps.quarantineMs ?? 5000)
        watch.close()
        lost.dispose()
        lease.release()
      }
    }
  } finally {
    outer.clear()
  }
}

/**
 * An AbortSignal for one try on `worker`: aborted with the caller's reason, or with a retryable
 * `WorkerFailure` the moment the registry says the worker is gone (its hive offline, or removed),
 * so a request on a host that dropped off moves on instead of stalling on a dead connection.
 */
function workerLostSignal(
  registry: Registry,
  worker: WorkerEntry,
  outer: AbortSignal,
): { signal: AbortSignal; abort: (reason: WorkerFailure) => void; dispose: () => void } {
  const ac = new AbortController()
  const onOuter = (): void => ac.abort(outer.reason)
  if (outer.aborted) onOuter()
  else outer.addEventListener('abort', onOuter, { once: true })
  const off = registry.onLoss(worker, (reason) => {
    if (ac.signal.aborted) return
    ac.abort(
      new WorkerFailure(worker.id, `worker ${worker.id} was lost (${reason})`, {
        retryable: true,
        quarantine: true,
      }),
    )
  })
  return {
    signal: ac.signal,
    abort: (reason) => {
      if (!ac.signal.aborted) ac.abort(reason)
    },
    dispose: () => {
      off()
      outer.removeEventListener('abort', onOuter)
    },
  }
}
