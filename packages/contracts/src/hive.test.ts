import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  CapabilitiesSchema,
  DeviceSchema,
  HiveInfoSchema,
  HiveReadySchema,
  type HiveStreamEvent,
  HiveStreamEventSchema,
  HiveWorkerSchema,
  ProcessStatsSchema,
  WorkerSpawnResultSchema,
} from './hive.js'
import { contractTable, type Invalid, rejectsAt, type Valid } from './test-support/contract-table.js'
import {
  cpuDevice,
  gpuDevice,
  hiveInfo,
  NOW,
  processStats,
  telemetryEvent,
  workerExitedEvent,
  workerInfo,
  workerReadyEvent,
} from './test-support/wire-examples.js'

const supervised = {
  worker: workerInfo,
  pid: 48211,
  url: 'http://10.0.0.12:41234',
  started_at: NOW,
  restarts: 2,
  restart_policy: 'on-failure',
  given_up: null,
  last_exit: { exit_code: null, signal: 'SIGKILL', at: NOW, reason: 'killed by signal SIGKILL' },
  log_path: '/var/lib/rbee/logs/w-7f3a9c.log',
}

const spawned = { worker_id: 'w-7f3a9c', port: 41234, pid: 48211, host: '::1', url: 'http://[::1]:41234' }

const valid: Valid[] = [
  ['a GPU device', DeviceSchema, gpuDevice],
  ['a CPU device', DeviceSchema, cpuDevice],
  ['a hive', HiveInfoSchema, hiveInfo],
  [
    'a CPU-only starting hive',
    HiveInfoSchema,
    { ...hiveInfo, operational_status: 'starting', devices: [cpuDevice] },
  ],
  ['capabilities', CapabilitiesSchema, { hive_id: 'gpu-box', devices: [cpuDevice, gpuDevice] }],
  ['process stats', ProcessStatsSchema, processStats],
  [
    'process stats of a worker with no model yet',
    ProcessStatsSchema,
    { ...processStats, model: null, status: 'starting' },
  ],
  [
    'an http hive announcement',
    HiveReadySchema,
    { hive_id: 'gpu-box', hive_url: 'http://10.0.0.12:7835', version: '0.1.0', protocol: 1 },
  ],
  [
    'an https hive announcement',
    HiveReadySchema,
    { hive_id: 'gpu-box', hive_url: 'https://gpu-box.lan', version: '0.1.0', protocol: 1 },
  ],
  ['a spawn result', WorkerSpawnResultSchema, spawned],
  ['a telemetry event', HiveStreamEventSchema, telemetryEvent],
  ['a worker_spawned event', HiveStreamEventSchema, { ...workerReadyEvent, type: 'worker_spawned' }],
  ['a worker_ready event', HiveStreamEventSchema, workerReadyEvent],
  ['a worker_exited event', HiveStreamEventSchema, workerExitedEvent],
  ['a supervised worker', HiveWorkerSchema, supervised],
  [
    'a worker the hive gave up on',
    HiveWorkerSchema,
    {
      ...supervised,
      worker: { ...workerInfo, status: 'stopped', port: 0 },
      pid: null,
      url: null,
      given_up: 'gave up after 5 restarts within 60 s; last exit: exit code 1',
    },
  ],
  [
    'a clean worker_exited event',
    HiveStreamEventSchema,
    {
      ...workerExitedEvent,
      pid: null,
      exit_code: 0,
      signal: null,
      expected: true,
      restarting: false,
      reason: 'stopped',
    },
  ],
]

