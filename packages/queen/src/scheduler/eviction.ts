import { formatSeconds } from '@rbee/common'
import { type Device, usableBackend } from '@rbee/contracts'
import type { ModelPolicy } from '../models-conf.js'
import type { HiveEntry } from '../registry/registry.js'
import type { WorkerEntry } from '../registry/worker-entry.js'
import { workerDeviceIds } from './device-usage.js'
import { deviceKey, formatMb } from './placement.js'

/** Who asks for room: the model to place, and how much it may displace. */
export interface RoomRequest {
  model: string
  /** The highest priority among the requests waiting for it (see `REQUEST_PRIORITY_HEADER`). */
  priority: number
  /**
   * Its own priority in models.conf: only this (or `pinned`) outranks a worker inside the
   * hysteresis window; a request's `X-Request-Priority` does not.
   */
  modelPriority: number
  /** The model is pinned: a worker inside the hysteresis window may make room for it. */
  pinned: boolean
  /** Make room only by stopping workers loaded before the window (scale-out never overrides it). */
  strict?: boolean
  /**
   * Count busy workers and those inside the hysteresis window as if they were idle and old: is
   * there room once they are? (A spawn then waits instead of failing.)
   */
  onceIdle?: boolean
}

export interface EvictionOptions {
  policy: (model: string) => ModelPolicy
  /** Workers per model that count toward `min_replicas` (live, not being stopped). */
  liveWorkers: (model: string) => number
  /** A worker loaded this recently is kept unless the request outranks it. */
  hysteresisMs: number
  /** MB promised per `hive/device` to spawns in flight. */
  reserved?: ReadonlyMap<string, number>
  /** Devices the model must not go to now. */
  blocked?: (hiveId: string, deviceId: string) => string | undefined
  now: number
}

/** Idle workers to stop on one device so that the model fits there. */
export interface EvictionPlan {
  hive: HiveEntry
  device: Device
  needMb: number
  /** Free now (after what spawns in flight were promised). */
  availMb: number
  victims: Victim[]
}

export interface Victim {
  worker: WorkerEntry
  /** What stopping it gives back on the device: its model's estimate (its share of a split). */
  mb: number
  /** Idle for this long (ms). */
  idleMs: number
  /** It had a live `keep_alive` of its own. */
  keptAlive: boolean
}

/** A worker's live `keep_alive`: set by a request and not yet run out. */
const keptAlive = (w: WorkerEntry, now: number): boolean =>
  w.keepAliveMs !== null && w.keepAliveMs > 0 && now - w.lastUsedMs < w.keepAliveMs

/** Why `w` may not be stopped to make room for `req`, or undefined when it may. */
export function keepReason(
  w: WorkerEntry,
  req: RoomRequest,
  o: Pick<EvictionOptions, 'policy' | 'hysteresisMs' | 'now'>,
): string | undefined {
  if (w.model === req.model) return 'same model'
  if (w.hiveId === null || w.stopping || !w.routable || w.info.status !== 'ready') return 'not stoppable'
  if ((w.inflight > 0 || w.info.slots_busy > 0) && !req.onceIdle) return 'busy'
  const p = o.policy(w.model)
  if (p.pin) return 'pinned'
  if (p.priority > req.priority) return 'higher priority'
  const outranked = !req.strict && (req.pinned || req.modelPriority > p.priority)
  if (o.now - w.loadedAtMs < o.hysteresisMs && !outranked && !req.onceIdle) return 'loaded recently'
  return undefined
}

/** Stopped first: no live keep_alive, then lower priority, then least recently used. */
function evictsBefore(a: Victim, b: Victim, policy: (m: string) => ModelPolicy): boolean {
  if (a.keptAlive !== b.keptAlive) return b.keptAlive
  const pa = policy(a.worker.model).priority
  const pb = policy(b.worker.model).priority
  if (pa !== pb) return pa < pb
  if (a.worker.lastUsedMs !== b.worker.lastUsedMs) return a.worker.lastUsedMs < b.worker.lastUsedMs
  return a.worker.id < b.worker.id
}

