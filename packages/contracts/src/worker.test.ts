import assert from 'node:assert/strict'
import { test } from 'node:test'
import { contractTable, type Invalid, rejectsAt, type Valid } from './test-support/contract-table.js'
import { NOW, workerInfo } from './test-support/wire-examples.js'
import {
  BackendRequestSchema,
  BackendSchema,
  HostSchema,
  hostPortUrl,
  WorkerHeartbeatSchema,
  WorkerInfoSchema,
  WorkerReadySchema,
  WorkerStatusSchema,
  WorkerStdoutMessageSchema,
  workerUrl,
} from './worker.js'

const readyLine = {
  type: 'ready',
  worker_id: 'w-7f3a9c',
  host: '10.0.0.12',
  port: 41234,
  model: '/var/lib/rbee/models/tiny.gguf',
  model_id: 'tiny',
  slots: 4,
  pid: 48211,
  backend: 'cuda',
}
const workerReady = {
  ready: true,
  status: 'ready',
  progress: 1,
  model_id: 'tiny',
  slots_total: 4,
  slots_busy: 0,
}

const valid: Valid[] = [
  [
    'every worker status',
    WorkerStatusSchema.array(),
    ['starting', 'ready', 'busy', 'unresponsive', 'stopping', 'stopped'],
  ],
  ['every reported backend', BackendSchema.array(), ['cpu', 'cuda', 'vulkan', 'metal']],
  ['an auto backend request', BackendRequestSchema, 'auto'],
  ['an IPv4 host', HostSchema, '192.168.1.20'],
  ['an IPv6 host', HostSchema, '::1'],
  ['a DNS host', HostSchema, 'gpu-box.lan'],
  ['a ready CUDA worker', WorkerInfoSchema, workerInfo],
  [
    'a starting CPU worker on an IPv6 host with no hive',
    WorkerInfoSchema,
    {
      ...workerInfo,
      device: 'cpu:0',
      status: 'starting',
      host: '::1',
      hive_id: null,
      port: 0,
      slots_busy: 0,
    },
  ],
  ['a heartbeat', WorkerHeartbeatSchema, { worker: workerInfo, timestamp: NOW }],
  [
    'a heartbeat with its liveness signal',
    WorkerHeartbeatSchema,
    {
      worker: workerInfo,
      timestamp: NOW,
      liveness: { event_loop_lag_ms: 3, prompt_tokens_per_s: 512.5, tokens_per_s: 40.2 },
    },
  ],
  [
    'a heartbeat of a worker that has served nothing yet',
    WorkerHeartbeatSchema,
    {
      worker: workerInfo,
      timestamp: NOW,
      liveness: { event_loop_lag_ms: 0, prompt_tokens_per_s: null, tokens_per_s: null },
    },
  ],
  ['a loading stdout line', WorkerStdoutMessageSchema, { type: 'loading', worker_id: 'w-1', progress: 0.42 }],
  ['a ready stdout line', WorkerStdoutMessageSchema, readyLine],
  [
    'a slots stdout line',
    WorkerStdoutMessageSchema,
    { type: 'slots', worker_id: 'w-1', status: 'busy', slots_busy: 4 },
  ],
  [
    'a fatal stdout line',
    WorkerStdoutMessageSchema,
    {
      type: 'fatal',
      worker_id: 'w-1',
      code: 'RBEE_MODEL_LOAD_FAILED',
      message: 'out of memory',
    },
  ],
  ['a ready answer', WorkerReadySchema, workerReady],
  [
    'a loading answer',
    WorkerReadySchema,
    { ...workerReady, ready: false, status: 'starting', progress: 0.3 },
  ],
]