const invalid: Invalid[] = [
  ['a device id that is not cpu:N or gpu:N', DeviceSchema, { ...gpuDevice, id: 'cuda:0' }, 'id'],
  ['an auto device backend', DeviceSchema, { ...gpuDevice, backend: 'auto' }, 'backend'],
  ['an unknown device type', DeviceSchema, { ...gpuDevice, type: 'npu' }, 'type'],
  [
    'an unknown operational status',
    HiveInfoSchema,
    { ...hiveInfo, operational_status: 'asleep' },
    'operational_status',
  ],
  ['an unknown health status', HiveInfoSchema, { ...hiveInfo, health_status: 'fine' }, 'health_status'],
  [
    'negative free memory on a device',
    HiveInfoSchema,
    {
      ...hiveInfo,
      devices: [{ ...cpuDevice, memory_free_mb: -1 }],
    },
    'devices.0.memory_free_mb',
  ],
  ['a bad capabilities hive id', CapabilitiesSchema, { hive_id: 'a/b', devices: [] }, 'hive_id'],
  ['a non-numeric instance', ProcessStatsSchema, { ...processStats, instance: 'w-1' }, 'instance'],
  ['a negative cpu_pct', ProcessStatsSchema, { ...processStats, cpu_pct: -1 }, 'cpu_pct'],
  ['pid 0', ProcessStatsSchema, { ...processStats, pid: 0 }, 'pid'],
  ['an ftp hive url', HiveReadySchema, { hive_id: 'gpu-box', hive_url: 'ftp://gpu-box/' }, 'hive_url'],
  [
    'a hive announcement without its protocol',
    HiveReadySchema,
    { hive_id: 'gpu-box', hive_url: 'http://gpu-box:7835', version: '0.1.0' },
    'protocol',
  ],
  [
    'a hive url that is not a url',
    HiveReadySchema,
    { hive_id: 'gpu-box', hive_url: 'gpu-box:7835' },
    'hive_url',
  ],
  ['a spawn result with port 0', WorkerSpawnResultSchema, { ...spawned, port: 0 }, 'port'],
  [
    'an unknown restart policy',
    HiveWorkerSchema,
    { ...supervised, restart_policy: 'sometimes' },
    'restart_policy',
  ],
  [
    'a last exit without a reason',
    HiveWorkerSchema,
    { ...supervised, last_exit: { ...supervised.last_exit, reason: undefined } },
    'last_exit.reason',
  ],
  ['an unknown hive event type', HiveStreamEventSchema, { ...workerReadyEvent, type: 'worker_born' }, 'type'],
  [
    'a worker_ready event without its worker',
    HiveStreamEventSchema,
    { ...workerReadyEvent, worker: undefined },
    'worker',
  ],
  [
    'a telemetry event with a bad worker',
    HiveStreamEventSchema,
    {
      ...telemetryEvent,
      worker_infos: [{ ...workerInfo, device: 'gpu0' }],
    },
    'worker_infos.0.device',
  ],
  [
    'a worker_exited event without restarting',
    HiveStreamEventSchema,
    {
      ...workerExitedEvent,
      restarting: undefined,
    },
    'restarting',
  ],
]

contractTable('hive contracts', valid, invalid)

test('HiveStreamEvent discriminates on type, so each variant exposes its own fields', () => {
  const seen: string[] = []
  const raw = [
    telemetryEvent,
    { ...workerReadyEvent, type: 'worker_spawned', timestamp: NOW },
    workerReadyEvent,
    workerExitedEvent,
  ]
  for (const value of raw) {
    const ev: HiveStreamEvent = HiveStreamEventSchema.parse(JSON.parse(JSON.stringify(value)))
    switch (ev.type) {
      case 'telemetry':
        seen.push(`telemetry:${ev.hive_info.id}:${ev.workers.length}`)
        break
      case 'worker_spawned':
      case 'worker_ready':
        seen.push(`${ev.type}:${ev.worker.id}`)
        break
      case 'worker_exited':
        seen.push(`exited:${ev.worker_id}:${ev.signal}`)
        break
    }
  }
  assert.deepEqual(seen, [
    'telemetry:gpu-box:1',
    'worker_spawned:w-7f3a9c',
    'worker_ready:w-7f3a9c',
    'exited:w-7f3a9c:SIGKILL',
  ])
})

test('a worker_exited event does not pass as a worker_ready event', () => {
  rejectsAt(HiveStreamEventSchema, { ...workerExitedEvent, type: 'worker_ready' }, 'worker')
})
