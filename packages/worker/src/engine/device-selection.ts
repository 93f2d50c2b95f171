import { RbeeError } from '@rbee/common'
import type { Backend } from '@rbee/contracts'

/**
 * The variable through which each GPU runtime is told which devices the process may see. With
 * more than one visible, llama.cpp splits the model's layers across them (its default split
 * mode, in proportion to their free memory). Metal has one GPU per machine and no such setting.
 */
const VISIBLE_DEVICES: Partial<Record<Backend, string>> = {
  cuda: 'CUDA_VISIBLE_DEVICES',
  vulkan: 'GGML_VK_VISIBLE_DEVICES',
}

/**
 * The environment variables that make exactly `devices` visible to the runtime of `backend`, to
 * set before llama.cpp loads. `auto` restricts CUDA only: ggml-vulkan, left alone, uses the
 * machine's GPUs and skips CPU devices (Mesa's llvmpipe), but an index it is given counts every
 * Vulkan device, CPU ones included, so `auto` on a machine with llvmpipe and no GPU would turn a
 * CPU worker into a much slower Vulkan one.
 *
 * Indexes count the GPUs the inherited environment already leaves visible: under a scheduler or
 * container that set `CUDA_VISIBLE_DEVICES=2,3`, device 0 is GPU 2. CUDA numbers GPUs fastest
 * first unless told otherwise; `CUDA_DEVICE_ORDER=PCI_BUS_ID` (unless set) makes its indexes the
 * ones `nvidia-smi`, and so the hive, report.
 * @throws RbeeError `RBEE_CONFIG` when an index is past the GPUs the inherited setting leaves
 *   (for `auto`, that runtime is left as inherited instead: it is not the one asked for).
 */
export function visibleDevicesEnv(
  backend: 'auto' | Backend,
  devices: readonly number[],
  inherited: NodeJS.ProcessEnv,
): Record<string, string> {
  const names = [VISIBLE_DEVICES[backend === 'auto' ? 'cuda' : backend]].filter((n) => n !== undefined)
  const env: Record<string, string> = {}
  for (const name of names) {
    const value = selectDevices(inherited[name], devices)
    if (value !== undefined) env[name] = value
    else if (backend !== 'auto') {
      throw new RbeeError(
        'RBEE_CONFIG',
        `--device ${devices.join(',')} is not among the GPUs ${name}=${inherited[name]} leaves visible`,
      )
    }
  }
  if (env.CUDA_VISIBLE_DEVICES !== undefined && inherited.CUDA_DEVICE_ORDER === undefined) {
    env.CUDA_DEVICE_ORDER = 'PCI_BUS_ID'
  }
  return env
}

/** `devices` as entries of an inherited list (`undefined` when one is past its end). */
function selectDevices(inherited: string | undefined, devices: readonly number[]): string | undefined {
  if (inherited === undefined) return devices.join(',')
  const entries = inherited
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '')
  const picked = devices.map((d) => entries[d])
  return picked.every((e) => e !== undefined) ? picked.join(',') : undefined
}

/**
 * The device as WorkerInfo reports it: `cpu:0`, `metal:0`, `cuda:1`, or `vulkan:0,1` for a model
 * split across GPUs.
 */
export function deviceLabel(backend: Backend, devices: readonly number[]): string {
  if (backend === 'cpu' || backend === 'metal') return `${backend}:0`
  return `${backend}:${devices.join(',')}`
}