const invalid: Invalid[] = [
  ['an unknown status', WorkerInfoSchema, { ...workerInfo, status: 'zombie' }, 'status'],
  ['a port above 65535', WorkerInfoSchema, { ...workerInfo, port: 70000 }, 'port'],
  ['a worker id with a slash', WorkerInfoSchema, { ...workerInfo, id: '../w' }, 'id'],
  ['a host with a path', WorkerInfoSchema, { ...workerInfo, host: 'evil.example/x' }, 'host'],
  [
    'an IPv6 zone id, which no URL can carry',
    WorkerInfoSchema,
    { ...workerInfo, host: 'fe80::1%eth0' },
    'host',
  ],
  ['a host with credentials', WorkerInfoSchema, { ...workerInfo, host: 'user@evil.example' }, 'host'],
  ['zero slots', WorkerInfoSchema, { ...workerInfo, slots_total: 0 }, 'slots_total'],
  [
    'a missing hive_id (null is the way to say none)',
    WorkerInfoSchema,
    { ...workerInfo, hive_id: undefined },
    'hive_id',
  ],
  [
    'a heartbeat with a bad worker status',
    WorkerHeartbeatSchema,
    {
      worker: { ...workerInfo, status: 'zombie' },
      timestamp: NOW,
    },
    'worker.status',
  ],
  [
    'a heartbeat with a negative event-loop lag',
    WorkerHeartbeatSchema,
    {
      worker: workerInfo,
      timestamp: NOW,
      liveness: { event_loop_lag_ms: -1, prompt_tokens_per_s: null, tokens_per_s: null },
    },
    'liveness.event_loop_lag_ms',
  ],
  [
    'a heartbeat with a local-time timestamp',
    WorkerHeartbeatSchema,
    {
      worker: workerInfo,
      timestamp: '2026-11-27 10:00',
    },
    'timestamp',
  ],
  ['auto as a reported backend', BackendSchema, 'auto', '(body)'],
  ['a ready line with backend auto', WorkerStdoutMessageSchema, { ...readyLine, backend: 'auto' }, 'backend'],
  ['a ready line with port 0', WorkerStdoutMessageSchema, { ...readyLine, port: 0 }, 'port'],
  [
    'a loading line with progress above 1',
    WorkerStdoutMessageSchema,
    {
      type: 'loading',
      worker_id: 'w-1',
      progress: 1.5,
    },
    'progress',
  ],
  [
    'a slots line with a negative count',
    WorkerStdoutMessageSchema,
    { type: 'slots', worker_id: 'w-1', status: 'ready', slots_busy: -1 },
    'slots_busy',
  ],
  ['an unknown stdout line type', WorkerStdoutMessageSchema, { type: 'hello', worker_id: 'w-1' }, 'type'],
  ['a negative ready progress', WorkerReadySchema, { ...workerReady, progress: -0.1 }, 'progress'],
]

contractTable('worker contracts', valid, invalid)

test('WorkerInfo device must be <backend>:<index>', () => {
  for (const device of ['cpu:0', 'cuda:1', 'vulkan:0', 'metal:0', 'cuda:12']) {
    assert.equal(WorkerInfoSchema.parse({ ...workerInfo, device }).device, device)
  }
  for (const device of [
    'gpu:0',
    'cuda',
    'cuda:',
    'cuda:-1',
    'CUDA:0',
    'cuda:0 ',
    'tpu:0',
    'auto',
    'cuda:x',
  ]) {
    rejectsAt(WorkerInfoSchema, { ...workerInfo, device }, 'device')
  }
})

test('workerUrl brackets IPv6 literals and leaves names and IPv4 alone', () => {
  const cases: Array<[string, string]> = [
    ['::1', 'http://[::1]:8080'],
    ['fe80::1', 'http://[fe80::1]:8080'],
    ['[::1]', 'http://[::1]:8080'],
    ['127.0.0.1', 'http://127.0.0.1:8080'],
    ['gpu-box.lan', 'http://gpu-box.lan:8080'],
  ]
  for (const [host, url] of cases) {
    assert.equal(workerUrl({ host, port: 8080 }), url)
    assert.equal(hostPortUrl(host, 8080), url)
    assert.equal(new URL(url).port, '8080')
  }
})
