import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { RbeeError } from '@rbee/common'
import type { Device, WorkerInfo } from '@rbee/contracts'
import { catalogEntry, device, gpu, info, telemetry } from '@rbee/testing'
import { type HiveEntry, Registry } from '../registry/registry.js'
import { choosePlacement } from './placement.js'

// Device lists as hives report them; the sizes are those of the machine in issue 15 (one H200
// with 139 GiB free, 122 GiB of free RAM) where they matter.
const GIB = 1024

interface HiveFixture {
  devices: Device[]
  workers?: WorkerInfo[]
  /** The model's memory estimate in this hive's catalog. @default 40 GiB */
  needMb?: number
}

/** Online hives whose catalogs have model `m`, in the order given. */
function fleet(hives: Record<string, HiveFixture>): HiveEntry[] {
  const registry = new Registry()
  for (const [id, h] of Object.entries(hives)) {
    registry.upsertHive(id, `http://${id}:7835`, 'config')
    registry.hiveEvent(telemetry(id, h.workers ?? [], { devices: h.devices }))
    registry.setCatalog(id, [catalogEntry('m', h.needMb ?? 40 * GIB)])
  }
  return registry.hivesWithModel('m')
}

const onGpu = (id: string, index: number, over: Partial<WorkerInfo> = {}): WorkerInfo =>
  info(id, { device: `cuda:${index}`, port: 41000 + index * 10 + id.length, ...over })

