import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { HiveClient } from '@rbee/client'
import { deferred, RbeeError, silentLogger } from '@rbee/common'
import { type Device, deviceList, type WorkerSpawnResult } from '@rbee/contracts'
import { catalogEntry, device, gpu, info, T0, telemetry } from '@rbee/testing'
import { Registry } from '../registry/registry.js'
import { Scheduler } from './scheduler.js'
import { DOWNLOAD_BACKOFF_MS, type HiveDirectory, HiveSpawner, type HiveSpawnerOptions } from './spawner.js'

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

// A hive client that stands in for a hive's `worker_spawn` job (no GPU here): a spawn on a GPU
// fails as a hive reports a worker that could not load while `gpuLoads` is false; any other
// spawn reports a ready worker on the registry, as the hive's stream would, and answers.
type SpawnOp = Parameters<HiveClient['spawnWorker']>[0]
const GIB = 1024
const CUDA_FAILURE =
  'worker w9 failed to start (exit code 1); last log lines:\nggml_cuda_init: failed to initialize CUDA: no CUDA-capable device is detected'

function gpuFleet(devices: Device[], needMb: number) {
  const clock = { now: T0 }
  const registry = new Registry({ logger: silentLogger() })
  registry.upsertHive('h1', 'http://h1:7835', 'config')
  registry.hiveEvent(telemetry('h1', [], { devices }))
  registry.setCatalog('h1', [catalogEntry('m', needMb), catalogEntry('m2', 20_000)])
  const calls: SpawnOp[] = []
  const state: { gpuLoads: boolean; gate: Promise<void> | undefined; failure: RbeeError } = {
    gpuLoads: false,
    gate: undefined,
    failure: new RbeeError('RBEE_SPAWN_FAILED', CUDA_FAILURE),
  }
  const spawnWorker = async (op: SpawnOp): Promise<WorkerSpawnResult> => {
    calls.push(op)
    await (state.gate ?? new Promise((r) => setImmediate(r)))
    if (op.worker !== 'cpu' && !state.gpuLoads) throw state.failure
    const n = calls.length
    const where = op.worker === 'cpu' ? 'cpu:0' : `${op.worker}:${deviceList(op.device)?.join(',')}`
    const worker = info(`w${n}`, { model_id: op.model, device: where, port: 40000 + n, slots_total: 4 })
    registry.hiveEvent({
      type: 'worker_ready',
      hive_id: 'h1',
      timestamp: new Date(clock.now).toISOString(),
      worker,
      pid: 100 + n,
    })
    return {
      worker_id: worker.id,
      port: worker.port,
      pid: 100 + n,
      host: worker.host,
      url: `http://127.0.0.1:${worker.port}`,
    }
  }
  const hives: HiveDirectory = {
    client: (id) => (id === 'h1' ? { spawnWorker } : undefined),
    refreshCatalogs: async () => {},
  }
  const spawner = new HiveSpawner({ registry, hives, logger: silentLogger(), now: () => clock.now })
  const where = (): string[] => calls.map((c) => `${c.worker} ${JSON.stringify(c.device)}`)
  const spawn = async (model = 'm', signal = new AbortController().signal): Promise<string[]> => {
    const notes: string[] = []
    await spawner.spawn({ model, hiveId: undefined }, signal, (h) => notes.push(h))
    return notes
  }
  return { clock, registry, spawner, calls, state, where, spawn }
}

