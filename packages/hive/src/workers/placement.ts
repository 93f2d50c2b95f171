import { RbeeError } from '@rbee/common'
import { type Backend, type BackendRequest, type Device, usableBackend } from '@rbee/contracts'
import type { DeviceLayout } from '../monitor/device-layout.js'

/** Where a spawn lands: the backend, the hive's devices it uses, and how the worker names them. */
export interface Placement {
  backend: Backend
  /** One device, or several for a model split across GPUs. */
  devices: Device[]
  /** What the worker's `--device` gets: each device's index for `backend`. */
  workerDevices: number[]
  /** Why the hive chose this device itself (for the spawn narration); undefined when asked for it. */
  why: string | undefined
}

export interface PlacementRequest {
  backend: BackendRequest
  /** GPU indexes (`gpu:N`) asked for; undefined lets the hive pick. */
  devices: readonly number[] | undefined
  /** The model's memory estimate for this spawn. */
  neededMb: number
}

const NAMES: Record<Backend, string> = { cpu: 'CPU', cuda: 'CUDA', vulkan: 'Vulkan', metal: 'Metal' }
/** `auto`'s preference among GPU backends. */
const GPU_ORDER: readonly Backend[] = ['cuda', 'metal', 'vulkan']

/** `cuda:0,1`: how workers and narration name a placement. */
export function placementName(p: Pick<Placement, 'backend' | 'workerDevices'>): string {
  return `${p.backend}:${p.workerDevices.join(',')}`
}

function gpus(layout: DeviceLayout): Device[] {
  return layout.devices.filter((d) => d.type === 'gpu')
}

/** Why `backend` does not run on `d`, or undefined when it does (or is taken on trust). */
function unusable(layout: DeviceLayout, d: Device, backend: Backend, platform: string): string | undefined {
  const machine = layout.probe?.backends.find((b) => b.backend === backend)
  if (backend === 'metal' && platform !== 'darwin') {
    return machine?.reason ?? `Metal runs only on macOS (this machine runs ${platform})`
  }
  if (d.backends.length === 0) {
    // Not probed (`--backend-probe none`): only what the device says it runs is assumed.
    return backend === d.backend
      ? undefined
      : `the hive does not probe its llama.cpp builds (--backend-probe none), so only ${d.backend} is assumed on ${d.id}`
  }
  const s = d.backends.find((b) => b.backend === backend)
  if (s?.usable) return undefined
  if (s) return s.reason ?? 'its build does not load'
  if (machine && !machine.usable) return machine.reason ?? 'its build does not load'
  return `${d.id} is not a ${NAMES[backend]} device`
}

function refuse(backend: Backend, d: Device, why: string): RbeeError {
  return new RbeeError(
    'RBEE_BACKEND_UNUSABLE',
    `${NAMES[backend]} cannot run on ${d.id} (${d.name}): ${why}`,
    {
      details: { device: d.id, backend },
    },
  )
}

/** Each backend's reasons on a device, as `cuda: …; vulkan: …`. */
function reasonsOf(d: Device): string {
  return d.backends
    .filter((b) => !b.usable)
    .map((b) => `${b.backend}: ${b.reason ?? 'does not load'}`)
    .join('; ')
}

function onCpu(layout: DeviceLayout, why: string | undefined): Placement {
  const cpu = layout.devices.find((d) => d.type === 'cpu')
  if (!cpu) throw new RbeeError('RBEE_INTERNAL', 'this hive reports no CPU device')
  const s = cpu.backends.find((b) => b.backend === 'cpu')
  if (s && !s.usable) throw refuse('cpu', cpu, s.reason ?? 'its build does not load')
  return { backend: 'cpu', devices: [cpu], workerDevices: [0], why }
}

/** Best fit: the least free memory that still fits, then the better backend, then the lower index. */
function bestFit(candidates: Array<{ d: Device; backend: Backend }>, neededMb: number) {
  const rank = (b: Backend) => GPU_ORDER.indexOf(b)
  return candidates
    .filter((c) => c.d.memory_free_mb >= neededMb)
    .sort(
      (a, b) =>
        a.d.memory_free_mb - b.d.memory_free_mb ||
        rank(a.backend) - rank(b.backend) ||
        a.d.id.localeCompare(b.d.id, 'en', { numeric: true }),
    )[0]
}

/** The backends that work on a device, as `cuda/vulkan`. */
function usableOn(d: Device): string {
  const list = d.backends.filter((b) => b.usable).map((b) => b.backend)
  return list.length > 0 ? list.join('/') : d.backends.length === 0 ? (usableBackend(d) ?? 'none') : 'none'
}

function freeList(devices: readonly Device[]): string {
  return devices.map((d) => `${d.id} ${d.memory_free_mb} MB`).join(', ')
}

function place(
  layout: DeviceLayout,
  backend: Backend,
  devices: Device[],
  why: string | undefined,
): Placement {
  const workerDevices = devices.map((d) => layout.workerIndex(d.id, backend) ?? Number(d.id.split(':')[1]))
  return { backend, devices, workerDevices, why }
}

