import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { OutputQueue } from './output-queue.js'

describe('OutputQueue', () => {
  test('held output runs after an immediate queued after it (where node-llama-cpp dispatches the next decode), in order', async () => {
    const q = new OutputQueue((err) => assert.fail(String(err)))
    const seen: string[] = []
    q.push(() => seen.push('a'))
    q.push(() => seen.push('b'))
    setImmediate(() => seen.push('dispatch'))
    assert.deepEqual(seen, [])
    await new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)))
    assert.deepEqual(seen, ['dispatch', 'a', 'b'])
  })

  test('flush() runs what is held at once, and nothing runs twice', async () => {
    const q = new OutputQueue((err) => assert.fail(String(err)))
    const seen: number[] = []
    q.push(() => seen.push(1))
    q.flush()
    assert.deepEqual(seen, [1])
    await new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)))
    assert.deepEqual(seen, [1])
  })

  test('a callback that throws is reported and the others still run', () => {
    const errors: unknown[] = []
    const q = new OutputQueue((err) => errors.push(err))
    const seen: number[] = []
    q.push(() => {
      throw new Error('socket gone')
    })
    q.push(() => seen.push(2))
    q.flush()
    assert.deepEqual(seen, [2])
    assert.equal((errors[0] as Error).message, 'socket gone')
  })
})
