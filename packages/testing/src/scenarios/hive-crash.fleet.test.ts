import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  canCreateNetworks,
  childPids,
  isProcessAlive,
  printFleetFigures,
  startFleet,
  waitFor,
} from '../index.js'
import { loadOnEveryHost, metricValue, summarize } from './fleet-load.js'

const skip = (await canCreateNetworks()) ? false : 'needs root and iproute2 to create network namespaces'

test('a hive killed with SIGKILL takes its workers with it, the queen moves requests to the other hosts, and the hive started again registers and is used', {
  skip,
  timeout: 120_000,
}, async (t) => {
  // No hives.conf: the queen knows the hives only because they register.
  const fleet = await startFleet({ hosts: 3, hivesConf: false })
  t.after(() => fleet.close())
  const workers = await Promise.all([0, 1, 2].map((i) => fleet.spawnWorker(i, 'tiny', { slots: 4 })))
  assert.ok((await fleet.status()).hives.every((h) => h.source === 'registration'))
  const victim = fleet.hives[1]!
  const victimWorker = workers[1]!
  const hivePid = victim.process.pid
  const children = await childPids(hivePid)
  assert.deepEqual(children, [victimWorker.pid], 'the hive runs exactly its one worker')
  const events = await fleet.watchEvents()
  const retriesBefore = metricValue(await fleet.queen.client.metrics(), 'rbee_queen_retries_total')

  const load = await loadOnEveryHost(fleet, t)

  const killedAt = Date.now()
  await fleet.killHive(1, 'SIGKILL')
  const offline = await events.next(
    `hive_offline for ${victim.id}`,
    (e) => e.type === 'hive_offline' && e.hive_id === victim.id,
    { since: killedAt, timeoutMs: 10_000 },
  )
  const offlineMs = offline.at - killedAt
  // Its worker dies with it: it loses its stdin lifeline when the hive goes.
  await waitFor(
    'the killed hive’s workers to exit',
    async () => !(await Promise.all(children.map(isProcessAlive))).some(Boolean),
    5000,
    20,
  )
  const orphansGoneMs = Date.now() - killedAt
  await load.until(
    '20 requests served after the hive died',
    (l) => l.results.filter((r) => r.startedAt > offline.at && r.ok).length >= 20,
  )

  const restartedAt = Date.now()
  await fleet.startHive(1)
  const online = await events.next(
    `hive_online for ${victim.id}`,
    (e) => e.type === 'hive_online' && e.hive_id === victim.id,
    { since: restartedAt, timeoutMs: 20_000 },
  )
  const onlineMs = online.at - restartedAt
  const record = await fleet.hive(1)
  assert.equal(record?.online, true)
  assert.equal(record?.url, victim.url)
  // A started hive has no workers: one spawned through the queen takes requests.
  const fresh = await fleet.spawnWorker(1, 'tiny', { slots: 4 })
  await load.until(
    `a request served by ${fresh.id} on the restarted hive`,
    (l) => l.results.some((r) => r.ok && r.worker === fresh.id),
    15_000,
  )
  const results = await load.stop()
  const s = summarize(results)
  const retries = metricValue(await fleet.queen.client.metrics(), 'rbee_queen_retries_total') - retriesBefore
  const status = await fleet.status()

  printFleetFigures('hive-crash', {
    requests: s.total,
    ok: s.ok,
    failed_before_first_token: s.failedBeforeFirstToken,
    failed_mid_stream: s.failedMidStream,
    retried_by_queen: retries,
    offline_detected_ms: offlineMs,
    workers_gone_ms: orphansGoneMs,
    orphans: (await Promise.all(children.map(isProcessAlive))).filter(Boolean).length,
    hive_restart_to_online_ms: onlineMs,
    served_by_restarted_hive: s.byWorker[fresh.id] ?? 0,
  })

  assert.equal(s.failedBeforeFirstToken, 0, JSON.stringify(results.filter((r) => !r.ok).slice(0, 3)))
  for (const r of results.filter((x) => !x.ok)) {
    assert.equal(
      r.worker,
      victimWorker.id,
      `only requests streaming from the killed hive may fail: ${r.error}`,
    )
  }
  for (const r of results.filter((x) => x.startedAt > offline.at)) assert.ok(r.ok, r.error ?? '')
  assert.equal(
    status.workers.some((w) => w.id === victimWorker.id),
    false,
    'the dead worker is gone from the queen',
  )
  assert.deepEqual(status.hives.map((h) => [h.id, h.online]).sort(), [
    ['hive-0', true],
    ['hive-1', true],
    ['hive-2', true],
  ])
})
