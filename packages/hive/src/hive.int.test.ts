import assert from 'node:assert/strict'
import { chmod, copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import {
  CapabilitiesSchema,
  HealthSchema,
  HiveInfoSchema,
  type HiveStreamEvent,
  type HiveWorker,
  HiveWorkerSchema,
  type ModelEntry,
  ModelEntrySchema,
  WorkerSpawnResultSchema,
} from '@rbee/contracts'
import { writeGguf } from '@rbee/gguf'
import {
  HiveStreamWatcher,
  type JobRun,
  NVIDIA_SMI_FIXTURE,
  PROBE_FIXTURES,
  payloadOf,
  postJob,
  probeFixturePath,
  readJob,
  runJob,
  type StartedHive,
  startHive,
  tinyModelPath,
} from '@rbee/testing'

// The test doubles here: nvidia-smi and the backend probe's answer (two NVIDIA GPUs the CUDA
// build sees), since this machine has no NVIDIA GPU.

let hive: StartedHive
let watcher: HiveStreamWatcher
let scratch: string
let smiApps: string

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'rbee-hive-int-'))
  smiApps = join(scratch, 'compute-apps.csv')
  await chmod(NVIDIA_SMI_FIXTURE, 0o755)
  hive = await startHive({
    nvidiaSmi: NVIDIA_SMI_FIXTURE,
    args: [
      '--telemetry-interval-ms',
      '200',
      '--max-restarts',
      '2',
      '--restart-backoff-ms',
      '150',
      '--worker-stop-grace-ms',
      '5000',
      '--import-dir',
      scratch,
    ],
    // Secrets the hive's environment holds, which its workers must not inherit.
    env: {
      RBEE_FIXTURE_PROBE: probeFixturePath(PROBE_FIXTURES.cuda),
      RBEE_FIXTURE_SMI_APPS: smiApps,
      HF_TOKEN: 'hf_secret_of_the_hive',
      OPENAI_API_KEY: 'sk-secret-of-the-hive',
      LC_MEASUREMENT: 'C',
    },
  })
  watcher = await HiveStreamWatcher.open(hive.url)
})

after(async () => {
  watcher?.close()
  await hive?.close()
  await rm(scratch, { recursive: true, force: true })
})

const spawnOp = (model: string, ctxSize = 512) => ({
  operation: 'worker_spawn',
  model,
  worker: 'cpu',
  slots: 1,
  ctx_size: ctxSize,
})

async function spawn(
  model = 'tiny',
  ctxSize = 512,
): Promise<{ run: JobRun; worker_id: string; port: number; pid: number; url: string }> {
  const mark = watcher.mark()
  const run = await runJob(hive.url, spawnOp(model, ctxSize))
  const result = WorkerSpawnResultSchema.parse(payloadOf(run, 'worker_spawned'))
  // The stream is another connection: let its ready event arrive before the test goes on.
  await watcher.waitFor(isWorker('worker_ready', result.worker_id), { from: mark })
  return { run, ...result }
}

async function workerView(id: string): Promise<HiveWorker> {
  return HiveWorkerSchema.parse(
    payloadOf(await runJob(hive.url, { operation: 'worker_get', worker_id: id }), 'worker'),
  )
}

async function workerIds(): Promise<string[]> {
  const run = await runJob(hive.url, { operation: 'worker_list' })
  return payloadOf<{ workers: unknown[] }>(run, 'worker_list').workers.map(
    (w) => HiveWorkerSchema.parse(w).worker.id,
  )
}

async function stopWorker(id: string): Promise<JobRun> {
  return runJob(hive.url, { operation: 'worker_stop', worker_id: id })
}

async function model(ref: string): Promise<ModelEntry> {
  return ModelEntrySchema.parse(
    payloadOf(await runJob(hive.url, { operation: 'model_get', model: ref }), 'model'),
  )
}

