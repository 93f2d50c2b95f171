import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { deferred, RbeeError, silentLogger } from '@rbee/common'
import { info, T0, telemetry, waitFor } from '@rbee/testing'
import { QueenMetrics } from '../metrics.js'
import { DEFAULT_MODEL_POLICY } from '../models-conf.js'
import { Registry } from '../registry/registry.js'
import { IdleReaper } from './idle-reaper.js'
import { type Lease, SCALE_OUT_COOLDOWN_MS, Scheduler, STARVED_RETRY_MS } from './scheduler.js'
import type { RoomOnceIdle, Spawner, SpawnRequest } from './spawner.js'

// The spawner here is an in-memory stand-in: these are unit tests of the queueing rules. The
// integration tests spawn real workers on real hives.
function setup(
  options: {
    queueSize?: number
    queueTimeoutMs?: number
    spawn?: Spawner['spawn']
    scaleOutWaitMs?: number
    maxReplicas?: number
    /** Whether the stand-in's fleet has room once its busy workers are idle. @default false */
    roomOnceIdle?: boolean | RoomOnceIdle
    now?: () => number
    metrics?: QueenMetrics
  } = {},
) {
  const registry = new Registry()
  registry.upsertHive('h1', 'http://h1:7835', 'config')
  registry.hiveEvent(telemetry('h1', []))
  const spawns: SpawnRequest[] = []
  const spawner: Spawner = {
    roomOnceIdle: () =>
      options.roomOnceIdle === true
        ? { retryAt: undefined }
        : options.roomOnceIdle === false
          ? undefined
          : options.roomOnceIdle,
    spawn: async (req, signal, narrate) => {
      spawns.push(req)
      if (options.spawn) return options.spawn(req, signal, narrate)
      narrate?.('loading')
      await new Promise((r) => setTimeout(r, 5))
      registry.hiveEvent({
        type: 'worker_ready',
        hive_id: 'h1',
        timestamp: new Date(T0).toISOString(),
        worker: info(`w-${spawns.length}`, { model_id: req.model, slots_total: 4 }),
        pid: 100,
      })
    },
  }
  const scheduler = new Scheduler({ registry, spawner, logger: silentLogger(), ...options })
  return { registry, scheduler, spawns }
}

