import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DEFAULT_RESTART_POLICY, decideRestart, type RestartPolicy } from './restart-policy.js'

const policy: RestartPolicy = {
  ...DEFAULT_RESTART_POLICY,
  maxRestarts: 3,
  windowMs: 10_000,
  backoffInitialMs: 100,
}
const crash = { code: 1, signal: null }
const now = 1_000_000

test('on-failure restarts a crash with a delay that doubles per recent restart', () => {
  assert.deepEqual(decideRestart(policy, crash, [], now), { restart: true, delayMs: 100 })
  assert.deepEqual(decideRestart(policy, crash, [now - 500], now), { restart: true, delayMs: 200 })
  assert.deepEqual(decideRestart(policy, { code: null, signal: 'SIGKILL' }, [now - 900, now - 500], now), {
    restart: true,
    delayMs: 400,
  })
})

test('the backoff is capped', () => {
  const d = decideRestart(
    { ...policy, maxRestarts: 100, backoffMaxMs: 1000 },
    crash,
    Array(20).fill(now),
    now,
  )
  assert.deepEqual(d, { restart: true, delayMs: 1000 })
})

test('too many restarts within the window give up, with the last exit in the reason', () => {
  const d = decideRestart(
    policy,
    crash,
    [now - 3000, now - 2000, now - 1000],
    now,
    'exit code 1: RBEE_MODEL_INVALID: bad file',
  )
  assert.deepEqual(d, {
    restart: false,
    givenUp: true,
    reason: 'gave up after 3 restarts within 10 s; last exit: exit code 1: RBEE_MODEL_INVALID: bad file',
  })
})

test('restarts older than the window are forgotten', () => {
  assert.equal(decideRestart(policy, crash, [now - 30_000, now - 20_000, now - 11_000], now).restart, true)
})

test('on-failure leaves a clean exit alone, never restarts no exit at all, always restarts even a clean one', () => {
  const clean = { code: 0, signal: null }
  const onFailure = decideRestart(policy, clean, [], now)
  assert.ok(!onFailure.restart && !onFailure.givenUp && /clean exit/.test(onFailure.reason))
  const never = decideRestart({ ...policy, policy: 'never' }, crash, [], now)
  assert.ok(!never.restart && /restart policy is never/.test(never.reason))
  assert.equal(decideRestart({ ...policy, policy: 'always' }, clean, [], now).restart, true)
})
