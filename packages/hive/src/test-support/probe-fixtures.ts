import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { type BackendProbe, BackendProbeSchema } from '@rbee/contracts'

/**
 * TEST DOUBLES of what `llm-worker-rbee --probe-backends` reports on machines this one is not
 * (it has no GPU): the JSON files in packages/hive/fixtures, which the `backend-probe.mjs` fixture
 * also prints for a hive started with `--backend-probe` pointing at it.
 */
export const PROBE_FIXTURES = {
  /** No GPU, no NVIDIA driver, no Vulkan loader: what this machine reports. */
  cpuOnly: 'backend-probe-cpu-only.json',
  /** Two NVIDIA GPUs, the Vulkan build works, no CUDA build installed (issue 15's H200 box). */
  nvidiaNoCuda: 'backend-probe-nvidia-no-cuda.json',
  /** NVIDIA GPUs, no CUDA build and no Vulkan loader: no GPU backend at all. */
  noVulkanLoader: 'backend-probe-no-vulkan-loader.json',
  /** Two NVIDIA GPUs the CUDA build sees. */
  cuda: 'backend-probe-cuda.json',
  /** Two AMD GPUs only Vulkan sees: gpu:0 with 100 MB free, gpu:1 with 6000 MB. */
  twoAmdGpus: 'backend-probe-two-amd-gpus.json',
} as const

/** The fixture script a hive runs as its backend probe (it prints the file `RBEE_FIXTURE_PROBE` names). */
export const BACKEND_PROBE_FIXTURE = fileURLToPath(
  new URL('../../fixtures/backend-probe.mjs', import.meta.url),
)

/** The path of a probe fixture file. */
export function probeFixturePath(name: string): string {
  return fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url))
}

/** A probe fixture, parsed. */
export function probeFixture(name: string): BackendProbe {
  return BackendProbeSchema.parse(JSON.parse(readFileSync(probeFixturePath(name), 'utf8')))
}
