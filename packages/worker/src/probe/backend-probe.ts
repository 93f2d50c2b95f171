import { execFile } from 'node:child_process'
import { dirname } from 'node:path'
import { stripVTControlCharacters } from 'node:util'
import type { Backend, BackendCheck, BackendProbe, ProbedGpu } from '@rbee/contracts'
import { BackendProbeLineSchema } from '@rbee/contracts'
import { getLlama, getModuleVersion, type Llama, LlamaLogLevel } from 'node-llama-cpp'
import { type BackendFacts, diagnoseBackend, SOFTWARE_VULKAN } from './backend-diagnosis.js'
import { backendLibraries, type LibraryState, loadsLibrary, vulkanDrivers } from './native-libraries.js'
import { nodeLlamaCppDir, packageStates, prebuiltPackages } from './prebuilt-packages.js'

/** The order builds are tried in: the CPU first, so a crash in a GPU build cannot hide it. */
export const PROBE_ORDER: readonly Backend[] = ['cpu', 'cuda', 'vulkan', 'metal']

/** The variable that limits a build to one GPU, by backend (as the worker sets it for `--device`). */
const VISIBLE_DEVICES: Partial<Record<Backend, string>> = {
  cuda: 'CUDA_VISIBLE_DEVICES',
  vulkan: 'GGML_VK_VISIBLE_DEVICES',
}

export interface ProbeOptions {
  /** @default PROBE_ORDER */
  backends?: readonly Backend[]
  /** Called with each build's result as soon as it is known. */
  onChecked?: (check: BackendCheck) => void
  /**
   * How to run this probe again for one GPU (`[node, main.js]`): with several GPUs, llama.cpp only
   * reports their memory together, so each is measured in its own process with only it visible.
   * Unset: no per-GPU measurement (several GPUs then report 0 MB).
   */
  selfCommand?: readonly string[]
  /** @default process.env */
  env?: NodeJS.ProcessEnv
}

const MB = 1024 * 1024

/**
 * Collects what node-llama-cpp prints while it looks for a build (`console.warn` "The prebuilt
 * binary … is not compatible with the current system") instead of letting it reach stdout, where
 * the probe's parent reads JSON lines.
 */
async function capturingConsole<T>(
  fn: () => Promise<T>,
): Promise<{ value?: T; error?: unknown; said: string[] }> {
  const said: string[] = []
  const c = console
  const saved = { log: c.log, info: c.info, warn: c.warn, error: c.error }
  const keep = (...args: unknown[]): void => {
    const text = stripVTControlCharacters(
      args.map((a) => (a instanceof Error ? a.message : String(a))).join(' '),
    )
      .replace(/^\[node-llama-cpp\]\s*/, '')
      .trim()
    if (text) said.push(text)
  }
  c.log = c.info = c.warn = c.error = keep
  try {
    return { value: await fn(), said }
  } catch (error) {
    return { error, said }
  } finally {
    Object.assign(c, saved)
  }
}

async function loadBuild(backend: Backend, said: string[]): Promise<Llama> {
  return getLlama({
    gpu: backend === 'cpu' ? false : backend,
    build: 'never',
    logLevel: LlamaLogLevel.warn,
    logger: (_level, message) => {
      const m = message.trim()
      if (m) said.push(m)
    },
  })
}

/** The facts that explain a build that did not load (or loaded wrong). */
function gatherFacts(
  backend: Backend,
  version: string,
  extra: Partial<BackendFacts>,
  env: NodeJS.ProcessEnv,
): BackendFacts {
  const { platform, arch } = process
  const libraries: Record<string, LibraryState> = {}
  const libs = backendLibraries(platform)
  let drivers: BackendFacts['vulkanDrivers']
  if (platform !== 'darwin') {
    if (backend === 'cuda') {
      for (const lib of [libs.cudaDriver, ...libs.cudaRuntimes.flatMap((r) => r.libs)])
        libraries[lib] = loadsLibrary(lib)
    }
    if (backend === 'vulkan') {
      libraries[libs.vulkanLoader] = loadsLibrary(libs.vulkanLoader)
      if (platform === 'linux' && libraries[libs.vulkanLoader]?.loads) drivers = vulkanDrivers(env)
    }
  }
  const dir = nodeLlamaCppDir()
  return {
    backend,
    platform,
    arch,
    version,
    installDir: dirname(dirname(dir)),
    packages: packageStates(prebuiltPackages(backend, platform, arch), backend, dir),
    libraries,
    ...(drivers ? { vulkanDrivers: drivers } : {}),
    ...extra,
  }
}

/** Runs the probe for one backend with one GPU visible; its one device, or undefined. */
function probeOneDevice(
  cmd: readonly string[],
  backend: Backend,
  index: number,
  env: NodeJS.ProcessEnv,
): Promise<Omit<ProbedGpu, 'index'> | undefined> {
  const visible = VISIBLE_DEVICES[backend]
  if (!visible || cmd.length === 0) return Promise.resolve(undefined)
  return new Promise((resolve) => {
    execFile(
      cmd[0]!,
      [...cmd.slice(1), '--probe-backends', backend],
      {
        env: { ...env, [visible]: String(index), RBEE_PROBE_PER_DEVICE: '0' },
        timeout: 30_000,
        maxBuffer: 256 * 1024,
      },
      (_err, stdout) => {
        for (const line of String(stdout).split('\n').reverse()) {
          if (!line.startsWith('{')) continue
          try {
            const parsed = BackendProbeLineSchema.safeParse(JSON.parse(line))
            if (parsed.success && parsed.data.type === 'backend_probe') {
              const d = parsed.data.backends[0]?.usable ? parsed.data.backends[0].devices : []
              resolve(d.length === 1 ? d[0] : undefined)
              return
            }
          } catch {
            // not JSON: a line llama.cpp printed
          }
        }
        resolve(undefined)
      },
    )
  })
}

