import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Device } from '@rbee/contracts'
import { checkMemoryFits, placeWorker } from './memory-check.js'

const cpu: Device = {
  id: 'cpu:0',
  name: 'EPYC',
  type: 'cpu',
  memory_total_mb: 32000,
  memory_free_mb: 1000,
  backend: 'cpu',
  backends: [],
}
const gpu: Device = {
  id: 'gpu:0',
  name: 'RTX 4090',
  type: 'gpu',
  memory_total_mb: 24564,
  memory_free_mb: 20011,
  backend: 'cuda',
  backends: [],
}

test('auto means CUDA when that GPU exists, the CPU otherwise', () => {
  assert.deepEqual(placeWorker('auto', 0, [cpu, gpu]), { backend: 'cuda', device: 0, memory: gpu })
  assert.deepEqual(placeWorker('auto', 0, [cpu]), { backend: 'cpu', device: 0, memory: cpu })
  assert.deepEqual(placeWorker('vulkan', 1, [cpu]), { backend: 'vulkan', device: 1, memory: undefined })
  assert.throws(() => placeWorker('cuda', 2, [cpu, gpu]), /no CUDA device 2 on this hive \(GPUs: gpu:0\)/)
})

test('a worker that needs more than is free is refused with both figures', () => {
  checkMemoryFits('tiny', 999, placeWorker('cpu', 0, [cpu]))
  assert.throws(
    () => checkMemoryFits('big', 1001, placeWorker('cpu', 0, [cpu])),
    /not enough memory for big on cpu:0: needs ~1001 MB of RAM, 1000 MB free \(EPYC, 32000 MB total\)/,
  )
  assert.throws(
    () => checkMemoryFits('big', 30_000, placeWorker('cuda', 0, [cpu, gpu])),
    /needs ~30000 MB of VRAM, 20011 MB free/,
  )
  checkMemoryFits('unmeasured', 1e9, placeWorker('metal', 0, [cpu]))
})