describe('placement', () => {
  test('a GPU that fits beats the CPU even when the CPU would leave less memory over', () => {
    const p = choosePlacement('m', fleet({ h1: { devices: [device(122 * GIB), gpu(0, 139 * GIB)] } }))
    assert.deepEqual([p.shares.map((s) => s.device.id), p.backend, p.selection], [['gpu:0'], 'cuda', 0])
    assert.equal(p.reason, 'gpu:0 cuda, 139 GiB free; cpu:0 not chosen: a GPU fits')
  })

  test('the CPU takes the model when no GPU has room for it, and the reason says what each GPU has', () => {
    const p = choosePlacement('m', fleet({ h1: { devices: [device(122 * GIB), gpu(0, 20 * GIB)] } }))
    assert.deepEqual([p.shares.map((s) => s.device.id), p.backend], [['cpu:0'], 'cpu'])
    assert.equal(p.reason, 'cpu:0, 122 GiB free: no GPU can take it; gpu:0 too small: 20.0 GiB free')
  })

  test('a GPU without a usable backend is skipped with the reason its hive gave', () => {
    const noCuda = gpu(0, 139 * GIB, {
      backends: [{ backend: 'cuda', usable: false, reason: 'no CUDA build installed' }],
    })
    const p = choosePlacement('m', fleet({ h1: { devices: [device(122 * GIB), noCuda] } }))
    assert.equal(p.backend, 'cpu')
    assert.equal(
      p.reason,
      'cpu:0, 122 GiB free: no GPU can take it; gpu:0 skipped: no usable backend (cuda: no CUDA build installed)',
    )
  })

  test('a GPU runs the backend its hive found usable there', () => {
    const vulkan = gpu(0, 139 * GIB, {
      backend: 'vulkan',
      backends: [
        { backend: 'cuda', usable: false, reason: 'no CUDA build installed' },
        { backend: 'vulkan', usable: true },
      ],
    })
    const p = choosePlacement('m', fleet({ h1: { devices: [device(122 * GIB), vulkan] } }))
    assert.equal(p.backend, 'vulkan')
    assert.equal(p.reason, 'gpu:0 vulkan, 139 GiB free; cpu:0 not chosen: a GPU fits')
  })

  test('with no GPU anywhere the CPU that fits best is chosen', () => {
    const hives = fleet({ small: { devices: [device(50 * GIB)] }, large: { devices: [device(120 * GIB)] } })
    const p = choosePlacement('m', hives)
    assert.equal(p.hive.id, 'small')
    assert.equal(
      p.reason,
      'small/cpu:0, 50.0 GiB free: no GPU reported; large/cpu:0 not chosen: 120 GiB free, small/cpu:0 is the tighter fit',
    )
  })

  test('among GPUs one that runs no worker of the model comes first, then the tightest fit', () => {
    const p = choosePlacement(
      'm',
      fleet({
        h1: {
          devices: [device(122 * GIB), gpu(0, 41 * GIB), gpu(1, 80 * GIB), gpu(2, 50 * GIB)],
          workers: [onGpu('w0', 0, { model_id: 'm' })],
        },
      }),
    )
    assert.equal(p.selection, 2)
    assert.equal(
      p.reason,
      'gpu:2 cuda, 50.0 GiB free; cpu:0 not chosen: a GPU fits; gpu:0 not chosen: runs m already; ' +
        'gpu:1 not chosen: 80.0 GiB free, gpu:2 is the tighter fit',
    )
  })

  test('between GPUs that fit alike the one with fewer workers, then fewer busy slots, is chosen', () => {
    const workers = [
      onGpu('a', 0, { model_id: 'other' }),
      onGpu('b', 0, { model_id: 'third' }),
      onGpu('c', 1, { model_id: 'other', slots_busy: 4 }),
    ]
    const three = [gpu(0, 60 * GIB), gpu(1, 60 * GIB), gpu(2, 60 * GIB)]
    const p = choosePlacement('m', fleet({ h1: { devices: three, workers } }))
    assert.equal(p.selection, 2)
    assert.equal(
      p.reason,
      'gpu:2 cuda, 60.0 GiB free; gpu:0 not chosen: busier (2 workers, 0 busy slots); ' +
        'gpu:1 not chosen: busier (1 worker, 4 busy slots)',
    )
    const two = three.slice(0, 2)
    assert.equal(choosePlacement('m', fleet({ h1: { devices: two, workers } })).selection, 1)
    const alike = [
      onGpu('a', 0, { slots_busy: 3, model_id: 'other' }),
      onGpu('c', 1, { slots_busy: 1, model_id: 'other' }),
    ]
    assert.equal(choosePlacement('m', fleet({ h1: { devices: two, workers: alike } })).selection, 1)
  })

  test('memory promised to spawns in flight is not free', () => {
    const hives = fleet({ h1: { devices: [device(122 * GIB), gpu(0, 45 * GIB), gpu(1, 90 * GIB)] } })
    assert.equal(choosePlacement('m', hives).selection, 0)
    const p = choosePlacement('m', hives, { reserved: new Map([['h1/gpu:0', 40 * GIB]]) })
    assert.equal(p.selection, 1)
    assert.match(p.reason, /gpu:0 too small: 5\.00 GiB free \(40\.0 GiB more promised to spawns in flight\)/)
  })

  test('a GPU on another hive beats the CPU of this one', () => {
    const hives = fleet({
      here: { devices: [device(122 * GIB)] },
      there: { devices: [device(8 * GIB), gpu(0, 139 * GIB)] },
    })
    const p = choosePlacement('m', hives)
    assert.deepEqual([p.hive.id, p.selection], ['there', 0])
    assert.equal(
      p.reason,
      'there/gpu:0 cuda, 139 GiB free; here/cpu:0 not chosen: a GPU fits; there/cpu:0 too small: 8.00 GiB free',
    )
  })

  test('a model too big for any one GPU is split across GPUs of one hive in proportion to their free memory', () => {
    const hives = fleet({
      h1: {
        needMb: 120_000,
        devices: [
          device(200 * GIB),
          gpu(0, 60_000),
          gpu(1, 80_000),
          gpu(2, 30_000),
          gpu(3, 90_000, { backend: 'vulkan' }),
        ],
      },
    })
    const p = choosePlacement('m', hives)
    assert.equal(p.backend, 'cuda')
    assert.deepEqual(p.selection, [1, 0])
    assert.deepEqual(
      p.shares.map((s) => [s.device.id, s.mb]),
      [
        ['gpu:1', 68_572],
        ['gpu:0', 51_429],
      ],
    )
    assert.match(
      p.reason,
      /^split across 2 GPUs \(cuda\): gpu:1 67\.0 GiB of 78\.1 GiB free, gpu:0 50\.2 GiB of 58\.6 GiB free; /,
    )
    assert.match(p.reason, /cpu:0 not chosen: GPUs fit together/)
  })

  test('GPUs of different backends are not split across, and one GPU elsewhere beats a split', () => {
    const mixed = {
      needMb: 120_000,
      devices: [device(200 * GIB), gpu(0, 70_000), gpu(1, 70_000, { backend: 'vulkan' })],
    }
    assert.equal(choosePlacement('m', fleet({ h1: mixed })).backend, 'cpu')
    const cuda = { needMb: 120_000, devices: [gpu(0, 70_000), gpu(1, 70_000)] }
    assert.deepEqual(choosePlacement('m', fleet({ h1: cuda })).selection, [0, 1])
    const big = { needMb: 120_000, devices: [gpu(0, 130_000)] }
    const p = choosePlacement('m', fleet({ h1: cuda, h2: big }))
    assert.deepEqual([p.hive.id, p.selection], ['h2', 0])
  })

  test('the split over the fewest GPUs is chosen, on any hive and with any backend', () => {
    const cuda = (i: number) => gpu(i, 50_000)
    const vulkan = (i: number) => gpu(i, 70_000, { backend: 'vulkan' })
    const three = { needMb: 120_000, devices: [cuda(0), cuda(1), cuda(2), vulkan(3), vulkan(4)] }
    const p = choosePlacement('m', fleet({ h1: three }))
    assert.deepEqual([p.backend, p.selection], ['vulkan', [3, 4]])
    const q = choosePlacement(
      'm',
      fleet({
        h1: { ...three, devices: three.devices.slice(0, 3) },
        h2: { needMb: 120_000, devices: [cuda(0), vulkan(1), vulkan(2)] },
      }),
    )
    assert.deepEqual([q.hive.id, q.selection], ['h2', [1, 2]])
  })

  test('a device blocked for failed spawns is skipped and the reason says why', () => {
    const hives = fleet({ h1: { devices: [device(122 * GIB), gpu(0, 139 * GIB)] } })
    const p = choosePlacement('m', hives, {
      blocked: (hive, dev) => (hive === 'h1' && dev === 'gpu:0' ? 'spawns of m failed here' : undefined),
    })
    assert.equal(p.backend, 'cpu')
    assert.equal(p.reason, 'cpu:0, 122 GiB free: no GPU can take it; gpu:0 skipped: spawns of m failed here')
  })

  test('a model that fits nowhere is refused with what it needs, what is free and why devices were skipped', () => {
    const broken = gpu(1, 139 * GIB, {
      backends: [{ backend: 'cuda', usable: false, reason: 'driver too old' }],
    })
    const hives = fleet({ a: { devices: [device(1500), gpu(0, 2 * GIB), broken] }, b: { devices: [] } })
    assert.throws(
      () => choosePlacement('m', hives),
      (e: unknown) =>
        e instanceof RbeeError &&
        e.code === 'RBEE_NO_CAPACITY' &&
        e.message ===
          'model m needs 40.0 GiB, no device can take it: a/cpu:0 too small: 1.46 GiB free; a/gpu:0 too small: 2.00 GiB free; ' +
            'a/gpu:1 skipped: no usable backend (cuda: driver too old); b: no devices reported yet',
    )
  })
})
