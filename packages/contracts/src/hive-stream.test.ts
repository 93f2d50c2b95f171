import assert from 'node:assert/strict'
import { test } from 'node:test'
import { HIVE_STREAM_PING_MS, hiveStreamIdleMs, hiveStreamPingMs } from './hive.js'

test('a reader of a hive stream waits at least 3 pings before calling the link dead, at any telemetry interval', () => {
  for (const interval of [50, 100, 250, 999, 1000, 2000, 60_000]) {
    assert.ok(hiveStreamIdleMs(interval) >= 3 * hiveStreamPingMs(interval), `interval ${interval}`)
  }
  assert.equal(hiveStreamPingMs(1000), HIVE_STREAM_PING_MS)
  assert.equal(hiveStreamIdleMs(1000), 1000, 'a dead link is noticed within a second at the default interval')
})
