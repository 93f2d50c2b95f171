import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  BackendProbeLineSchema,
  BackendProbeSchema,
  DoctorReportSchema,
  HiveCheckSchema,
} from './backend-probe.js'
import { contractTable, type Invalid, type Valid } from './test-support/contract-table.js'
import { cpuDevice, gpuDevice } from './test-support/wire-examples.js'

/** What the probe printed on a machine with an NVIDIA H200, the Vulkan build and no CUDA build. */
const h200Probe = {
  type: 'backend_probe',
  platform: 'linux',
  arch: 'x64',
  node_llama_cpp: '3.21.1',
  backends: [
    { backend: 'cpu', usable: true, devices: [] },
    {
      backend: 'cuda',
      usable: false,
      reason:
        'no CUDA build of llama.cpp is installed: install the npm package @node-llama-cpp/linux-x64-cuda@3.21.1',
      devices: [],
      detail: 'A prebuilt binary was not found',
    },
    {
      backend: 'vulkan',
      usable: true,
      devices: [{ index: 0, name: 'NVIDIA H200', memory_total_mb: 143771, memory_free_mb: 143000 }],
    },
    { backend: 'metal', usable: false, reason: 'Metal runs only on macOS', devices: [] },
  ],
  duration_ms: 2140.5,
}

const valid: Valid[] = [
  ['a probe of a GPU machine without the CUDA build', BackendProbeSchema, h200Probe],
  ['a progress line', BackendProbeLineSchema, { type: 'backend_checked', ...h200Probe.backends[2] }],
  ['the summary line', BackendProbeLineSchema, h200Probe],
  [
    'a hive check with its probe',
    HiveCheckSchema,
    {
      hive_id: 'gpu-box',
      version: '0.1.0',
      ok: true,
      checks: [{ name: 'data dir', ok: true, detail: '/srv/rbee is writable' }],
      devices: [cpuDevice, gpuDevice],
      workers: 0,
      backend_probe: h200Probe,
    },
  ],
  [
    'a doctor report',
    DoctorReportSchema,
    {
      hostname: 'gpu-box',
      devices: [cpuDevice, gpuDevice],
      backend_probe: h200Probe,
      nvidia_smi: { path: '/usr/bin/nvidia-smi', error: null },
    },
  ],
]

const invalid: Invalid[] = [
  [
    'a probe naming an unknown backend',
    BackendProbeSchema,
    { ...h200Probe, backends: [{ backend: 'rocm', usable: true }] },
    'backends.0.backend',
  ],
  [
    'a probed GPU with negative memory',
    BackendProbeSchema,
    {
      ...h200Probe,
      backends: [
        {
          backend: 'vulkan',
          usable: true,
          devices: [{ index: 0, name: 'x', memory_total_mb: -1, memory_free_mb: 0 }],
        },
      ],
    },
    'backends.0.devices.0.memory_total_mb',
  ],
  ['a line of another kind', BackendProbeLineSchema, { ...h200Probe, type: 'ready' }, 'type'],
  ['a hive check without its probe field', HiveCheckSchema, { hive_id: 'h' }, 'backend_probe'],
]

contractTable('backend probe contracts', valid, invalid)

test('a probe result that leaves out the devices of a build reads as none', () => {
  const parsed = BackendProbeSchema.parse({ ...h200Probe, backends: [{ backend: 'cpu', usable: true }] })
  assert.deepEqual(parsed.backends[0]?.devices, [])
})
