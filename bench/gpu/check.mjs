#!/usr/bin/env node
// The GPU check (issue 15): does a GPU worker land on the GPU, answer its first burst without a
// cold stall, and scale with concurrent requests? Not a test and not CI: one unattended run of a
// few minutes on a machine with a GPU, from the bundle bench/gpu/pack.sh builds (run it through
// bench/gpu/run.sh there, which also sets up Vulkan). On a machine without a GPU it runs the CPU
// parts and says which GPU parts it skipped. Figures: <out>/gpu-check.json and gpu-check.md.
//
//   node bench/gpu/check.mjs [--out DIR] [--model gpu|large|bench] [--gpu-backend auto|vulkan|cuda]
//        [--threads 1,2,4,8] [--gpu-tokens 128] [--cpu-tokens 32] [--rounds 2] [--slots 16]
//        [--ctx-size 1024] [--budget-s 450] [--skip-cpu]
//
// Steps (each one recorded with its outcome; a failed step does not stop the others):
//  1. the machine, `rbee doctor --json` (skipped with a note where the CLI has no doctor), and a
//     probe of which llama.cpp GPU backend loads here;
//  2. a generated model (@rbee/gguf; `gpu`: a ~415M-parameter F16 llama, 16 layers of 1536);
//  3. a queen with its own local hive, the model imported;
//  4. GPU, cold: a worker started directly with --warmup off and empty driver caches: one request,
//     then 4 and 16 at once (the stall of issue 15, for comparison);
//  5. GPU, as users get it: worker_spawn with `auto` through the queen (must land on a GPU; if it
//     fails, the GPU backend is asked for by name), its warm-up time from its log, then 4 and 16
//     requests at once right after ready (time to first token), then 1/4/16 concurrent requests;
//  6. GPU, a second worker: warm-up time with the caches the first one filled;
//  7. GPU threads: workers started directly with --threads 1, 2, 4, 8 at 1/4/16 concurrent;
//  8. CPU: a worker through the queen (`cpu`, or `auto` where there is no GPU) at 1/4/16.
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { BENCH_LARGE_MODEL_SPEC, BENCH_MODEL_SPEC, TINY_MODEL_SPEC, writeLlamaModel } from '@rbee/gguf'
import { burst, complete, throughput } from './load.mjs'
import { killAll, payloadOf, runJob, startQueen, startWorker, warmupOf } from './processes.mjs'
import { markdown } from './report.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..')
const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    work: { type: 'string' },
    model: { type: 'string', default: 'gpu' },
    'gpu-backend': { type: 'string', default: 'auto' },
    threads: { type: 'string', default: '1,2,4,8' },
    'gpu-tokens': { type: 'string', default: '128' },
    'cpu-tokens': { type: 'string', default: '32' },
    rounds: { type: 'string', default: '2' },
    slots: { type: 'string', default: '16' },
    'ctx-size': { type: 'string', default: '1024' },
    'budget-s': { type: 'string', default: '450' },
    'skip-cpu': { type: 'boolean', default: false },
  },
})

/** The generated models: `gpu` is the one the check is sized for. */
const MODELS = {
  gpu: {
    name: 'gpu-check',
    seed: 0x6b0c,
    contextLength: 4096,
    embeddingLength: 1536,
    blockCount: 16,
    feedForwardLength: 4096,
    headCount: 16,
    headCountKv: 8,
    weightType: 'F16',
  },
  large: BENCH_LARGE_MODEL_SPEC,
  bench: BENCH_MODEL_SPEC,
  // For trying the check's GPU steps on a slow device (a software Vulkan driver).
  tiny: TINY_MODEL_SPEC,
}
const spec = MODELS[values.model]
if (!spec) {
  console.error(`--model must be one of ${Object.keys(MODELS).join(', ')}`)
  process.exit(2)
}
const MODEL_ID = 'gpu-check'
const slots = Number(values.slots)
// A worker takes as many requests at once as it has slots (then it answers 503).
const CONCURRENCY = [1, 4, 16].filter((c) => c <= slots)
const ctxSize = Number(values['ctx-size'])
const rounds = Number(values.rounds)
const gpuTokens = Number(values['gpu-tokens'])
const cpuTokens = Number(values['cpu-tokens'])
const threadsList = values.threads ? values.threads.split(',').map(Number) : []
const budgetMs = Number(values['budget-s']) * 1000
const out = resolve(values.out ?? process.env.OUT ?? join(root, 'bench/out/gpu-check'))
const work = values.work ? resolve(values.work) : mkdtempSync(join(tmpdir(), 'rbee-gpu-check-'))
const home = join(work, 'home')
const importDir = join(work, 'import')
for (const d of [out, join(out, 'logs'), home, importDir]) mkdirSync(d, { recursive: true })
const logs = join(out, 'logs')

