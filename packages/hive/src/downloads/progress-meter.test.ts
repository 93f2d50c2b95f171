import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatBytes, formatDuration, ProgressMeter } from './progress-meter.js'

test('sizes and durations read naturally', () => {
  assert.deepEqual([0, 1023, 2048, 12.34 * 1024 * 1024, 5 * 1024 ** 3].map(formatBytes), [
    '0 B',
    '1023 B',
    '2.00 KiB',
    '12.3 MiB',
    '5.00 GiB',
  ])
  assert.deepEqual([5, 65, 3725, Number.POSITIVE_INFINITY].map(formatDuration), ['5s', '1m05s', '1h02m', '?'])
})

test('progress reports bytes, percent, rate and ETA over a sliding window', () => {
  const mib = 1024 * 1024
  const meter = new ProgressMeter({ total: 100 * mib, everyMs: 500, windowMs: 5000 })
  const t0 = performance.now()
  meter.update(10 * mib, t0 + 2000)
  const p = meter.read(t0 + 2000)
  assert.equal(p.fraction, 0.1)
  assert.ok(Math.abs(p.rate - 5 * mib) < 0.01 * mib)
  assert.ok(Math.abs((p.etaS ?? 0) - 18) < 0.5)
  assert.match(p.human, /^10\.0 MiB \/ 100 MiB \(10%\), 5\.00 MiB\/s, ETA 18s$/)
  assert.equal(meter.due(t0 + 2000), true)
  assert.equal(meter.due(t0 + 2100), false)
  assert.equal(meter.due(t0 + 2600), true)
})

test('a resumed transfer counts its rate from where it resumed, and an unknown total has no percent', () => {
  const meter = new ProgressMeter({ total: undefined, startBytes: 1000 })
  const t0 = performance.now()
  meter.update(3000, t0 + 1000)
  const p = meter.read(t0 + 1000)
  assert.equal(p.fraction, undefined)
  assert.equal(p.etaS, undefined)
  assert.match(p.human, /^2\.93 KiB, [\d.]+ KiB\/s$/)
})
