import { HfRefSchema, type ModelEntry, usableBackend } from '@rbee/contracts'
import type { HiveEntry } from '../registry/registry.js'
import { deviceKey, formatMb } from './placement.js'

/** A hive without the model's file that has room for it: it downloads the file, then runs it. */
export interface DownloadTarget {
  hive: HiveEntry
  /** What the hive downloads: the `hf:` reference a hive that has the model got it from. */
  source: string
  needMb: number
  /** Why this hive, in words (spawn narration). */
  reason: string
}

/**
 * Where a model no hive that has its file can take (even after eviction) may go instead: among
 * online `hives` (or just `hiveId`) whose catalog lacks it, one with a device that has its estimate
 * free (after what spawns in flight were promised; a GPU first, then the tightest fit). Only a
 * model some hive downloaded (`hf:` source) can be fetched; undefined when none can.
 */
export function chooseDownloadTarget(
  model: string,
  holders: readonly HiveEntry[],
  hives: Iterable<HiveEntry>,
  o: {
    hiveId: string | undefined
    reserved?: ReadonlyMap<string, number>
    blocked?: (hiveId: string, deviceId: string) => string | undefined
  },
): DownloadTarget | undefined {
  let entry: ModelEntry | undefined
  for (const h of holders) {
    const e = h.catalog?.find((m) => m.id === model && m.available)
    if (e && HfRefSchema.safeParse(e.source).success) entry = e
  }
  if (!entry) return undefined
  const held = new Set(holders.map((h) => h.id))
  let best: { hive: HiveEntry; gpu: boolean; slack: number; label: string } | undefined
  for (const hive of hives) {
    if (!hive.online || held.has(hive.id) || (o.hiveId !== undefined && hive.id !== o.hiveId)) continue
    for (const d of hive.devices) {
      if (!usableBackend(d) || o.blocked?.(hive.id, d.id)) continue
      const key = deviceKey(hive.id, d.id)
      const slack = d.memory_free_mb - (o.reserved?.get(key) ?? 0) - entry.memory_estimate_mb
      if (slack < 0) continue
      const gpu = d.type === 'gpu'
      if (!best || (gpu && !best.gpu) || (gpu === best.gpu && slack < best.slack)) {
        best = { hive, gpu, slack, label: `${key}, ${formatMb(slack + entry.memory_estimate_mb)} free` }
      }
    }
  }
  if (!best) return undefined
  return {
    hive: best.hive,
    source: entry.source,
    needMb: entry.memory_estimate_mb,
    reason: `no hive with ${model} has room; ${best.label}`,
  }
}
