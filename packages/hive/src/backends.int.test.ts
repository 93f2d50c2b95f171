import assert from 'node:assert/strict'
import { chmod } from 'node:fs/promises'
import { after, test } from 'node:test'
import {
  CapabilitiesSchema,
  type Device,
  HiveCheckSchema,
  HiveWorkerSchema,
  WorkerSpawnResultSchema,
} from '@rbee/contracts'
import {
  NVIDIA_SMI_FIXTURE,
  PROBE_FIXTURES,
  payloadOf,
  probeFixturePath,
  runJob,
  type StartedHive,
  type StartHiveOptions,
  startHive,
} from '@rbee/testing'

// Test doubles, since this machine has no GPU: nvidia-smi (NVIDIA_SMI_FIXTURE: an RTX 4090 and
// an A100) and the backend probe's answer (BACKEND_PROBE_FIXTURE printing the JSON result of
// another machine). Everything else is real: hives, jobs, and the workers that do start.
const NVIDIA_SMI = NVIDIA_SMI_FIXTURE

const hives: StartedHive[] = []
after(() => Promise.all(hives.map((h) => h.close())))

async function hiveWith(fixture: string, options: StartHiveOptions = {}): Promise<StartedHive> {
  await chmod(NVIDIA_SMI, 0o755)
  const hive = await startHive({
    ...options,
    env: { RBEE_FIXTURE_PROBE: probeFixturePath(fixture), ...options.env },
  })
  hives.push(hive)
  return hive
}

async function devicesOf(hive: StartedHive): Promise<Device[]> {
  // hive_check waits for the probe the hive runs at start.
  HiveCheckSchema.parse(payloadOf(await runJob(hive.url, { operation: 'hive_check' }), 'hive_check'))
  return CapabilitiesSchema.parse(await (await fetch(`${hive.url}/v1/capabilities`)).json()).devices
}

const spawn = (extra: Record<string, unknown>) => ({
  operation: 'worker_spawn',
  model: 'tiny',
  slots: 1,
  ctx_size: 512,
  ...extra,
})

test('an NVIDIA GPU without the CUDA build is reported as Vulkan, and a cuda spawn there is refused with the reason', async () => {
  const hive = await hiveWith(PROBE_FIXTURES.nvidiaNoCuda, { nvidiaSmi: NVIDIA_SMI })
  const gpu0 = (await devicesOf(hive)).find((d) => d.id === 'gpu:0')!
  assert.equal(gpu0.backend, 'vulkan')
  assert.equal(gpu0.backends.find((b) => b.backend === 'vulkan')?.usable, true)
  assert.match(
    gpu0.backends.find((b) => b.backend === 'cuda')?.reason ?? '',
    /no CUDA build of llama\.cpp is installed: install the npm package @node-llama-cpp\/linux-x64-cuda/,
  )
  const run = await runJob(hive.url, spawn({ worker: 'cuda', device: 0 }))
  assert.equal(run.outcome, 'error')
  assert.match(
    run.message ?? '',
    /RBEE_BACKEND_UNUSABLE: CUDA cannot run on gpu:0 \(NVIDIA GeForce RTX 4090\): no CUDA build of llama\.cpp is installed/,
  )
  assert.ok(!run.narrations.some((n) => n.action === 'spawn_start'), 'no worker was started')
})

test('hive_check carries the probe and says which builds load', async () => {
  const hive = await hiveWith(PROBE_FIXTURES.nvidiaNoCuda, { nvidiaSmi: NVIDIA_SMI })
  const run = await runJob(hive.url, { operation: 'hive_check' })
  const check = HiveCheckSchema.parse(payloadOf(run, 'hive_check'))
  assert.deepEqual(
    check.backend_probe?.backends.map((b) => [b.backend, b.usable]),
    [
      ['cpu', true],
      ['cuda', false],
      ['vulkan', true],
      ['metal', false],
    ],
  )
  assert.match(
    run.narrations.find((n) => n.human.startsWith('llama.cpp builds:'))?.human ?? '',
    /^llama\.cpp builds: cpu, vulkan load; not cuda: no CUDA build of llama\.cpp is installed.*; metal: Metal runs only on macOS/,
  )
})

