import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { type BackendProbe, BackendProbeSchema } from '@rbee/contracts'

// TEST DOUBLES of what this machine cannot be (it has no GPU), in packages/testing/fixtures:
// `nvidia-smi` answering the hive's two queries, and `backend-probe.mjs` standing in for
// `llm-worker-rbee --probe-backends`, printing one of the JSON probe results below.

/** The path of a file in this package's `fixtures/` folder. */
export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))
}

/**
 * TEST DOUBLE of `nvidia-smi`: an RTX 4090 and an A100 (`RBEE_FIXTURE_SMI_FAIL=1` fails like a
 * broken driver; `RBEE_FIXTURE_SMI_APPS` names a file that replaces the compute-apps answer).
 */
export const NVIDIA_SMI_FIXTURE = fixturePath('nvidia-smi')

/**
 * TEST DOUBLE of `llm-worker-rbee --probe-backends`: it prints the probe result in the file
 * `RBEE_FIXTURE_PROBE` names, by default that of a machine without a GPU, so tests do not depend
 * on this machine's GPUs and drivers nor pay for the real probe (about 2 s of CPU) at every hive
 * start.
 */
export const BACKEND_PROBE_FIXTURE = fixturePath('backend-probe.mjs')

/** What `llm-worker-rbee --probe-backends` reports on machines this one is not. */
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

/** The path of a probe fixture file (`RBEE_FIXTURE_PROBE` for the probe's test double). */
export function probeFixturePath(name: string): string {
  return fixturePath(name)
}

/** A probe fixture, parsed. */
export function probeFixture(name: string): BackendProbe {
  return BackendProbeSchema.parse(JSON.parse(readFileSync(probeFixturePath(name), 'utf8')))
}
