import assert from 'node:assert/strict'
import { test } from 'node:test'
import { HiveWorkerSchema } from '@rbee/contracts'
import { z } from 'zod'
import { canCreateNetworks, printFleetFigures, startFleet } from '../index.js'
import { loadOnEveryHost, metricValue, summarize } from './fleet-load.js'

const skip = (await canCreateNetworks()) ? false : 'needs root and iproute2 to create network namespaces'

test('a host whose link goes down under load is offline within a second, requests go to the other hosts, and it is taken back when the link returns without anything restarting', {
  skip,
  timeout: 120_000,
}, async (t) => {
  const fleet = await startFleet({ hosts: 3 })
  t.after(() => fleet.close())
  const workers = await Promise.all([0, 1, 2].map((i) => fleet.spawnWorker(i, 'tiny', { slots: 4 })))
  const cut = fleet.hives[1]!
  const cutWorker = workers[1]!
  const hivePids = fleet.hives.map((h) => h.process.pid)
  const events = await fleet.watchEvents()
  const retriesBefore = metricValue(await fleet.queen.client.metrics(), 'rbee_queen_retries_total')

  const load = await loadOnEveryHost(fleet, t)

  const cutAt = Date.now()
  await cut.host.setLink(false)
  // Measured from when `ip link set … down` has returned: the link is certainly down by then.
  const downAt = Date.now()
  const offline = await events.next(
    `hive_offline for ${cut.id}`,
    (e) => e.type === 'hive_offline' && e.hive_id === cut.id,
    { since: downAt, timeoutMs: 10_000 },
  )
  const offlineMs = offline.at - downAt
  // Keep the link down while the others take at least 20 requests started after the detection.
  await load.until(
    '20 requests served while the host is cut off',
    (l) => l.results.filter((r) => r.startedAt > offline.at && r.ok).length >= 20,
  )
  const upAt = Date.now()
  await cut.host.setLink(true)
  const online = await events.next(
    `hive_online for ${cut.id}`,
    (e) => e.type === 'hive_online' && e.hive_id === cut.id,
    { since: upAt, timeoutMs: 20_000 },
  )
  const onlineMs = online.at - upAt
  try {
    await load.until(
      `a new request served by ${cutWorker.id} again`,
      (l) => l.results.some((r) => r.ok && r.worker === cutWorker.id && r.startedAt > online.at),
      15_000,
    )
  } catch (err) {
    // What the queen and the load saw, so a failure here can be told apart from a slow machine.
    const seen = (await fleet.status()).workers.find((w) => w.id === cutWorker.id)
    const since = load.results.filter((r) => r.startedAt > online.at)
    throw new Error(
      `${(err as Error).message}; queen sees ${JSON.stringify(seen && { status: seen.status, routable: seen.routable, slots_busy: seen.slots_busy })}; ` +
        `${since.length} requests started since online (${JSON.stringify(summarize(since).byWorker)}, ${summarize(since).failed} failed: ${since.find((r) => !r.ok)?.error}); ` +
        `${load.inFlight} in flight, ${load.ended} ended; link down ${upAt - downAt} ms`,
    )
  }
  const results = await load.stop()
  const s = summarize(results)
  // When the queen took the host back (its own clock; this test hears of it a little later).
  const backAt = Date.parse(online.event.timestamp)
  const afterDetection = results.filter((r) => r.startedAt > offline.at)
  const duringOutage = afterDetection.filter((r) => r.firstTokenAt !== null && r.firstTokenAt < backAt)
  const stalled = results.filter((r) => r.worker === cutWorker.id && r.startedAt < upAt && r.endedAt > downAt)

  const status = await fleet.status()
  const hiveWorkers = await (
    await fleet.queen.client.run({ operation: 'worker_list', hive_id: cut.id })
  ).result(z.object({ workers: z.array(HiveWorkerSchema) }))
  const retries = metricValue(await fleet.queen.client.metrics(), 'rbee_queen_retries_total') - retriesBefore

  printFleetFigures('link-down', {
    requests: s.total,
    ok: s.ok,
    failed_before_first_token: s.failedBeforeFirstToken,
    failed_mid_stream: s.failedMidStream,
    retried_by_queen: retries,
    offline_detected_ms: offlineMs,
    back_online_ms: onlineMs,
    link_command_ms: downAt - cutAt,
    link_down_ms: upAt - downAt,
    served_during_outage: duringOutage.filter((r) => r.ok).length,
    stalled_on_cut_host: stalled.length,
    stalled_max_latency_ms: Math.max(0, ...stalled.map((r) => r.endedAt - r.startedAt)),
    restarts: hiveWorkers.workers.reduce((n, w) => n + w.restarts, 0),
  })

  // The queen's rule: a hive stream quiet for 0.5 s (the hive pings every 250 ms) has the queen
  // try a TCP connection to the hive's host (0.5 s to accept), and a stream quiet for 1 s whose
  // host did not accept one is offline: 0.75-1 s after the cut (measured 645-941 ms with the
  // old rule, "quiet for 1 s", and 935 ms with this one). A quiet hive whose host accepts is only
  // suspect (see bench/fleet.md, scenario 8). 500 ms more covers timer lag on a machine loaded by
  // the whole suite and the event's trip to this test.
  assert.ok(offlineMs <= 1500, `hive offline after ${offlineMs} ms (limit 1000 + 500 ms measuring slack)`)
  assert.ok(duringOutage.length >= 20)
  for (const r of afterDetection) {
    assert.ok(r.ok, `request ${r.index} started after the detection failed: ${r.error}`)
    if (r.worker === cutWorker.id) {
      // Queued while every slot was busy and dispatched once the host was back: fine.
      assert.ok(
        r.firstTokenAt! >= backAt,
        `request ${r.index} was served by the cut-off host while it was offline`,
      )
    }
  }
  assert.equal(s.failedBeforeFirstToken, 0, JSON.stringify(results.filter((r) => !r.ok).slice(0, 3)))
  // Nothing restarted: same hive processes, same worker processes.
  assert.deepEqual(
    fleet.hives.map((h) => [h.process.pid, h.process.hasExited]),
    hivePids.map((p) => [p, false]),
  )
  for (const w of workers) {
    const now = status.workers.find((x) => x.id === w.id)
    assert.equal(now?.pid, w.pid, `worker ${w.id} kept its process`)
    assert.equal(now?.routable, true)
  }
  assert.deepEqual(
    hiveWorkers.workers.map((w) => [w.worker.id, w.pid, w.restarts]),
    [[cutWorker.id, cutWorker.pid, 0]],
  )
})