/**
 * The GPUs a loaded build sees, with llama.cpp's memory figures. One GPU: the build's own total.
 * Several: llama.cpp only sums them, so each index is probed in its own process with only that
 * GPU visible; the index a GPU answered to is what `--device` must name. Software Vulkan devices
 * (llvmpipe) are left out.
 */
async function devicesOf(
  llama: Llama,
  backend: Backend,
  names: string[],
  options: ProbeOptions,
): Promise<ProbedGpu[]> {
  const real = names.filter((n) => !SOFTWARE_VULKAN.test(n))
  if (real.length === 0) return []
  const env = options.env ?? process.env
  if (names.length === 1) {
    const vram = await llama.getVramState()
    return [
      {
        index: 0,
        name: names[0]!,
        memory_total_mb: Math.round(vram.total / MB),
        memory_free_mb: Math.round(vram.free / MB),
      },
    ]
  }
  const found: ProbedGpu[] = []
  if (options.selfCommand && env.RBEE_PROBE_PER_DEVICE !== '0') {
    // The indexes the variable takes need not be the order llama.cpp lists GPUs in (Vulkan lists
    // only real GPUs by default, but counts every device in GGML_VK_VISIBLE_DEVICES): try a few more.
    const tries = Math.min(64, names.length + 2)
    const each = await Promise.all(
      Array.from({ length: tries }, (_, i) => probeOneDevice(options.selfCommand!, backend, i, env)),
    )
    each.forEach((d, index) => {
      if (d && !SOFTWARE_VULKAN.test(d.name) && found.length < real.length) found.push({ index, ...d })
    })
  }
  if (found.length === real.length) return found
  // Not measurable one by one: list them without figures (the hive then has no room to offer).
  return real.map((name, index) => ({ index, name, memory_total_mb: 0, memory_free_mb: 0 }))
}

/** Tries one build: loads it as a worker would, and on failure works out why. */
export async function checkBackend(
  backend: Backend,
  version: string,
  options: ProbeOptions = {},
): Promise<BackendCheck> {
  const env = options.env ?? process.env
  const facts = (extra: Partial<BackendFacts> = {}) => gatherFacts(backend, version, extra, env)
  // node-llama-cpp turns a Metal request off macOS, and a CUDA one on it, into `auto`, which
  // loads something else: never ask.
  if (
    (backend === 'metal' && process.platform !== 'darwin') ||
    (backend === 'cuda' && process.platform === 'darwin')
  ) {
    return { backend, usable: false, reason: diagnoseBackend(facts()), devices: [] }
  }
  const said: string[] = []
  const run = await capturingConsole(() => loadBuild(backend, said))
  said.unshift(...run.said)
  const detail = said.length > 0 ? said.join(' | ').slice(0, 2000) : undefined
  const llama = run.value
  if (!llama) {
    const err = run.error instanceof Error ? run.error.message : String(run.error)
    const words = detail ?? err
    return {
      backend,
      usable: false,
      reason: diagnoseBackend(facts(), words),
      devices: [],
      detail: words.slice(0, 2000),
    }
  }
  try {
    const loaded = llama.gpu === false ? 'cpu' : llama.gpu
    if (loaded !== backend) {
      return {
        backend,
        usable: false,
        reason: diagnoseBackend(facts({ loadedInstead: String(llama.gpu) }), detail),
        devices: [],
        ...(detail ? { detail } : {}),
      }
    }
    if (backend === 'cpu') return { backend, usable: true, devices: [] }
    const names = await llama.getGpuDeviceNames()
    const devices = await devicesOf(llama, backend, names, options)
    if (devices.length === 0) {
      return {
        backend,
        usable: false,
        reason: diagnoseBackend(facts({ deviceNames: names }), detail),
        devices: [],
        ...(detail ? { detail } : {}),
      }
    }
    return { backend, usable: true, devices }
  } finally {
    await llama.dispose().catch(() => {})
  }
}

/**
 * Finds out which llama.cpp builds load on this machine, through node-llama-cpp's own lookup
 * (`getLlama({gpu, build: 'never'})`, which test-loads a prebuilt binary in a child process before
 * using it) and, for each that does not, why. Never throws for a build that fails; a build that
 * crashes the process takes it down, which is why this runs in a process of its own.
 */
export async function probeBackends(options: ProbeOptions = {}): Promise<BackendProbe> {
  const t0 = performance.now()
  const version = await getModuleVersion()
  const backends: BackendCheck[] = []
  for (const backend of options.backends ?? PROBE_ORDER) {
    const check = await checkBackend(backend, version, options)
    options.onChecked?.(check)
    backends.push(check)
  }
  return {
    type: 'backend_probe',
    platform: process.platform,
    arch: process.arch,
    node_llama_cpp: version,
    backends,
    duration_ms: Math.round((performance.now() - t0) * 10) / 10,
  }
}