/** Placement when the request names the GPUs. */
function placeOn(
  layout: DeviceLayout,
  req: PlacementRequest,
  list: readonly number[],
  platform: string,
): Placement {
  const all = gpus(layout)
  if (req.backend === 'auto' && all.length === 0 && list.length === 1) {
    return onCpu(layout, undefined) // a hive without GPUs: the CPU, as `auto` always meant there
  }
  const chosen = list.map((n) => {
    const d = all.find((g) => g.id === `gpu:${n}`)
    if (!d) {
      throw new RbeeError(
        'RBEE_BAD_REQUEST',
        `no GPU ${n} on this hive (GPUs: ${all.length > 0 ? all.map((g) => g.id).join(', ') : 'none'})`,
      )
    }
    return d
  })
  if (req.backend !== 'auto') {
    for (const d of chosen) {
      const why = unusable(layout, d, req.backend, platform)
      if (why) throw refuse(req.backend, d, why)
    }
    return place(layout, req.backend, chosen, undefined)
  }
  const common = GPU_ORDER.find((b) => chosen.every((d) => !unusable(layout, d, b, platform)))
  if (common) return place(layout, common, chosen, undefined)
  if (chosen.length === 1) {
    const d = chosen[0]!
    throw new RbeeError(
      'RBEE_BACKEND_UNUSABLE',
      `no llama.cpp build works on ${d.id} (${d.name}): ${reasonsOf(d) || 'none was found'}`,
      { details: { device: d.id } },
    )
  }
  throw new RbeeError(
    'RBEE_BACKEND_UNUSABLE',
    `no backend works on all of ${chosen.map((d) => `${d.id} (${usableOn(d)})`).join(', ')}: split a model only across GPUs that share one`,
  )
}

/**
 * Decides where a worker runs. With devices named: those GPUs, on the backend asked for, or for
 * `auto` the best one that works on all of them. Without: `cpu` takes the CPU; `auto` the GPU
 * with a working backend that fits the model best (least free memory that is enough), else the
 * CPU; a GPU backend the best-fitting GPU that runs it (the one with the most free memory when
 * none has enough, so the memory check names the figures). A backend is never taken on trust:
 * one that does not load on the device is refused with why (Metal on Linux included).
 * @throws RbeeError `RBEE_BACKEND_UNUSABLE` with the reason, `RBEE_BAD_REQUEST` for a GPU this
 *   hive does not have or a CPU worker given GPUs.
 */
export function placeWorker(
  req: PlacementRequest,
  layout: DeviceLayout,
  platform: string = process.platform,
): Placement {
  const list = req.devices
  if (req.backend === 'metal' && platform !== 'darwin') {
    const machine = layout.probe?.backends.find((b) => b.backend === 'metal')
    throw new RbeeError(
      'RBEE_BACKEND_UNUSABLE',
      `no GPU of this hive runs Metal: ${machine?.reason ?? `Metal runs only on macOS (this machine runs ${platform})`}`,
      { details: { backend: 'metal' } },
    )
  }
  if (req.backend === 'cpu') {
    if (list && list.length > 1)
      throw new RbeeError('RBEE_BAD_REQUEST', 'a CPU worker runs on cpu:0: it takes no list of GPUs')
    return onCpu(layout, undefined)
  }
  if (list !== undefined) return placeOn(layout, req, list, platform)
  const all = gpus(layout)
  if (req.backend === 'auto') {
    const candidates = all.flatMap((d) => {
      const backend = GPU_ORDER.find((b) => !unusable(layout, d, b, platform))
      return backend ? [{ d, backend }] : []
    })
    const fit = bestFit(candidates, req.neededMb)
    if (fit) {
      const others = candidates.filter((c) => c.d !== fit.d).map((c) => c.d)
      return place(
        layout,
        fit.backend,
        [fit.d],
        `the best fit for ~${req.neededMb} MB: ${fit.d.memory_free_mb} MB free${others.length > 0 ? ` (${freeList(others)})` : ''}`,
      )
    }
    if (all.length === 0) return onCpu(layout, undefined)
    const why =
      candidates.length === 0
        ? `no GPU backend works here (${all.map((d) => `${d.id} ${d.name}: ${reasonsOf(d) || 'not probed'}`).join('; ')})`
        : `no GPU has ~${req.neededMb} MB free (${freeList(candidates.map((c) => c.d))})`
    return onCpu(layout, why)
  }
  const backend = req.backend
  const runs = all.filter((d) => !unusable(layout, d, backend, platform))
  if (runs.length === 0) {
    const machine = layout.probe?.backends.find((b) => b.backend === backend)
    const why =
      machine && !machine.usable
        ? machine.reason
        : backend === 'metal' && platform !== 'darwin'
          ? `Metal runs only on macOS (this machine runs ${platform})`
          : all.length === 0
            ? 'this hive has no GPU'
            : all.map((d) => `${d.id}: ${unusable(layout, d, backend, platform)}`).join('; ')
    throw new RbeeError('RBEE_BACKEND_UNUSABLE', `no GPU of this hive runs ${NAMES[backend]}: ${why}`, {
      details: { backend },
    })
  }
  const fit = bestFit(
    runs.map((d) => ({ d, backend })),
    req.neededMb,
  ) ?? { d: [...runs].sort((a, b) => b.memory_free_mb - a.memory_free_mb)[0]!, backend }
  return place(layout, backend, [fit.d], runs.length > 1 ? `the best fit among ${freeList(runs)}` : undefined)
}
