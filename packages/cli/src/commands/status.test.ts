import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { FleetStatus } from '@rbee/contracts'
import { renderStatus } from './status.js'

// A fleet as the queen reports it, with a GPU hive that has no CUDA build (a test double of the
// wire value: this machine has no GPU).
const fleet: FleetStatus = {
  queen: { version: '0.1.0', protocol: 1, uptime_s: 3, url: 'http://127.0.0.1:7833' },
  hives: [
    {
      id: 'gpu-box',
      url: 'http://10.0.0.12:7835',
      online: true,
      suspect: false,
      source: 'config',
      last_seen: '2026-11-27T10:00:00.000Z',
      devices: [
        {
          id: 'cpu:0',
          name: 'AMD EPYC',
          type: 'cpu',
          memory_total_mb: 24064,
          memory_free_mb: 23347,
          backend: 'cpu',
          backends: [{ backend: 'cpu', usable: true }],
        },
        {
          id: 'gpu:0',
          name: 'NVIDIA H200',
          type: 'gpu',
          memory_total_mb: 143771,
          memory_free_mb: 143000,
          backend: 'vulkan',
          backends: [
            { backend: 'cuda', usable: false, reason: 'no CUDA build of llama.cpp is installed' },
            { backend: 'vulkan', usable: true },
          ],
        },
      ],
      workers: 0,
      error: null,
      version: '0.1.0',
      protocol: 1,
      compatible: true,
    },
  ],
  workers: [],
}

test('rbee status shows each device with its backend and says why a better one is not usable', () => {
  const text = renderStatus({ color: false }, fleet)
  assert.match(text, /gpu-box +up +http:\/\/10\.0\.0\.12:7835 +cpu:0 cpu, gpu:0 vulkan /)
  assert.match(
    text,
    /\nBACKENDS NOT USABLE \(rbee hive status ALIAS lists them all\)\nHIVE +DEVICE +BACKEND +WHY\ngpu-box +gpu:0 +cuda +no CUDA build of llama\.cpp is installed\n/,
  )
})

test('rbee status has no backend section when every device runs its best backend', () => {
  const gpu = fleet.hives[0]!.devices[1]!
  const fine = structuredClone(fleet)
  fine.hives[0]!.devices[1] = { ...gpu, backend: 'cuda', backends: [{ backend: 'cuda', usable: true }] }
  assert.doesNotMatch(renderStatus({ color: false }, fine), /BACKENDS NOT USABLE/)
})

test('rbee status shows a hive of another release, and one of another protocol as incompatible with why', () => {
  const base = fleet.hives[0]!
  const mixed = structuredClone(fleet)
  mixed.hives = [
    { ...base, id: 'newer', version: '0.2.0' },
    {
      ...base,
      id: 'future',
      online: false,
      version: '9.0.0',
      protocol: 2,
      compatible: false,
      error:
        'hive future runs rbee 9.0.0 (protocol 2) and this queen runs rbee 0.1.0 (protocol 1): they cannot work together; install the same rbee release on both',
    },
  ]
  const text = renderStatus({ color: false }, mixed)
  assert.match(text, /^queen http:\/\/127\.0\.0\.1:7833 {2}version 0\.1\.0 \(protocol 1\)/)
  assert.match(text, /\nnewer +up +.* 0\.2\.0 \(queen 0\.1\.0\)\n/)
  assert.match(
    text,
    /\nfuture +incompatible +.*\(hive future runs rbee 9\.0\.0 \(protocol 2\) and this queen runs rbee 0\.1\.0/,
  )
  assert.match(text, /9\.0\.0 \(protocol 2, queen 1\)\n/)
})

test('rbee status shows an online hive that went quiet as quiet, and a worker its hive found unresponsive as such', () => {
  const quiet = structuredClone(fleet)
  quiet.hives[0]!.suspect = true
  quiet.workers = [
    {
      id: 'w-1',
      model_id: 'tiny',
      device: 'cpu:0',
      port: 41234,
      status: 'unresponsive',
      implementation: 'llm-worker-rbee',
      version: '0.1.0',
      protocol: 1,
      host: '10.0.0.12',
      hive_id: 'gpu-box',
      slots_total: 4,
      slots_busy: 0,
      url: 'http://10.0.0.12:41234',
      pid: 4242,
      cpu_pct: 0,
      rss_mb: 100,
      vram_mb: 0,
      gpu_util_pct: 0,
      last_seen: '2026-11-27T10:00:00.000Z',
      routable: false,
      liveness: null,
    },
  ]
  const text = renderStatus({ color: false }, quiet)
  assert.match(text, /gpu-box +quiet +http:/)
  assert.match(text, /w-1 +tiny +gpu-box +10\.0\.0\.12:41234 +unresponsive \(unroutable\)/)
})