describe('HiveSpawner placement', () => {
  const h200 = (): Device[] => [device(122 * GIB), gpu(0, 139 * GIB)]

  test('a spawn that cannot load on the GPU is placed again on the CPU, and the GPU is tried again after its backoff', async () => {
    const { clock, state, where, spawn } = gpuFleet(h200(), 40 * GIB)
    const first = await spawn()
    assert.deepEqual(where(), ['cuda 0', 'cpu 0'])
    assert.deepEqual(first, [
      'starting a worker for m on h1 (needs 40.0 GiB): gpu:0 cuda, 139 GiB free; cpu:0 not chosen: a GPU fits',
      'h1/gpu:0 could not start m (RBEE_SPAWN_FAILED); placing it again',
      'starting a worker for m on h1 (needs 40.0 GiB): cpu:0, 122 GiB free: no GPU can take it; gpu:0 skipped: spawns of m failed here (RBEE_SPAWN_FAILED), last just now; next try in 30 s',
    ])

    clock.now += 20_000
    const second = await spawn()
    assert.deepEqual(where().slice(2), ['cpu 0'], 'the GPU is skipped during its backoff')
    assert.match(
      second[0] ?? '',
      /gpu:0 skipped: spawns of m failed here \(RBEE_SPAWN_FAILED\), last 20 s ago; next try in 10 s$/,
    )

    clock.now += 10_000
    const third = await spawn()
    assert.deepEqual(where().slice(3), ['cuda 0', 'cpu 0'], 'tried again after 30 s, failed again')
    assert.match(
      third.at(-1) ?? '',
      /spawns of m failed here 2 times in a row \(RBEE_SPAWN_FAILED\), last just now; next try in 60 s$/,
    )

    clock.now += 60_000
    state.gpuLoads = true
    await spawn()
    assert.deepEqual(where().slice(5), ['cuda 0'], 'the GPU works again')
    state.gpuLoads = false
    const after = await spawn()
    assert.deepEqual(where().slice(6), ['cuda 0', 'cpu 0'], 'the success cleared the mark')
    assert.match(
      after.at(-1) ?? '',
      /spawns of m failed here \(RBEE_SPAWN_FAILED\), last just now; next try in 30 s$/,
    )
  })

  test('a scale-out replica goes to a device that does not run its model, and to none when every one does', async () => {
    const { calls, state, spawner, spawn } = gpuFleet([device(122 * GIB), gpu(0, 139 * GIB)], 40 * GIB)
    state.gpuLoads = true
    await spawn()
    const replica = (): Promise<void> =>
      spawner.spawn({ model: 'm', hiveId: undefined, replica: true }, new AbortController().signal)
    await replica()
    assert.deepEqual(
      calls.map((c) => c.worker),
      ['cuda', 'cpu'],
      'the GPU had room for two, but runs m already',
    )
    const err = await spawnError(replica())
    assert.equal(err.code, 'RBEE_NO_CAPACITY')
    assert.match(err.message, /runs m already \(a replica goes to another device\)/)
    assert.equal(calls.length, 2)
  })

  test('a model too big for one GPU is asked of the hive as a device list, with memory reserved on each GPU', async () => {
    const { calls, state, spawner, spawn } = gpuFleet(
      [device(200 * GIB), gpu(0, 60_000), gpu(1, 80_000)],
      120_000,
    )
    state.gpuLoads = true
    const gate = deferred<void>()
    state.gate = gate.promise
    const big = spawn('m')
    await new Promise((r) => setImmediate(r))
    assert.deepEqual([calls[0]?.worker, calls[0]?.device], ['cuda', [1, 0]])
    // gpu:1 has 80000 - 68572 MB left while the split loads, gpu:0 60000 - 51429: m2 (20000) fits neither.
    const small = spawner.spawn({ model: 'm2', hiveId: undefined }, new AbortController().signal)
    await new Promise((r) => setImmediate(r))
    assert.deepEqual([calls[1]?.worker, calls[1]?.device], ['cpu', 0])
    gate.resolve()
    await Promise.all([big, small])
  })

  test('when no other device can take the model the spawn fails with the load error and says why', async () => {
    const { spawner, where } = gpuFleet([device(8 * GIB), gpu(0, 139 * GIB)], 40 * GIB)
    const notes: string[] = []
    const err = await spawnError(
      spawner.spawn({ model: 'm', hiveId: undefined }, new AbortController().signal, (h) => notes.push(h)),
    )
    assert.equal(err.code, 'RBEE_SPAWN_FAILED')
    assert.match(err.message, /^could not start a worker for m on h1 \(gpu:0\): worker w9 failed to start/)
    assert.deepEqual(where(), ['cuda 0'])
    assert.equal(
      notes.at(-1),
      'no other device can take m: model m needs 40.0 GiB, no device can take it: h1/cpu:0 too small: 8.00 GiB free; ' +
        'h1/gpu:0 skipped: spawns of m failed here (RBEE_SPAWN_FAILED), last just now; next try in 30 s',
    )
  })

  test('while the only device that can take the model waits out its backoff, a spawn fails at once with its last failure', async () => {
    const { clock, spawner, where } = gpuFleet([device(8 * GIB), gpu(0, 139 * GIB)], 40 * GIB)
    const signal = new AbortController().signal
    await spawnError(spawner.spawn({ model: 'm', hiveId: undefined }, signal))
    clock.now += 10_000
    const err = await spawnError(spawner.spawn({ model: 'm', hiveId: undefined }, signal))
    assert.deepEqual(where(), ['cuda 0'], 'no second spawn on the GPU during its backoff')
    // A server-side code: a caller without admin rights reads a short message with an error id.
    assert.deepEqual([err.code, err.status, err.retryAfterS], ['RBEE_SPAWN_FAILED', 500, 20])
    assert.match(
      err.message,
      /gpu:0 skipped: spawns of m failed here .*; the last failure: worker w9 failed to start/,
    )
  })

  test('a spawn the hive cancelled ends there and does not mark the device', async () => {
    const { state, where, spawn } = gpuFleet(h200(), 40 * GIB)
    state.failure = new RbeeError('RBEE_CANCELLED', 'job j1 was cancelled')
    await assert.rejects(spawn(), (e: unknown) => e instanceof RbeeError && e.code === 'RBEE_CANCELLED')
    assert.deepEqual(where(), ['cuda 0'], 'no fallback for a cancel')
    state.gpuLoads = true
    await spawn()
    assert.deepEqual(where(), ['cuda 0', 'cuda 0'])
  })

  test('a GPU its hive refuses for lack of memory is left for this spawn only', async () => {
    const { state, where, spawn } = gpuFleet(h200(), 40 * GIB)
    state.failure = new RbeeError(
      'RBEE_NO_CAPACITY',
      'not enough memory for m on cuda:0: needs ~40960 MB of VRAM, 2000 MB free',
    )
    const notes = await spawn()
    assert.deepEqual(where(), ['cuda 0', 'cpu 0'])
    assert.match(
      notes.at(-1) ?? '',
      /gpu:0 skipped: failed in this spawn \(not enough memory for m on cuda:0: needs ~40960 MB of VRAM, 2000 MB free\)$/,
    )
    state.gpuLoads = true
    await spawn()
    assert.deepEqual(where().slice(2), ['cuda 0'], 'the next spawn tries the GPU again')
  })

  test('fifty requests whose spawn cannot load on the GPU are all served by a worker on the CPU', async () => {
    const { registry, spawner, where } = gpuFleet(h200(), 40 * GIB)
    const scheduler = new Scheduler({ registry, spawner, logger: silentLogger(), queueSize: 64 })
    const notes = new Set<string>()
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, async () => {
        const lease = await scheduler.acquire('m', { onSpawn: (h) => notes.add(h) })
        setImmediate(() => lease.release())
        return lease.worker.info.device
      }),
    )
    scheduler.close()
    assert.deepEqual(
      results.map((r) => r.status),
      results.map(() => 'fulfilled'),
    )
    assert.deepEqual(
      new Set(results.map((r) => (r.status === 'fulfilled' ? r.value : r.reason))),
      new Set(['cpu:0']),
    )
    assert.deepEqual(where(), ['cuda 0', 'cpu 0'], 'one spawn for all of them: the GPU, then the CPU')
    assert.ok([...notes].some((n) => n.includes('gpu:0 skipped: spawns of m failed here')))
  })
})

