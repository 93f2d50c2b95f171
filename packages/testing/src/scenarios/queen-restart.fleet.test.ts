import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { WorkerRecord } from '@rbee/contracts'
import { canCreateNetworks, type Fleet, printFleetFigures, startFleet, waitFor } from '../index.js'
import { Load, metricValue, summarize } from './fleet-load.js'

const skip = (await canCreateNetworks()) ? false : 'needs root and iproute2 to create network namespaces'

/**
 * Restarts the queen of a running fleet with one worker per host, and measures how long until
 * it knows every hive and worker again; checks that it serves and that nothing else restarted.
 */
async function restartUnderFleet(
  fleet: Fleet,
  signal: 'SIGTERM' | 'SIGKILL',
): Promise<{ knownAgainMs: number; restartMs: number; served: number; workers: WorkerRecord[] }> {
  const workers = await Promise.all(fleet.hives.map((_, i) => fleet.spawnWorker(i, 'tiny', { slots: 2 })))
  const hivePids = fleet.hives.map((h) => h.process.pid)
  const oldQueenPid = fleet.queen.process.pid

  const stoppedAt = Date.now()
  const queen = await fleet.restartQueen(signal)
  const listeningAt = Date.now()
  assert.notEqual(queen.process.pid, oldQueenPid)
  const known = await waitFor(
    'the restarted queen to know every hive and worker again',
    async () => {
      const s = await fleet.status()
      const routable = workers.every((w) =>
        s.workers.some((x) => x.id === w.id && x.routable && x.pid === w.pid && x.url === w.url),
      )
      return s.hives.length === fleet.hives.length && s.hives.every((h) => h.online) && routable && s
    },
    30_000,
    50,
  )
  const knownAgainMs = Date.now() - listeningAt

  const served = await new Load({
    queenUrl: queen.url,
    apiKey: fleet.apiKey,
    model: 'tiny',
    total: 12,
    concurrency: 6,
    maxTokens: 16,
  }).start().done
  const s = summarize(served)
  assert.equal(s.ok, 12, JSON.stringify(served.filter((r) => !r.ok).slice(0, 2)))
  for (const id of Object.keys(s.byWorker)) {
    assert.ok(
      workers.some((w) => w.id === id),
      `served by ${id}, one of the workers that ran before the restart`,
    )
  }
  // Nothing but the queen restarted.
  assert.deepEqual(
    fleet.hives.map((h) => [h.process.pid, h.process.hasExited]),
    hivePids.map((p) => [p, false]),
  )
  assert.deepEqual(known.workers.map((w) => [w.id, w.pid]).sort(), workers.map((w) => [w.id, w.pid]).sort())
  const metrics = await queen.client.metrics()
  assert.equal(metricValue(metrics, 'rbee_queen_spawn_duration_seconds_count'), 0, 'no worker was spawned')
  return { knownAgainMs, restartMs: listeningAt - stoppedAt, served: s.ok, workers }
}

test('a queen restarted under a running fleet named in hives.conf knows every hive and worker again within a few seconds and serves, with no hive or worker restarted', {
  skip,
  timeout: 120_000,
}, async (t) => {
  const fleet = await startFleet({ hosts: 3 })
  t.after(() => fleet.close())
  const r = await restartUnderFleet(fleet, 'SIGTERM')
  printFleetFigures('queen-restart', {
    hives_from: 'hives.conf + registration',
    stop: 'SIGTERM',
    hives: 3,
    workers: r.workers.length,
    queen_down_ms: r.restartMs,
    fleet_known_again_ms: r.knownAgainMs,
    served_after: r.served,
    hive_or_worker_restarts: 0,
  })
  assert.ok(r.knownAgainMs <= 3000, `fleet known again after ${r.knownAgainMs} ms (limit 3000)`)
})

test('a queen killed with SIGKILL and started again learns a fleet it only knew from registrations again, with no hive or worker restarted', {
  skip,
  timeout: 120_000,
}, async (t) => {
  const fleet = await startFleet({ hosts: 3, hivesConf: false })
  t.after(() => fleet.close())
  const r = await restartUnderFleet(fleet, 'SIGKILL')
  printFleetFigures('queen-restart', {
    hives_from: 'registration only',
    stop: 'SIGKILL',
    hives: 3,
    workers: r.workers.length,
    queen_down_ms: r.restartMs,
    fleet_known_again_ms: r.knownAgainMs,
    served_after: r.served,
    hive_or_worker_restarts: 0,
  })
  // Hives announce themselves again after two quiet 5 s checks, workers heartbeat every 10 s.
  assert.ok(r.knownAgainMs <= 12_000, `fleet known again after ${r.knownAgainMs} ms (limit 12000)`)
})
