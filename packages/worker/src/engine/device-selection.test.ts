import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RbeeError } from '@rbee/common'
import { deviceLabel, visibleDevicesEnv } from './device-selection.js'

test('a CUDA worker sees exactly its GPUs, numbered as nvidia-smi numbers them', () => {
  assert.deepEqual(visibleDevicesEnv('cuda', [0, 1], {}), {
    CUDA_VISIBLE_DEVICES: '0,1',
    CUDA_DEVICE_ORDER: 'PCI_BUS_ID',
  })
  assert.deepEqual(visibleDevicesEnv('cuda', [1], { CUDA_DEVICE_ORDER: 'FASTEST_FIRST' }), {
    CUDA_VISIBLE_DEVICES: '1',
  })
})

test('a Vulkan worker sees exactly its GPUs through GGML_VK_VISIBLE_DEVICES', () => {
  assert.deepEqual(visibleDevicesEnv('vulkan', [2], {}), { GGML_VK_VISIBLE_DEVICES: '2' })
  assert.deepEqual(visibleDevicesEnv('vulkan', [0, 1], {}), { GGML_VK_VISIBLE_DEVICES: '0,1' })
})

test('auto restricts CUDA only (a Vulkan index could pick a CPU device); CPU and Metal workers set nothing', () => {
  assert.deepEqual(visibleDevicesEnv('auto', [1], {}), {
    CUDA_VISIBLE_DEVICES: '1',
    CUDA_DEVICE_ORDER: 'PCI_BUS_ID',
  })
  assert.deepEqual(visibleDevicesEnv('cpu', [0], {}), {})
  assert.deepEqual(visibleDevicesEnv('metal', [0, 1], {}), {})
})

test('indexes count the GPUs an inherited setting leaves visible (a scheduler gave this machine GPUs 2 and 3)', () => {
  const inherited = { CUDA_VISIBLE_DEVICES: '2,3', GGML_VK_VISIBLE_DEVICES: 'GPU-a, GPU-b' }
  assert.equal(visibleDevicesEnv('cuda', [1], inherited).CUDA_VISIBLE_DEVICES, '3')
  assert.equal(visibleDevicesEnv('cuda', [1, 0], inherited).CUDA_VISIBLE_DEVICES, '3,2')
  assert.equal(visibleDevicesEnv('vulkan', [0], inherited).GGML_VK_VISIBLE_DEVICES, 'GPU-a')
})

test('an index past what the inherited setting leaves is refused, naming both; auto leaves that runtime as it was', () => {
  assert.throws(
    () => visibleDevicesEnv('cuda', [0, 2], { CUDA_VISIBLE_DEVICES: '2,3' }),
    (e: unknown) =>
      e instanceof RbeeError &&
      e.code === 'RBEE_CONFIG' &&
      /--device 0,2/.test(e.message) &&
      /CUDA_VISIBLE_DEVICES=2,3/.test(e.message),
  )
  assert.throws(() => visibleDevicesEnv('cuda', [0], { CUDA_VISIBLE_DEVICES: '' }), RbeeError)
  assert.deepEqual(visibleDevicesEnv('auto', [1], { CUDA_VISIBLE_DEVICES: '0' }), {})
})

test('WorkerInfo names the backend and every GPU of the worker', () => {
  assert.equal(deviceLabel('cuda', [0, 1]), 'cuda:0,1')
  assert.equal(deviceLabel('vulkan', [1]), 'vulkan:1')
  assert.equal(deviceLabel('cpu', [1]), 'cpu:0')
  assert.equal(deviceLabel('metal', [0]), 'metal:0')
})
