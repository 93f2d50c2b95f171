import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type ScaleOutInput, scaleOutNeed } from './scale-out.js'

const base: ScaleOutInput = {
  queued: 8,
  slots: 4,
  serviceMs: 1000,
  workers: 1,
  maxReplicas: 8,
  targetWaitMs: 3000,
  loadMs: 2000,
}

describe('scaleOutNeed', () => {
  test('a queue its workers drain within the target wait needs no replica', () => {
    // 8 queued on 4 slots: two waves of 1 s.
    assert.equal(scaleOutNeed(base), undefined)
    assert.equal(scaleOutNeed({ ...base, queued: 12 }), undefined, 'three waves: 3 s is not past 3 s')
  })

  test('a queue that would wait past the target needs one, with the wait that says so', () => {
    assert.deepEqual(scaleOutNeed({ ...base, queued: 13 }), { waitMs: 4000 })
    assert.deepEqual(scaleOutNeed({ ...base, serviceMs: 2000 }), { waitMs: 4000 })
  })

  test('a queue that drains before a replica could load needs none', () => {
    assert.deepEqual(scaleOutNeed({ ...base, queued: 16, loadMs: 3999 }), { waitMs: 4000 })
    assert.equal(scaleOutNeed({ ...base, queued: 16, loadMs: 4000 }), undefined)
  })

  test('more slots (a replica that arrived) end the need', () => {
    assert.deepEqual(scaleOutNeed({ ...base, queued: 16 }), { waitMs: 4000 })
    assert.equal(scaleOutNeed({ ...base, queued: 16, slots: 8, workers: 2 }), undefined)
  })

  test('never past max_replicas, never without a measurement, a worker or a target', () => {
    const busy = { ...base, queued: 100 }
    assert.ok(scaleOutNeed(busy))
    assert.equal(scaleOutNeed({ ...busy, workers: 8 }), undefined)
    assert.equal(scaleOutNeed({ ...busy, serviceMs: undefined }), undefined)
    assert.equal(scaleOutNeed({ ...busy, slots: 0 }), undefined)
    assert.equal(scaleOutNeed({ ...busy, targetWaitMs: 0 }), undefined)
  })
})
