import assert from 'node:assert/strict'
import { test } from 'node:test'
import { HiveWorkerSchema } from '@rbee/contracts'
import { z } from 'zod'
import { canCreateNetworks, isProcessAlive, printFleetFigures, startFleet } from '../index.js'
import { queenRetries, startLoad, summarize } from './fleet-load.js'

const skip = (await canCreateNetworks()) ? false : 'needs root and iproute2 to create network namespaces'

/** The hive's probe at its defaults (every 1 s, 3 s to answer): the worker leaves routing within this. */
const OUT_OF_ROUTING_MS = 1000 + 3000
/** Shorter than the default 30 s, so the scenario measures a restart in seconds. */
const RESTART_AFTER_MS = 5000
/** Timer lag and the event's trip to the test on a loaded machine. */
const SLACK_MS = 1500

test('a worker frozen with SIGSTOP under load loses no request that had no token yet, leaves routing once its hive finds it unresponsive, and is killed and restarted by its hive', {
  skip,
  timeout: 120_000,
}, async (t) => {
  const fleet = await startFleet({
    hosts: 2,
    queenArgs: ['--key-limit', '64'],
    hiveArgs: () => ['--worker-unresponsive-restart-ms', String(RESTART_AFTER_MS)],
  })
  t.after(() => fleet.close())
  // Host 0's worker is frozen; host 1's serves on.
  const workers = await Promise.all([0, 1].map((i) => fleet.spawnWorker(i, 'tiny', { slots: 4 })))
  const victim = workers[0]!
  assert.ok(victim.pid && workers[1]!.pid)
  const events = await fleet.watchEvents()
  const retriesBefore = await queenRetries(fleet)
  // Until stopped: a steady load across the freeze, the kill and the restart.
  const load = startLoad(fleet, { total: 100_000, concurrency: 12, maxTokens: 120, requestTimeoutMs: 60_000 })
  t.after(() => load.stop())
  await load.until('both workers serving', (l) => new Set(l.results.map((r) => r.worker)).size === 2)
  const inFlightAtFreeze = load.inFlight
  const frozenAt = Date.now()
  process.kill(victim.pid, 'SIGSTOP')
  t.after(async () => {
    if (await isProcessAlive(victim.pid!)) process.kill(victim.pid!, 'SIGCONT')
  })

  const unresponsive = await events.next(
    `worker_status unresponsive for ${victim.id}`,
    (e) => e.type === 'worker_status' && e.worker.id === victim.id && e.worker.status === 'unresponsive',
    { since: frozenAt, timeoutMs: 15_000 },
  )
  const outOfRoutingMs = unresponsive.at - frozenAt
  const seen = (await fleet.status()).workers.find((w) => w.id === victim.id)
  assert.equal(seen?.routable, false, 'an unresponsive worker is not routable')
  const exited = await events.next(
    `worker_exited for ${victim.id}`,
    (e) => e.type === 'worker_exited' && e.worker_id === victim.id,
    { since: frozenAt, timeoutMs: 30_000 },
  )
  const ready = await events.next(
    `worker_ready for the restarted ${victim.id}`,
    (e) => e.type === 'worker_ready' && e.worker.id === victim.id && e.pid !== victim.pid,
    { since: frozenAt, timeoutMs: 30_000 },
  )
  const restartMs = ready.at - frozenAt
  await load.until(
    `a request served by the restarted ${victim.id}`,
    (l) => l.results.some((r) => r.ok && r.worker === victim.id && r.startedAt > ready.at),
    20_000,
  )
  const results = await load.stop()
  const s = summarize(results)
  // Requests the freeze caught on the victim: running across the freeze and held far longer than
  // a request takes here (~0.1-0.5 s), until the worker left routing and they moved or ended.
  const caught = results.filter(
    (r) => r.startedAt < unresponsive.at && r.endedAt > frozenAt && r.endedAt - r.startedAt > 2000,
  )
  const duringFreeze = results.filter((r) => r.startedAt > frozenAt && r.endedAt < ready.at)
  const retries = (await queenRetries(fleet)) - retriesBefore
  const listed = await (
    await fleet.queen.client.run({ operation: 'worker_list', hive_id: fleet.hives[0]!.id })
  ).result(z.object({ workers: z.array(HiveWorkerSchema) }))

  printFleetFigures('worker-frozen', {
    requests: s.total,
    in_flight_at_freeze: inFlightAtFreeze,
    ok: s.ok,
    failed_before_first_token: s.failedBeforeFirstToken,
    failed_mid_stream: s.failedMidStream,
    retried_by_queen: retries,
    out_of_routing_ms: outOfRoutingMs,
    killed_ms: exited.at - frozenAt,
    restarted_ready_ms: restartMs,
    served_while_frozen: duringFreeze.filter((r) => r.ok).length,
    caught_by_freeze: caught.length,
    caught_max_latency_ms: Math.max(0, ...caught.map((r) => r.endedAt - r.startedAt)),
    restarts: listed.workers.find((w) => w.worker.id === victim.id)?.restarts,
  })

  assert.equal(
    s.failedBeforeFirstToken,
    0,
    `requests without a token failed: ${JSON.stringify(results.filter((r) => !r.ok && r.tokens === 0).slice(0, 3))}`,
  )
  for (const r of results.filter((x) => !x.ok)) {
    assert.equal(r.worker, victim.id, `only requests streaming from the frozen worker may fail: ${r.error}`)
  }
  assert.ok(
    outOfRoutingMs <= OUT_OF_ROUTING_MS + SLACK_MS,
    `the frozen worker left routing after ${outOfRoutingMs} ms (limit ${OUT_OF_ROUTING_MS} + ${SLACK_MS} ms)`,
  )
  assert.ok(exited.event.type === 'worker_exited' && exited.event.signal === 'SIGKILL')
  assert.ok(
    exited.at - unresponsive.at >= RESTART_AFTER_MS - 100,
    `killed ${exited.at - unresponsive.at} ms after it was found unresponsive`,
  )
  assert.equal(await isProcessAlive(victim.pid), false)
  assert.equal(listed.workers.find((w) => w.worker.id === victim.id)?.restarts, 1)
  assert.ok(duringFreeze.filter((r) => r.ok).length >= 10, 'the other worker kept serving')
})