describe('HiveSpawner making room', () => {
  // A hive double (no hive process in a unit test): a CPU of 1000 MB with two idle 400 MB
  // workers, a stop that reports the exit and the memory back on the next telemetry, as a hive's
  // stream does, and a spawn that reports a ready worker.
  function full(
    options: {
      stopFails?: boolean
      memoryStaysTaken?: boolean
      /** Called right after the telemetry that shows a stopped worker's memory back. */
      afterFreed?: () => void
    } = {},
  ) {
    const clock = { now: T0 }
    const registry = new Registry({ logger: silentLogger(), now: () => clock.now })
    registry.upsertHive('h1', 'http://h1:7835', 'config')
    const live = [info('wa', { model_id: 'a', port: 40001 }), info('wb', { model_id: 'b', port: 40002 })]
    const report = (): void =>
      registry.hiveEvent(
        telemetry('h1', live, { devices: [device(1000 - 400 * live.length, { memory_total_mb: 1000 })] }),
      )
    report()
    registry.setCatalog(
      'h1',
      ['a', 'b', 'new', 'new2'].map((m) => catalogEntry(m, 400)),
    )
    clock.now += 600_000
    const used = registry.worker('wb')!
    registry.acquire(used)
    registry.release(used)
    const stopped: string[] = []
    const spawned: string[] = []
    const spawnWorker = async (op: SpawnOp): Promise<WorkerSpawnResult> => {
      spawned.push(op.model)
      const id = op.model === 'new' ? 'wn' : `w-${op.model}`
      const port = 40002 + spawned.length
      const worker = info(id, { model_id: op.model, port })
      live.push(worker)
      report()
      return { worker_id: id, port, pid: 3, host: worker.host, url: `http://127.0.0.1:${port}` }
    }
    const spawner = new HiveSpawner({
      registry,
      hives: { client: () => ({ spawnWorker }), refreshCatalogs: async () => {} },
      logger: silentLogger(),
      now: () => clock.now,
      eviction: {
        stop: async (w) => {
          stopped.push(w.id)
          if (options.stopFails) throw new RbeeError('RBEE_UPSTREAM', 'the hive did not answer')
          // A worker that exits but whose memory the driver keeps (a hung process's VRAM).
          if (options.memoryStaysTaken) {
            live.splice(
              live.findIndex((x) => x.id === w.id),
              1,
            )
            setImmediate(() =>
              registry.hiveEvent(
                telemetry('h1', live, { devices: [device(200, { memory_total_mb: 1000 })] }),
              ),
            )
            return
          }
          live.splice(
            live.findIndex((x) => x.id === w.id),
            1,
          )
          setImmediate(() => {
            report()
            options.afterFreed?.()
          })
        },
        waitMs: 200,
      },
    })
    return { registry, spawner, stopped, spawned }
  }

  test('memory an eviction freed goes to the spawn that evicted, not to one that asked meanwhile', async () => {
    const signal = new AbortController().signal
    const notes = { new: [] as string[], new2: [] as string[] }
    let second: Promise<void> | undefined
    const fleet = full({
      // Another model's spawn asks the moment wa's memory shows free, before the first resumes.
      afterFreed: () => {
        second ??= fleet.spawner.spawn({ model: 'new2', hiveId: undefined }, signal, (h) =>
          notes.new2.push(h),
        )
      },
    })
    await fleet.spawner.spawn({ model: 'new', hiveId: undefined }, signal, (h) => notes.new.push(h))
    await second
    const evictions = (n: string[]): string[] => n.filter((h) => h.startsWith('evicting'))
    assert.deepEqual(
      evictions(notes.new).map((h) => h.split(' ')[2]),
      ['wa'],
      'the first spawn evicts once',
    )
    assert.deepEqual(
      evictions(notes.new2).map((h) => h.split(' ')[2]),
      ['wb'],
      'the second makes its own room',
    )
    assert.deepEqual(fleet.spawned, ['new', 'new2'])
  })

  test('a spawn that fits nowhere stops the least recently used idle worker, waits for its memory, then spawns', async () => {
    const { registry, spawner, stopped } = full()
    const notes: string[] = []
    await spawner.spawn({ model: 'new', hiveId: undefined }, new AbortController().signal, (h) =>
      notes.push(h),
    )
    assert.deepEqual(stopped, ['wa'])
    assert.equal(
      notes[0],
      'evicting worker wa (model a, idle 600 s) on h1/cpu:0 to make room for new (needs 400 MiB, 200 MiB free)',
    )
    assert.match(notes[1] ?? '', /^made room on h1\/cpu:0 in \d+\.\d s$/)
    assert.match(notes[2] ?? '', /^starting a worker for new on h1 \(needs 400 MiB\): cpu:0, 600 MiB free/)
    assert.deepEqual([...registry.workers()].map((w) => w.id).sort(), ['wb', 'wn'])
  })

  test('a stop that fails ends the spawn at once with RBEE_NO_CAPACITY saying why', async () => {
    const { spawner, stopped } = full({ stopFails: true })
    const started = performance.now()
    const err = await spawnError(
      spawner.spawn({ model: 'new', hiveId: undefined }, new AbortController().signal),
    )
    assert.equal(err.code, 'RBEE_NO_CAPACITY')
    assert.match(
      err.message,
      /making room on h1\/cpu:0 for new failed: could not stop wa: the hive did not answer/,
    )
    assert.ok(performance.now() - started < 150, 'not after the 200 ms memory wait')
    assert.deepEqual(stopped, ['wa'])
  })

  test('memory that does not come back ends the spawn with RBEE_NO_CAPACITY naming the wait', async () => {
    const { spawner, stopped } = full({ memoryStaysTaken: true })
    const err = await spawnError(
      spawner.spawn({ model: 'new', hiveId: undefined }, new AbortController().signal),
    )
    assert.equal(err.code, 'RBEE_NO_CAPACITY')
    assert.match(
      err.message,
      /stopped 1 worker\(s\) on h1\/cpu:0 for new, but its memory did not come back within 200 ms/,
    )
    assert.deepEqual(stopped, ['wa'])
  })
})