describe('scheduler', () => {
  test('a free slot is taken at once and given back on release', async () => {
    const { registry, scheduler, spawns } = setup()
    registry.hiveEvent(telemetry('h1', [info('a', { slots_total: 1 })]))
    const lease = await scheduler.acquire('tiny')
    assert.equal(lease.worker.id, 'a')
    assert.equal(registry.pick('tiny'), undefined)
    lease.release()
    lease.release()
    assert.equal(registry.pick('tiny')?.id, 'a')
    assert.equal(spawns.length, 0)
  })

  test('ten concurrent first requests for a model trigger one spawn and are all served', async () => {
    const { scheduler, spawns } = setup({ queueSize: 16 })
    const spawnNotes: string[] = []
    const served = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const lease = await scheduler.acquire('tiny', { onSpawn: (h) => spawnNotes.push(h) })
        // 4 slots for 10 requests: each holds its slot a moment, as a generation would.
        setImmediate(() => lease.release())
        return lease.worker.id
      }),
    )
    assert.equal(spawns.length, 1)
    assert.deepEqual(new Set(served), new Set(['w-1']))
    assert.ok(spawnNotes.includes('loading'))
  })

  test('a request with a deadline waits until then, not the queue timeout, and its 504 says what it waited for', async () => {
    const { registry, scheduler } = setup({ queueTimeoutMs: 20 })
    registry.hiveEvent(telemetry('h1', [info('a', { slots_total: 1 })]))
    const busy = await scheduler.acquire('tiny')
    const t0 = Date.now()
    await assert.rejects(scheduler.acquire('tiny', { deadlineAt: t0 + 120 }), (e: unknown) => {
      assert.ok(e instanceof RbeeError)
      assert.equal(e.code, 'RBEE_DEADLINE_EXCEEDED')
      assert.equal(e.status, 504)
      assert.match(e.message, /in the queue for tiny \(position 1 of 1\): no slot became free/)
      return true
    })
    assert.ok(Date.now() - t0 >= 115, `failed after ${Date.now() - t0} ms`)
    assert.equal(scheduler.queueDepth('tiny'), 0)
    busy.release()
    await assert.rejects(scheduler.acquire('tiny', { deadlineAt: Date.now() - 1 }), /no time was left/)

    // Waiting for a spawn that takes longer: the request gives up, the spawn goes on.
    const slow = setup({ spawn: () => new Promise((r) => setTimeout(r, 200)) })
    await assert.rejects(
      slow.scheduler.acquire('tiny', { deadlineAt: Date.now() + 30 }),
      /deadline exceeded: waited [\d.]+ s for a worker of tiny to start/,
    )
    assert.deepEqual(slow.scheduler.spawning, new Set(['tiny']))
  })

  test('requests wait in order, see their queue position, and a full queue answers 429', async () => {
    const { registry, scheduler } = setup({ queueSize: 2 })
    registry.hiveEvent(telemetry('h1', [info('a', { slots_total: 1 })]))
    const first = await scheduler.acquire('tiny')
    const positions: Array<[string, number]> = []
    const second = scheduler.acquire('tiny', { onQueued: (p) => positions.push(['second', p]) })
    const third = scheduler.acquire('tiny', { onQueued: (p) => positions.push(['third', p]) })
    await assert.rejects(scheduler.acquire('tiny'), (e: unknown) => {
      assert.ok(e instanceof RbeeError)
      assert.equal(e.code, 'RBEE_QUEUE_FULL')
      assert.equal(e.status, 429)
      assert.ok(e.retryAfterS! >= 1)
      return true
    })
    assert.equal(scheduler.queueDepth('tiny'), 2)
    first.release()
    const s = await second
    assert.deepEqual(positions, [
      ['second', 1],
      ['third', 2],
      ['third', 1],
    ])
    s.release()
    ;(await third).release()
    assert.equal(scheduler.queueDepth('tiny'), 0)
  })

  test('a request that waits too long gets a 503', async () => {
    const { registry, scheduler } = setup({ queueTimeoutMs: 50 })
    registry.hiveEvent(telemetry('h1', [info('a', { slots_total: 1 })]))
    const held = await scheduler.acquire('tiny')
    await assert.rejects(scheduler.acquire('tiny'), (e: unknown) => {
      assert.ok(e instanceof RbeeError)
      assert.equal(e.code, 'RBEE_QUEUE_TIMEOUT')
      assert.equal(e.status, 503)
      return true
    })
    held.release()
  })

  test('an aborted request leaves the queue', async () => {
    const { registry, scheduler } = setup()
    registry.hiveEvent(telemetry('h1', [info('a', { slots_total: 1 })]))
    const held = await scheduler.acquire('tiny')
    const ac = new AbortController()
    const waiting = scheduler.acquire('tiny', { signal: ac.signal })
    assert.equal(scheduler.queueDepth('tiny'), 1)
    ac.abort(new Error('client went away'))
    await assert.rejects(waiting, /client went away/)
    assert.equal(scheduler.queueDepth('tiny'), 0)
    held.release()
  })

  test('a failed spawn fails every request waiting for it with the reason', async () => {
    const { scheduler, spawns } = setup({
      spawn: async () => {
        throw new RbeeError('RBEE_NO_CAPACITY', 'model big needs 9000 MB, free: h1: cpu:0 100 MB')
      },
    })
    const results = await Promise.allSettled([scheduler.acquire('big'), scheduler.acquire('big')])
    assert.equal(spawns.length, 1)
    for (const r of results) {
      assert.equal(r.status, 'rejected')
      assert.match((r as PromiseRejectedResult).reason.message, /needs 9000 MB, free: h1/)
    }
  })

  test('a worker that dies while requests wait triggers a fresh spawn for them', async () => {
    const gate = deferred<void>()
    let calls = 0
    const { registry, scheduler } = setup({
      spawn: async (req) => {
        calls++
        if (calls === 2) await gate.promise
        registry.hiveEvent({
          type: 'worker_ready',
          hive_id: 'h1',
          timestamp: new Date(T0).toISOString(),
          worker: info(`w-${calls}`, { model_id: req.model, slots_total: 1 }),
          pid: 100,
        })
      },
    })
    const first = await scheduler.acquire('tiny')
    const waiting = scheduler.acquire('tiny')
    registry.hiveEvent({
      type: 'worker_exited',
      hive_id: 'h1',
      timestamp: new Date(T0).toISOString(),
      worker_id: first.worker.id,
      pid: 100,
      port: first.worker.info.port,
      exit_code: null,
      signal: 'SIGKILL',
      expected: false,
      restarting: false,
      reason: 'killed',
    })
    first.release()
    await new Promise((r) => setImmediate(r))
    assert.equal(calls, 2, 'the dead worker was the one spawned: a new spawn starts at once')
    gate.resolve()
    const lease: Lease = await waiting
    assert.equal(lease.worker.id, 'w-2')
    lease.release()
  })

  test('close rejects waiting requests', async () => {
    const { registry, scheduler } = setup()
    registry.hiveEvent(telemetry('h1', [info('a', { slots_total: 1 })]))
    await scheduler.acquire('tiny')
    const waiting = scheduler.acquire('tiny')
    scheduler.close()
    await assert.rejects(waiting, (e: unknown) => e instanceof RbeeError && e.code === 'RBEE_DRAINING')
  })
})

