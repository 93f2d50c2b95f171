import assert from 'node:assert/strict'
import { chmod } from 'node:fs/promises'
import { test } from 'node:test'
import { silentLogger } from '@rbee/common'
import { NVIDIA_SMI_FIXTURE } from '@rbee/testing'
import { HostMonitor } from './host-monitor.js'
import { findExecutable, NvidiaSmi, parseComputeAppsCsv, parseGpuCsv } from './nvidia-smi.js'

// The one test double of rbee-hive: nvidia-smi, absent on machines without an NVIDIA GPU.
const FIXTURE = NVIDIA_SMI_FIXTURE

test('GPU rows are parsed from csv,noheader,nounits output; [N/A] reads as 0 and commas in names survive', () => {
  const rows = parseGpuCsv(
    '0, GPU-aa, NVIDIA GeForce RTX 4090, 24564, 20011, 87\n1, GPU-bb, Tesla T4, PCIe, 15360, 15000, [N/A]\n\n',
  )
  assert.deepEqual(rows, [
    {
      index: 0,
      uuid: 'GPU-aa',
      name: 'NVIDIA GeForce RTX 4090',
      memoryTotalMb: 24564,
      memoryFreeMb: 20011,
      utilizationPct: 87,
    },
    {
      index: 1,
      uuid: 'GPU-bb',
      name: 'Tesla T4, PCIe',
      memoryTotalMb: 15360,
      memoryFreeMb: 15000,
      utilizationPct: 0,
    },
  ])
  assert.deepEqual(parseComputeAppsCsv('48211, 1450, GPU-aa\nNo running processes found\n'), [
    { pid: 48211, usedMemoryMb: 1450, gpuUuid: 'GPU-aa' },
  ])
})

test('the hive reads GPUs and per-process VRAM by running nvidia-smi (the fixture script)', async () => {
  await chmod(FIXTURE, 0o755)
  const smi = new NvidiaSmi({ command: FIXTURE, logger: silentLogger() })
  const snap = await smi.query()
  assert.deepEqual(
    snap.gpus.map((g) => [g.index, g.name, g.memoryTotalMb, g.memoryFreeMb, g.utilizationPct]),
    [
      [0, 'NVIDIA GeForce RTX 4090', 24564, 20011, 87],
      [1, 'NVIDIA A100-SXM4-80GB', 81920, 81037, 0],
    ],
  )
  assert.deepEqual(
    snap.processes.map((p) => [p.pid, p.usedMemoryMb]),
    [
      [48211, 1450],
      [48377, 2210],
    ],
  )
  const devices = await new HostMonitor({ nvidiaSmi: smi }).devices()
  assert.deepEqual(
    devices.map((d) => [d.id, d.backend]),
    [
      ['cpu:0', 'cpu'],
      ['gpu:0', 'cuda'],
      ['gpu:1', 'cuda'],
    ],
  )
})

test('a failing nvidia-smi yields no GPUs instead of an error', async () => {
  const smi = new NvidiaSmi({ command: '/nonexistent/nvidia-smi', logger: silentLogger() })
  assert.deepEqual(await smi.query(), { gpus: [], processes: [] })
  assert.equal(findExecutable('nvidia-smi-that-does-not-exist', '/usr/bin:/bin'), undefined)
  assert.equal(findExecutable('sh', ['/nonexistent', '/bin']), '/bin/sh')
})
