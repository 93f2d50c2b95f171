import assert from 'node:assert/strict'
import { mock, test } from 'node:test'
import { SlotReport, type SlotUse } from './slot-report.js'

/** A SlotReport on node:test's mocked setTimeout and a clock that moves with it. */
function harness(t: { after: (fn: () => void) => void }, gapMs: number) {
  mock.timers.enable({ apis: ['setTimeout'] })
  t.after(() => mock.timers.reset())
  let clock = 0
  let use: SlotUse = { status: 'ready', slots_busy: 0 }
  const sent: string[] = []
  const report = new SlotReport({
    gapMs,
    now: () => clock,
    read: () => use,
    send: (u) => sent.push(`${clock}: ${u.status} ${u.slots_busy}`),
  })
  t.after(() => report.close())
  return {
    report,
    sent,
    set(status: SlotUse['status'], slots_busy: number) {
      use = { status, slots_busy }
      report.changed()
    },
    advance(ms: number) {
      clock += ms
      mock.timers.tick(ms)
    },
  }
}

test('a slot change is reported at once, and changes within the gap once after it with the latest value', (t) => {
  const h = harness(t, 100)
  h.set('ready', 1)
  assert.deepEqual(h.sent, ['0: ready 1'])
  h.advance(30)
  h.set('ready', 2)
  h.set('busy', 3)
  h.advance(30)
  h.set('ready', 2)
  h.advance(39)
  assert.deepEqual(h.sent, ['0: ready 1'], 'nothing more within the gap')
  h.advance(1)
  assert.deepEqual(h.sent, ['0: ready 1', '100: ready 2'])
  h.advance(500)
  h.set('busy', 3)
  assert.deepEqual(h.sent, ['0: ready 1', '100: ready 2', '600: busy 3'], 'the gap has passed: sent at once')
})

test('a value that is back to what was last reported by the end of the gap is not reported again', (t) => {
  const h = harness(t, 100)
  h.set('ready', 1)
  h.set('ready', 2)
  h.set('ready', 1)
  h.advance(200)
  assert.deepEqual(h.sent, ['0: ready 1'])
})

test('close drops a pending report', (t) => {
  const h = harness(t, 100)
  h.set('ready', 1)
  h.set('ready', 2)
  h.report.close()
  h.advance(200)
  h.set('ready', 3)
  assert.deepEqual(h.sent, ['0: ready 1'])
})
