import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ActivitySchema } from '@rbee/contracts'
import { ACTIVITY_BUCKET_MS, ACTIVITY_BUCKETS, ActivityRing } from './activity.js'

test('activity keeps per-interval requests, first-token times and tokens for the last minutes only', () => {
  let now = 1_000 * ACTIVITY_BUCKET_MS + 1
  const ring = new ActivityRing(() => now)
  ring.request('ok', 10)
  ring.firstToken(40)
  ring.firstToken(60)
  ring.request('cancelled', 3)
  ring.request('error', 0)
  now += ACTIVITY_BUCKET_MS
  ring.request('ok', 20)
  const snap = ActivitySchema.parse(ring.snapshot())
  assert.equal(snap.bucket_s, ACTIVITY_BUCKET_MS / 1000)
  assert.equal(snap.buckets.length, ACTIVITY_BUCKETS)
  const [before, current] = snap.buckets.slice(-2)
  assert.deepEqual(
    { ...before, start: undefined },
    {
      start: undefined,
      requests: 3,
      errors: 1,
      cancelled: 1,
      ttft_ms_avg: 50,
      ttft_ms_max: 60,
      tokens: 13,
      tokens_per_s: 1.3,
    },
  )
  assert.equal(current?.requests, 1)
  assert.equal(current?.ttft_ms_avg, null)
  assert.equal(Date.parse(current!.start), Math.floor(now / ACTIVITY_BUCKET_MS) * ACTIVITY_BUCKET_MS)
  // A whole ring later, the old intervals are gone (their slots are reused, not appended).
  now += ACTIVITY_BUCKETS * ACTIVITY_BUCKET_MS
  ring.request('ok', 1)
  const later = ring.snapshot()
  assert.equal(
    later.buckets.reduce((s, b) => s + b.requests, 0),
    1,
  )
})