test('metal is refused on Linux before any worker starts', async () => {
  const hive = await hiveWith(PROBE_FIXTURES.cpuOnly)
  for (const device of [undefined, 0]) {
    const run = await runJob(
      hive.url,
      spawn({ worker: 'metal', ...(device === undefined ? {} : { device }) }),
    )
    assert.equal(run.outcome, 'error')
    assert.match(
      run.message ?? '',
      /RBEE_BACKEND_UNUSABLE: .*Metal runs only on macOS \(this machine runs linux\)/,
    )
  }
})

test('two GPUs: a spawn without a device lands on the one with room, and the narration says why', async () => {
  const hive = await hiveWith(PROBE_FIXTURES.twoAmdGpus)
  const devices = await devicesOf(hive)
  assert.deepEqual(
    devices.map((d) => [d.id, d.backend, d.memory_free_mb]),
    [
      ['cpu:0', 'cpu', devices[0]!.memory_free_mb],
      ['gpu:0', 'vulkan', 100],
      ['gpu:1', 'vulkan', 6000],
    ],
  )
  // The worker itself cannot run Vulkan on this machine; where the hive sent it is what counts.
  const run = await runJob(hive.url, spawn({ worker: 'auto' }), { timeoutMs: 120_000 })
  const place = run.narrations.find((n) => n.action === 'spawn_place')
  assert.match(
    place?.human ?? '',
    /^placing tiny on vulkan:1 \(gpu:1 AMD Radeon PRO W7900 \(RADV NAVI31\)\): the best fit for ~\d+ MB: 6000 MB free \(gpu:0 100 MB\)$/,
  )
  assert.match(run.narrations.find((n) => n.action === 'spawn_start')?.human ?? '', / on vulkan:1$/)
})

test('auto on a machine whose GPUs have no usable backend runs on the CPU and says why', async () => {
  const hive = await hiveWith(PROBE_FIXTURES.noVulkanLoader, { nvidiaSmi: NVIDIA_SMI })
  const run = await runJob(hive.url, spawn({ worker: 'auto' }), { timeoutMs: 120_000 })
  assert.equal(run.outcome, 'done', run.message ?? '')
  assert.match(
    run.narrations.find((n) => n.action === 'spawn_place')?.human ?? '',
    /^placing tiny on cpu:0 .*: no GPU backend works here \(gpu:0 NVIDIA GeForce RTX 4090: cuda: no CUDA build .*; vulkan: the Vulkan loader is missing/,
  )
  const spawned = WorkerSpawnResultSchema.parse(payloadOf(run, 'worker_spawned'))
  const view = HiveWorkerSchema.parse(
    payloadOf(await runJob(hive.url, { operation: 'worker_get', worker_id: spawned.worker_id }), 'worker'),
  )
  assert.equal(view.worker.device, 'cpu:0')
  await runJob(hive.url, { operation: 'worker_stop', worker_id: spawned.worker_id })
})

test('a probe that crashes on one build leaves the hive up and that build unusable with how it ended', async () => {
  const hive = await hiveWith(PROBE_FIXTURES.nvidiaNoCuda, {
    nvidiaSmi: NVIDIA_SMI,
    env: { RBEE_FIXTURE_PROBE_CRASH: 'cuda' },
  })
  const gpu1 = (await devicesOf(hive)).find((d) => d.id === 'gpu:1')!
  assert.match(gpu1.backends.find((b) => b.backend === 'cuda')?.reason ?? '', /crashed \(signal SIGSEGV\)/)
  // The builds after the crash were probed again without it.
  assert.equal(gpu1.backend, 'vulkan')
  assert.equal((await fetch(`${hive.url}/health`)).status, 200)
})

test('a hive with the real probe on this machine reports the CPU build usable and a reason for each GPU build', async () => {
  const hive = await startHive({ backendProbe: 'real' })
  hives.push(hive)
  const run = await runJob(hive.url, { operation: 'hive_check' }, { timeoutMs: 90_000 })
  const probe = HiveCheckSchema.parse(payloadOf(run, 'hive_check')).backend_probe
  assert.ok(probe)
  assert.equal(probe.backends.find((b) => b.backend === 'cpu')?.usable, true)
  for (const b of probe.backends)
    assert.ok(b.usable || (b.reason && b.reason.length > 0), `${b.backend} has no reason`)
  const cpu = (await devicesOf(hive)).find((d) => d.id === 'cpu:0')!
  assert.deepEqual(cpu.backends, [{ backend: 'cpu', usable: true }])
})
