import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ZodError } from 'zod'
import {
  endMarker,
  JOB_CANCELLED,
  JOB_DONE,
  JobCreatedSchema,
  JobDataSchema,
  JobEventNameSchema,
  JobTokenSchema,
  NarrationSchema,
  parseJobFrame,
} from './job.js'
import { contractTable, type Invalid, type Valid } from './test-support/contract-table.js'
import { NOW } from './test-support/wire-examples.js'

const plainNarration = {
  actor: 'queen-rbee',
  action: 'worker_spawn',
  human: 'Spawning a worker for tiny on gpu-box',
  job_id: 'job-01J9',
  ts: NOW,
}
const narration = {
  actor: 'rbee-hive',
  action: 'model_download',
  human: 'Downloading hf:org/repo (42%)',
  job_id: 'job-01J9',
  ts: NOW,
  progress: 0.42,
}

const valid: Valid[] = [
  ['a job created answer', JobCreatedSchema, { job_id: 'job-01J9', sse_url: '/v1/jobs/job-01J9/stream' }],
  ['a narration', NarrationSchema, narration],
  ['a narration without progress', NarrationSchema, plainNarration],
  ['a data event', JobDataSchema, { action: 'worker_spawn', payload: { worker_id: 'w-1', port: 41234 } }],
  ['a token', JobTokenSchema, { t: ' bees', i: 3 }],
  ['every job event name', JobEventNameSchema.array(), ['narration', 'data', 'token', 'end']],
]

const invalid: Invalid[] = [
  ['a job id with a slash', JobCreatedSchema, { job_id: 'a/b', sse_url: '/x' }, 'job_id'],
  ['progress above 1', NarrationSchema, { ...narration, progress: 2 }, 'progress'],
  ['a narration without its human text', NarrationSchema, { ...narration, human: undefined }, 'human'],
  ['a data event without an action', JobDataSchema, { payload: 1 }, 'action'],
  ['a negative token index', JobTokenSchema, { t: 'x', i: -1 }, 'i'],
  ['an unknown event name', JobEventNameSchema, 'progress', '(body)'],
]

contractTable('job contracts', valid, invalid)

test('parseJobFrame types a narration, a data and a token frame', () => {
  assert.deepEqual(parseJobFrame('narration', 1, JSON.stringify(narration)), {
    kind: 'narration',
    id: 1,
    narration,
  })
  const data = { action: 'model_list', payload: [{ id: 'tiny' }] }
  assert.deepEqual(parseJobFrame('data', 2, JSON.stringify(data)), { kind: 'data', id: 2, data })
  assert.deepEqual(parseJobFrame('token', 3, '{"t":"Hi","i":0}'), {
    kind: 'token',
    id: 3,
    token: { t: 'Hi', i: 0 },
  })
})

test('parseJobFrame reads the three terminal markers', () => {
  assert.deepEqual(parseJobFrame('end', 9, JOB_DONE), { kind: 'end', id: 9, outcome: 'done', message: null })
  assert.deepEqual(parseJobFrame('end', 9, JOB_CANCELLED), {
    kind: 'end',
    id: 9,
    outcome: 'cancelled',
    message: null,
  })
  assert.deepEqual(parseJobFrame('end', 9, '[ERROR] no worker for model tiny'), {
    kind: 'end',
    id: 9,
    outcome: 'error',
    message: 'no worker for model tiny',
  })
})

test('parseJobFrame throws on an unknown terminal marker', () => {
  for (const data of ['[OK]', 'DONE', '[ERROR]', '[done]', '']) {
    assert.throws(() => parseJobFrame('end', 9, data), /unknown job terminal marker/, JSON.stringify(data))
  }
})

test('parseJobFrame throws on an unknown event name or a frame that breaks the contract', () => {
  assert.throws(() => parseJobFrame('progress', 1, '{}'), ZodError)
  assert.throws(() => parseJobFrame('token', 1, '{"t":"x","i":-1}'), ZodError)
  assert.throws(() => parseJobFrame('narration', 1, JSON.stringify({ ...narration, ts: 'now' })), ZodError)
  assert.throws(() => parseJobFrame('data', 1, 'not json'), SyntaxError)
})

test('endMarker and parseJobFrame round trip every outcome', () => {
  assert.equal(endMarker('done'), JOB_DONE)
  assert.equal(endMarker('cancelled'), JOB_CANCELLED)
  assert.deepEqual(parseJobFrame('end', 1, endMarker('done')), {
    kind: 'end',
    id: 1,
    outcome: 'done',
    message: null,
  })
  assert.deepEqual(parseJobFrame('end', 1, endMarker('cancelled')), {
    kind: 'end',
    id: 1,
    outcome: 'cancelled',
    message: null,
  })
  assert.deepEqual(parseJobFrame('end', 1, endMarker('error')), {
    kind: 'end',
    id: 1,
    outcome: 'error',
    message: 'failed',
  })
})

test('an error marker with a multi-line message stays on one SSE line and reads back', () => {
  const message = 'download failed:\n  HTTP 404 Not Found\r\nfor hf:org/repo\rretry later'
  const marker = endMarker('error', message)
  // SSE ends a line at CR, LF or CRLF; any of them would cut the marker short.
  assert.doesNotMatch(marker, /[\r\n]/)
  assert.deepEqual(parseJobFrame('end', 7, marker), {
    kind: 'end',
    id: 7,
    outcome: 'error',
    message: 'download failed: HTTP 404 Not Found for hf:org/repo retry later',
  })
})
