import type { Backend, BackendCheck, BackendProbe, BackendSupport, Device, ProbedGpu } from '@rbee/contracts'
import type { GpuInfo } from './nvidia-smi.js'

/** The hive's devices, and how a worker names each of them for each backend. */
export interface DeviceLayout {
  devices: Device[]
  /**
   * What `--device` gets for `backend` on the hive device `deviceId` (each build numbers GPUs its
   * own way: CUDA like nvidia-smi, Vulkan as its loader lists them); undefined when that backend
   * has no index there.
   */
  workerIndex(deviceId: string, backend: Backend): number | undefined
  /** The probe the backends come from; undefined while it runs, or when the hive does not probe. */
  probe: BackendProbe | undefined
}

export interface LayoutInput {
  cpu: { name: string; totalMb: number; availableMb: number }
  /** GPUs from `nvidia-smi` (live memory figures). */
  nvidia: readonly GpuInfo[]
  probe: BackendProbe | undefined
}

/** Two names for the same GPU model (`NVIDIA H200` from nvidia-smi and from Vulkan). */
function sameModel(a: string, b: string): boolean {
  const norm = (s: string) => s.toLowerCase().replace(/\(r\)|\(tm\)|nvidia|[^a-z0-9]/g, '')
  const x = norm(a)
  const y = norm(b)
  return x.length > 0 && y.length > 0 && (x === y || x.includes(y) || y.includes(x))
}

function support(check: BackendCheck | undefined, backend: Backend): BackendSupport {
  if (!check) return { backend, usable: false, reason: 'not checked by the backend probe' }
  return check.usable
    ? { backend, usable: true }
    : { backend, usable: false, reason: check.reason ?? 'does not load' }
}

/** The backend `auto` runs on a device: the best usable one, else the one it would need. */
function best(backends: BackendSupport[], fallback: Backend): Backend {
  for (const b of ['cuda', 'metal', 'vulkan'] as const)
    if (backends.some((s) => s.backend === b && s.usable)) return b
  return fallback
}

function gpuDevice(id: string, g: ProbedGpu, backend: Backend, backends: BackendSupport[]): Device {
  const { name, memory_total_mb, memory_free_mb } = g
  return { id, name, type: 'gpu', memory_total_mb, memory_free_mb, backend, backends }
}

/**
 * Puts together the devices a hive reports: the CPU; each NVIDIA GPU `nvidia-smi` lists (or, without
 * it, the CUDA build sees), with CUDA and Vulkan support from the probe (a Vulkan GPU is matched by
 * name); then GPUs only the Vulkan or Metal build sees (AMD, Intel, Apple), with llama.cpp's memory
 * figures from the probe. Without a probe, devices carry no `backends` and NVIDIA GPUs are `cuda`.
 */
export function layoutDevices(input: LayoutInput): DeviceLayout {
  const { probe } = input
  const check = (b: Backend) => probe?.backends.find((c) => c.backend === b)
  const indexes = new Map<string, Partial<Record<Backend, number>>>([['cpu:0', { cpu: 0 }]])
  const devices: Device[] = [
    {
      id: 'cpu:0',
      name: input.cpu.name,
      type: 'cpu',
      memory_total_mb: input.cpu.totalMb,
      memory_free_mb: input.cpu.availableMb,
      backend: 'cpu',
      backends: probe ? [support(check('cpu'), 'cpu')] : [],
    },
  ]
  const cuda = check('cuda')
  const vulkan = check('vulkan')
  const nvidia: ProbedGpu[] =
    input.nvidia.length > 0
      ? input.nvidia.map((g) => ({
          index: g.index,
          name: g.name,
          memory_total_mb: Math.round(g.memoryTotalMb),
          memory_free_mb: Math.round(g.memoryFreeMb),
        }))
      : cuda?.usable
        ? cuda.devices
        : []
  const vulkanLeft = vulkan?.usable ? [...vulkan.devices] : []
  nvidia.forEach((g, position) => {
    const id = `gpu:${g.index}`
    const backends: BackendSupport[] = []
    const index: Partial<Record<Backend, number>> = { cuda: g.index }
    if (probe) {
      if (cuda?.usable && position >= cuda.devices.length) {
        backends.push({
          backend: 'cuda',
          usable: false,
          reason: `the CUDA build sees ${cuda.devices.length} GPU(s), not this one (is CUDA_VISIBLE_DEVICES set?)`,
        })
      } else backends.push(support(cuda, 'cuda'))
      if (vulkan?.usable) {
        const at = vulkanLeft.findIndex((v) => sameModel(v.name, g.name))
        if (at >= 0) {
          index.vulkan = vulkanLeft[at]!.index
          vulkanLeft.splice(at, 1)
          backends.push({ backend: 'vulkan', usable: true })
        } else {
          backends.push({
            backend: 'vulkan',
            usable: false,
            reason: `the Vulkan build does not list this GPU (it lists ${vulkan.devices.map((v) => v.name).join(', ')})`,
          })
        }
      } else backends.push(support(vulkan, 'vulkan'))
    }
    indexes.set(id, index)
    devices.push(gpuDevice(id, g, best(backends, 'cuda'), backends))
  })
  // GPUs only a Vulkan or Metal build sees: numbered as that build numbers them where free.
  const others: Array<[Backend, ProbedGpu]> = [
    ...vulkanLeft.map((g): [Backend, ProbedGpu] => ['vulkan', g]),
    ...(check('metal')?.usable ? check('metal')!.devices.map((g): [Backend, ProbedGpu] => ['metal', g]) : []),
  ]
  for (const [backend, g] of others) {
    let n = g.index
    while (indexes.has(`gpu:${n}`)) n++
    const id = `gpu:${n}`
    indexes.set(id, { [backend]: g.index })
    devices.push(gpuDevice(id, g, backend, [{ backend, usable: true }]))
  }
  return {
    devices,
    probe,
    workerIndex: (deviceId, backend) => indexes.get(deviceId)?.[backend],
  }
}
