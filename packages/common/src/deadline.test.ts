import assert from 'node:assert/strict'
import { once } from 'node:events'
import { test } from 'node:test'
import { Deadline } from './deadline.js'
import { RbeeError } from './errors.js'

/** Waits for `signal` to abort; the deadline's timer is unref'd, so this holds the loop open. */
async function aborted(signal: AbortSignal): Promise<void> {
  const guard = setTimeout(() => assert.fail('the signal did not abort within 5 s'), 5000)
  try {
    await once(signal, 'abort')
  } finally {
    clearTimeout(guard)
  }
}

test('a deadline aborts its signal with a TimeoutError naming the limit when the time is up', async () => {
  const d = new Deadline({ ms: 30 })
  const started = performance.now()
  await aborted(d.signal)
  assert.ok(performance.now() - started >= 25)
  assert.equal(d.timedOut, true)
  assert.equal((d.signal.reason as Error).name, 'TimeoutError')
  assert.match((d.signal.reason as Error).message, /no answer within 30 ms/)
})

test('restart() pushes the deadline back, so a stall timer only fires after a quiet period', async () => {
  const d = new Deadline({ ms: 60, message: 'no data for 60 ms' })
  const started = performance.now()
  const restarts = setInterval(() => d.restart(), 20)
  await new Promise((r) => setTimeout(r, 150))
  assert.equal(d.signal.aborted, false, 'restarted every 20 ms, it does not fire')
  clearInterval(restarts)
  await aborted(d.signal)
  assert.ok(performance.now() - started >= 200)
  assert.match((d.signal.reason as Error).message, /no data for 60 ms/)
})

test('aborting the parent aborts the deadline with the parent reason, and a deadline on an aborted parent starts aborted', () => {
  const parent = new AbortController()
  const d = new Deadline({ ms: 10_000, parent: parent.signal })
  parent.abort(new Error('cancelled by the user'))
  assert.equal(d.signal.aborted, true)
  assert.equal(d.timedOut, false)
  assert.equal((d.signal.reason as Error).message, 'cancelled by the user')
  const late = new Deadline({ ms: 10_000, parent: parent.signal })
  assert.equal((late.signal.reason as Error).message, 'cancelled by the user')
})

test('clear() stops the timer and lets go of the parent', async () => {
  const parent = new AbortController()
  const d = new Deadline({ ms: 20, parent: parent.signal })
  d.clear()
  await new Promise((r) => setTimeout(r, 60))
  parent.abort()
  assert.equal(d.signal.aborted, false)
})

test('Deadline.until aborts at an absolute time with the reason it is given, and tells the time left', async () => {
  const at = Date.now() + 40
  const d = Deadline.until(at, { error: () => new RbeeError('RBEE_DEADLINE_EXCEEDED', 'too late') })
  assert.equal(d.expiresAt, at)
  assert.ok(d.remainingMs > 0 && d.remainingMs <= 40)
  await aborted(d.signal)
  assert.ok(Date.now() >= at - 1)
  assert.equal((d.signal.reason as RbeeError).code, 'RBEE_DEADLINE_EXCEEDED')
  assert.equal(d.remainingMs, 0)
  assert.equal(d.timedOut, true)
})