const t0 = performance.now()
const left = () => budgetMs - (performance.now() - t0)
const secs = (ms) => Math.round(ms / 100) / 10
const results = {
  started: new Date().toISOString(),
  options: { ...values, concurrency: CONCURRENCY },
  machine: {},
  steps: [],
  notes: [],
  goals: [],
}

/** Writes the figures so far: after every step, so a run cut off by its caller still leaves them. */
function save() {
  results.elapsed_s = secs(performance.now() - t0)
  writeFileSync(join(out, 'gpu-check.json'), `${JSON.stringify(results, null, 2)}\n`)
  writeFileSync(join(out, 'gpu-check.md'), markdown(results))
}

/** The end, normal or not: the time goal, the files, the children gone. */
function finish() {
  killAll()
  results.goals = results.goals.filter((g) => g.name !== 'the whole check')
  const elapsed = secs(performance.now() - t0)
  goal('the whole check', '< 8 min', `${elapsed} s`, elapsed < 480)
  save()
  // The model alone is ~800 MB; a --work dir is kept for the next run.
  if (!values.work) rmSync(work, { recursive: true, force: true })
}

// A step that hangs must not cost the figures of the others.
setTimeout(() => {
  console.log(`over the budget of ${budgetMs / 1000} s by 30 s: stopping`)
  results.error = `stopped: over the budget of ${budgetMs / 1000} s by 30 s`
  finish()
  console.log(markdown(results))
  process.exit(1)
}, budgetMs + 30_000).unref()

function note(text) {
  console.log(`  note: ${text}`)
  results.notes.push(text)
}

/** Runs one step; records its outcome and time; a failure is recorded, not thrown. */
async function step(name, fn, { needS = 0 } = {}) {
  if (left() < needS * 1000) {
    console.log(`- ${name}: skipped (${Math.round(left() / 1000)} s left, needs ~${needS} s)`)
    results.steps.push({ name, outcome: 'skipped', reason: `not enough time left (needs ~${needS} s)` })
    return undefined
  }
  const started = performance.now()
  console.log(`- ${name} …`)
  try {
    const value = await fn()
    const s = secs(performance.now() - started)
    console.log(`  ok (${s} s)`)
    results.steps.push({ name, outcome: 'ok', s })
    return value
  } catch (err) {
    const s = secs(performance.now() - started)
    console.log(`  FAILED (${s} s): ${err?.message ?? err}`)
    results.steps.push({ name, outcome: 'failed', s, error: String(err?.message ?? err) })
    return undefined
  } finally {
    save()
  }
}

function skip(name, reason) {
  console.log(`- ${name}: skipped (${reason})`)
  results.steps.push({ name, outcome: 'skipped', reason })
}

function goal(name, target, value, pass) {
  results.goals.push({ name, target, value, pass })
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000, ...options })
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error }
}

/** The environment that puts the GPU drivers' caches under `dir` (as a hive does for its workers). */
function cacheEnv(dir) {
  for (const d of ['mesa', 'nvidia', 'cuda']) mkdirSync(join(dir, d), { recursive: true })
  return {
    MESA_SHADER_CACHE_DIR: join(dir, 'mesa'),
    __GL_SHADER_DISK_CACHE: '1',
    __GL_SHADER_DISK_CACHE_PATH: join(dir, 'nvidia'),
    CUDA_CACHE_PATH: join(dir, 'cuda'),
  }
}

