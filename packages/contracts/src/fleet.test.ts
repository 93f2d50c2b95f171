import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  FleetStatusSchema,
  HiveRecordSchema,
  QueenInfoSchema,
  type QueenStreamEvent,
  QueenStreamEventSchema,
  WorkerRecordSchema,
} from './fleet.js'
import {
  contractTable,
  type Invalid,
  rejectsAt,
  roundTrips,
  type Valid,
} from './test-support/contract-table.js'
import {
  gpuDevice,
  NOW,
  telemetryEvent,
  workerExitedEvent,
  workerInfo,
  workerReadyEvent,
} from './test-support/wire-examples.js'

const hiveRecord = {
  id: 'gpu-box',
  url: 'http://10.0.0.12:7835',
  online: true,
  suspect: false,
  source: 'config',
  last_seen: NOW,
  devices: [gpuDevice],
  workers: 1,
  error: null,
  version: '0.2.0',
  protocol: 1,
  compatible: true,
}
const workerRecord = {
  ...workerInfo,
  url: 'http://10.0.0.12:41234',
  pid: 48211,
  cpu_pct: 98.5,
  rss_mb: 812,
  vram_mb: 1450,
  gpu_util_pct: 87,
  last_seen: NOW,
  routable: true,
  liveness: { event_loop_lag_ms: 4, prompt_tokens_per_s: 480, tokens_per_s: 35.5 },
}
const queenEvent = {
  type: 'queen',
  timestamp: NOW,
  hives_online: 1,
  hives_total: 2,
  workers_total: 3,
  workers_ready: 2,
  workers_busy: 1,
}
const hiveOffline = {
  type: 'hive_offline',
  timestamp: NOW,
  hive_id: 'cpu-box',
  reason: 'no telemetry for 15 s',
}

const valid: Valid[] = [
  ['a hive record', HiveRecordSchema, hiveRecord],
  [
    'an offline hive that never reported',
    HiveRecordSchema,
    {
      ...hiveRecord,
      online: false,
      source: 'registration',
      last_seen: null,
      devices: [],
      workers: 0,
      error: 'ECONNREFUSED',
    },
  ],
  ['a hive that is online but quiet (suspect)', HiveRecordSchema, { ...hiveRecord, suspect: true }],
  ['a worker record', WorkerRecordSchema, workerRecord],
  [
    'a worker record without a known pid',
    WorkerRecordSchema,
    { ...workerRecord, pid: null, routable: false, liveness: null },
  ],
  [
    'a fleet status',
    FleetStatusSchema,
    {
      queen: { version: '0.1.0', protocol: 1, uptime_s: 60, url: 'http://127.0.0.1:7833' },
      hives: [hiveRecord],
      workers: [workerRecord],
    },
  ],
  ['a queen summary event', QueenStreamEventSchema, queenEvent],
  [
    'a hive_online event',
    QueenStreamEventSchema,
    { ...hiveOffline, type: 'hive_online', reason: 'telemetry resumed' },
  ],
  ['a hive_offline event', QueenStreamEventSchema, hiveOffline],
  [
    'a hive_suspect event',
    QueenStreamEventSchema,
    { ...hiveOffline, type: 'hive_suspect', reason: 'nothing on its stream for 1012 ms' },
  ],
  [
    'a hive_steady event',
    QueenStreamEventSchema,
    { ...hiveOffline, type: 'hive_steady', reason: 'heard again' },
  ],
  [
    'a relayed worker_status event (a worker that stopped answering its hive)',
    QueenStreamEventSchema,
    {
      type: 'worker_status',
      hive_id: 'gpu-box',
      timestamp: NOW,
      worker: { ...workerInfo, status: 'unresponsive' },
      reason: 'unresponsive: no answer to GET /health within 3000 ms',
    },
  ],
  ['a relayed telemetry event', QueenStreamEventSchema, telemetryEvent],
  ['a relayed worker_ready event', QueenStreamEventSchema, workerReadyEvent],
  ['a relayed worker_exited event', QueenStreamEventSchema, workerExitedEvent],
  [
    'a fleet snapshot event',
    QueenStreamEventSchema,
    {
      type: 'fleet',
      timestamp: NOW,
      status: {
        queen: { version: '0.1.0', protocol: 1, uptime_s: 60, url: 'http://127.0.0.1:7833' },
        hives: [hiveRecord],
        workers: [workerRecord],
      },
    },
  ],
  [
    'a worker_update event',
    QueenStreamEventSchema,
    { type: 'worker_update', timestamp: NOW, worker: workerRecord },
  ],
]

