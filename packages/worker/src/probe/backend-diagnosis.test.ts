import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type BackendFacts, diagnoseBackend } from './backend-diagnosis.js'
import type { PackageState } from './prebuilt-packages.js'

// Facts as the probe gathers them on real machines (this one has no GPU): the reasons a user reads.
const installed = (name: string, optional = false, version = '3.21.1'): PackageState => ({
  name,
  optional,
  state: 'installed',
  version,
  hasBuild: true,
})
const missing = (name: string, optional = false): PackageState => ({ name, optional, state: 'missing' })
const loads = { loads: true }
const absent = (lib: string) => ({
  loads: false,
  error: `${lib}: cannot open shared object file: No such file or directory`,
})

const base = {
  platform: 'linux',
  arch: 'x64',
  version: '3.21.1',
  installDir: '/opt/rbee',
  libraries: {},
} satisfies Partial<BackendFacts>

const cudaLibs = {
  'libcuda.so.1': loads,
  'libcudart.so.13': loads,
  'libcublas.so.13': loads,
  'libcudart.so.12': absent('libcudart.so.12'),
  'libcublas.so.12': absent('libcublas.so.12'),
}

test('an NVIDIA machine without the CUDA build is told which npm package to install, and where', () => {
  const reason = diagnoseBackend(
    {
      ...base,
      backend: 'cuda',
      packages: [
        missing('@node-llama-cpp/linux-x64-cuda'),
        missing('@node-llama-cpp/linux-x64-cuda-ext', true),
      ],
      libraries: cudaLibs,
    },
    'A prebuilt binary was not found, falling back to using Vulkan',
  )
  assert.match(
    reason,
    /^no CUDA build of llama\.cpp is installed: install the npm package @node-llama-cpp\/linux-x64-cuda:/,
  )
  assert.match(reason, /run `npm install --no-save @node-llama-cpp\/linux-x64-cuda@3\.21\.1` in \/opt\/rbee;/)
  assert.match(reason, /linux-x64-cuda-ext adds the build for CUDA 12/)
  assert.doesNotMatch(reason, /NoBinaryFoundError/)
})

test('a CUDA build without the CUDA runtime names the missing libraries and where they come from', () => {
  const reason = diagnoseBackend({
    ...base,
    backend: 'cuda',
    packages: [
      installed('@node-llama-cpp/linux-x64-cuda'),
      missing('@node-llama-cpp/linux-x64-cuda-ext', true),
    ],
    libraries: { ...cudaLibs, 'libcudart.so.13': absent('libcudart.so.13'), 'libcublas.so.13': absent('x') },
  })
  assert.match(reason, /^the CUDA runtime is missing \(libcudart\.so\.13 and libcublas\.so\.13 do not load\)/)
  assert.match(reason, /cuda-cudart-13-0 and libcublas-13-0/)
  assert.match(
    reason,
    /for CUDA 12 \(libcudart\.so\.12, libcublas\.so\.12\) also install @node-llama-cpp\/linux-x64-cuda-ext/,
  )
})

test('with the CUDA 12 build installed, a CUDA 12 runtime is enough', () => {
  const reason = diagnoseBackend(
    {
      ...base,
      backend: 'cuda',
      packages: [
        installed('@node-llama-cpp/linux-x64-cuda'),
        installed('@node-llama-cpp/linux-x64-cuda-ext', true),
      ],
      libraries: {
        ...cudaLibs,
        'libcudart.so.13': absent('libcudart.so.13'),
        'libcudart.so.12': loads,
        'libcublas.so.12': loads,
      },
    },
    'CUDA error: unsupported PTX version',
  )
  assert.match(
    reason,
    /does not load although the NVIDIA driver and CUDA runtime do: node-llama-cpp says "CUDA error: unsupported PTX version"/,
  )
})

test('a machine without the NVIDIA driver is told so before anything about the runtime', () => {
  const reason = diagnoseBackend({
    ...base,
    backend: 'cuda',
    packages: [installed('@node-llama-cpp/linux-x64-cuda')],
    libraries: { ...cudaLibs, 'libcuda.so.1': absent('libcuda.so.1'), 'libcudart.so.13': absent('y') },
  })
  assert.equal(
    reason,
    'the NVIDIA driver is not installed (libcuda.so.1 does not load): CUDA needs an NVIDIA GPU with the NVIDIA driver installed',
  )
})

