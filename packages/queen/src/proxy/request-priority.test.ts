import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { RbeeError } from '@rbee/common'
import { keyPriority, requestPriority } from './request-priority.js'

describe('X-Request-Priority', () => {
  test('names and integers, none when absent', () => {
    const p = (v: string | string[] | undefined) => requestPriority({ 'x-request-priority': v })
    assert.equal(p(undefined), undefined)
    assert.deepEqual(['low', 'Normal', ' high ', '42', '-100', '+7'].map(p), [-10, 0, 10, 42, -100, 7])
  })

  test('a user key may ask at most its own priority (normal when it has none); an admin key anything', () => {
    assert.deepEqual(keyPriority('user', undefined), { default: undefined, max: 0 })
    assert.deepEqual(keyPriority('user', 10), { default: 10, max: 10 })
    assert.deepEqual(keyPriority('user', -10), { default: -10, max: -10 })
    assert.deepEqual(keyPriority('admin', undefined), { default: undefined, max: undefined })
  })

  test('anything else is a 400 naming the header', () => {
    for (const v of ['urgent', '101', '1.5', '', ['high', 'low']]) {
      assert.throws(
        () => requestPriority({ 'x-request-priority': v }),
        (err: unknown) =>
          err instanceof RbeeError &&
          err.status === 400 &&
          err.code === 'RBEE_VALIDATION' &&
          /^invalid X-Request-Priority header: /.test(err.message),
        String(v),
      )
    }
  })
})
