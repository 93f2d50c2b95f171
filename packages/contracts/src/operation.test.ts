import assert from 'node:assert/strict'
import { test } from 'node:test'
import { deviceList, type Operation, type OperationName, OperationSchema } from './operation.js'
import { type Invalid, rejectsAt, roundTrips } from './test-support/contract-table.js'

/** One realistic example of every operation, as `rbee` would post it to `POST /v1/jobs`. */
const EXAMPLES: { [N in OperationName]: Extract<Operation, { operation: N }> } = {
  status: { operation: 'status' },
  infer: {
    operation: 'infer',
    hive_id: 'gpu-box',
    model: 'hf:org/repo:file.Q4_K_M.gguf',
    prompt: 'Write a haiku about bees.',
    max_tokens: 64,
    temperature: 0.7,
    stop: ['\n\n'],
  },
  worker_spawn: {
    operation: 'worker_spawn',
    hive_id: 'gpu-box',
    model: 'tiny',
    worker: 'cuda',
    device: 1,
    slots: 4,
    ctx_size: 4096,
  },
  worker_list: { operation: 'worker_list', hive_id: 'gpu-box' },
  worker_get: { operation: 'worker_get', worker_id: 'w-7f3a9c' },
  worker_stop: { operation: 'worker_stop', hive_id: 'gpu-box', worker_id: 'w-7f3a9c' },
  model_download: {
    operation: 'model_download',
    hive_id: 'gpu-box',
    model: 'hf:org/repo',
    sources: [{ kind: 'peer', hive_id: 'cpu-box', url: 'http://10.0.0.2:7835' }],
  },
  model_import: { operation: 'model_import', path: '/home/me/models/qwen.gguf', id: 'qwen' },
  model_list: { operation: 'model_list' },
  model_get: { operation: 'model_get', model: 'tiny' },
  model_delete: { operation: 'model_delete', hive_id: 'gpu-box', model: 'qwen' },
  hive_list: { operation: 'hive_list' },
  hive_get: { operation: 'hive_get', hive_id: 'gpu-box' },
  queen_check: { operation: 'queen_check' },
  hive_check: { operation: 'hive_check', hive_id: 'gpu-box' },
}

for (const [name, op] of Object.entries(EXAMPLES)) {
  test(`the ${name} operation is accepted unchanged through a JSON round trip`, () => {
    assert.deepEqual(roundTrips(OperationSchema, op), op)
  })
}

test('infer defaults its model to tiny', () => {
  const op = roundTrips(OperationSchema, { operation: 'infer', prompt: 'hi' })
  assert.deepEqual(op, { operation: 'infer', model: 'tiny', prompt: 'hi' })
})

test('an infer priority is a name or an integer, kept as the integer', () => {
  const op = roundTrips(OperationSchema, { operation: 'infer', prompt: 'hi', priority: 'high' })
  assert.deepEqual(op, { operation: 'infer', model: 'tiny', prompt: 'hi', priority: 10 })
  const low = roundTrips(OperationSchema, { operation: 'infer', prompt: 'hi', priority: -5 })
  assert.deepEqual(low, { operation: 'infer', model: 'tiny', prompt: 'hi', priority: -5 })
})

test('worker_spawn defaults worker to auto and leaves the device to the hive; a device may be a list', () => {
  const op = roundTrips(OperationSchema, { operation: 'worker_spawn', model: 'tiny' })
  assert.deepEqual(op, { operation: 'worker_spawn', model: 'tiny', worker: 'auto' })
  const split = roundTrips(OperationSchema, { operation: 'worker_spawn', model: 'tiny', device: [0, 1] })
  assert.deepEqual(split, { operation: 'worker_spawn', model: 'tiny', worker: 'auto', device: [0, 1] })
  assert.deepEqual(deviceList(undefined), undefined)
  assert.deepEqual(deviceList(2), [2])
  assert.equal(OperationSchema.safeParse({ ...split, device: [1, 1] }).success, false, 'a GPU twice')
  assert.equal(OperationSchema.safeParse({ ...split, device: [] }).success, false, 'an empty list')
})