describe('HiveSpawner loading elsewhere', () => {
  // h1 has the file and a busy worker filling its CPU; h2 has room and no file.
  function elsewhere(download: NonNullable<HiveSpawnerOptions['download']>) {
    const clock = { now: T0 }
    const registry = new Registry({ logger: silentLogger() })
    const big = { ...catalogEntry('big', 400), source: 'hf:org/repo:big.gguf' }
    registry.upsertHive('h1', 'http://h1:7835', 'config')
    registry.hiveEvent(
      telemetry('h1', [info('busy', { model_id: 'big' })], {
        devices: [device(100, { memory_total_mb: 500 })],
      }),
    )
    registry.acquire(registry.worker('busy')!)
    registry.setCatalog('h1', [big])
    registry.upsertHive('h2', 'http://h2:7835', 'config')
    registry.hiveEvent(telemetry('h2', [], { devices: [device(1000)] }))
    registry.setCatalog('h2', [])
    const downloads: string[] = []
    const spawned: string[] = []
    const spawnWorker = async (op: SpawnOp): Promise<WorkerSpawnResult> => {
      spawned.push(`${op.model}@${op.hive_id}`)
      return { worker_id: 'w2', port: 40002, pid: 2, host: '127.0.0.1', url: 'http://127.0.0.1:40002' }
    }
    const spawner = new HiveSpawner({
      registry,
      hives: { client: () => ({ spawnWorker }), refreshCatalogs: async () => {} },
      logger: silentLogger(),
      now: () => clock.now,
      eviction: { stop: async () => assert.fail('the busy worker is never stopped') },
      download: async (hiveId, source, signal, narrate) => {
        downloads.push(`${source}@${hiveId}`)
        await download(hiveId, source, signal, narrate)
        registry.setCatalog(hiveId, [big])
      },
    })
    const notes: string[] = []
    const spawn = (): Promise<void> =>
      spawner.spawn({ model: 'big', hiveId: undefined }, new AbortController().signal, (h) => notes.push(h))
    return { clock, spawner, spawn, downloads, spawned, notes }
  }

  test('when no hive with the file has room, a hive with room downloads it first, its progress narrated', async () => {
    const { spawn, downloads, spawned, notes } = elsewhere(async (_hive, _source, _signal, narrate) => {
      narrate('downloaded big.gguf (400 MiB) from a peer')
    })
    await spawn()
    assert.deepEqual(downloads, ['hf:org/repo:big.gguf@h2'])
    assert.deepEqual(spawned, ['big@h2'])
    assert.deepEqual(notes.slice(0, 2), [
      'downloading hf:org/repo:big.gguf to h2 for big: no hive with big has room; h2/cpu:0, 1000 MiB free',
      'h2: downloaded big.gguf (400 MiB) from a peer',
    ])
    assert.match(notes[2] ?? '', /^starting a worker for big on h2 \(needs 400 MiB\)/)
  })

  test('a download that fails leaves the spawn short of room, not failed with it, and that hive is not asked again for a while', async () => {
    let fails = true
    const { clock, spawn, downloads, spawned, notes } = elsewhere(async () => {
      if (fails) throw new RbeeError('RBEE_MODEL_NOT_FOUND', 'no peer and no hub has big.gguf')
    })
    const err = await spawnError(spawn())
    assert.equal(err.code, 'RBEE_NO_CAPACITY')
    assert.ok(
      notes.includes(
        'downloading hf:org/repo:big.gguf to h2 failed (no peer and no hub has big.gguf); not trying there again for a while',
      ),
      notes.join('\n'),
    )
    assert.equal((await spawnError(spawn())).code, 'RBEE_NO_CAPACITY')
    assert.equal(downloads.length, 1, 'h2 is not asked again at once')
    fails = false
    clock.now += DOWNLOAD_BACKOFF_MS
    await spawn()
    assert.equal(downloads.length, 2)
    assert.deepEqual(spawned, ['big@h2'])
  })
})