describe('idle reaper', () => {
  test('stops workers idle past their TTL and keeps models whose TTL is off', async () => {
    let now = T0
    const registry = new Registry({ now: () => now })
    registry.upsertHive('h1', 'http://h1', 'config')
    registry.hiveEvent(telemetry('h1', [info('t'), info('b', { model_id: 'big', port: 40001 })]))
    const stopped: string[] = []
    const reaper = new IdleReaper({
      registry,
      ttlMs: (m) => (m === 'tiny' ? 0 : 60_000),
      stop: async (w) => {
        stopped.push(w.id)
      },
      logger: silentLogger(),
      now: () => now,
    })
    now += 59_000
    reaper.sweep()
    assert.deepEqual(stopped, [])
    now += 1000
    reaper.sweep()
    assert.deepEqual(stopped, ['b'])
    assert.equal(registry.pick('big'), undefined, 'a worker being stopped is not routable')
    assert.equal(registry.pick('tiny')?.id, 't')
  })

  test("an Ollama keep_alive replaces its worker's TTL: forever, at once, or back to the model's", () => {
    let now = T0
    const registry = new Registry({ now: () => now })
    registry.upsertHive('h1', 'http://h1', 'config')
    const workers = ['k', 'z', 'd'].map((id, i) => info(id, { model_id: 'big', port: 40000 + i }))
    registry.hiveEvent(telemetry('h1', workers))
    const stopped: string[] = []
    const reaper = new IdleReaper({
      registry,
      ttlMs: () => 60_000,
      stop: async (w) => {
        stopped.push(w.id)
      },
      logger: silentLogger(),
      now: () => now,
    })
    const [k, z, d] = ['k', 'z', 'd'].map((id) => registry.worker(id)!)
    registry.setKeepAlive(k!, Number.POSITIVE_INFINITY)
    registry.setKeepAlive(z!, 0)
    registry.setKeepAlive(d!, 5000)
    registry.setKeepAlive(d!, null)
    assert.deepEqual(
      [k, z, d].map((w) => reaper.expiresAtMs(w!)),
      [Number.POSITIVE_INFINITY, T0, T0 + 60_000],
    )
    reaper.sweep()
    assert.deepEqual(stopped, ['z'], 'keep_alive 0 stops the worker once it is idle')
    now += 10 * 60_000
    reaper.sweep()
    assert.deepEqual(stopped, ['z', 'd'], 'a negative keep_alive keeps its worker for ever')
  })

  test('the idle TTL never takes a model below its min_replicas, and never stops a pinned one', () => {
    let now = T0
    const registry = new Registry({ now: () => now })
    registry.upsertHive('h1', 'http://h1', 'config')
    const workers = ['p1', 'm1', 'm2', 'o1'].map((id, i) =>
      info(id, { model_id: id.slice(0, 1), port: 40000 + i }),
    )
    registry.hiveEvent(telemetry('h1', workers))
    const stopped: string[] = []
    const policies: Record<string, object> = { p: { pin: true, minReplicas: 1 }, m: { minReplicas: 1 } }
    const reaper = new IdleReaper({
      registry,
      ttlMs: () => 60_000,
      policy: (m) => ({ ...DEFAULT_MODEL_POLICY, ...policies[m] }),
      stop: async (w) => {
        stopped.push(w.id)
      },
      logger: silentLogger(),
      now: () => now,
    })
    now += 61_000
    reaper.sweep()
    assert.deepEqual(stopped.sort(), ['m1', 'o1'], 'one of m stays; p is pinned')
  })
})

