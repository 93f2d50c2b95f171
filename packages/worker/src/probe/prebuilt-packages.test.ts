import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { nodeLlamaCppDir, packageStates, prebuiltPackages } from './prebuilt-packages.js'

let root: string
before(async () => {
  // An install tree like the rbee bundle's: node-llama-cpp with its CPU and Vulkan builds only.
  root = await mkdtemp(join(tmpdir(), 'rbee-prebuilt-'))
  const pkg = async (name: string, version: string, folder: string) => {
    const d = join(root, 'node_modules', '@node-llama-cpp', name)
    await mkdir(join(d, 'bins', folder), { recursive: true })
    await writeFile(join(d, 'package.json'), JSON.stringify({ name: `@node-llama-cpp/${name}`, version }))
  }
  await mkdir(join(root, 'node_modules', 'node-llama-cpp'), { recursive: true })
  await pkg('linux-x64', '3.21.1', 'linux-x64')
  await pkg('linux-x64-vulkan', '3.20.0', 'linux-x64-vulkan')
})
after(() => rm(root, { recursive: true, force: true }))

test('the packages of each backend are the ones node-llama-cpp 3.21 loads its builds from', () => {
  assert.deepEqual(prebuiltPackages('cuda', 'linux', 'x64'), [
    { name: '@node-llama-cpp/linux-x64-cuda', optional: false },
    { name: '@node-llama-cpp/linux-x64-cuda-ext', optional: true },
  ])
  assert.deepEqual(prebuiltPackages('metal', 'darwin', 'arm64'), [
    { name: '@node-llama-cpp/mac-arm64-metal', optional: false },
  ])
  assert.deepEqual(prebuiltPackages('metal', 'linux', 'x64'), [])
  assert.deepEqual(prebuiltPackages('vulkan', 'linux', 'arm64'), [
    { name: '@node-llama-cpp/linux-arm64', optional: false },
  ])
})

test('a package is found where Node would resolve it from node-llama-cpp, with its version and builds', () => {
  const from = join(root, 'node_modules', 'node-llama-cpp')
  assert.deepEqual(packageStates(prebuiltPackages('cuda', 'linux', 'x64'), 'cuda', from), [
    { name: '@node-llama-cpp/linux-x64-cuda', optional: false, state: 'missing' },
    { name: '@node-llama-cpp/linux-x64-cuda-ext', optional: true, state: 'missing' },
  ])
  assert.deepEqual(packageStates(prebuiltPackages('vulkan', 'linux', 'x64'), 'vulkan', from), [
    {
      name: '@node-llama-cpp/linux-x64-vulkan',
      optional: false,
      state: 'installed',
      version: '3.20.0',
      hasBuild: true,
    },
  ])
  // The CPU package holds no CUDA build.
  assert.deepEqual(
    packageStates([{ name: '@node-llama-cpp/linux-x64', optional: false }], 'cuda', from).map((p) =>
      p.state === 'installed' ? p.hasBuild : p.state,
    ),
    [false],
  )
})

test('node-llama-cpp is found in this checkout', () => {
  assert.match(nodeLlamaCppDir(), /node_modules[/\\]node-llama-cpp$/)
})
