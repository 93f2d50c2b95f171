import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Device } from '@rbee/contracts'
import { checkMemoryFits } from './memory-check.js'

const cpu: Device = {
  id: 'cpu:0',
  name: 'EPYC',
  type: 'cpu',
  memory_total_mb: 32000,
  memory_free_mb: 1000,
  backend: 'cpu',
  backends: [],
}
const gpu = (id: string, free: number): Device => ({
  id,
  name: 'RTX 4090',
  type: 'gpu',
  memory_total_mb: 24564,
  memory_free_mb: free,
  backend: 'cuda',
  backends: [],
})

test('a worker that needs more than is free is refused with both figures', () => {
  checkMemoryFits('tiny', 999, { backend: 'cpu', devices: [cpu], workerDevices: [0] })
  assert.throws(
    () => checkMemoryFits('big', 1001, { backend: 'cpu', devices: [cpu], workerDevices: [0] }),
    /not enough memory for big on cpu:0: needs ~1001 MB of RAM, 1000 MB free \(EPYC, 32000 MB total\)/,
  )
  assert.throws(
    () =>
      checkMemoryFits('big', 30_000, { backend: 'cuda', devices: [gpu('gpu:0', 20011)], workerDevices: [0] }),
    /on cuda:0: needs ~30000 MB of VRAM, 20011 MB free \(RTX 4090, 24564 MB total\)/,
  )
})

test('a model split across GPUs fits their free memory together', () => {
  const devices = [gpu('gpu:0', 20000), gpu('gpu:1', 15000)]
  checkMemoryFits('split', 30_000, { backend: 'cuda', devices, workerDevices: [0, 1] })
  assert.throws(
    () => checkMemoryFits('split', 40_000, { backend: 'cuda', devices, workerDevices: [0, 1] }),
    /on cuda:0,1: needs ~40000 MB of VRAM, 35000 MB free \(together: gpu:0 RTX 4090 20000 MB, gpu:1 RTX 4090 15000 MB\)/,
  )
})
