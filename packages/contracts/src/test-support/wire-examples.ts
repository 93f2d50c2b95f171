// Realistic wire values shared by this package's tests (test support: not exported from the
// package entry point, and left out of what the package publishes).
import { BUILTIN_MODEL_ID } from '../defaults.js'
import type { Device, HiveInfo, HiveStreamEvent, ProcessStats } from '../hive.js'
import type { WorkerInfo } from '../worker.js'

export const NOW = '2026-11-27T10:00:00.000Z'

export const workerInfo = {
  id: 'w-7f3a9c',
  model_id: BUILTIN_MODEL_ID,
  device: 'cuda:0',
  port: 41234,
  status: 'ready',
  implementation: 'llm-worker-rbee',
  version: '0.1.0',
  protocol: 1,
  host: '10.0.0.12',
  hive_id: 'gpu-box',
  slots_total: 4,
  slots_busy: 1,
} satisfies WorkerInfo

export const gpuDevice = {
  id: 'gpu:0',
  name: 'NVIDIA GeForce RTX 4090',
  type: 'gpu',
  memory_total_mb: 24564,
  memory_free_mb: 20011,
  backend: 'cuda',
  backends: [],
} satisfies Device

export const cpuDevice = {
  id: 'cpu:0',
  name: 'AMD Ryzen 9 7950X',
  type: 'cpu',
  memory_total_mb: 64000,
  memory_free_mb: 51234,
  backend: 'cpu',
  backends: [],
} satisfies Device

export const hiveInfo = {
  id: 'gpu-box',
  hostname: 'gpu-box.lan',
  port: 7835,
  operational_status: 'running',
  health_status: 'healthy',
  version: '0.1.0',
  protocol: 1,
  devices: [cpuDevice, gpuDevice],
} satisfies HiveInfo

export const processStats = {
  pid: 48211,
  group: 'llm',
  instance: '41234',
  cpu_pct: 112.5,
  rss_mb: 812.3,
  io_r_mb_s: 0,
  io_w_mb_s: 0.2,
  uptime_s: 3600.5,
  gpu_util_pct: 87,
  vram_mb: 1450,
  total_vram_mb: 24564,
  model: BUILTIN_MODEL_ID,
  worker_id: 'w-7f3a9c',
  status: 'busy',
} satisfies ProcessStats

export const telemetryEvent = {
  type: 'telemetry',
  hive_id: 'gpu-box',
  hive_info: hiveInfo,
  timestamp: NOW,
  workers: [processStats],
  worker_infos: [workerInfo],
} satisfies HiveStreamEvent

export const workerReadyEvent = {
  type: 'worker_ready',
  hive_id: 'gpu-box',
  timestamp: NOW,
  worker: workerInfo,
  pid: 48211,
} satisfies HiveStreamEvent

export const workerExitedEvent = {
  type: 'worker_exited',
  hive_id: 'gpu-box',
  timestamp: NOW,
  worker_id: 'w-7f3a9c',
  pid: 48211,
  port: 41234,
  exit_code: null,
  signal: 'SIGKILL',
  expected: false,
  restarting: true,
  reason: 'killed by signal SIGKILL',
} satisfies HiveStreamEvent
