import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { BackendRequest } from '@rbee/contracts'
import { PROBE_FIXTURES, probeFixture } from '@rbee/testing'
import { type DeviceLayout, layoutDevices } from '../monitor/device-layout.js'
import type { GpuInfo } from '../monitor/nvidia-smi.js'
import { placementName, placeWorker } from './placement.js'

// Machines with GPUs, as test doubles: nvidia-smi's answer and the probe's (this one has no GPU).
const cpu = { name: 'AMD EPYC', totalMb: 32000, availableMb: 20000 }
const smi = (free: number[]): GpuInfo[] =>
  free.map((f, i) => ({
    index: i,
    uuid: `GPU-${i}`,
    name: i === 0 ? 'NVIDIA GeForce RTX 4090' : 'NVIDIA A100-SXM4-80GB',
    memoryTotalMb: 81920,
    memoryFreeMb: f,
    utilizationPct: 0,
  }))

function layout(fixture: string | undefined, free: number[] = [20011, 81037]): DeviceLayout {
  return layoutDevices({ cpu, nvidia: smi(free), probe: fixture ? probeFixture(fixture) : undefined })
}

const place = (
  l: DeviceLayout,
  backend: BackendRequest,
  devices?: number[],
  neededMb = 169,
  platform = 'linux',
) => placeWorker({ backend, devices, neededMb }, l, platform)

test('auto on an NVIDIA GPU without the CUDA build takes Vulkan; cuda there is refused with the reason', () => {
  const l = layout(PROBE_FIXTURES.nvidiaNoCuda)
  assert.equal(placementName(place(l, 'auto', [0])), 'vulkan:0')
  assert.throws(
    () => place(l, 'cuda', [0]),
    (err: Error & { code?: string }) =>
      err.code === 'RBEE_BACKEND_UNUSABLE' &&
      /^CUDA cannot run on gpu:0 \(NVIDIA GeForce RTX 4090\): no CUDA build of llama\.cpp is installed: install the npm package @node-llama-cpp\/linux-x64-cuda/.test(
        err.message,
      ),
  )
})

test('a spawn without a device lands on the GPU with room, not on GPU 0', () => {
  const l = layout(PROBE_FIXTURES.cuda, [100, 6000])
  const p = place(l, 'cuda')
  assert.equal(placementName(p), 'cuda:1')
  assert.match(p.why ?? '', /best fit among gpu:0 100 MB, gpu:1 6000 MB/)
  const auto = place(l, 'auto')
  assert.equal(placementName(auto), 'cuda:1')
  assert.equal(auto.devices[0]?.id, 'gpu:1')
  // Best fit: the GPU whose free memory is least but enough, so big GPUs stay free for big models.
  assert.equal(placementName(place(layout(PROBE_FIXTURES.cuda, [9000, 6000]), 'auto')), 'cuda:1')
})

test('two AMD GPUs only Vulkan sees: a spawn without a device lands on the one with room', () => {
  const l = layoutDevices({ cpu, nvidia: [], probe: probeFixture(PROBE_FIXTURES.twoAmdGpus) })
  const p = place(l, 'auto')
  assert.equal(placementName(p), 'vulkan:1')
  assert.match(p.why ?? '', /^the best fit for ~169 MB: 6000 MB free \(gpu:0 100 MB\)$/)
})

test('metal is refused on Linux, asked for a device or not, with the reason', () => {
  const l = layout(PROBE_FIXTURES.cuda)
  assert.throws(
    () => place(l, 'metal'),
    /^RbeeError: no GPU of this hive runs Metal: Metal runs only on macOS \(this machine runs linux\)$/,
  )
  assert.throws(() => place(l, 'metal', [0]), /no GPU of this hive runs Metal: Metal runs only on macOS/)
  // Also where the hive does not probe: Metal is never taken on trust off macOS.
  assert.throws(() => place(layout(undefined), 'metal', [0]), /Metal runs only on macOS/)
})

test('auto with no usable GPU backend runs on the CPU and says why', () => {
  const p = place(layout(PROBE_FIXTURES.noVulkanLoader), 'auto')
  assert.equal(placementName(p), 'cpu:0')
  assert.match(
    p.why ?? '',
    /^no GPU backend works here \(gpu:0 NVIDIA GeForce RTX 4090: cuda: no CUDA build .*; vulkan: the Vulkan loader is missing/,
  )
  const full = place(layout(PROBE_FIXTURES.cuda, [100, 120]), 'auto')
  assert.equal(placementName(full), 'cpu:0')
  assert.equal(full.why, 'no GPU has ~169 MB free (gpu:0 100 MB, gpu:1 120 MB)')
  // A GPU asked for by name is not swapped for the CPU.
  assert.throws(
    () => place(layout(PROBE_FIXTURES.noVulkanLoader), 'auto', [1]),
    /no llama\.cpp build works on gpu:1/,
  )
})

test('the CPU is refused when its build does not load either', () => {
  const probe = probeFixture(PROBE_FIXTURES.cpuOnly)
  probe.backends[0] = {
    backend: 'cpu',
    usable: false,
    reason: 'no CPU build of llama.cpp is installed',
    devices: [],
  }
  const l = layoutDevices({ cpu, nvidia: [], probe })
  assert.throws(
    () => place(l, 'auto'),
    /CPU cannot run on cpu:0 \(AMD EPYC\): no CPU build of llama\.cpp is installed/,
  )
})

test('a device list needs a backend that works on every GPU in it, and passes their indexes', () => {
  const p = place(layout(PROBE_FIXTURES.cuda), 'auto', [0, 1], 90_000)
  assert.equal(placementName(p), 'cuda:0,1')
  assert.deepEqual(
    p.devices.map((d) => d.id),
    ['gpu:0', 'gpu:1'],
  )
  assert.throws(
    () => place(layout(PROBE_FIXTURES.cuda), 'auto', [0, 7]),
    /no GPU 7 on this hive \(GPUs: gpu:0, gpu:1\)/,
  )
  assert.throws(() => place(layout(PROBE_FIXTURES.cuda), 'cpu', [0, 1]), /a CPU worker runs on cpu:0/)
})

test('a hive that does not probe keeps the old rules: auto is CUDA on an NVIDIA GPU, the CPU without one', () => {
  assert.equal(placementName(place(layout(undefined), 'auto', [1])), 'cuda:1')
  const cpuOnly = layoutDevices({ cpu, nvidia: [], probe: undefined })
  assert.equal(placementName(place(cpuOnly, 'auto', [0])), 'cpu:0')
  assert.equal(placementName(place(cpuOnly, 'auto')), 'cpu:0')
  assert.throws(() => place(layout(undefined), 'vulkan', [0]), /--backend-probe none/)
})
