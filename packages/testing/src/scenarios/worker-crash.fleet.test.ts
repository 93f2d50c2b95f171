import assert from 'node:assert/strict'
import { test } from 'node:test'
import { canCreateNetworks, isProcessAlive, printFleetFigures, startFleet, waitFor } from '../index.js'
import { Load, metricValue, summarize } from './fleet-load.js'

const skip = (await canCreateNetworks()) ? false : 'needs root and iproute2 to create network namespaces'

test('a worker killed with SIGKILL under 50 requests in flight loses no request that had no token yet, leaves routing within 1 s and is restarted by its hive', {
  skip,
  timeout: 120_000,
}, async (t) => {
  // One key sends all 50 at once: above the default per-key limit (32) that this test is not about.
  const fleet = await startFleet({ hosts: 2, queenArgs: ['--key-limit', '64'] })
  t.after(() => fleet.close())
  const [victim, survivor] = await Promise.all([
    fleet.spawnWorker(0, 'tiny', { slots: 4 }),
    fleet.spawnWorker(1, 'tiny', { slots: 4 }),
  ])
  assert.ok(victim.pid && survivor.pid)
  const events = await fleet.watchEvents()
  const retriesBefore = metricValue(await fleet.queen.client.metrics(), 'rbee_queen_retries_total')

  const load = new Load({
    queenUrl: fleet.queen.url,
    apiKey: fleet.apiKey,
    model: 'tiny',
    total: 50,
    concurrency: 50,
    maxTokens: 120,
    requestTimeoutMs: 60_000,
  }).start()
  t.after(() => load.stop())
  // Kill while requests stream on both workers and the rest wait in the queen's queue.
  await load.until('10 requests streaming', (l) => l.withTokens >= 10)
  const inFlightAtKill = load.inFlight
  const killedAt = Date.now()
  process.kill(victim.pid, 'SIGKILL')

  const exited = await events.next(
    `worker_exited for ${victim.id}`,
    (e) => e.type === 'worker_exited' && e.worker_id === victim.id,
    { since: killedAt, timeoutMs: 10_000 },
  )
  const outOfRoutingMs = exited.at - killedAt
  const seen = (await fleet.status()).workers.find((w) => w.id === victim.id)
  assert.ok(
    !seen?.routable || seen.pid !== victim.pid,
    'the dead process is not routable once its exit is known',
  )
  const ready = await events.next(
    `worker_ready for the restarted ${victim.id}`,
    (e) => e.type === 'worker_ready' && e.worker.id === victim.id && e.pid !== victim.pid,
    { since: killedAt, timeoutMs: 20_000 },
  )
  const restartMs = ready.at - killedAt
  assert.ok(ready.event.type === 'worker_ready' && (await isProcessAlive(ready.event.pid)))
  assert.equal(await isProcessAlive(victim.pid), false)

  const results = await load.done
  const s = summarize(results)
  // The restarted worker (same id, new process) takes requests again.
  await waitFor('the restarted worker routable', async () =>
    (await fleet.status()).workers.some((w) => w.id === victim.id && w.routable && w.pid !== victim.pid),
  )
  const after = await new Load({
    queenUrl: fleet.queen.url,
    apiKey: fleet.apiKey,
    model: 'tiny',
    total: 8,
    concurrency: 8,
    maxTokens: 8,
  }).start().done
  const afterSummary = summarize(after)
  const retries = metricValue(await fleet.queen.client.metrics(), 'rbee_queen_retries_total') - retriesBefore

  printFleetFigures('worker-crash', {
    requests: s.total,
    in_flight_at_kill: inFlightAtKill,
    ok: s.ok,
    failed_before_first_token: s.failedBeforeFirstToken,
    failed_mid_stream: s.failedMidStream,
    retried_by_queen: retries,
    out_of_routing_ms: outOfRoutingMs,
    restarted_ready_ms: restartMs,
    restarts: 1,
    served_by: s.byWorker,
    after_restart_served_by: afterSummary.byWorker,
  })

  assert.equal(s.total, 50)
  assert.equal(
    s.failedBeforeFirstToken,
    0,
    `requests without a token failed: ${JSON.stringify(results.filter((r) => !r.ok && r.tokens === 0).slice(0, 3))}`,
  )
  for (const r of results.filter((x) => !x.ok)) {
    assert.equal(r.worker, victim.id, `only requests streaming from the killed worker may fail: ${r.error}`)
  }
  assert.ok(outOfRoutingMs <= 1000, `the dead worker left routing after ${outOfRoutingMs} ms (limit 1000)`)
  assert.equal(afterSummary.ok, 8)
  assert.ok(afterSummary.byWorker[victim.id], 'the restarted worker serves requests')
})
