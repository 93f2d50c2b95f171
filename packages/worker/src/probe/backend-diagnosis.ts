import { basename } from 'node:path'
import type { Backend } from '@rbee/contracts'
import {
  type BackendLibraries,
  backendLibraries,
  type LibraryState,
  type VulkanDriver,
} from './native-libraries.js'
import type { PackageState } from './prebuilt-packages.js'

/** What the probe found out about a backend that did not load, to explain why. */
export interface BackendFacts {
  backend: Backend
  platform: string
  arch: string
  /** node-llama-cpp's version: prebuilt packages must match it exactly. */
  version: string
  /** The directory whose `node_modules` holds node-llama-cpp (its packages go next to it). */
  installDir: string
  /** The prebuilt packages of this backend here (none: node-llama-cpp ships none for the platform). */
  packages: PackageState[]
  /** The system libraries checked, by name (only those that matter for this backend). */
  libraries: Record<string, LibraryState>
  /** The Vulkan drivers found (Vulkan on Linux only). */
  vulkanDrivers?: VulkanDriver[]
  /** Names of the GPUs the build saw, when it loaded. */
  deviceNames?: string[]
  /** The GPU type node-llama-cpp loaded instead of the one asked for. */
  loadedInstead?: string
}

/** Vulkan devices that are the CPU in disguise (Mesa's lavapipe, Google's SwiftShader). */
export const SOFTWARE_VULKAN = /llvmpipe|lavapipe|swiftshader/i

const NAMES: Record<Backend, string> = { cpu: 'CPU', cuda: 'CUDA', vulkan: 'Vulkan', metal: 'Metal' }

function osName(platform: string): string {
  return platform === 'darwin' ? 'macOS' : platform === 'win32' ? 'Windows' : platform
}

function installHint(f: BackendFacts, names: string[]): string {
  return `run \`npm install --no-save ${names.map((n) => `${n}@${f.version}`).join(' ')}\` in ${f.installDir}`
}

/** Why the packages of a backend cannot serve, or undefined when they are there. */
function packageProblem(f: BackendFacts): string | undefined {
  const name = NAMES[f.backend]
  const required = f.packages.filter((p) => !p.optional)
  if (required.length === 0) {
    return `node-llama-cpp ships no ${name} build of llama.cpp for ${osName(f.platform)} ${f.arch}: build one on this machine with \`npx --no node-llama-cpp source build --gpu ${f.backend === 'cpu' ? 'false' : f.backend}\``
  }
  const missing = required.filter((p) => p.state === 'missing')
  if (missing.length > 0) {
    const extra = f.packages.filter((p) => p.optional && p.state === 'missing').map((p) => p.name)
    return `no ${name} build of llama.cpp is installed: install the npm package ${missing.map((p) => p.name).join(', ')}: ${installHint(
      f,
      missing.map((p) => p.name),
    )}${extra.length > 0 ? `; ${extra.join(', ')} adds the build for CUDA 12` : ''}`
  }
  for (const p of required) {
    if (p.state !== 'installed') continue
    if (p.version !== f.version) {
      return `${p.name} is version ${p.version} but node-llama-cpp is ${f.version}, so it is not used: ${installHint(f, [p.name])}`
    }
    if (!p.hasBuild) return `${p.name} holds no ${name} build of llama.cpp for ${f.platform}-${f.arch}`
  }
  return undefined
}

function missingLib(f: BackendFacts, lib: string): LibraryState | undefined {
  const s = f.libraries[lib]
  return s && !s.loads ? s : undefined
}

