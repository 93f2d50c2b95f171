import { RbeeError } from '@rbee/common'
import type { Backend, BackendRequest, Device } from '@rbee/contracts'

/** The backend and device a spawn request lands on. */
export interface Placement {
  backend: Backend
  device: number
  /** The device whose memory the worker uses; undefined when the hive cannot measure it. */
  memory: Device | undefined
}

/**
 * Resolves `auto` and checks the device exists: `auto` is CUDA on GPU `device` when `nvidia-smi`
 * reports it, else CPU. Vulkan and Metal devices cannot be measured here and are taken on trust.
 * @throws RbeeError `RBEE_BAD_REQUEST` for a CUDA device the hive does not have.
 */
export function placeWorker(request: BackendRequest, device: number, devices: readonly Device[]): Placement {
  const cpu = devices.find((d) => d.type === 'cpu')
  const gpu = devices.find((d) => d.id === `gpu:${device}`)
  if (request === 'auto')
    return gpu ? { backend: 'cuda', device, memory: gpu } : { backend: 'cpu', device: 0, memory: cpu }
  if (request === 'cpu') return { backend: 'cpu', device: 0, memory: cpu }
  if (request === 'cuda') {
    if (!gpu) {
      const have = devices.filter((d) => d.type === 'gpu').map((d) => d.id)
      throw new RbeeError(
        'RBEE_BAD_REQUEST',
        `no CUDA device ${device} on this hive (GPUs: ${have.length > 0 ? have.join(', ') : 'none'})`,
      )
    }
    return { backend: 'cuda', device, memory: gpu }
  }
  return { backend: request, device, memory: undefined }
}

/**
 * Refuses a spawn whose memory estimate exceeds what is free on its device.
 * @throws RbeeError `RBEE_NO_CAPACITY` naming the needed and free MB.
 */
export function checkMemoryFits(modelId: string, neededMb: number, placement: Placement): void {
  const dev = placement.memory
  if (!dev) return
  if (neededMb > dev.memory_free_mb) {
    const what = dev.type === 'cpu' ? 'RAM' : 'VRAM'
    throw new RbeeError(
      'RBEE_NO_CAPACITY',
      `not enough memory for ${modelId} on ${placement.backend}:${placement.device}: needs ~${neededMb} MB of ${what}, ${dev.memory_free_mb} MB free (${dev.name}, ${dev.memory_total_mb} MB total)`,
      { details: { needed_mb: neededMb, free_mb: dev.memory_free_mb, device: dev.id } },
    )
  }
}