function alive(pid: number): Promise<boolean> {
  return stat(`/proc/${pid}`).then(
    () => true,
    () => false,
  )
}

async function parentOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/^PPid:\s+(\d+)/m.exec(status)?.[1])
}

const isExit = (id: string) => (e: HiveStreamEvent) => e.type === 'worker_exited' && e.worker_id === id
const isWorker = (type: 'worker_spawned' | 'worker_ready', id: string) => (e: HiveStreamEvent) =>
  e.type === type && e.worker.id === id

test('a hive answers /health and reports its CPU and the GPUs nvidia-smi lists', async () => {
  const health = HealthSchema.parse(await (await fetch(`${hive.url}/health`)).json())
  assert.equal(health.service, 'rbee-hive')
  assert.equal(health.status, 'ok')

  // Devices carry the backends once the probe has run; hive_check waits for it.
  await runJob(hive.url, { operation: 'hive_check' })
  const caps = CapabilitiesSchema.parse(await (await fetch(`${hive.url}/v1/capabilities`)).json())
  const vulkanReason =
    'the Vulkan loader is missing (libvulkan.so.1 does not load): install libvulkan1 (Debian, Ubuntu) or vulkan-loader (Fedora, Arch)'
  assert.equal(caps.hive_id, 'test-hive')
  const cpu = caps.devices.find((d) => d.id === 'cpu:0')
  assert.ok(cpu && cpu.memory_total_mb > 0 && cpu.memory_free_mb > 0, 'the CPU device carries RAM figures')
  assert.deepEqual(
    caps.devices.filter((d) => d.type === 'gpu'),
    [
      {
        id: 'gpu:0',
        name: 'NVIDIA GeForce RTX 4090',
        type: 'gpu',
        memory_total_mb: 24564,
        memory_free_mb: 20011,
        backend: 'cuda',
        backends: [
          { backend: 'cuda', usable: true },
          { backend: 'vulkan', usable: false, reason: vulkanReason },
        ],
      },
      {
        id: 'gpu:1',
        name: 'NVIDIA A100-SXM4-80GB',
        type: 'gpu',
        memory_total_mb: 81920,
        memory_free_mb: 81037,
        backend: 'cuda',
        backends: [
          { backend: 'cuda', usable: true },
          { backend: 'vulkan', usable: false, reason: vulkanReason },
        ],
      },
    ],
  )
  const info = HiveInfoSchema.parse(await (await fetch(`${hive.url}/v1/info`)).json())
  assert.equal(info.operational_status, 'running')
  assert.equal(info.port, hive.port)
})

test('bad input to the jobs API is answered with 400 naming the field', async () => {
  const cases: Array<[unknown, string]> = [
    [{ operation: 'worker_spawn', model: 'tiny', slots: 0 }, 'slots'],
    [{ operation: 'worker_spawn', model: '../etc/passwd' }, 'model'],
    [{ operation: 'worker_spawn', model: 'tiny', worker: 'tpu' }, 'worker'],
    [{ operation: 'worker_stop' }, 'worker_id'],
    [{ operation: 'model_list', bogus: true }, 'bogus'],
    [{ operation: 'format_disk' }, 'operation'],
  ]
  for (const [op, path] of cases) {
    const { status, body } = await postJob(hive.url, op)
    assert.equal(status, 400, JSON.stringify(op))
    const error = body.error as { code: string; details: { issues: Array<{ path: string }> } }
    assert.equal(error.code, 'RBEE_VALIDATION')
    assert.ok(
      error.details.issues.some((i) => i.path === path),
      `${JSON.stringify(op)} should name ${path}: ${JSON.stringify(error)}`,
    )
  }
  const malformed = await postJob(hive.url, '{"operation": ')
  assert.equal(malformed.status, 400)
  assert.equal((malformed.body.error as { code: string }).code, 'RBEE_BAD_REQUEST')
})