const invalid: Invalid[] = [
  ['an unknown operation', OperationSchema, { operation: 'rm_rf' }, 'operation'],
  ['a missing operation', OperationSchema, { model: 'tiny' }, 'operation'],
  ['an extra field on status', OperationSchema, { operation: 'status', verbose: true }, 'verbose'],
  [
    'an extra field on worker_spawn',
    OperationSchema,
    { operation: 'worker_spawn', model: 'tiny', gpu: 1 },
    'gpu',
  ],
  ['a hive_id on hive_list', OperationSchema, { operation: 'hive_list', hive_id: 'gpu-box' }, 'hive_id'],
  [
    'a misspelt sampling field on infer',
    OperationSchema,
    { operation: 'infer', prompt: 'x', temprature: 1 },
    'temprature',
  ],
  ['infer without a prompt', OperationSchema, { operation: 'infer', model: 'tiny' }, 'prompt'],
  [
    'an unknown infer priority',
    OperationSchema,
    { operation: 'infer', prompt: 'x', priority: 'urgent' },
    'priority',
  ],
  [
    'an infer priority out of range',
    OperationSchema,
    { operation: 'infer', prompt: 'x', priority: 101 },
    'priority',
  ],
  [
    'infer at temperature 3',
    OperationSchema,
    { operation: 'infer', prompt: 'x', temperature: 3 },
    'temperature',
  ],
  [
    'infer with an absurd max_tokens',
    OperationSchema,
    { operation: 'infer', prompt: 'x', max_tokens: 1e9 },
    'max_tokens',
  ],
  [
    'infer on a path-trick model',
    OperationSchema,
    { operation: 'infer', prompt: 'x', model: '../etc/passwd' },
    'model',
  ],
  ['worker_spawn without a model', OperationSchema, { operation: 'worker_spawn' }, 'model'],
  [
    'worker_spawn on an unknown backend',
    OperationSchema,
    { operation: 'worker_spawn', model: 'tiny', worker: 'tpu' },
    'worker',
  ],
  [
    'worker_spawn on device -1',
    OperationSchema,
    { operation: 'worker_spawn', model: 'tiny', device: -1 },
    'device',
  ],
  [
    'worker_spawn with zero slots',
    OperationSchema,
    { operation: 'worker_spawn', model: 'tiny', slots: 0 },
    'slots',
  ],
  [
    'worker_spawn with a tiny context',
    OperationSchema,
    { operation: 'worker_spawn', model: 'tiny', ctx_size: 16 },
    'ctx_size',
  ],
  ['worker_get without a worker id', OperationSchema, { operation: 'worker_get' }, 'worker_id'],
  [
    'worker_stop with a slash in the worker id',
    OperationSchema,
    { operation: 'worker_stop', worker_id: 'a/b' },
    'worker_id',
  ],
  [
    'model_download of a path-trick file',
    OperationSchema,
    {
      operation: 'model_download',
      model: 'hf:org/repo:../x.gguf',
    },
    'model',
  ],
  [
    'model_download from a source that is not a peer hive',
    OperationSchema,
    {
      operation: 'model_download',
      model: 'hf:org/repo',
      sources: [{ kind: 'mirror', hive_id: 'a', url: 'http://a' }],
    },
    'sources.0.kind',
  ],
  [
    'model_download from a peer at a file: URL',
    OperationSchema,
    {
      operation: 'model_download',
      model: 'hf:org/repo',
      sources: [{ kind: 'peer', hive_id: 'a', url: 'file:///etc/passwd' }],
    },
    'sources.0.url',
  ],
  [
    'model_download of a catalog id from a peer',
    OperationSchema,
    {
      operation: 'model_download',
      model: 'tiny',
      sources: [{ kind: 'peer', hive_id: 'a', url: 'http://a' }],
    },
    'sources',
  ],
  [
    'model_download from nine peers',
    OperationSchema,
    {
      operation: 'model_download',
      model: 'hf:org/repo',
      sources: Array.from({ length: 9 }, (_, i) => ({ kind: 'peer', hive_id: `h${i}`, url: 'http://a' })),
    },
    'sources',
  ],
  [
    'a peer source with a field it does not know',
    OperationSchema,
    {
      operation: 'model_download',
      model: 'hf:org/repo',
      sources: [{ kind: 'peer', hive_id: 'a', url: 'http://a', token: 'x' }],
    },
    'sources.0.token',
  ],
  ['model_delete of "..', OperationSchema, { operation: 'model_delete', model: '..' }, 'model'],
  ['model_import with an empty path', OperationSchema, { operation: 'model_import', path: '' }, 'path'],
  ['hive_get without a hive id', OperationSchema, { operation: 'hive_get' }, 'hive_id'],
  [
    'a hive id with a path trick',
    OperationSchema,
    { operation: 'worker_list', hive_id: '../queen' },
    'hive_id',
  ],
]

for (const [what, schema, value, path] of invalid) {
  test(`OperationSchema rejects ${what}, naming ${path}`, () => rejectsAt(schema, value, path))
}
