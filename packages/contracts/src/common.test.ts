import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorBodySchema, HealthSchema, IdSchema, PortSchema, TimestampSchema } from './common.js'
import { contractTable, type Invalid, type Valid } from './test-support/contract-table.js'
import { NOW } from './test-support/wire-examples.js'

const health = { status: 'ok', service: 'rbee-hive', version: '0.1.0', uptime_s: 12.5 }

const valid: Valid[] = [
  ['a UTC timestamp', TimestampSchema, NOW],
  ['a timestamp with an offset', TimestampSchema, '2026-11-27T11:00:00+01:00'],
  ['port 0 (not bound yet)', PortSchema, 0],
  ['port 65535', PortSchema, 65535],
  [
    'an error body with details',
    ErrorBodySchema,
    {
      error: { code: 'RBEE_WORKER_NOT_FOUND', message: 'no worker w-1', details: { worker_id: 'w-1' } },
    },
  ],
  ['an error body without details', ErrorBodySchema, { error: { code: 'RBEE_VALIDATION', message: 'bad' } }],
  ['a health answer', HealthSchema, health],
  ['a draining health answer', HealthSchema, { ...health, status: 'draining', service: 'queen-rbee' }],
]

const invalid: Invalid[] = [
  ['a timestamp without an offset', TimestampSchema, '2026-11-27T10:00:00', '(body)'],
  ['a date-only timestamp', TimestampSchema, '2026-11-27', '(body)'],
  ['a negative port', PortSchema, -1, '(body)'],
  ['port 65536', PortSchema, 65536, '(body)'],
  ['a fractional port', PortSchema, 80.5, '(body)'],
  [
    'an error code without the RBEE_ prefix',
    ErrorBodySchema,
    { error: { code: 'not_found', message: 'x' } },
    'error.code',
  ],
  ['an error body without a message', ErrorBodySchema, { error: { code: 'RBEE_X' } }, 'error.message'],
  ['an unknown health status', HealthSchema, { ...health, status: 'sleeping' }, 'status'],
  ['an unknown service', HealthSchema, { ...health, service: 'rbee-drone' }, 'service'],
  ['a negative uptime', HealthSchema, { ...health, uptime_s: -1 }, 'uptime_s'],
]

contractTable('common contracts', valid, invalid)

test('IdSchema accepts ids of models, workers, hives and jobs', () => {
  for (const id of [
    'tiny',
    'w-7f3a9c',
    'gpu-box.lan',
    'qwen2.5-0.5b-instruct',
    'job_01J9Z',
    'llama@q4:k_m',
    'A',
  ]) {
    assert.equal(IdSchema.parse(id), id)
  }
})

test('IdSchema rejects path tricks, separators, whitespace and overlong ids', () => {
  const bad = [
    '',
    '..',
    '../etc/passwd',
    'a/b',
    '/abs',
    'a\\b',
    'a..b',
    '.hidden',
    '-flag',
    'a b',
    'ok\n',
    'x'.repeat(129),
  ]
  for (const id of bad) assert.equal(IdSchema.safeParse(id).success, false, JSON.stringify(id))
})