/** The better plan: a GPU, then fewer kept-alive victims, then fewer victims, then older ones. */
function betterPlan(a: EvictionPlan, b: EvictionPlan): boolean {
  const gpu = (p: EvictionPlan): boolean => p.device.type === 'gpu'
  if (gpu(a) !== gpu(b)) return gpu(a)
  const kept = (p: EvictionPlan): number => p.victims.filter((v) => v.keptAlive).length
  if (kept(a) !== kept(b)) return kept(a) < kept(b)
  if (a.victims.length !== b.victims.length) return a.victims.length < b.victims.length
  const newest = (p: EvictionPlan): number => Math.max(...p.victims.map((v) => v.worker.lastUsedMs))
  return newest(a) < newest(b)
}

/**
 * Where stopping idle workers makes room for `req.model`, among `hives` (those whose catalog
 * has it): per device, the idle workers that may go (see `keepReason`: never a pinned one, one of
 * a higher-priority model, one loaded within the hysteresis window unless the request outranks it,
 * nor below a model's `min_replicas`), in eviction order (see `evictsBefore`), as few as free
 * enough. Undefined when no device can be made room on.
 */
export function planEviction(
  req: RoomRequest,
  hives: readonly HiveEntry[],
  o: EvictionOptions,
): EvictionPlan | undefined {
  let best: EvictionPlan | undefined
  for (const hive of hives) {
    const needMb = hive.catalog?.find((m) => m.id === req.model && m.available)?.memory_estimate_mb
    if (needMb === undefined) continue
    const byDevice = new Map<string, Victim[]>()
    for (const w of hive.workers) {
      if (keepReason(w, req, o) !== undefined) continue
      const ids = workerDeviceIds(w.info.device)
      const estimate = hive.catalog?.find((m) => m.id === w.model)?.memory_estimate_mb ?? 0
      const v: Victim = {
        worker: w,
        mb: Math.floor(estimate / ids.length),
        idleMs: Math.max(0, o.now - w.lastUsedMs),
        keptAlive: keptAlive(w, o.now),
      }
      for (const id of ids) byDevice.set(id, [...(byDevice.get(id) ?? []), v])
    }
    for (const device of hive.devices) {
      if (!usableBackend(device) || o.blocked?.(hive.id, device.id)) continue
      if (device.memory_total_mb < needMb) continue
      const reserved = o.reserved?.get(deviceKey(hive.id, device.id)) ?? 0
      const availMb = Math.max(0, device.memory_free_mb - reserved)
      const sorted = (byDevice.get(device.id) ?? []).sort((a, b) => (evictsBefore(a, b, o.policy) ? -1 : 1))
      const victims: Victim[] = []
      const taken = new Map<string, number>()
      let freed = 0
      for (const v of sorted) {
        if (availMb + freed >= needMb) break
        const floor = o.policy(v.worker.model).minReplicas
        const left = o.liveWorkers(v.worker.model) - (taken.get(v.worker.model) ?? 0)
        if (left <= floor) continue
        taken.set(v.worker.model, (taken.get(v.worker.model) ?? 0) + 1)
        victims.push(v)
        freed += v.mb
      }
      if (victims.length === 0 || availMb + freed < needMb) continue
      const plan: EvictionPlan = { hive, device, needMb, availMb, victims }
      if (!best || betterPlan(plan, best)) best = plan
    }
  }
  return best
}

/** The narration of one victim: `evicting worker w-1 (model m, idle 42 s) on h1/cpu:0 to make room for x (needs 300 MiB, 120 MiB free)`. */
export function describeEviction(plan: EvictionPlan, v: Victim, model: string): string {
  const why = v.keptAlive ? ', keep_alive not run out' : ''
  return `evicting worker ${v.worker.id} (model ${v.worker.model}, idle ${formatSeconds(v.idleMs)}${why}) on ${deviceKey(plan.hive.id, plan.device.id)} to make room for ${model} (needs ${formatMb(plan.needMb)}, ${formatMb(plan.availMb)} free)`
}