test('a prebuilt package of another version than node-llama-cpp is named with both versions', () => {
  const reason = diagnoseBackend({
    ...base,
    backend: 'vulkan',
    packages: [installed('@node-llama-cpp/linux-x64-vulkan', false, '3.20.0')],
    libraries: { 'libvulkan.so.1': loads },
  })
  assert.match(
    reason,
    /linux-x64-vulkan is version 3\.20\.0 but node-llama-cpp is 3\.21\.1, so it is not used/,
  )
})

test('Vulkan without the loader says to install libvulkan1, whatever node-llama-cpp said', () => {
  const reason = diagnoseBackend(
    {
      ...base,
      backend: 'vulkan',
      packages: [installed('@node-llama-cpp/linux-x64-vulkan')],
      libraries: { 'libvulkan.so.1': absent('libvulkan.so.1') },
    },
    'The prebuilt binary for platform "linux" "x64" with Vulkan support is not compatible with the current system',
  )
  assert.equal(
    reason,
    'the Vulkan loader is missing (libvulkan.so.1 does not load): install libvulkan1 (Debian, Ubuntu) or vulkan-loader (Fedora, Arch)',
  )
})

test('Vulkan with a loader but no driver says which drivers to install', () => {
  const reason = diagnoseBackend({
    ...base,
    backend: 'vulkan',
    packages: [installed('@node-llama-cpp/linux-x64-vulkan')],
    libraries: { 'libvulkan.so.1': loads },
    vulkanDrivers: [],
  })
  assert.match(reason, /^no Vulkan driver is installed .*mesa-vulkan-drivers for AMD and Intel/)
})

test("NVIDIA's Vulkan driver without libglvnd is named with what its library lacks", () => {
  const reason = diagnoseBackend({
    ...base,
    backend: 'vulkan',
    packages: [installed('@node-llama-cpp/linux-x64-vulkan')],
    libraries: { 'libvulkan.so.1': loads },
    vulkanDrivers: [
      {
        manifest: '/usr/share/vulkan/icd.d/nvidia_icd.json',
        library: 'libGLX_nvidia.so.0',
        state: {
          loads: false,
          error: 'libGLdispatch.so.0: cannot open shared object file: No such file or directory',
        },
      },
    ],
  })
  assert.match(
    reason,
    /^no Vulkan driver loads: nvidia_icd\.json \(libGLdispatch\.so\.0: cannot open shared object file/,
  )
  assert.match(reason, /needs libglvnd \(install libglvnd0, libegl1 and libglx0\)/)
})

test('a Vulkan build that only finds llvmpipe is not offered as a GPU', () => {
  const reason = diagnoseBackend({
    ...base,
    backend: 'vulkan',
    packages: [installed('@node-llama-cpp/linux-x64-vulkan')],
    deviceNames: ['llvmpipe (LLVM 15.0.6, 256 bits)'],
  })
  assert.match(reason, /only Vulkan device is a software one \(llvmpipe/)
})

test('Metal off macOS, CUDA on macOS and Metal on Intel Macs are refused for what they are', () => {
  assert.equal(
    diagnoseBackend({ ...base, backend: 'metal', packages: [] }),
    'Metal runs only on macOS (this machine runs linux)',
  )
  assert.match(
    diagnoseBackend({ ...base, platform: 'darwin', arch: 'arm64', backend: 'cuda', packages: [] }),
    /CUDA does not run on macOS/,
  )
  assert.match(
    diagnoseBackend({ ...base, platform: 'darwin', arch: 'x64', backend: 'metal', packages: [] }),
    /only on Apple silicon/,
  )
})

test('a platform node-llama-cpp ships no build for is told how to build one', () => {
  const reason = diagnoseBackend({ ...base, arch: 'riscv64', backend: 'vulkan', packages: [] })
  assert.match(reason, /ships no Vulkan build of llama\.cpp for linux riscv64: .*source build --gpu vulkan/)
})

test('a build that loads something else than asked is not taken for the one asked', () => {
  const reason = diagnoseBackend({
    ...base,
    backend: 'vulkan',
    packages: [installed('@node-llama-cpp/linux-x64-vulkan')],
    loadedInstead: 'false',
  })
  assert.match(reason, /loaded its CPU build when asked for Vulkan/)
})
