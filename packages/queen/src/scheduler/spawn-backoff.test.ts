import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { RbeeError } from '@rbee/common'
import { T0 } from '@rbee/testing'
import { SPAWN_BACKOFF_FIRST_MS, SPAWN_BACKOFF_MAX_MS, SpawnBackoff } from './spawn-backoff.js'

function setup() {
  const clock = { now: T0 }
  const backoff = new SpawnBackoff({ now: () => clock.now })
  return { clock, backoff }
}

const cudaFailure = (): RbeeError =>
  new RbeeError(
    'RBEE_SPAWN_FAILED',
    'worker w1 failed to start (exit code 1); last log lines:\n/home/rbee/.cache/libggml-cuda.so: cannot open shared object file',
  )

describe('spawn backoff', () => {
  test('a device is skipped for 30 s after a failed spawn, twice as long after each further failure, at most 10 minutes', () => {
    const { clock, backoff } = setup()
    const pauses: number[] = []
    for (let i = 0; i < 7; i++) {
      const ms = backoff.failed('m', 'h1/gpu:0', cudaFailure())
      pauses.push(ms)
      clock.now += ms - 1
      assert.ok(backoff.blocked('m', 'h1/gpu:0'), `still skipped 1 ms before the end of pause ${i + 1}`)
      clock.now += 1
      assert.equal(backoff.blocked('m', 'h1/gpu:0'), undefined, `tried again after pause ${i + 1}`)
    }
    assert.equal(SPAWN_BACKOFF_FIRST_MS, 30_000)
    assert.equal(SPAWN_BACKOFF_MAX_MS, 600_000)
    assert.deepEqual(pauses, [30_000, 60_000, 120_000, 240_000, 480_000, 600_000, 600_000])
  })

  test('the reason says how often and when the device is tried again, with the code and not the hive message', () => {
    const { clock, backoff } = setup()
    backoff.failed('m', 'h1/gpu:0', cudaFailure())
    assert.equal(
      backoff.blocked('m', 'h1/gpu:0'),
      'spawns of m failed here (RBEE_SPAWN_FAILED), last just now; next try in 30 s',
    )
    clock.now += 30_000
    backoff.failed('m', 'h1/gpu:0', new RbeeError('RBEE_ENGINE', 'out of memory'))
    clock.now += 12_000
    assert.equal(
      backoff.blocked('m', 'h1/gpu:0'),
      'spawns of m failed here 2 times in a row (RBEE_ENGINE), last 12 s ago; next try in 48 s',
    )
    const last = backoff.lastFailure('m', ['h1/cpu:0', 'h1/gpu:0'])
    assert.deepEqual([last?.error.message, last?.retryInMs], ['out of memory', 48_000])
    clock.now += 48_000
    assert.equal(backoff.lastFailure('m', ['h1/gpu:0']), undefined, 'nothing keeps the model away any more')
  })

  test('a spawn that succeeds clears the mark, and the next failure starts again at 30 s', () => {
    const { clock, backoff } = setup()
    backoff.failed('m', 'h1/gpu:0', cudaFailure())
    clock.now += 30_000
    backoff.failed('m', 'h1/gpu:0', cudaFailure())
    clock.now += 60_000
    backoff.succeeded('m', 'h1/gpu:0')
    assert.equal(backoff.blocked('m', 'h1/gpu:0'), undefined)
    assert.equal(backoff.failed('m', 'h1/gpu:0', cudaFailure()), 30_000)
  })

  test('a model that fails everywhere does not take a device from other models; two that start elsewhere do', () => {
    const { backoff } = setup()
    const unloadable = new RbeeError('RBEE_SPAWN_FAILED', 'unknown model architecture')
    for (const device of ['h1/gpu:0', 'h1/cpu:0']) backoff.failed('broken', device, unloadable)
    assert.equal(backoff.blocked('other', 'h1/gpu:0'), undefined)
    assert.equal(backoff.blocked('other', 'h1/cpu:0'), undefined)
    backoff.failed('a', 'h1/gpu:0', cudaFailure())
    backoff.succeeded('a', 'h1/cpu:0')
    assert.equal(
      backoff.blocked('other', 'h1/gpu:0'),
      undefined,
      'one model that loads elsewhere is not enough',
    )
    backoff.failed('b', 'h1/gpu:0', cudaFailure())
    backoff.succeeded('b', 'h1/cpu:0')
    assert.equal(
      backoff.blocked('other', 'h1/gpu:0'),
      'spawns of a, b failed here and started elsewhere; next try in 30 s',
    )
    assert.equal(backoff.blocked('other', 'h1/cpu:0'), undefined)
    backoff.succeeded('c', 'h1/gpu:0')
    assert.equal(backoff.blocked('other', 'h1/gpu:0'), undefined, 'a model that started there vouches for it')
    assert.match(backoff.blocked('a', 'h1/gpu:0') ?? '', /^spawns of a failed here/, 'a itself still waits')
  })
})