test('an operation for another hive, or for the queen, is refused before a job starts', async () => {
  const other = await postJob(hive.url, { operation: 'worker_list', hive_id: 'other-hive' })
  assert.equal(other.status, 404)
  const err = other.body.error as { code: string; message: string }
  assert.equal(err.code, 'RBEE_HIVE_NOT_FOUND')
  assert.match(err.message, /this is hive test-hive.*names hive other-hive/)

  const queenOnly = await postJob(hive.url, { operation: 'status' })
  assert.equal(queenOnly.status, 400)
  assert.match((queenOnly.body.error as { message: string }).message, /queen-rbee/)

  const mine = await postJob(hive.url, { operation: 'worker_list', hive_id: 'test-hive' })
  assert.equal(mine.status, 201)
})

test('worker_spawn runs a real worker on a port the OS picked, seen in worker_list, telemetry and GPU figures, until worker_stop', async (t) => {
  const mark = watcher.mark()
  const w = await spawn()
  const actions = w.run.narrations.map((n) => n.action)
  assert.ok(actions.includes('spawn_check') && actions.includes('spawn_ready'), actions.join(','))
  assert.match(
    w.run.narrations.find((n) => n.action === 'spawn_check')!.human,
    /needs ~\d+ MB; \d+ MB free on cpu:0/,
  )
  assert.ok(w.run.narrations.some((n) => n.action === 'spawn_loading' && n.progress !== undefined))
  assert.ok(w.port > 0)
  assert.equal(await parentOf(w.pid), hive.pid, 'the worker is a child of the hive')

  const health = await fetch(`${w.url}/health`)
  assert.equal(health.status, 200, 'the worker answers at the URL the spawn returned')

  await watcher.waitFor(isWorker('worker_spawned', w.worker_id), { from: mark })
  const ready = await watcher.waitFor(isWorker('worker_ready', w.worker_id), { from: mark })
  assert.ok(
    ready.event.type === 'worker_ready' && ready.event.worker.port === w.port && ready.event.pid === w.pid,
  )

  assert.ok((await workerIds()).includes(w.worker_id))
  const view = await workerView(w.worker_id)
  assert.equal(view.worker.status, 'ready')
  assert.equal(view.pid, w.pid)
  assert.equal(view.worker.device, 'cpu:0')

  const tele = await watcher.waitFor(
    (e) => e.type === 'telemetry' && e.workers.some((s) => s.pid === w.pid && s.status === 'ready'),
    { from: mark },
  )
  assert.ok(tele.event.type === 'telemetry')
  const stats = tele.event.workers.find((s) => s.pid === w.pid)!
  assert.equal(stats.instance, String(w.port), 'ProcessStats.instance is the worker port')
  assert.equal(stats.worker_id, w.worker_id)
  assert.equal(stats.model, 'tiny')
  assert.ok(stats.rss_mb > 10, `rss_mb ${stats.rss_mb}`)
  assert.ok(tele.event.worker_infos.some((i) => i.id === w.worker_id && i.port === w.port))
  t.diagnostic(
    `worker ${w.worker_id}: rss ${stats.rss_mb} MB, cpu ${stats.cpu_pct}%, uptime ${stats.uptime_s}s`,
  )

  // nvidia-smi (the fixture) now puts this worker on GPU 0.
  await writeFile(smiApps, `${w.pid}, 1450, GPU-5b2c1d8e-9f3a-4c7e-a1b2-3d4e5f6a7b8c\n`)
  const gpu = await watcher.waitFor(
    (e) => e.type === 'telemetry' && e.workers.some((s) => s.pid === w.pid && s.vram_mb > 0),
    { from: watcher.mark() },
  )
  assert.ok(gpu.event.type === 'telemetry')
  const g = gpu.event.workers.find((s) => s.pid === w.pid)!
  assert.deepEqual([g.vram_mb, g.gpu_util_pct, g.total_vram_mb], [1450, 87, 24564])
  await rm(smiApps, { force: true })

  const stopMark = watcher.mark()
  const stopped = await stopWorker(w.worker_id)
  assert.equal(stopped.outcome, 'done', stopped.message ?? '')
  assert.match(stopped.narrations.map((n) => n.human).join('\n'), /SIGTERM/)
  const exit = await watcher.waitFor(isExit(w.worker_id), { from: stopMark })
  assert.ok(exit.event.type === 'worker_exited')
  assert.equal(exit.event.expected, true)
  assert.equal(exit.event.restarting, false)
  assert.equal(await alive(w.pid), false)
  assert.ok(!(await workerIds()).includes(w.worker_id))
})

