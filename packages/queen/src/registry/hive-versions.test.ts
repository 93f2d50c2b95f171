import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RBEE_PROTOCOL, RBEE_VERSION } from '@rbee/contracts'
import { info, T0, telemetry } from '@rbee/testing'
import { Registry } from './registry.js'

function withVersion(hiveId: string, version: string, protocol: number) {
  const ev = telemetry(hiveId, [info('w1', { hive_id: hiveId })])
  if (ev.type !== 'telemetry') throw new Error('unreachable')
  return { ...ev, hive_info: { ...ev.hive_info, version, protocol } }
}

test('a hive of another release but the same protocol is used, and its release is recorded', () => {
  const registry = new Registry({ now: () => T0 })
  registry.upsertHive('h1', 'http://h1:7835', 'config')
  registry.hiveEvent(withVersion('h1', '0.2.0', RBEE_PROTOCOL))
  const rec = registry.toHiveRecord(registry.hive('h1')!)
  assert.deepEqual(
    [rec.online, rec.compatible, rec.version, rec.protocol],
    [true, true, '0.2.0', RBEE_PROTOCOL],
  )
  assert.equal(registry.workerCount, 1)
})

test('a hive of another protocol stays offline with both releases named, until it reports a compatible one', () => {
  const registry = new Registry({ now: () => T0 })
  registry.upsertHive('h1', 'http://h1:7835', 'config')
  registry.hiveEvent(withVersion('h1', '9.0.0', RBEE_PROTOCOL + 1))
  let rec = registry.toHiveRecord(registry.hive('h1')!)
  assert.equal(rec.online, false)
  assert.equal(rec.compatible, false)
  assert.match(rec.error ?? '', /hive h1 runs rbee 9\.0\.0/)
  assert.ok(rec.error?.includes(`this queen runs rbee ${RBEE_VERSION}`), rec.error ?? '')
  assert.equal(registry.workerCount, 0, 'none of its workers is taken in')
  registry.hiveDisconnected('h1', 'stream dropped')
  assert.match(
    registry.toHiveRecord(registry.hive('h1')!).error ?? '',
    /9\.0\.0/,
    'the reason outlives a drop',
  )

  registry.hiveEvent(withVersion('h1', RBEE_VERSION, RBEE_PROTOCOL))
  rec = registry.toHiveRecord(registry.hive('h1')!)
  assert.deepEqual([rec.online, rec.compatible, rec.error], [true, true, null])
})
