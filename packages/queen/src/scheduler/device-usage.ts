import type { HiveEntry } from '../registry/registry.js'

/** What already runs on one device of a hive. */
export interface DeviceUsage {
  /** Workers on the device; a worker split across GPUs counts on each of them. */
  workers: number
  /** Of those, workers of the model being placed. */
  ofModel: number
  /** Slots in use: per worker the more of what it reports and what the queen routed to it. */
  busySlots: number
}

export const NO_USAGE: Readonly<DeviceUsage> = Object.freeze({ workers: 0, ofModel: 0, busySlots: 0 })

/** The devices a worker's `device` names: `cuda:0,1` → `gpu:0`, `gpu:1`; `cpu:0` → `cpu:0`. */
export function workerDeviceIds(device: string): string[] {
  const [backend = '', indexes = ''] = device.split(':')
  const type = backend === 'cpu' ? 'cpu' : 'gpu'
  return indexes.split(',').map((i) => `${type}:${i}`)
}

/** Per device id of `hive`, the workers on it (those being stopped do not count). */
export function deviceUsage(hive: HiveEntry, model: string): Map<string, DeviceUsage> {
  const out = new Map<string, DeviceUsage>()
  for (const w of hive.workers) {
    if (w.stopping || w.info.status === 'stopping' || w.info.status === 'stopped') continue
    for (const id of workerDeviceIds(w.info.device)) {
      const u = out.get(id) ?? { workers: 0, ofModel: 0, busySlots: 0 }
      u.workers++
      if (w.model === model) u.ofModel++
      u.busySlots += Math.max(w.info.slots_busy, w.inflight)
      out.set(id, u)
    }
  }
  return out
}