test("a real worker's environment holds what it needs and none of the hive's secrets (HF_TOKEN, API keys)", async (t) => {
  const w = await spawn()
  t.after(() => stopWorker(w.worker_id))
  const environ = await readFile(`/proc/${w.pid}/environ`, 'utf8')
  const env = new Map(
    environ
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  )
  t.diagnostic(`worker environment: ${[...env.keys()].sort().join(' ')}`)
  for (const secret of ['HF_TOKEN', 'HF_ENDPOINT', 'OPENAI_API_KEY', 'RBEE_FIXTURE_SMI_APPS'])
    assert.ok(!env.has(secret), `${secret} reached the worker`)
  assert.equal(env.get('PATH'), process.env.PATH)
  assert.equal(env.get('LC_MEASUREMENT'), 'C')
  assert.equal(env.get('UV_THREADPOOL_SIZE'), '1')
  assert.equal(env.get('RBEE_EXIT_WITH_STDIN'), '1')
  // The GPU drivers' caches, in directories the hive made under its data dir for every worker.
  const cache = join(hive.home, 'cache', 'gpu')
  assert.equal(env.get('MESA_SHADER_CACHE_DIR'), join(cache, 'mesa'))
  assert.equal(env.get('__GL_SHADER_DISK_CACHE'), '1')
  assert.equal(env.get('__GL_SHADER_DISK_CACHE_PATH'), join(cache, 'nvidia'))
  assert.equal(env.get('CUDA_CACHE_PATH'), join(cache, 'cuda'))
  for (const dir of ['mesa', 'nvidia', 'cuda']) assert.ok((await stat(join(cache, dir))).isDirectory(), dir)
})

