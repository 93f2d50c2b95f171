import assert from 'node:assert/strict'
import { test } from 'node:test'
import { deferred } from '@rbee/common'
import { info, T0 } from '@rbee/testing'
import { WorkerEntry } from '../registry/worker-entry.js'
import type { WorkerFailure } from '../transport/worker-failure.js'
import { StallWatch, stallBounds } from './stall-watch.js'

const SETTINGS = { firstTokenMs: 60_000, tokenGapMs: 30_000 }

test('stall bounds: the settings for a short prompt; raised for a long prompt at a slow CPU speed, or at 5 times the measured one', () => {
  assert.deepEqual(stallBounds(SETTINGS, 300, null), SETTINGS)
  // 30 000 characters ≈ 10 000 tokens: 500 s at the 20 tokens/s assumed of an unmeasured worker.
  assert.equal(stallBounds(SETTINGS, 30_000, null).firstTokenMs, 500_000)
  const measured = { event_loop_lag_ms: 2, prompt_tokens_per_s: 1000, tokens_per_s: 0.1 }
  // 10 000 tokens at 1000/s is 10 s; 5 times that is still under the 60 s floor.
  assert.equal(stallBounds(SETTINGS, 30_000, measured).firstTokenMs, 60_000)
  assert.equal(stallBounds(SETTINGS, 300_000, measured).firstTokenMs, 500_000)
  // 0.1 token/s: 10 s per token, 5 times that.
  assert.equal(stallBounds(SETTINGS, 300, measured).tokenGapMs, 50_000)
  assert.deepEqual(stallBounds({ firstTokenMs: 0, tokenGapMs: 0 }, 300_000, null), {
    firstTokenMs: 0,
    tokenGapMs: 0,
  })
})

test('a stall watch aborts with RBEE_WORKER_STALLED: retryable before the first token, final after it', async (t) => {
  // The watch's timer does not hold the process open (a server's sockets do); this test's does.
  const hold = setTimeout(() => {}, 10_000)
  t.after(() => clearTimeout(hold))
  const worker = new WorkerEntry(info('w1'), T0)
  const first = deferred<WorkerFailure>()
  const a = new StallWatch(worker, { firstTokenMs: 50, tokenGapMs: 1000 }, first.resolve)
  const before = await first.promise
  a.close()
  assert.equal(before.code, 'RBEE_WORKER_STALLED')
  assert.equal(before.retryable, true)
  assert.equal(before.quarantine, true)
  assert.match(before.message, /worker w1 sent no first token within \d+ ms \(bound 50 ms\)/)

  const gap = deferred<WorkerFailure>()
  const t0 = performance.now()
  const b = new StallWatch(worker, { firstTokenMs: 1000, tokenGapMs: 80 }, gap.resolve)
  // Tokens every 20 ms hold it off; then silence.
  for (let i = 0; i < 5; i++) {
    b.token()
    await new Promise((r) => setTimeout(r, 20))
  }
  const after = await gap.promise
  b.close()
  assert.equal(after.retryable, false)
  assert.match(after.message, /sent no token for \d+ ms after its first \(bound 80 ms\)/)
  assert.ok(performance.now() - t0 < 1000, 'the gap bound applies from the first token on')
})
