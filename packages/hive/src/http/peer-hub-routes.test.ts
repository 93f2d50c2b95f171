import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseRange } from './peer-hub-routes.js'

test('a single byte range is resolved against the size; several ranges or another unit get the whole file', () => {
  assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 9 })
  assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 99 })
  assert.deepEqual(parseRange('bytes=95-500', 100), { start: 95, end: 99 })
  assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99 })
  assert.deepEqual(parseRange('bytes=-500', 100), { start: 0, end: 99 })
  for (const whole of [
    undefined,
    'bytes=0-1,5-6',
    'items=0-1',
    'bytes=-',
    'bytes=x-1',
    `bytes=${'9'.repeat(17)}-`,
  ])
    assert.equal(parseRange(whole, 100), undefined, String(whole))
})

test('a range past the end, backwards or empty is unsatisfiable (416)', () => {
  for (const bad of ['bytes=100-', 'bytes=100-200', 'bytes=9-3', 'bytes=-0'])
    assert.equal(parseRange(bad, 100), 'unsatisfiable', bad)
})
