import { type BackendSupport, type Device, usableBackend } from '@rbee/contracts'
import { paint } from './output.js'
import { formatMb } from './table.js'

/** From the best backend to the last resort, as `auto` prefers them. */
const RANK = ['cuda', 'metal', 'vulkan', 'cpu']

/** The backend a device runs workers on, or `none` when no llama.cpp build loads there. */
export function backendLabel(d: Pick<Device, 'backend' | 'backends'>): string {
  return usableBackend(d) ?? 'none'
}

/** Every backend tried on a device that does not load there, with why. */
export function unusableBackends(d: Pick<Device, 'backends'>): BackendSupport[] {
  return d.backends.filter((b) => !b.usable)
}

/**
 * The backends a device would be better off with but cannot use (a CUDA-less NVIDIA GPU running
 * Vulkan: cuda), or all it tried when none works: what `rbee status` explains. A worse backend
 * that does not load (Vulkan next to a working CUDA) is left to `rbee hive status`.
 */
export function missedBackends(d: Pick<Device, 'backend' | 'backends'>): BackendSupport[] {
  const runs = usableBackend(d)
  if (runs === undefined) return unusableBackends(d)
  return unusableBackends(d).filter((b) => RANK.indexOf(b.backend) < RANK.indexOf(runs))
}

/** `  cuda: no CUDA build … (why)` lines under a device, indented by `indent`. */
export function reasonLines(backends: readonly BackendSupport[], indent: string): string[] {
  return backends.map((b) => `${indent}${b.backend} not usable: ${b.reason ?? 'its build does not load'}`)
}

/**
 * One line per device (`  gpu:0  vulkan NVIDIA H200: 139.6 GiB free of 140.4 GiB`), each followed
 * by a dimmed line per backend that does not load there, with why: `rbee hive status` and
 * `rbee doctor`.
 */
export function deviceLines(color: boolean, devices: readonly Device[]): string[] {
  return devices.flatMap((d) => [
    `  ${d.id.padEnd(6)} ${backendLabel(d).padEnd(6)} ${d.name}: ${formatMb(d.memory_free_mb)} free of ${formatMb(d.memory_total_mb)}`,
    ...reasonLines(unusableBackends(d), '         ').map((l) => paint(color, 'dim', l)),
  ])
}
