import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { Backend } from '@rbee/contracts'

/**
 * The npm packages that carry node-llama-cpp's prebuilt llama.cpp for a backend on a platform,
 * as node-llama-cpp 3.21 looks them up (`getPrebuiltBinariesPackageDirectoryForBuildOptions`).
 * `optional` packages only add a fallback (CUDA 12 next to the CUDA 13 build). An empty list:
 * node-llama-cpp ships no prebuilt build of that backend for this platform.
 */
export function prebuiltPackages(
  backend: Backend,
  platform: string,
  arch: string,
): Array<{ name: string; optional: boolean }> {
  const one = (name: string) => [{ name: `@node-llama-cpp/${name}`, optional: false }]
  if (platform === 'linux') {
    if (arch === 'x64') {
      if (backend === 'cpu') return one('linux-x64')
      if (backend === 'cuda')
        return [...one('linux-x64-cuda'), { name: '@node-llama-cpp/linux-x64-cuda-ext', optional: true }]
      if (backend === 'vulkan') return one('linux-x64-vulkan')
      return []
    }
    if (backend === 'metal') return []
    if (arch === 'arm64') return one('linux-arm64')
    if (arch === 'arm') return one('linux-armv7l')
    return []
  }
  if (platform === 'win32') {
    if (arch === 'x64') {
      if (backend === 'cpu') return one('win-x64')
      if (backend === 'cuda')
        return [...one('win-x64-cuda'), { name: '@node-llama-cpp/win-x64-cuda-ext', optional: true }]
      if (backend === 'vulkan') return one('win-x64-vulkan')
      return []
    }
    return arch === 'arm64' && backend !== 'metal' ? one('win-arm64') : []
  }
  if (platform === 'darwin') {
    if (arch === 'arm64') return backend === 'metal' ? one('mac-arm64-metal') : []
    return backend === 'cpu' ? one('mac-x64') : []
  }
  return []
}

/** Whether a prebuilt package is installed where node-llama-cpp finds it, at its version. */
export type PackageState =
  | { name: string; optional: boolean; state: 'missing' }
  | { name: string; optional: boolean; state: 'installed'; version: string; hasBuild: boolean }

/** The directory node-llama-cpp is installed in (`…/node_modules/node-llama-cpp`). */
export function nodeLlamaCppDir(): string {
  // …/node-llama-cpp/dist/index.js
  return dirname(dirname(createRequire(import.meta.url).resolve('node-llama-cpp')))
}

/** The `node_modules` directories node-llama-cpp's `import('@node-llama-cpp/…')` searches, nearest first. */
function searchDirs(from: string): string[] {
  const dirs: string[] = []
  let dir = from
  for (;;) {
    if (!dir.endsWith('node_modules')) dirs.push(join(dir, 'node_modules'))
    const parent = dirname(dir)
    if (parent === dir) return dirs
    dir = parent
  }
}

/** True when a prebuilt package's `bins/` holds a build of `backend` (its folder names say which). */
function holdsBuild(packageDir: string, backend: Backend): boolean {
  let folders: string[]
  try {
    folders = readdirSync(join(packageDir, 'bins'))
  } catch {
    return false
  }
  const gpuWords = ['cuda', 'vulkan', 'metal']
  return folders.some((f) => (backend === 'cpu' ? !gpuWords.some((w) => f.includes(w)) : f.includes(backend)))
}

/** Looks up each package the way Node resolves `@node-llama-cpp/…` from node-llama-cpp's own directory. */
export function packageStates(
  packages: ReadonlyArray<{ name: string; optional: boolean }>,
  backend: Backend,
  from = nodeLlamaCppDir(),
): PackageState[] {
  return packages.map(({ name, optional }) => {
    for (const dir of searchDirs(from)) {
      const manifest = join(dir, name, 'package.json')
      if (!existsSync(manifest)) continue
      let version = 'unknown'
      try {
        version = String((JSON.parse(readFileSync(manifest, 'utf8')) as { version?: unknown }).version)
      } catch {
        // an unreadable manifest reads as an unknown version: node-llama-cpp will not use it either
      }
      return { name, optional, state: 'installed', version, hasBuild: holdsBuild(join(dir, name), backend) }
    }
    return { name, optional, state: 'missing' }
  })
}