describe('scheduler priorities and scale-out', () => {
  test('a model queue serves higher priority first, first come first served within one', async () => {
    const { registry, scheduler } = setup()
    registry.hiveEvent(telemetry('h1', [info('a', { slots_total: 1 })]))
    const first = await scheduler.acquire('tiny')
    const served: string[] = []
    const wait = (name: string, priority?: number) =>
      scheduler.acquire('tiny', { priority }).then((lease) => {
        served.push(name)
        setImmediate(() => lease.release())
      })
    const all = Promise.all([wait('low', -10), wait('normal-1'), wait('high', 10), wait('normal-2', 0)])
    first.release()
    await all
    assert.deepEqual(served, ['high', 'normal-1', 'normal-2', 'low'])
  })

  test("a request's priority is capped at its key's, but may always ask for its model's own", async () => {
    const registry = new Registry()
    registry.upsertHive('h1', 'http://h1:7835', 'config')
    registry.hiveEvent(
      telemetry('h1', [info('a', { slots_total: 1 }), info('b', { model_id: 'vip', slots_total: 1 })]),
    )
    const scheduler = new Scheduler({
      registry,
      spawner: { spawn: async () => assert.fail('no spawn') },
      logger: silentLogger(),
      policy: (m) => ({ ...DEFAULT_MODEL_POLICY, priority: m === 'vip' ? 10 : 0 }),
    })
    const served: string[] = []
    const queue = async (model: string, names: Array<[string, number | undefined, number | undefined]>) => {
      const first = await scheduler.acquire(model)
      const all = names.map(([name, priority, maxPriority]) =>
        scheduler.acquire(model, { priority, maxPriority }).then((lease) => {
          served.push(name)
          setImmediate(() => lease.release())
        }),
      )
      first.release()
      await Promise.all(all)
    }
    await queue('tiny', [
      ['user asks high', 10, 0],
      ['user, none', undefined, 0],
      ['admin asks 5', 5, undefined],
      ['key of priority 3 asks high', 10, 3],
    ])
    assert.deepEqual(served.splice(0), [
      'admin asks 5',
      'key of priority 3 asks high',
      'user asks high',
      'user, none',
    ])
    await queue('vip', [
      ['user, none', undefined, 0],
      ['user asks high', 10, 0],
      ['user asks 50', 50, 0],
    ])
    assert.deepEqual(served, ['user, none', 'user asks high', 'user asks 50'], "all at vip's 10")
    scheduler.close()
  })

  // Each request holds its slot 20 ms of the hand-driven clock; past a 100 ms wait the queue asks
  // for another replica. The replica's worker arrives once the whole burst is queued.
  async function burst(n: number, maxReplicas: number) {
    let now = 0
    const arrive = deferred<void>()
    const { registry, scheduler, spawns } = setup({
      scaleOutWaitMs: 100,
      maxReplicas,
      queueSize: 100,
      now: () => now,
      spawn: async (req) => {
        await arrive.promise
        registry.hiveEvent({
          type: 'worker_ready',
          hive_id: 'h1',
          timestamp: new Date(T0).toISOString(),
          worker: info(`w-${spawns.length}`, { model_id: req.model, slots_total: 4, port: 40001 }),
          pid: 100,
        })
      },
    })
    registry.hiveEvent(telemetry('h1', [info('a', { slots_total: 1 })]))
    const first = await scheduler.acquire('tiny')
    now += 20
    first.release()
    assert.equal(spawns.length, 0, 'one request measures the service time')
    const held: Lease[] = []
    const workers = new Set<string>()
    let served = 0
    for (let i = 0; i < n; i++) {
      void scheduler.acquire('tiny').then((lease) => {
        held.push(lease)
        workers.add(lease.worker.id)
        served++
      })
    }
    arrive.resolve()
    while (served < n || held.length > 0) {
      await new Promise((r) => setImmediate(r))
      now += 20
      for (const lease of held.splice(0)) lease.release()
    }
    scheduler.close()
    return { spawns, workers }
  }

  test('a burst past the target wait adds one replica and not more than it needs', async () => {
    const { spawns, workers } = await burst(12, 8)
    assert.deepEqual(
      spawns.map((s) => [s.model, s.replica]),
      [['tiny', true]],
      'one replica (4 more slots) drains the rest within the target',
    )
    assert.deepEqual([...workers].sort(), ['a', 'w-1'])
  })

  test('scale-out stops at max_replicas however long the queue', async () => {
    const { spawns } = await burst(40, 2)
    assert.equal(spawns.length, 1)
  })

  test('a spawn with no room while busy workers hold it waits for one to go idle instead of failing its requests', async () => {
    let room = false
    let now = 0
    const { registry, scheduler, spawns } = setup({
      roomOnceIdle: true,
      now: () => now,
      spawn: async (req) => {
        if (!room) throw new RbeeError('RBEE_NO_CAPACITY', 'no device can take it')
        registry.hiveEvent({
          type: 'worker_ready',
          hive_id: 'h1',
          timestamp: new Date(T0).toISOString(),
          worker: info('w-new', { model_id: req.model, port: 40009 }),
          pid: 9,
        })
      },
    })
    registry.hiveEvent(telemetry('h1', [info('other', { model_id: 'other', slots_total: 1 })]))
    const busy = await scheduler.acquire('other')
    const notes: string[] = []
    const waiting = scheduler.acquire('tiny', { onSpawn: (h) => notes.push(h) })
    await waitFor('the first spawn failed', () => notes.length > 0)
    assert.deepEqual(notes, ['no room for tiny now; waiting for a busy worker to go idle to make room'])
    room = true
    now += STARVED_RETRY_MS
    busy.release()
    const lease = await waiting
    assert.equal(lease.worker.id, 'w-new')
    assert.equal(spawns.length, 2)
  })

  const workerReady = (registry: Registry, model: string): void =>
    registry.hiveEvent({
      type: 'worker_ready',
      hive_id: 'h1',
      timestamp: new Date(T0).toISOString(),
      worker: info('w-new', { model_id: model, port: 40009 }),
      pid: 9,
    })
  const settle = (): Promise<void> => new Promise((r) => setImmediate(r))
  const noCapacity = (): RbeeError => new RbeeError('RBEE_NO_CAPACITY', 'no device can take it')
  /** A stand-in fleet where `other` holds the only room until `room()` says otherwise. */
  function starvedFleet(o: { room: () => boolean; now: () => number; roomOnceIdle?: RoomOnceIdle }) {
    const fleet = setup({
      roomOnceIdle: o.roomOnceIdle ?? true,
      now: o.now,
      queueTimeoutMs: 120_000,
      spawn: async (req) => {
        if (!o.room()) throw noCapacity()
        workerReady(fleet.registry, req.model)
      },
    })
    fleet.registry.hiveEvent(telemetry('h1', [info('other', { model_id: 'other', slots_total: 1 })]))
    return fleet
  }

  test('a starved spawn tells its waiters once and tries again at most every 500 ms however often slots free up', async () => {
    let now = 0
    let room = false
    const { scheduler, spawns } = starvedFleet({ room: () => room, now: () => now })
    const notes: string[] = []
    const waiting = scheduler.acquire('tiny', { onSpawn: (h) => notes.push(h) })
    await settle()
    for (let i = 0; i < 50; i++) {
      const lease = await scheduler.acquire('other')
      lease.release()
      await settle()
    }
    assert.equal(spawns.length, 1, 'slots freed 50 times within 500 ms: no retry yet')
    now += STARVED_RETRY_MS
    ;(await scheduler.acquire('other')).release()
    await settle()
    assert.equal(spawns.length, 2)
    assert.equal(notes.length, 1, 'the waiter hears about the wait once')
    room = true
    now += STARVED_RETRY_MS
    ;(await scheduler.acquire('other')).release()
    assert.equal((await waiting).worker.id, 'w-new')
    assert.equal(spawns.length, 3)
    scheduler.close()
  })

  test('a spawn held back only by the hysteresis window is tried again when the window ends', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] })
    let now = 1_000
    let room = false
    const { scheduler, spawns } = starvedFleet({
      room: () => room,
      now: () => now,
      roomOnceIdle: { retryAt: 61_000 },
    })
    const waiting = scheduler.acquire('tiny')
    await settle()
    assert.equal(spawns.length, 1)
    room = true
    now = 60_999
    t.mock.timers.tick(59_999)
    await settle()
    assert.equal(spawns.length, 1, 'still inside the window')
    now = 61_000
    t.mock.timers.tick(1)
    assert.equal((await waiting).worker.id, 'w-new')
    assert.equal(spawns.length, 2)
    scheduler.close()
  })

  test('a model id with @ in it, waiting on one hive, is tried again once room frees up', async () => {
    let now = 0
    let room = false
    const { scheduler } = starvedFleet({ room: () => room, now: () => now })
    const busy = await scheduler.acquire('other')
    const waiting = scheduler.acquire('foo@q4', { hiveId: 'h1' })
    await settle()
    room = true
    now += STARVED_RETRY_MS
    busy.release()
    assert.equal((await waiting).worker.model, 'foo@q4')
    scheduler.close()
  })

  test('a failed scale-out waits 10 s before the model tries another replica, and only a replica that came counts', async () => {
    let now = 0
    let fail = true
    const metrics = new QueenMetrics({ queueDepths: () => [], workerStates: () => [], hives: () => [] })
    const fleet = setup({
      scaleOutWaitMs: 100,
      queueSize: 100,
      now: () => now,
      metrics,
      spawn: async (req) => {
        if (fail) throw noCapacity()
        workerReady(fleet.registry, req.model)
      },
    })
    const { registry, scheduler, spawns } = fleet
    registry.hiveEvent(telemetry('h1', [info('a', { slots_total: 1 })]))
    const first = await scheduler.acquire('tiny')
    now += 20
    first.release()
    const busy = await scheduler.acquire('tiny')
    const queued: Array<Promise<unknown>> = []
    const queue = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        queued.push(scheduler.acquire('tiny').catch(() => undefined))
        await settle()
      }
    }
    await queue(20)
    assert.equal(spawns.length, 1, 'one failed replica, then a cool-down')
    now += SCALE_OUT_COOLDOWN_MS
    fail = false
    await queue(1)
    assert.equal(spawns.length, 2)
    const counted = (await metrics.scaleOuts.get()).values.find((v) => v.labels.model === 'tiny')?.value
    assert.equal(counted, 1, 'the failed attempt is not counted')
    busy.release()
    scheduler.close()
    await Promise.all(queued)
  })
})
