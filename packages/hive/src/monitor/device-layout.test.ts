import assert from 'node:assert/strict'
import { test } from 'node:test'
import { usableBackend } from '@rbee/contracts'
import { PROBE_FIXTURES, probeFixture } from '@rbee/testing'
import { layoutDevices } from './device-layout.js'
import type { GpuInfo } from './nvidia-smi.js'

// nvidia-smi's answer and the probe results are test doubles of GPU machines (this one has none).
const cpu = { name: 'AMD EPYC', totalMb: 32000, availableMb: 20000 }
const nvidia: GpuInfo[] = [
  {
    index: 0,
    uuid: 'GPU-a',
    name: 'NVIDIA GeForce RTX 4090',
    memoryTotalMb: 24564,
    memoryFreeMb: 20011,
    utilizationPct: 3,
  },
  {
    index: 1,
    uuid: 'GPU-b',
    name: 'NVIDIA A100-SXM4-80GB',
    memoryTotalMb: 81920,
    memoryFreeMb: 81037,
    utilizationPct: 0,
  },
]

test('an NVIDIA GPU without the CUDA build runs on Vulkan, and says why CUDA does not', () => {
  const layout = layoutDevices({ cpu, nvidia, probe: probeFixture(PROBE_FIXTURES.nvidiaNoCuda) })
  const gpu0 = layout.devices.find((d) => d.id === 'gpu:0')!
  assert.equal(gpu0.backend, 'vulkan')
  assert.equal(usableBackend(gpu0), 'vulkan')
  assert.deepEqual(
    gpu0.backends.map((b) => [b.backend, b.usable]),
    [
      ['cuda', false],
      ['vulkan', true],
    ],
  )
  assert.match(
    gpu0.backends[0]?.reason ?? '',
    /no CUDA build of llama\.cpp is installed: install the npm package @node-llama-cpp\/linux-x64-cuda/,
  )
  // Memory stays nvidia-smi's (live), and no GPU is listed twice.
  assert.equal(gpu0.memory_free_mb, 20011)
  assert.deepEqual(
    layout.devices.map((d) => d.id),
    ['cpu:0', 'gpu:0', 'gpu:1'],
  )
  assert.equal(layout.workerIndex('gpu:1', 'vulkan'), 1)
  assert.deepEqual(layout.devices[0]?.backends, [{ backend: 'cpu', usable: true }])
})

test('an NVIDIA GPU with neither a CUDA build nor a Vulkan loader has no usable backend, with both reasons', () => {
  const layout = layoutDevices({ cpu, nvidia, probe: probeFixture(PROBE_FIXTURES.noVulkanLoader) })
  const gpu1 = layout.devices.find((d) => d.id === 'gpu:1')!
  assert.equal(gpu1.backend, 'cuda', 'the backend it would need')
  assert.equal(usableBackend(gpu1), undefined)
  assert.match(gpu1.backends.find((b) => b.backend === 'vulkan')?.reason ?? '', /install libvulkan1/)
})

test('GPUs only Vulkan sees (AMD) are devices with llama.cpp memory figures and their Vulkan index', () => {
  const layout = layoutDevices({ cpu, nvidia: [], probe: probeFixture(PROBE_FIXTURES.twoAmdGpus) })
  assert.deepEqual(
    layout.devices.slice(1).map((d) => [d.id, d.name, d.backend, d.memory_free_mb, d.memory_total_mb]),
    [
      ['gpu:0', 'AMD Radeon RX 7600 (RADV NAVI33)', 'vulkan', 100, 8176],
      ['gpu:1', 'AMD Radeon PRO W7900 (RADV NAVI31)', 'vulkan', 6000, 49136],
    ],
  )
  assert.equal(layout.workerIndex('gpu:1', 'vulkan'), 1)
  assert.equal(layout.workerIndex('gpu:1', 'cuda'), undefined)
})

test('a Vulkan GPU next to NVIDIA ones gets the next free id, and the worker its Vulkan index', () => {
  const probe = probeFixture(PROBE_FIXTURES.nvidiaNoCuda)
  const vulkan = probe.backends.find((b) => b.backend === 'vulkan')!
  // The loader lists the AMD card first, before the NVIDIA ones.
  vulkan.devices = [
    { index: 0, name: 'AMD Radeon RX 7600', memory_total_mb: 8176, memory_free_mb: 8000 },
    ...vulkan.devices.map((d) => ({ ...d, index: d.index + 1 })),
  ]
  const layout = layoutDevices({ cpu, nvidia, probe })
  assert.deepEqual(
    layout.devices.map((d) => `${d.id} ${d.name}`),
    [
      'cpu:0 AMD EPYC',
      'gpu:0 NVIDIA GeForce RTX 4090',
      'gpu:1 NVIDIA A100-SXM4-80GB',
      'gpu:2 AMD Radeon RX 7600',
    ],
  )
  assert.deepEqual(
    ['gpu:0', 'gpu:1', 'gpu:2'].map((id) => layout.workerIndex(id, 'vulkan')),
    [1, 2, 0],
  )
})

test('without a probe, NVIDIA GPUs are cuda taken on trust and no device lists backends', () => {
  const layout = layoutDevices({ cpu, nvidia, probe: undefined })
  assert.deepEqual(
    layout.devices.map((d) => [d.id, d.backend, d.backends.length]),
    [
      ['cpu:0', 'cpu', 0],
      ['gpu:0', 'cuda', 0],
      ['gpu:1', 'cuda', 0],
    ],
  )
})

test('without nvidia-smi, the GPUs the CUDA build sees are the NVIDIA devices', () => {
  const layout = layoutDevices({ cpu, nvidia: [], probe: probeFixture(PROBE_FIXTURES.cuda) })
  assert.deepEqual(
    layout.devices.slice(1).map((d) => [d.id, d.backend, d.memory_free_mb]),
    [
      ['gpu:0', 'cuda', 20011],
      ['gpu:1', 'cuda', 81037],
    ],
  )
})
