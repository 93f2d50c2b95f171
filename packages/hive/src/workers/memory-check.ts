import { RbeeError } from '@rbee/common'
import { type Placement, placementName } from './placement.js'

/**
 * Refuses a spawn whose memory estimate exceeds what is free on its device, or on its devices
 * together for a model split across GPUs.
 * @throws RbeeError `RBEE_NO_CAPACITY` naming the needed and free MB.
 */
export function checkMemoryFits(
  modelId: string,
  neededMb: number,
  placement: Pick<Placement, 'backend' | 'devices' | 'workerDevices'>,
): void {
  const devs = placement.devices
  const free = devs.reduce((s, d) => s + d.memory_free_mb, 0)
  if (neededMb <= free) return
  const what = devs[0]?.type === 'cpu' ? 'RAM' : 'VRAM'
  const [one] = devs
  const figures =
    devs.length === 1 && one
      ? `${one.name}, ${one.memory_total_mb} MB total`
      : `together: ${devs.map((d) => `${d.id} ${d.name} ${d.memory_free_mb} MB`).join(', ')}`
  throw new RbeeError(
    'RBEE_NO_CAPACITY',
    `not enough memory for ${modelId} on ${placementName(placement)}: needs ~${neededMb} MB of ${what}, ${free} MB free (${figures})`,
    {
      details: {
        needed_mb: neededMb,
        free_mb: free,
        device: devs.map((d) => d.id).join(','),
      },
    },
  )
}