function cudaReason(f: BackendFacts, libs: BackendLibraries): string | undefined {
  const driver = missingLib(f, libs.cudaDriver)
  if (driver) {
    return `the NVIDIA driver is not installed (${libs.cudaDriver} does not load${driver.error && !/cannot open shared object|not be found/i.test(driver.error) ? `: ${driver.error}` : ''}): CUDA needs an NVIDIA GPU with the NVIDIA driver installed`
  }
  const ext = f.packages.find((p) => p.optional)?.state === 'installed'
  const usable = ext ? libs.cudaRuntimes : libs.cudaRuntimes.slice(0, 1)
  const working = usable.find((r) => r.libs.every((l) => !missingLib(f, l)))
  if (!working && usable.length > 0) {
    const [newest] = libs.cudaRuntimes
    const missing = newest!.libs.filter((l) => missingLib(f, l))
    const alt = libs.cudaRuntimes[1]
    return `the CUDA runtime is missing (${missing.join(' and ')} ${missing.length > 1 ? 'do' : 'does'} not load): install CUDA ${newest!.version}'s runtime libraries (NVIDIA's cuda-cudart-${newest!.version}-0 and libcublas-${newest!.version}-0 packages, or the CUDA toolkit) where the loader finds them (ldconfig, or LD_LIBRARY_PATH)${
      alt
        ? ext
          ? `, or CUDA ${alt.version}'s (${alt.libs.join(', ')})`
          : `; for CUDA ${alt.version} (${alt.libs.join(', ')}) also install ${f.packages.find((p) => p.optional)?.name ?? 'the CUDA 12 build'}`
        : ''
    }`
  }
  return undefined
}

function vulkanReason(f: BackendFacts, loader: string): string | undefined {
  const l = missingLib(f, loader)
  if (l) {
    return `the Vulkan loader is missing (${loader} does not load): install libvulkan1 (Debian, Ubuntu) or vulkan-loader (Fedora, Arch)`
  }
  const drivers = f.vulkanDrivers
  if (drivers === undefined) return undefined
  if (drivers.length === 0) {
    return 'no Vulkan driver is installed (no ICD manifest in /usr/share/vulkan/icd.d or /etc/vulkan/icd.d): install mesa-vulkan-drivers for AMD and Intel GPUs; the NVIDIA driver brings its own (it needs libglvnd: libegl1, libglx0)'
  }
  const broken = drivers.filter((d) => !d.state.loads)
  if (broken.length > 0 && broken.length === drivers.length) {
    const nvidia = broken.some((d) => /nvidia/i.test(d.manifest) || /nvidia/i.test(d.library))
    return `no Vulkan driver loads: ${broken
      .map((d) => `${basename(d.manifest)} (${d.state.error ?? d.library})`)
      .join(
        '; ',
      )}${nvidia ? ": NVIDIA's Vulkan driver needs libglvnd (install libglvnd0, libegl1 and libglx0)" : ''}`
  }
  return undefined
}

/**
 * Why `backend` cannot be used here, in words a user can act on: what to install, or that the
 * platform has no such thing. `detail` is node-llama-cpp's own message, added only when nothing
 * more specific is known.
 */
export function diagnoseBackend(f: BackendFacts, detail?: string): string {
  const name = NAMES[f.backend]
  if (f.backend === 'metal' && f.platform !== 'darwin') {
    return `Metal runs only on macOS (this machine runs ${osName(f.platform)})`
  }
  if (f.backend === 'metal' && f.arch !== 'arm64')
    return 'llama.cpp supports Metal only on Apple silicon Macs'
  if (f.backend === 'cuda' && f.platform === 'darwin')
    return 'CUDA does not run on macOS (Metal is used there)'
  if (f.loadedInstead !== undefined) {
    return `node-llama-cpp loaded its ${f.loadedInstead === 'false' ? 'CPU' : f.loadedInstead} build when asked for ${name}, so ${name} does not work here${detail ? ` (${detail})` : ''}`
  }
  if (f.deviceNames !== undefined) {
    const real = f.deviceNames.filter((n) => !SOFTWARE_VULKAN.test(n))
    if (f.deviceNames.length > 0 && real.length === 0) {
      return `the only Vulkan device is a software one (${f.deviceNames.join(', ')}), slower than the CPU: install the Vulkan driver of the GPU`
    }
    if (f.deviceNames.length === 0) {
      return f.backend === 'cuda'
        ? 'the CUDA build loads but sees no GPU (is CUDA_VISIBLE_DEVICES set to an empty list, or is the driver older than the CUDA runtime?)'
        : `the ${name} build loads but finds no GPU (check \`vulkaninfo --summary\`)`
    }
  }
  const pkg = packageProblem(f)
  if (pkg) return pkg
  const libs = f.platform === 'darwin' ? undefined : backendLibraries(f.platform)
  if (libs && f.backend === 'cuda') {
    const r = cudaReason(f, libs)
    if (r) return r
  }
  if (libs && f.backend === 'vulkan') {
    const r = vulkanReason(f, libs.vulkanLoader)
    if (r) return r
  }
  const said = detail ? `: node-llama-cpp says "${detail}"` : ''
  if (f.backend === 'cuda') {
    return `the CUDA build of llama.cpp does not load although the NVIDIA driver and CUDA runtime do${said}; check that nvidia-smi works and the driver supports CUDA 13 (or 12)`
  }
  if (f.backend === 'vulkan') {
    return `the Vulkan build of llama.cpp does not load although the Vulkan loader and a driver do${said}; check \`vulkaninfo --summary\` lists the GPU`
  }
  return `the ${name} build of llama.cpp does not load here${said}`
}
