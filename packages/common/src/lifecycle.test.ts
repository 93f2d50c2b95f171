import assert from 'node:assert/strict'
import { test } from 'node:test'
import { deferred, serialized } from './lifecycle.js'

test('serialized runs one at a time, and calls while it runs coalesce into one more run', async () => {
  const gates = [deferred<void>(), deferred<void>()]
  let runs = 0
  let running = 0
  let most = 0
  const trigger = serialized(async () => {
    running++
    most = Math.max(most, running)
    await gates[runs++]?.promise
    running--
  })
  const first = trigger()
  // Three SIGHUPs while the first reload runs: one more reload after it, not three.
  void trigger()
  void trigger()
  void trigger()
  gates[0]!.resolve()
  gates[1]!.resolve()
  await first
  assert.equal(runs, 2)
  assert.equal(most, 1)
  await trigger()
  assert.equal(runs, 3, 'a later call runs again')
})

test('serialized keeps going after a task that throws', async () => {
  let runs = 0
  const trigger = serialized(async () => {
    runs++
    throw new Error('a failed reload')
  })
  await trigger()
  await trigger()
  assert.equal(runs, 2)
})
