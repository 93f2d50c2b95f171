import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { OutputQueue, overlapsOutput } from './output-queue.js'

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

  test('without overlap, output runs as it is pushed', () => {
    const q = new OutputQueue((err) => assert.fail(String(err)), false)
    const seen: number[] = []
    q.push(() => seen.push(1))
    q.push(() => seen.push(2))
    assert.deepEqual(seen, [1, 2])
  })
})

describe('overlapsOutput', () => {
  test('overlaps only where a core is left over from llama.cpp, or the model runs on a GPU', () => {
    assert.equal(overlapsOutput(1, 2, false), true)
    assert.equal(overlapsOutput(2, 2, false), false)
    assert.equal(overlapsOutput(0, 8, false), false)
    assert.equal(overlapsOutput(3, 2, false), false)
    assert.equal(overlapsOutput(0, 2, true), true)
  })
})