const invalid: Invalid[] = [
  ['an unknown hive source', HiveRecordSchema, { ...hiveRecord, source: 'magic' }, 'source'],
  ['a negative worker count', HiveRecordSchema, { ...hiveRecord, workers: -1 }, 'workers'],
  [
    'a hive record without compatible',
    HiveRecordSchema,
    { ...hiveRecord, compatible: undefined },
    'compatible',
  ],
  [
    'a worker record without routable',
    WorkerRecordSchema,
    { ...workerRecord, routable: undefined },
    'routable',
  ],
  ['a worker record with a bad device', WorkerRecordSchema, { ...workerRecord, device: 'gpu' }, 'device'],
  [
    'a fleet status with a bad worker',
    FleetStatusSchema,
    {
      queen: { version: '0.1.0', protocol: 1, uptime_s: 60, url: 'x' },
      hives: [],
      workers: [{ ...workerRecord, status: 'zombie' }],
    },
    'workers.0.status',
  ],
  ['an unknown stream event type', QueenStreamEventSchema, { ...queenEvent, type: 'king' }, 'type'],
  [
    'a queen event with a negative count',
    QueenStreamEventSchema,
    { ...queenEvent, workers_busy: -1 },
    'workers_busy',
  ],
  [
    'a hive_offline event without a reason',
    QueenStreamEventSchema,
    { ...hiveOffline, reason: undefined },
    'reason',
  ],
  [
    'a relayed telemetry event with a bad hive port',
    QueenStreamEventSchema,
    {
      ...telemetryEvent,
      hive_info: { ...telemetryEvent.hive_info, port: 99999 },
    },
    'hive_info.port',
  ],
]

contractTable('fleet contracts', valid, invalid)

test('QueenStreamEvent narrows both queen-own and relayed hive events by type', () => {
  const describe = (ev: QueenStreamEvent): string => {
    switch (ev.type) {
      case 'queen':
        return `queen ${ev.workers_ready}/${ev.workers_total}`
      case 'hive_online':
      case 'hive_offline':
      case 'hive_suspect':
      case 'hive_steady':
        return `${ev.type} ${ev.hive_id}`
      case 'telemetry':
        return `telemetry ${ev.hive_info.hostname}`
      case 'worker_spawned':
      case 'worker_ready':
      case 'worker_status':
        return `${ev.type} ${ev.worker.id}`
      case 'worker_exited':
        return `exited ${ev.worker_id}`
      case 'fleet':
        return `fleet ${ev.status.hives.length} hives`
      case 'worker_update':
        return `update ${ev.worker.id}`
    }
  }
  const events = [queenEvent, hiveOffline, telemetryEvent, workerReadyEvent, workerExitedEvent]
  assert.deepEqual(
    events.map((e) => describe(QueenStreamEventSchema.parse(e))),
    [
      'queen 2/3',
      'hive_offline cpu-box',
      'telemetry gpu-box.lan',
      'worker_ready w-7f3a9c',
      'exited w-7f3a9c',
    ],
  )
})

test('the queen info names its auth mode and local hive, and rejects a bad one by field', () => {
  const info = {
    service: 'queen-rbee',
    version: '0.1.0',
    protocol: 1,
    uptime_s: 12.5,
    url: 'http://127.0.0.1:7833',
    hives_total: 2,
    hives_online: 1,
    workers_total: 3,
    workers_ready: 2,
    auth: { api_keys: true, node_token: true },
    local_hive: null,
  }
  assert.deepEqual(roundTrips(QueenInfoSchema, info), info)
  rejectsAt(QueenInfoSchema, { ...info, service: 'rbee-hive' }, 'service')
  rejectsAt(QueenInfoSchema, { ...info, auth: { api_keys: 'yes', node_token: true } }, 'auth.api_keys')
  rejectsAt(QueenInfoSchema, { ...info, local_hive: '../x' }, 'local_hive')
})

test('a hive record from a queen that does not report suspect hives reads as not suspect', () => {
  const { suspect: _, ...old } = hiveRecord
  assert.equal(HiveRecordSchema.parse(old).suspect, false)
})
