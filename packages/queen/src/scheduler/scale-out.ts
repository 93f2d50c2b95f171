/** What scale-out decides on, for one model. */
export interface ScaleOutInput {
  /** Requests waiting for any of its workers. */
  queued: number
  /** Slots of its routable workers. */
  slots: number
  /** Its smoothed time per request (ms); undefined until one has finished. */
  serviceMs: number | undefined
  /** Its live workers (starting or routable). */
  workers: number
  /** Most workers it may have. */
  maxReplicas: number
  /** The longest the last queued request should wait (ms); 0: never scale out. */
  targetWaitMs: number
  /** How long its last spawn took (ms): a replica that comes after the queue drained is waste. */
  loadMs: number | undefined
}

/**
 * Whether a model needs one more replica, and the wait that says so: the queue drains in waves of
 * `slots` requests each taking `serviceMs`, so the last of `queued` requests waits about
 * `ceil(queued / slots) × serviceMs`. More than `targetWaitMs`, and more than loading a worker of
 * the model takes (`loadMs`: a replica ready after the queue drained serves nobody) → one more replica, unless the
 * model has `maxReplicas` workers already, has no routable worker yet (its first spawn is the
 * answer), or no request of it has finished (nothing to estimate from).
 */
export function scaleOutNeed(i: ScaleOutInput): { waitMs: number } | undefined {
  if (i.targetWaitMs <= 0 || i.queued === 0 || i.slots === 0 || i.serviceMs === undefined) return undefined
  if (i.workers >= i.maxReplicas) return undefined
  const waitMs = Math.ceil(i.queued / i.slots) * i.serviceMs
  return waitMs > Math.max(i.targetWaitMs, i.loadMs ?? 0) ? { waitMs } : undefined
}