/** Waits until the queen lists `workerId` as ready (its registry hears of it through the hive's stream). */
async function queenSees(url, workerId, timeoutMs = 30_000) {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    const status = await runJob(url, { operation: 'status' }, 10_000)
    const fleet = status.data.at(-1)?.payload
    const w = fleet?.workers?.find((x) => x.id === workerId)
    if (w && (w.status === 'ready' || w.status === 'busy')) return w
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`the queen did not list worker ${workerId} as ready within ${timeoutMs} ms`)
}

/** Spawns a worker through the queen and waits until the queen routes to it. */
async function spawnThroughQueen(queen, op) {
  const t = performance.now()
  const job = await runJob(
    queen.url,
    { operation: 'worker_spawn', model: MODEL_ID, slots, ctx_size: ctxSize, ...op },
    Math.max(10_000, left()),
  )
  if (job.outcome !== 'done') {
    const err = new Error(`worker_spawn ${JSON.stringify(op)}: ${job.message}`)
    err.narrations = job.narrations
    throw err
  }
  const spawned = payloadOf(job, 'worker_spawned')
  const record = await queenSees(queen.url, spawned.worker_id)
  const warm = await warmupOf(join(home, 'logs', `${spawned.worker_id}.log`))
  return {
    id: spawned.worker_id,
    device: record.device,
    spawn_s: secs(performance.now() - t),
    warmup_ms: warm?.warmup_ms ?? null,
    warmup_log: warm?.msg ?? null,
    warmup_as_planned: warm?.as_planned ?? null,
    narrations: job.narrations,
  }
}

async function stopThroughQueen(queen, id) {
  await runJob(queen.url, { operation: 'worker_stop', worker_id: id }, 60_000)
  cpSync(join(home, 'logs', `${id}.log`), join(logs, `worker-${id}.log`), { force: true })
}

process.on('SIGINT', () => {
  killAll()
  process.exit(130)
})

