import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { RbeeError, silentLogger } from '@rbee/common'
import { catalogEntry, telemetry } from '../registry/fixtures.js'
import { Registry } from '../registry/registry.js'
import { type HiveDirectory, HiveSpawner } from './spawner.js'

// These tests cover which hive a spawn may go to and when it waits for one; the hive directory
// has no connections, so a spawn that found its hive ends with "no connection to hive …". The
// integration tests spawn real workers on real hives.
function setup(hiveWaitMs: number) {
  const registry = new Registry({ logger: silentLogger() })
  const hives: HiveDirectory = { client: () => undefined, refreshCatalogs: async () => {} }
  const spawner = new HiveSpawner({ registry, hives, logger: silentLogger(), hiveWaitMs })
  const bringOnline = (id: string): void => {
    registry.setCatalog(id, [catalogEntry('tiny', 100)])
    registry.hiveEvent(telemetry(id, []))
  }
  return { registry, spawner, bringOnline }
}

async function spawnError(p: Promise<void>): Promise<RbeeError> {
  const err = await p.then(
    () => assert.fail('spawn should have failed'),
    (e: unknown) => e,
  )
  assert.ok(err instanceof RbeeError, String(err))
  return err
}

describe('HiveSpawner', () => {
  test('waits for a known hive that is still offline and spawns there once it comes online', async () => {
    const { registry, spawner, bringOnline } = setup(60_000)
    registry.upsertHive('local', 'http://127.0.0.1:1', 'local')
    const notes: string[] = []
    const err = await spawnError(
      spawner.spawn({ model: 'tiny', hiveId: undefined }, new AbortController().signal, (h) => {
        notes.push(h)
        if (h.startsWith('waiting for hive')) bringOnline('local')
      }),
    )
    assert.deepEqual(notes[0], 'waiting for hive local to come online')
    assert.match(notes[1] ?? '', /^starting a worker for tiny on local/)
    assert.match(err.message, /no connection to hive local/)
  })

  test('gives up after the hive wait with RBEE_NO_CAPACITY when the hive stays offline', async () => {
    const { registry, spawner } = setup(50)
    registry.upsertHive('local', 'http://127.0.0.1:1', 'local')
    const err = await spawnError(
      spawner.spawn({ model: 'tiny', hiveId: undefined }, new AbortController().signal),
    )
    assert.equal(err.code, 'RBEE_NO_CAPACITY')
  })

  test('fails at once when no hive is known at all', async () => {
    const { spawner } = setup(60_000)
    const err = await spawnError(
      spawner.spawn({ model: 'tiny', hiveId: undefined }, new AbortController().signal),
    )
    assert.equal(err.code, 'RBEE_NO_CAPACITY')
  })

  test('a spawn for a named hive waits for that hive, not another one', async () => {
    const { registry, spawner, bringOnline } = setup(60_000)
    registry.upsertHive('a', 'http://127.0.0.1:1', 'config')
    registry.upsertHive('b', 'http://127.0.0.1:2', 'config')
    const err = await spawnError(
      spawner.spawn({ model: 'tiny', hiveId: 'b' }, new AbortController().signal, (h) => {
        if (h === 'waiting for hive b to come online') {
          bringOnline('a')
          bringOnline('b')
        }
      }),
    )
    assert.match(err.message, /no connection to hive b/)
  })

  test('an abort ends the wait with the signal reason', async () => {
    const { registry, spawner } = setup(60_000)
    registry.upsertHive('local', 'http://127.0.0.1:1', 'local')
    const ac = new AbortController()
    const reason = new RbeeError('RBEE_CANCELLED', 'client went away')
    const err = await spawnError(
      spawner.spawn({ model: 'tiny', hiveId: undefined }, ac.signal, () => ac.abort(reason)),
    )
    assert.equal(err, reason)
  })

  test('an unknown named hive is an error at once', async () => {
    const { spawner } = setup(60_000)
    const err = await spawnError(
      spawner.spawn({ model: 'tiny', hiveId: 'nope' }, new AbortController().signal),
    )
    assert.equal(err.code, 'RBEE_HIVE_NOT_FOUND')
  })
})
