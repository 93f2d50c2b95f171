import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RbeeError } from '@rbee/common'
import { SlotPool } from './slot-pool.js'

test('a slot pool hands out each slot once and queues the next request until one is released', async () => {
  const pool = new SlotPool(2, 1000)
  const a = await pool.acquire()
  const b = await pool.acquire()
  assert.deepEqual([a, b], [0, 1])
  assert.equal(pool.busy, 2)
  const waiting = pool.acquire()
  assert.equal(pool.waiting, 1)
  pool.release(a)
  assert.equal(await waiting, a)
  assert.equal(pool.busy, 2)
})

test('a request that waits too long for a slot fails with RBEE_BUSY and a retry hint', async () => {
  const pool = new SlotPool(1, 10)
  await pool.acquire()
  await assert.rejects(
    pool.acquire(),
    (e: unknown) => e instanceof RbeeError && e.code === 'RBEE_BUSY' && e.retryAfterS === 1,
  )
  assert.equal(pool.waiting, 0)
})

test('aborting a waiting request removes it from the queue', async () => {
  const pool = new SlotPool(1, 10_000)
  const held = await pool.acquire()
  const ac = new AbortController()
  const waiting = pool.acquire(ac.signal)
  ac.abort()
  await assert.rejects(waiting, (e: unknown) => e instanceof RbeeError && e.code === 'RBEE_CANCELLED')
  pool.release(held)
  assert.equal(pool.busy, 0)
})

test('closing the pool fails waiters and refuses new requests', async () => {
  const pool = new SlotPool(1, 10_000)
  await pool.acquire()
  const waiting = pool.acquire()
  pool.close()
  await assert.rejects(waiting, (e: unknown) => e instanceof RbeeError && e.code === 'RBEE_DRAINING')
  await assert.rejects(pool.acquire(), (e: unknown) => e instanceof RbeeError && e.code === 'RBEE_DRAINING')
})