test("a worker's busy slots reach worker_get and telemetry while it generates, and go back to 0 when it stops", async (t) => {
  // A 16k context: the tiny model writes thousands of tokens a second.
  const w = await spawn('tiny', 16_384)
  t.after(() => stopWorker(w.worker_id))
  const slotsIn = (busy: number, status: string) => (e: HiveStreamEvent) =>
    e.type === 'telemetry' &&
    e.worker_infos.some((i) => i.id === w.worker_id && i.slots_busy === busy && i.status === status)
  const mark = watcher.mark()
  const ac = new AbortController()
  const res = await fetch(`${w.url}/v1/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'Why do bees hum?', max_tokens: 16_000, seed: 1 }),
    signal: ac.signal,
  })
  assert.equal(res.status, 200)
  const reader = res.body!.getReader()
  await reader.read()
  await watcher.waitFor(slotsIn(1, 'busy'), { from: mark })
  const view = await workerView(w.worker_id)
  assert.deepEqual([view.worker.status, view.worker.slots_busy], ['busy', 1])

  const freed = watcher.mark()
  ac.abort()
  await reader.cancel().catch(() => {})
  await watcher.waitFor(slotsIn(0, 'ready'), { from: freed })
  const after = await workerView(w.worker_id)
  assert.deepEqual([after.worker.status, after.worker.slots_busy], ['ready', 0])
})

test('a worker killed with SIGKILL is reported on the stream within a second and restarted; one that keeps crashing is given up on with the reason kept', async (t) => {
  const path = join(scratch, 'crashy.gguf')
  await copyFile(await tinyModelPath(), path)
  const imported = await runJob(hive.url, { operation: 'model_import', path, id: 'crashy' })
  assert.equal(imported.outcome, 'done', imported.message ?? '')
  const w = await spawn('crashy')

  let mark = watcher.mark()
  const killedAt = performance.now()
  process.kill(w.pid, 'SIGKILL')
  const exit = await watcher.waitFor(isExit(w.worker_id), { from: mark, timeoutMs: 5000 })
  const latencyMs = exit.at - killedAt
  t.diagnostic(`exit of a SIGKILLed worker seen on the telemetry stream after ${latencyMs.toFixed(1)} ms`)
  assert.ok(latencyMs < 1000, `took ${latencyMs} ms`)
  assert.ok(exit.event.type === 'worker_exited')
  assert.equal(exit.event.signal, 'SIGKILL')
  assert.equal(exit.event.pid, w.pid)
  assert.equal(exit.event.port, w.port)
  assert.equal(exit.event.expected, false)
  assert.equal(exit.event.restarting, true)
  const back = await watcher.waitFor(isWorker('worker_ready', w.worker_id), { from: mark })
  assert.ok(back.event.type === 'worker_ready')
  assert.notEqual(back.event.pid, w.pid, 'a new process')
  t.diagnostic(
    `restarted as pid ${back.event.pid} on port ${back.event.worker.port} ${(back.at - exit.at).toFixed(0)} ms after the exit`,
  )
  const restarted = await workerView(w.worker_id)
  assert.equal(restarted.restarts, 1)
  assert.equal(restarted.worker.status, 'ready')
  assert.equal(restarted.last_exit?.signal, 'SIGKILL')

  const inUse = await runJob(hive.url, { operation: 'model_delete', model: 'crashy' })
  assert.equal(inUse.outcome, 'error')
  assert.match(inUse.message ?? '', new RegExp(`in use by worker ${w.worker_id}`))

  // The file goes bad on disk (same size, other bytes): every restart now fails its header check.
  const size = (await stat(path)).size
  await writeFile(path, Buffer.alloc(size, 0x21))
  mark = watcher.mark()
  const started = performance.now()
  process.kill(back.event.pid, 'SIGKILL')
  const final = await watcher.waitFor(
    (e) => e.type === 'worker_exited' && e.worker_id === w.worker_id && !e.restarting,
    {
      from: mark,
      timeoutMs: 30_000,
    },
  )
  const events = watcher.received.slice(mark).filter((r) => {
    const e = r.event
    return (
      (e.type === 'worker_exited' && e.worker_id === w.worker_id) ||
      (e.type === 'worker_spawned' && e.worker.id === w.worker_id)
    )
  })
  // Restart 2 of 2 is allowed; the crash after it is one too many.
  assert.deepEqual(
    events.map((r) => r.event.type),
    ['worker_exited', 'worker_spawned', 'worker_exited'],
  )
  t.diagnostic(
    `crash loop: gave up ${(final.at - started).toFixed(0)} ms after the kill; restart delay ${(events[1]!.at - events[0]!.at).toFixed(0)} ms (backoff 150 ms doubled once)`,
  )
  assert.ok(events[1]!.at - events[0]!.at >= 250, 'the second restart waits twice the first backoff')
  assert.ok(final.event.type === 'worker_exited')
  assert.match(
    final.event.reason,
    /gave up after 2 restarts within 60 s; last exit: exit code 1: RBEE_MODEL_INVALID/,
  )

  const view = await workerView(w.worker_id)
  assert.equal(view.worker.status, 'stopped')
  assert.equal(view.restarts, 2)
  assert.match(view.given_up ?? '', /gave up after 2 restarts/)
  assert.equal(view.last_exit?.exit_code, 1)
  assert.match(view.last_exit?.reason ?? '', /not a GGUF file/)
  const info = HiveInfoSchema.parse(await (await fetch(`${hive.url}/v1/info`)).json())
  assert.equal(info.health_status, 'degraded')

  const entry = await model('crashy')
  assert.equal(entry.available, false)
  assert.match(entry.unavailable_reason ?? '', /changed on disk/)

  await stopWorker(w.worker_id)
  const deleted = await runJob(hive.url, { operation: 'model_delete', model: 'crashy' })
  assert.equal(deleted.outcome, 'done', deleted.message ?? '')
  assert.deepEqual(payloadOf(deleted, 'model_deleted'), { id: 'crashy', file_removed: false })
  assert.ok((await stat(path)).isFile(), 'an imported file is left where it was')
})

test('a worker that fails to start is reported with the last lines of its log', async () => {
  // A GGUF file whose header is fine but which holds no tensors: llama.cpp cannot load it.
  const path = join(scratch, 'hollow.gguf')
  await writeGguf(path, {
    metadata: [
      { key: 'general.architecture', type: 'string', value: 'llama' },
      { key: 'llama.context_length', type: 'uint32', value: 512 },
    ],
    tensors: [],
  })
  assert.equal((await runJob(hive.url, { operation: 'model_import', path, id: 'hollow' })).outcome, 'done')
  const mark = watcher.mark()
  const run = await runJob(hive.url, spawnOp('hollow'))
  assert.equal(run.outcome, 'error')
  assert.match(run.message ?? '', /failed to start \(exit code 1: RBEE_ENGINE/)
  assert.match(run.message ?? '', /last log lines: .*could not load/)
  const exit = await watcher.waitFor((e) => e.type === 'worker_exited' && e.reason.includes('RBEE_ENGINE'), {
    from: mark,
  })
  assert.ok(exit.event.type === 'worker_exited' && !exit.event.restarting)
  const ids = await workerIds()
  assert.ok(!ids.includes(exit.event.worker_id), 'a worker that never started is not listed')
  const log = await readFile(join(hive.home, 'logs', `${exit.event.worker_id}.log`), 'utf8')
  assert.match(log, /could not load/)
})

test('model_import refuses a file that is not GGUF, and a relative path', async () => {
  const path = join(scratch, 'notes.gguf')
  await writeFile(path, 'these are my notes, not a model\n')
  const run = await runJob(hive.url, { operation: 'model_import', path })
  assert.equal(run.outcome, 'error')
  assert.match(run.message ?? '', /notes\.gguf is not a usable GGUF model: .*not a GGUF file/)
  const relative = await runJob(hive.url, { operation: 'model_import', path: 'models/x.gguf' })
  assert.match(relative.message ?? '', /must be absolute/)
  const list = payloadOf<{ models: ModelEntry[] }>(
    await runJob(hive.url, { operation: 'model_list' }),
    'model_list',
  )
  assert.ok(!list.models.some((m) => m.id === 'notes'))
  assert.ok(list.models.some((m) => m.id === 'tiny' && m.builtin && m.available))
})

test('model_import refuses a path outside the import dirs, alike whether it exists, and says where files may go', async () => {
  const outside = await mkdtemp(join(tmpdir(), 'rbee-hive-outside-'))
  try {
    await copyFile(await tinyModelPath(), join(outside, 'real.gguf'))
    const runs = await Promise.all(
      ['real.gguf', 'missing.gguf'].map((f) =>
        runJob(hive.url, { operation: 'model_import', path: join(outside, f) }),
      ),
    )
    const [real, missing] = runs.map((r) => {
      assert.equal(r.outcome, 'error')
      assert.match(r.message ?? '', /^RBEE_IMPORT_DENIED: cannot import /)
      return (r.message ?? '').replace(/real|missing/, 'X')
    })
    assert.equal(real, missing)
    assert.deepEqual(payloadOf(runs[0]!, 'import_denied'), {
      hive_id: 'test-hive',
      path: join(outside, 'real.gguf'),
      import_dirs: [join(hive.home, 'import'), join(hive.home, 'models'), scratch],
    })
    const inDrop = join(hive.home, 'import', 'dropped.gguf')
    await copyFile(await tinyModelPath(), inDrop)
    const dropped = await runJob(hive.url, { operation: 'model_import', path: inDrop })
    assert.equal(dropped.outcome, 'done', dropped.message ?? '')
    assert.equal(payloadOf<ModelEntry>(dropped, 'model').id, 'dropped')
  } finally {
    await rm(outside, { recursive: true, force: true })
  }
})

test('a model whose file vanished is reported as unavailable and not served; the built-in one cannot be deleted', async () => {
  const path = join(scratch, 'ghost.gguf')
  await copyFile(await tinyModelPath(), path)
  assert.equal((await runJob(hive.url, { operation: 'model_import', path, id: 'ghost' })).outcome, 'done')
  await rm(path)
  const list = await runJob(hive.url, { operation: 'model_list' })
  const ghost = payloadOf<{ models: ModelEntry[] }>(list, 'model_list').models.find((m) => m.id === 'ghost')
  assert.equal(ghost?.available, false)
  assert.match(ghost?.unavailable_reason ?? '', /has vanished/)
  assert.ok(list.narrations.some((n) => n.action === 'model_unavailable' && n.human.includes('ghost')))
  const spawnRun = await runJob(hive.url, spawnOp('ghost'))
  assert.equal(spawnRun.outcome, 'error')
  assert.match(spawnRun.message ?? '', /ghost is in the catalog but cannot be served: file .* has vanished/)

  const builtin = await runJob(hive.url, { operation: 'model_delete', model: 'tiny' })
  assert.match(builtin.message ?? '', /built-in model and cannot be deleted/)
})

test('worker_spawn refuses a worker that does not fit in free memory, naming needed and free MB', async () => {
  const ram = await runJob(hive.url, { ...spawnOp('tiny'), slots: 64, ctx_size: 1_048_576 })
  assert.equal(ram.outcome, 'error')
  assert.match(ram.message ?? '', /not enough memory for tiny on cpu:0: needs ~\d+ MB of RAM, \d+ MB free/)

  const vram = await runJob(hive.url, {
    ...spawnOp('tiny'),
    worker: 'cuda',
    device: 1,
    slots: 64,
    ctx_size: 1_048_576,
  })
  assert.match(
    vram.message ?? '',
    /on cuda:1: needs ~\d+ MB of VRAM, 81037 MB free \(NVIDIA A100-SXM4-80GB, 81920 MB total\)/,
  )

  const missing = await runJob(hive.url, { ...spawnOp('tiny'), worker: 'cuda', device: 5 })
  assert.match(missing.message ?? '', /no GPU 5 on this hive \(GPUs: gpu:0, gpu:1\)/)
})

test('a job-stream subscriber that reconnects with Last-Event-ID gets the events it missed', async () => {
  const { status, body } = await postJob(hive.url, { operation: 'hive_check' })
  assert.equal(status, 201)
  const jobId = String(body.job_id)
  const first = await readJob(hive.url, jobId, { until: (e) => e.id === 2 })
  assert.deepEqual(
    first.map((e) => e.id),
    [1, 2],
  )
  // Another subscriber follows the job to its end while the first one is away.
  const full = await readJob(hive.url, jobId)
  const rest = await readJob(hive.url, jobId, { lastEventId: 2 })
  assert.deepEqual(
    rest.map((e) => e.id),
    full.slice(2).map((e) => e.id),
  )
  assert.deepEqual([...first, ...rest], full)
  const end = rest.at(-1)
  assert.ok(end?.kind === 'end' && end.outcome === 'done', JSON.stringify(end))
  const check = rest.find((e) => e.kind === 'data')
  assert.ok(check?.kind === 'data' && (check.data.payload as { ok: boolean }).ok)
})
