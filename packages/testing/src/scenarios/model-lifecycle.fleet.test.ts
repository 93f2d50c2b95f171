import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { TINY_MODEL_SPEC, writeLlamaModel } from '@rbee/gguf'
import {
  canCreateNetworks,
  metricValue,
  printFleetFigures,
  startFleet,
  tinyWorkerMemoryMb,
  waitFor,
} from '../index.js'
import { Load, type LoadResult, summarize } from './fleet-load.js'

const skip = (await canCreateNetworks()) ? false : 'needs root and iproute2 to create network namespaces'

const MODELS = ['m1', 'm2', 'm3', 'm4', 'm5']
/** Idle workers go after this (ms): the replicas of the burst are released within the test. */
const IDLE_TTL_MS = 15_000

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

test('five models on three hosts with room for two workers each: bursts never get RBEE_NO_CAPACITY, a busy model scales out, and idle workers go after the idle TTL', {
  skip,
  timeout: 300_000,
}, async (t) => {
  // Each hive offers its CPU workers RAM for 2.5 tiny workers (`--cpu-memory-mb`): two run, a
  // third needs room made.
  const perWorkerMb = await tinyWorkerMemoryMb()
  const fleet = await startFleet({
    hosts: 3,
    hiveArgs: () => ['--cpu-memory-mb', String(Math.floor(perWorkerMb * 2.5))],
    queenArgs: [
      // One key sends all the load here.
      '--key-limit',
      '0',
      '--scale-out-wait-ms',
      '1000',
      '--evict-hysteresis-ms',
      '3000',
      '--idle-ttl-ms',
      String(IDLE_TTL_MS),
    ],
  })
  t.after(() => fleet.close())
  const dir = join(fleet.dir, 'models')
  await mkdir(dir)
  for (const [n, id] of MODELS.entries()) {
    const path = join(dir, `${id}.gguf`)
    await writeLlamaModel({ ...TINY_MODEL_SPEC, name: id, seed: 0x1000 + n }, path)
    for (const i of [0, 1, 2]) await fleet.importModel(i, path, id)
  }

  // Bursts in turn: all five models (five workers in room for six; m2 first), one model alone (a queue
  // that one worker drains far slower than another loads: replicas, room made for them), then all
  // five again (room made back for the models that gave it).
  const phases: Array<{
    name: string
    model: (i: number) => string
    total: number
    concurrency: number
    maxTokens: number
  }> = [
    // m2 loads alone first: its load time (what a replica is weighed against) is not that of
    // five spawns at once on a busy machine, and its time per request is that of its burst's.
    { name: 'm2', model: () => 'm2', total: 4, concurrency: 4, maxTokens: 256 },
    {
      name: 'the four others',
      model: (i) => ['m1', 'm3', 'm4', 'm5'][i % 4]!,
      total: 16,
      concurrency: 8,
      maxTokens: 32,
    },
    { name: 'm2 alone', model: () => 'm2', total: 60, concurrency: 60, maxTokens: 256 },
    { name: 'all five again', model: (i) => MODELS[i % 5]!, total: 30, concurrency: 10, maxTokens: 32 },
  ]
  const results: LoadResult[] = []
  const started = Date.now()
  let peakM2 = 0
  for (const phase of phases) {
    const load = new Load({
      queenUrl: fleet.queen.url,
      apiKey: fleet.apiKey,
      model: phase.model,
      total: phase.total,
      concurrency: phase.concurrency,
      maxTokens: phase.maxTokens,
      requestTimeoutMs: 120_000,
      deadlineMs: 180_000,
    }).start()
    // The most m2 workers at once, read as the phase runs.
    const watch = setInterval(() => {
      void fleet.status().then(
        (st) => {
          peakM2 = Math.max(peakM2, st.workers.filter((w) => w.model_id === 'm2').length)
        },
        () => {},
      )
    }, 500)
    try {
      results.push(...(await load.done))
    } finally {
      clearInterval(watch)
    }
  }
  const loadMs = Date.now() - started
  const metrics = await fleet.queen.client.metrics()
  const noCapacity = results.filter((r) => /RBEE_NO_CAPACITY|no device can take it/.test(r.error ?? ''))
  const ttft = results
    .filter((r) => r.firstTokenAt !== null)
    .map((r) => r.firstTokenAt! - r.startedAt)
    .sort((a, b) => a - b)

  // After the load, idle workers (the burst's replicas first among them) go after the idle TTL.
  const releasedFrom = Date.now()
  await waitFor(
    'idle workers released',
    async () => (await fleet.status()).workers.length === 0,
    IDLE_TTL_MS + 20_000,
  )
  const s = summarize(results)
  printFleetFigures('model-lifecycle', {
    hosts: 3,
    worker_room_per_host: 2,
    models: MODELS.length,
    requests: s.total,
    failed: s.failed,
    no_capacity: noCapacity.length,
    load_ms: loadMs,
    spawns: metricValue(metrics, 'rbee_queen_spawn_duration_seconds_count', { outcome: 'ok' }),
    load_seconds: Number(
      metricValue(metrics, 'rbee_queen_spawn_duration_seconds_sum', { outcome: 'ok' }).toFixed(1),
    ),
    evictions: metricValue(metrics, 'rbee_queen_evictions_total'),
    scale_outs: metricValue(metrics, 'rbee_queen_scale_outs_total'),
    peak_m2_workers: peakM2,
    released_after_ms: Date.now() - releasedFrom,
    ttft_p50_ms: percentile(ttft, 50),
    ttft_p99_ms: percentile(ttft, 99),
  })
  assert.equal(noCapacity.length, 0, JSON.stringify(noCapacity.slice(0, 2)))
  assert.equal(s.failed, 0, JSON.stringify(results.filter((r) => !r.ok).slice(0, 2)))
  assert.ok(peakM2 >= 2, 'the burst on m2 added a replica')
})
