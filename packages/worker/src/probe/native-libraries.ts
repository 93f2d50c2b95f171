import { readdirSync, readFileSync } from 'node:fs'
import { dirname, isAbsolute, join } from 'node:path'

/** Whether the dynamic loader can load a shared library, and what it said when it could not. */
export interface LibraryState {
  loads: boolean
  /** The loader's message (`libvulkan.so.1: cannot open shared object file: …`). */
  error?: string
}

/**
 * Asks the system's dynamic loader to load `name` (searched as llama.cpp's own dlopen would:
 * LD_LIBRARY_PATH, the ld.so cache, the default dirs). `process.dlopen` loads any shared library
 * and then looks for a Node module in it: a plain library fails with "did not self-register",
 * which means it loaded. Meant for the probe process only: a loaded library stays loaded.
 */
export function loadsLibrary(name: string): LibraryState {
  try {
    process.dlopen({ exports: {} }, name)
    return { loads: true }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    if (/self-register|Module did not|no module|napi_register/i.test(message)) return { loads: true }
    return { loads: false, error: message.trim().slice(0, 300) }
  }
}

/** The libraries a backend's build needs from the system, by platform. */
export interface BackendLibraries {
  /** `libcuda.so.1`: comes with the NVIDIA driver. */
  cudaDriver: string
  /** Each CUDA runtime the prebuilt builds link against: all of a set must load. */
  cudaRuntimes: Array<{ version: string; libs: string[] }>
  /** The Vulkan loader (`libvulkan.so.1`). */
  vulkanLoader: string
}

/** The library names of `platform` (Linux names on anything but Windows). */
export function backendLibraries(platform: string): BackendLibraries {
  if (platform === 'win32') {
    return {
      cudaDriver: 'nvcuda.dll',
      cudaRuntimes: [
        { version: '13', libs: ['cudart64_13.dll', 'cublas64_13.dll'] },
        { version: '12', libs: ['cudart64_12.dll', 'cublas64_12.dll'] },
      ],
      vulkanLoader: 'vulkan-1.dll',
    }
  }
  return {
    cudaDriver: 'libcuda.so.1',
    cudaRuntimes: [
      { version: '13', libs: ['libcudart.so.13', 'libcublas.so.13'] },
      { version: '12', libs: ['libcudart.so.12', 'libcublas.so.12'] },
    ],
    vulkanLoader: 'libvulkan.so.1',
  }
}

/** One Vulkan driver (ICD) the loader would try, from its JSON manifest. */
export interface VulkanDriver {
  manifest: string
  library: string
  state: LibraryState
}

/** Where the Vulkan loader looks for driver manifests on Linux, after `VK_DRIVER_FILES`. */
function icdDirs(env: NodeJS.ProcessEnv): string[] {
  const data = (env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':').filter(Boolean)
  const config = (env.XDG_CONFIG_DIRS || '/etc/xdg').split(':').filter(Boolean)
  return [
    ...config.map((d) => join(d, 'vulkan', 'icd.d')),
    '/etc/vulkan/icd.d',
    ...data.map((d) => join(d, 'vulkan', 'icd.d')),
    '/usr/share/vulkan/icd.d',
  ]
}

/**
 * The Vulkan drivers installed on this (Linux) machine, each with whether its library loads.
 * None: the loader has nothing to offer llama.cpp, whatever GPU there is.
 */
export function vulkanDrivers(env: NodeJS.ProcessEnv = process.env): VulkanDriver[] {
  const explicit = (env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES || '').split(':').filter(Boolean)
  const manifests = new Set<string>(explicit)
  if (explicit.length === 0) {
    for (const dir of icdDirs(env)) {
      try {
        for (const f of readdirSync(dir)) if (f.endsWith('.json')) manifests.add(join(dir, f))
      } catch {
        // no such dir
      }
    }
  }
  const drivers: VulkanDriver[] = []
  for (const manifest of manifests) {
    let library: string
    try {
      const icd = (JSON.parse(readFileSync(manifest, 'utf8')) as { ICD?: { library_path?: unknown } }).ICD
      if (typeof icd?.library_path !== 'string') continue
      library = icd.library_path
    } catch {
      continue
    }
    // A relative path with a slash is relative to the manifest; a bare name is searched for.
    const path = library.includes('/') && !isAbsolute(library) ? join(dirname(manifest), library) : library
    drivers.push({ manifest, library, state: loadsLibrary(path) })
  }
  return drivers
}
