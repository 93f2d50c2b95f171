import { RbeeError } from '@rbee/common'
import type { BackendRequest, Device } from '@rbee/contracts'
import type { HiveEntry } from '../registry/registry.js'

/** Where a new worker goes. */
export interface Placement {
  hive: HiveEntry
  device: Device
  backend: BackendRequest
  deviceIndex: number
  needMb: number
}

/**
 * Chooses the device for a new worker of `model` among hives that have it in their catalog:
 * the best fit, i.e. the device whose free memory (minus memory already promised to spawns in
 * flight) exceeds the model's estimate by the least, which keeps large holes for large models.
 * @param reserved - MB promised per `hive/device` to spawns that have not reported yet.
 * @throws RbeeError `RBEE_NO_CAPACITY` naming what the model needs and what each hive has free.
 */
export function choosePlacement(
  model: string,
  hives: readonly HiveEntry[],
  reserved: ReadonlyMap<string, number> = new Map(),
): Placement {
  let best: Placement | undefined
  let bestSlack = Number.POSITIVE_INFINITY
  const free: string[] = []
  let maxNeed = 0
  for (const hive of hives) {
    const entry = hive.catalog?.find((m) => m.id === model && m.available)
    if (!entry) continue
    const needMb = entry.memory_estimate_mb
    maxNeed = Math.max(maxNeed, needMb)
    const parts: string[] = []
    for (const device of hive.devices) {
      const avail = device.memory_free_mb - (reserved.get(`${hive.id}/${device.id}`) ?? 0)
      parts.push(`${device.id} ${Math.max(0, avail)} MB`)
      const slack = avail - needMb
      if (slack >= 0 && slack < bestSlack) {
        bestSlack = slack
        best = {
          hive,
          device,
          backend: device.type === 'cpu' ? 'cpu' : device.backend,
          deviceIndex: Number(device.id.split(':')[1] ?? 0),
          needMb,
        }
      }
    }
    free.push(`${hive.id}: ${parts.length > 0 ? parts.join(', ') : 'no devices reported yet'}`)
  }
  if (best) return best
  throw new RbeeError(
    'RBEE_NO_CAPACITY',
    `model ${model} needs ${maxNeed} MB, free: ${free.length > 0 ? free.join('; ') : 'no hive has it'}`,
    { retryAfterS: 30 },
  )
}
