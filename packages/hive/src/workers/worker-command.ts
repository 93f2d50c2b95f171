import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Backend } from '@rbee/contracts'
import { inheritableEnv } from './env-allow-list.js'

/** How to run `llm-worker-rbee`: the executable and the arguments before the worker's own. */
export interface WorkerCommand {
  command: string
  prefixArgs: string[]
}

/**
 * The worker entry point. A `.js`/`.mjs`/`.cjs` file runs under this Node; anything else is run
 * as an executable. Without `bin`, the `llm-worker-rbee` of the installed `@rbee/worker` package.
 */
export function resolveWorkerCommand(bin?: string): WorkerCommand {
  const path = bin ?? join(dirname(fileURLToPath(import.meta.resolve('@rbee/worker'))), 'main.js')
  return /\.[cm]?js$/.test(path)
    ? { command: process.execPath, prefixArgs: [path] }
    : { command: path, prefixArgs: [] }
}

/** What to run: the model, backend, device and slots of one worker. */
export interface SpawnRequest {
  modelId: string
  modelPath: string
  backend: Backend
  /** The backend's device index, or indexes for a model split across GPUs. */
  device: number | readonly number[]
  slots: number
  ctxSize: number
  /** Its memory estimate (MB), counted while it lives (see `memoryInUseMb`). @default 0 */
  memoryMb?: number
}

/** One worker launch, as the supervisor asks for it. */
export interface WorkerLaunch extends SpawnRequest {
  workerId: string
  /** Address the worker binds. */
  bindHost: string
  /** Host others use to reach it (differs from `bindHost` on a wildcard bind). */
  advertiseHost: string
  hiveId: string
  hiveUrl: string
  queenUrl?: string | undefined
  /** Shared secret: the worker requires it from callers and presents it to the queen. */
  token?: string | undefined
  /** The hive's directory for the GPU drivers' caches (`gpuCacheEnv`). */
  gpuCacheDir?: string | undefined
}

/** `--device`'s value: `1`, or `0,1` for a model split across GPUs. */
export function deviceArg(device: number | readonly number[]): string {
  return typeof device === 'number' ? String(device) : device.join(',')
}

/** The worker's command line: every setting as a flag, port 0 so the OS picks a free port. */
export function workerArgs(l: WorkerLaunch): string[] {
  const args = [
    '--worker-id',
    l.workerId,
    '--model',
    l.modelPath,
    '--model-ref',
    l.modelId,
    '--backend',
    l.backend,
    '--device',
    deviceArg(l.device),
    '--host',
    l.bindHost,
    '--port',
    '0',
    '--hive-id',
    l.hiveId,
    '--hive-url',
    l.hiveUrl,
    '--slots',
    String(l.slots),
    '--ctx-size',
    String(l.ctxSize),
  ]
  if (l.advertiseHost !== l.bindHost) args.push('--advertise-host', l.advertiseHost)
  if (l.queenUrl) args.push('--queen-url', l.queenUrl)
  return args
}

/**
 * The environment of `llm-worker-rbee --probe-backends`: what a worker inherits (see
 * `workerEnv`), so the probe finds the same GPU runtimes and devices a worker will.
 */
export function probeEnv(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = inheritableEnv(base)
  // CUDA numbers GPUs fastest first unless told otherwise; the hive's gpu:N are nvidia-smi's
  // (PCI bus) order, so `--device N` must mean the same GPU to CUDA.
  env.CUDA_DEVICE_ORDER = base.CUDA_DEVICE_ORDER ?? 'PCI_BUS_ID'
  return env
}

/**
 * Where the GPU drivers keep what they compile, under the hive's `dir`, so that every worker of
 * this machine finds what an earlier one compiled: a GPU worker's first batches of each shape
 * compile shaders (ggml-vulkan builds its pipelines on first use) or JIT-compile kernels (CUDA,
 * for a GPU its binary has no code for), which takes seconds on a fresh machine.
 * - `MESA_SHADER_CACHE_DIR`: Mesa's Vulkan drivers (AMD's RADV, Intel's ANV, …).
 * - `__GL_SHADER_DISK_CACHE(_PATH)`: NVIDIA's driver, for OpenGL and Vulkan pipelines alike (on
 *   by default, but set: some setups turn it off, or have no writable home for its default).
 * - `CUDA_CACHE_PATH`: the CUDA driver's cache of JIT-compiled kernels.
 * `dirs` are the directories to create.
 */
export function gpuCacheEnv(dir: string): { env: Record<string, string>; dirs: Record<string, string> } {
  const dirs = { mesa: join(dir, 'mesa'), nvidia: join(dir, 'nvidia'), cuda: join(dir, 'cuda') }
  return {
    env: {
      MESA_SHADER_CACHE_DIR: dirs.mesa,
      __GL_SHADER_DISK_CACHE: '1',
      __GL_SHADER_DISK_CACHE_PATH: dirs.nvidia,
      CUDA_CACHE_PATH: dirs.cuda,
    },
    dirs,
  }
}

/**
 * The worker's environment, built from an allow-list (see `env-allow-list.ts`): what Node and
 * llama.cpp need from the hive's environment (PATH, HOME, locale, temp dirs, GPU runtime and
 * ggml settings, `RBEE_LOG_LEVEL`), never `HF_TOKEN` or other secrets, nor the hive's other
 * `RBEE_*` settings (a worker reads the same names, e.g. `RBEE_PORT`). The hive adds the stdin
 * lifeline, a libuv pool of one thread (unless its environment names a size), the GPU
 * drivers' cache directories (unless its environment names them) and the token, which travels
 * in the environment, not argv, so `ps` does not show it.
 */
export function workerEnv(base: NodeJS.ProcessEnv, l: WorkerLaunch): NodeJS.ProcessEnv {
  const env = probeEnv(base)
  env.RBEE_EXIT_WITH_STDIN = '1'
  // One libuv pool thread: every llama.cpp call on the same thread (see llm-worker-rbee's bin).
  env.UV_THREADPOOL_SIZE = base.UV_THREADPOOL_SIZE ?? '1'
  if (l.gpuCacheDir) for (const [k, v] of Object.entries(gpuCacheEnv(l.gpuCacheDir).env)) env[k] ??= v
  if (l.token) {
    env.RBEE_API_TOKEN = l.token
    env.RBEE_NODE_TOKEN = l.token
  }
  return env
}