let queen
try {
  // 1. The machine, rbee doctor, the GPU probe.
  const smi = run('nvidia-smi', ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader'])
  results.machine = {
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    memory_gb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    nvidia_smi: smi.code === 0 ? smi.stdout.trim() : null,
    vk_driver_files: process.env.VK_DRIVER_FILES ?? process.env.VK_ICD_FILENAMES ?? null,
    ld_library_path: process.env.LD_LIBRARY_PATH ?? null,
  }
  console.log(`machine: ${JSON.stringify(results.machine)}`)

  await step('rbee doctor --json', async () => {
    const r = run(process.execPath, [join(root, 'packages/cli/dist/main.js'), 'doctor', '--json'], {
      env: { ...process.env, RBEE_HOME: home },
    })
    if (/unknown command 'doctor'/.test(r.stderr)) {
      note('rbee doctor is not in this build: its step was skipped (the GPU probe below stands in)')
      results.doctor = { skipped: 'no doctor command in this build' }
      return
    }
    try {
      results.doctor = JSON.parse(r.stdout)
    } catch {
      throw new Error(`exit ${r.code}, not JSON: ${(r.stdout + r.stderr).slice(0, 500)}`)
    }
    console.log(`  doctor: ${JSON.stringify(results.doctor).slice(0, 800)}`)
  })

  const probe = await step('which llama.cpp GPU backend loads here', async () => {
    const r = run(process.execPath, [join(here, 'probe.mjs'), values['gpu-backend']], { timeout: 120_000 })
    const line = r.stdout.trim().split('\n').at(-1)
    if (!line) throw new Error(`the probe printed nothing: ${r.stderr.slice(0, 500)}`)
    const p = JSON.parse(line)
    // node-llama-cpp says why a binary does not load on stderr.
    if (p.error && r.stderr.trim()) p.error = `${p.error}: ${r.stderr.trim().slice(-800)}`
    console.log(`  probe: ${line}`)
    return p
  })
  results.probe = probe ?? null
  const gpuBackend = probe?.gpu && probe.devices.length > 0 ? probe.gpu : undefined
  if (!gpuBackend) {
    const why = probe?.gpu ? `${probe.gpu} loads but lists no device` : (probe?.error ?? 'none found')
    note(
      `no GPU backend loads here (${why}): the GPU steps (cold worker, auto spawn, first burst, threads) are skipped`,
    )
  }

  // 2. The model.
  const modelPath = join(importDir, `${spec.name}.gguf`)
  results.model = { spec }
  await step('generate the model', async () => {
    const t = performance.now()
    const digest = existsSync(modelPath) ? undefined : await writeLlamaModel(spec, modelPath)
    results.model.size_mb = digest ? Math.round(digest.size / 2 ** 20) : null
    results.model.generate_s = digest ? secs(performance.now() - t) : 'reused'
  })

  // 3. The queen and its local hive.
  const baseEnv = { ...process.env, RBEE_LOG_LEVEL: 'info' }
  queen = await step('start a queen with its local hive and import the model', async () => {
    const q = await startQueen({ root, home, importDir, env: baseEnv, logPath: join(logs, 'queen.log') })
    const job = await runJob(q.url, { operation: 'model_import', path: modelPath, id: MODEL_ID })
    if (job.outcome !== 'done') throw new Error(`model_import: ${job.message}`)
    return q
  })
  if (!queen) throw new Error('no queen: nothing else can run')

  results.gpu = gpuBackend ? { backend: gpuBackend } : { skipped: 'no GPU backend loads here' }
  const workerFlags = (extra) => ['--slots', String(slots), '--ctx-size', String(ctxSize), ...extra]

  if (gpuBackend) {
    // 4. Cold: no warm-up, empty caches.
    await step(
      'GPU, cold: --warmup off, empty driver caches: 1 request, then 4 and 16 at once',
      async () => {
        const w = await startWorker({
          root,
          model: modelPath,
          modelRef: MODEL_ID,
          flags: workerFlags(['--backend', gpuBackend, '--warmup', 'off']),
          env: { ...baseEnv, ...cacheEnv(join(work, 'cold-cache')) },
          logPath: join(logs, 'worker-cold.log'),
        })
        try {
          const one = await complete(w.url, MODEL_ID, { maxTokens: gpuTokens })
          results.gpu.cold = {
            ready_s: secs(w.readyMs),
            first_request: {
              ttft_ms: Math.round(one.ttftMs),
              tok_per_s: Math.round((one.tokens / one.ms) * 1000),
            },
          }
          for (const c of CONCURRENCY.slice(1))
            results.gpu.cold[`burst_${c}`] = await burst(w.url, MODEL_ID, c, { maxTokens: gpuTokens })
        } finally {
          await w.close()
        }
      },
      { needS: 30 },
    )

    // 5. As users get it: auto through the queen.
    const placed = await step(
      'GPU, auto through the queen: lands on a GPU, warm-up, first burst, 1/4/16 concurrent',
      async () => {
        let asked = { worker: 'auto' }
        let spawned
        try {
          spawned = await spawnThroughQueen(queen, asked)
        } catch (err) {
          results.gpu.auto_failed = { error: err.message, narrations: err.narrations ?? [] }
        }
        const autoDevice = spawned?.device ?? `failed: ${results.gpu.auto_failed.error}`
        goal(
          'worker_spawn auto lands on a GPU',
          'not cpu:*',
          autoDevice,
          spawned?.device.startsWith('cpu:') === false,
        )
        if (!spawned || spawned.device.startsWith('cpu:')) {
          if (spawned) {
            results.gpu.auto_placed = spawned
            await stopThroughQueen(queen, spawned.id)
          }
          note(`worker_spawn auto gave ${autoDevice}; asking for ${gpuBackend} on device 0 instead`)
          asked = { worker: gpuBackend, device: 0 }
          spawned = await spawnThroughQueen(queen, asked)
        }
        results.gpu.spawned = { asked, ...spawned }
        try {
          // Right after ready: no request before these.
          let ttft = 0
          for (const c of CONCURRENCY.slice(1)) {
            const b = await burst(queen.url, MODEL_ID, c, { maxTokens: gpuTokens })
            results.gpu[`first_burst_${c}`] = b
            ttft = Math.max(ttft, b.ttft_max_ms)
          }
          goal('first requests after ready: time to first token', '≤ 200 ms', `${ttft} ms`, ttft <= 200)
          const tp = await throughput(queen.url, MODEL_ID, {
            concurrencies: CONCURRENCY,
            rounds,
            maxTokens: gpuTokens,
          })
          results.gpu.throughput = tp
          for (const [c, target] of [
            [4, 2.5],
            [16, 6],
          ]) {
            if (tp[c])
              goal(
                `GPU: ${c} concurrent vs one request`,
                `≥ ${target}×`,
                `${tp[c].x_one}×`,
                tp[c].x_one >= target,
              )
          }
        } finally {
          await stopThroughQueen(queen, spawned.id)
        }
        return asked
      },
      { needS: 60 },
    )

    // 6. A second worker: the caches are warm now.
    if (placed) {
      await step(
        'GPU, a second worker through the queen: warm-up with warm caches',
        async () => {
          const again = await spawnThroughQueen(queen, placed)
          results.gpu.respawned = again
          await stopThroughQueen(queen, again.id)
        },
        { needS: 30 },
      )
    }

    // 7. Threads of a GPU worker.
    results.gpu.threads = {}
    for (const threads of threadsList) {
      await step(
        `GPU, --threads ${threads}: 1/4/16 concurrent`,
        async () => {
          const w = await startWorker({
            root,
            model: modelPath,
            modelRef: MODEL_ID,
            flags: workerFlags(['--backend', gpuBackend, '--threads', String(threads)]),
            env: { ...baseEnv, ...cacheEnv(join(home, 'cache', 'gpu')) },
            logPath: join(logs, `worker-threads-${threads}.log`),
          })
          try {
            results.gpu.threads[threads] = {
              warmup_ms: (await warmupOf(w.logPath))?.warmup_ms ?? null,
              ...(await throughput(w.url, MODEL_ID, {
                concurrencies: CONCURRENCY,
                rounds: 1,
                maxTokens: gpuTokens,
              })),
            }
          } finally {
            await w.close()
          }
        },
        { needS: 25 },
      )
    }
  } else {
    for (const name of ['GPU, cold', 'GPU, auto through the queen', 'GPU, a second worker', 'GPU threads'])
      skip(name, 'no GPU backend loads here')
  }

  // 8. CPU.
  if (values['skip-cpu']) skip('CPU: 1/4/16 concurrent', '--skip-cpu')
  else {
    await step(
      `CPU through the queen (${gpuBackend ? 'cpu' : 'auto, no GPU here'}): 1/4/16 concurrent`,
      async () => {
        const asked = gpuBackend ? { worker: 'cpu' } : { worker: 'auto' }
        const spawned = await spawnThroughQueen(queen, asked)
        results.cpu = { asked, ...spawned }
        if (!gpuBackend) {
          note(`with no GPU, worker_spawn auto placed the worker on ${spawned.device}`)
          goal(
            'worker_spawn auto with no GPU lands on the CPU',
            'cpu:0',
            spawned.device,
            spawned.device === 'cpu:0',
          )
        }
        try {
          results.cpu.throughput = await throughput(queen.url, MODEL_ID, {
            concurrencies: CONCURRENCY,
            rounds: 1,
            maxTokens: cpuTokens,
          })
        } finally {
          await stopThroughQueen(queen, spawned.id)
        }
      },
      { needS: 30 },
    )
  }
} catch (err) {
  console.log(`check ended early: ${err?.message ?? err}`)
  results.error = String(err?.message ?? err)
} finally {
  await queen?.close().catch(() => {})
  finish()
  console.log(`\n${markdown(results)}\nwritten: ${join(out, 'gpu-check.json')}, ${join(out, 'gpu-check.md')}`)
}
