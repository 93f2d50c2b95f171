import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Device } from '@rbee/contracts'
import { backendLabel, deviceLines, missedBackends } from './device-backends.js'

// Devices as hives report them on GPU machines (test doubles of the wire values; no GPU here).
const noCuda =
  'no CUDA build of llama.cpp is installed: install the npm package @node-llama-cpp/linux-x64-cuda'
const h200: Device = {
  id: 'gpu:0',
  name: 'NVIDIA H200',
  type: 'gpu',
  memory_total_mb: 143771,
  memory_free_mb: 143000,
  backend: 'vulkan',
  backends: [
    { backend: 'cuda', usable: false, reason: noCuda },
    { backend: 'vulkan', usable: true },
  ],
}
const cudaBox: Device = {
  ...h200,
  backend: 'cuda',
  backends: [
    { backend: 'cuda', usable: true },
    { backend: 'vulkan', usable: false, reason: 'the Vulkan loader is missing' },
  ],
}
const dead: Device = {
  ...h200,
  backend: 'cuda',
  backends: [
    { backend: 'cuda', usable: false, reason: noCuda },
    { backend: 'vulkan', usable: false, reason: 'the Vulkan loader is missing' },
  ],
}

test('a device shows the backend workers run on there, or none when no build loads', () => {
  assert.equal(backendLabel(h200), 'vulkan')
  assert.equal(backendLabel(dead), 'none')
  assert.equal(backendLabel({ backend: 'cuda', backends: [] }), 'cuda', 'a hive that does not probe')
})

test('the fleet view explains only the better backends a device cannot use, or all when none works', () => {
  assert.deepEqual(
    missedBackends(h200).map((b) => b.backend),
    ['cuda'],
  )
  assert.deepEqual(missedBackends(cudaBox), [])
  assert.deepEqual(
    missedBackends(dead).map((b) => b.backend),
    ['cuda', 'vulkan'],
  )
})

test('the device view gives each device a line and each backend that does not load a line with why', () => {
  assert.deepEqual(deviceLines(false, [h200]), [
    '  gpu:0  vulkan NVIDIA H200: 139.6 GiB free of 140.4 GiB',
    `         cuda not usable: ${noCuda}`,
  ])
})
