import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { silentLogger } from '@rbee/common'
import type { WorkerInfo } from '@rbee/contracts'
import { catalogEntry, device, info, T0, telemetry } from '@rbee/testing'
import { DEFAULT_MODEL_POLICY, type ModelPolicy } from '../models-conf.js'
import { Registry } from '../registry/registry.js'
import { describeEviction, type EvictionOptions, planEviction, type RoomRequest } from './eviction.js'

const HYSTERESIS = 30_000

// One hive, a CPU with room for 2 workers of 400 MB (1000 MB, 200 free with two running), and
// workers of models a, b (and more where a test adds them), each loaded long ago; `use(id, at)`
// makes a request on it finish at that time.
function fleet(workers: Array<Partial<WorkerInfo> & { id: string }>, freeMb = 200) {
  const clock = { now: T0 }
  const registry = new Registry({ logger: silentLogger(), now: () => clock.now })
  registry.upsertHive('h1', 'http://h1:7835', 'config')
  const infos = workers.map((w) => info(w.id, { model_id: w.id, port: 40000 + workers.indexOf(w), ...w }))
  registry.hiveEvent(telemetry('h1', infos, { devices: [device(freeMb, { memory_total_mb: 1000 })] }))
  registry.setCatalog('h1', [
    ...['a', 'b', 'c', 'd', 'new'].map((m) => catalogEntry(m, 400)),
    catalogEntry('small', 100),
  ])
  clock.now += 10 * 60_000
  const use = (id: string, at: number): void => {
    const w = registry.worker(id)!
    clock.now = at
    registry.acquire(w)
    registry.release(w)
  }
  const policies = new Map<string, Partial<ModelPolicy>>()
  const options = (): EvictionOptions => ({
    policy: (m) => ({ ...DEFAULT_MODEL_POLICY, ...policies.get(m) }),
    liveWorkers: (m) => registry.workersForModel(m).size,
    hysteresisMs: HYSTERESIS,
    now: clock.now,
  })
  const plan = (req: Partial<RoomRequest> = {}) =>
    planEviction(
      { model: 'new', priority: 0, modelPriority: 0, pinned: false, ...req },
      [registry.hive('h1')!],
      options(),
    )
  const victims = (req: Partial<RoomRequest> = {}): string[] | undefined =>
    plan(req)?.victims.map((v) => v.worker.id)
  return { clock, registry, use, policies, plan, victims }
}

describe('planEviction', () => {
  test('stops the least recently used idle worker, and only as many as free enough', () => {
    const f = fleet([{ id: 'a' }, { id: 'b' }])
    f.use('b', T0 + 11 * 60_000)
    f.use('a', T0 + 12 * 60_000)
    f.clock.now = T0 + 13 * 60_000
    const plan = f.plan()
    assert.deepEqual(
      plan?.victims.map((v) => v.worker.id),
      ['b'],
    )
    assert.equal(
      describeEviction(plan!, plan!.victims[0]!, 'new'),
      'evicting worker b (model b, idle 120 s) on h1/cpu:0 to make room for new (needs 400 MiB, 200 MiB free)',
    )
  })

  test('a pinned model is never stopped, however long idle', () => {
    const f = fleet([{ id: 'a' }, { id: 'b' }])
    f.use('a', T0 + 11 * 60_000)
    f.use('b', T0 + 12 * 60_000)
    f.policies.set('a', { pin: true, minReplicas: 1 })
    assert.deepEqual(f.victims(), ['b'])
    f.policies.set('b', { pin: true, minReplicas: 1 })
    assert.equal(f.plan(), undefined, 'nothing may go: no plan')
  })

  test('a busy worker is never stopped, but counts as room once idle', () => {
    const f = fleet([{ id: 'a' }, { id: 'b' }])
    f.registry.acquire(f.registry.worker('a')!)
    assert.deepEqual(f.victims(), ['b'])
    f.registry.acquire(f.registry.worker('b')!)
    assert.equal(f.plan(), undefined)
    assert.deepEqual(f.victims({ onceIdle: true }), ['a'], 'the spawn waits for it')
  })

  test('lower priority goes first; a higher-priority model is not stopped for a lower request', () => {
    const f = fleet([{ id: 'a' }, { id: 'b' }])
    f.use('a', T0 + 11 * 60_000)
    f.use('b', T0 + 12 * 60_000)
    f.policies.set('a', { priority: 5 })
    assert.deepEqual(f.victims(), ['b'], 'b is newer but of lower priority')
    f.policies.set('b', { priority: 5 })
    assert.equal(f.plan({ priority: 0 }), undefined)
    assert.deepEqual(f.victims({ priority: 10 }), ['a'])
  })

  test('a worker with a live keep_alive goes only after those without one', () => {
    const f = fleet([{ id: 'a' }, { id: 'b' }])
    f.use('a', T0 + 11 * 60_000)
    f.use('b', T0 + 12 * 60_000)
    f.registry.setKeepAlive(f.registry.worker('a')!, 3_600_000)
    assert.deepEqual(f.victims(), ['b'])
    f.registry.setKeepAlive(f.registry.worker('b')!, 3_600_000)
    assert.deepEqual(f.victims(), ['a'], 'both kept alive: least recently used again')
  })

  test('a worker loaded within the hysteresis window stays, unless a pinned or higher-priority model needs it, whatever the request asks', () => {
    const f = fleet([{ id: 'a' }])
    f.clock.now = T0 + 20 * 60_000
    // `b` loads now: it is the only other worker, inside the window.
    f.registry.hiveEvent({
      type: 'worker_ready',
      hive_id: 'h1',
      timestamp: new Date(f.clock.now).toISOString(),
      worker: info('b', { model_id: 'b', port: 40009 }),
      pid: 9,
    })
    f.registry.acquire(f.registry.worker('a')!)
    f.clock.now += HYSTERESIS - 1
    assert.equal(f.plan(), undefined, 'b was loaded 29.999 s ago')
    f.policies.set('new', { pin: true })
    assert.deepEqual(f.victims({ pinned: true }), ['b'])
    assert.equal(f.plan({ priority: 100 }), undefined, "a request's own priority does not override it")
    assert.deepEqual(f.victims({ priority: 1, modelPriority: 1 }), ['b'])
    assert.equal(
      f.plan({ priority: 1, modelPriority: 1, strict: true }),
      undefined,
      'a scale-out never overrides it',
    )
    f.clock.now += 1
    assert.deepEqual(f.victims(), ['b'], 'the window is over')
  })

  test('a model is not taken below its min_replicas', () => {
    const f = fleet(
      [
        { id: 'a1', model_id: 'a' },
        { id: 'a2', model_id: 'a' },
      ],
      0,
    )
    f.use('a1', T0 + 11 * 60_000)
    f.use('a2', T0 + 12 * 60_000)
    f.policies.set('a', { minReplicas: 2 })
    assert.equal(f.plan(), undefined, 'both must stay')
    f.policies.set('a', { minReplicas: 1 })
    assert.deepEqual(f.victims(), ['a1'], 'one may go: the least recently used')
  })

  test('no plan when stopping every idle worker would not free enough', () => {
    const f = fleet([{ id: 'small' }], 0)
    assert.equal(f.plan(), undefined)
  })
})
