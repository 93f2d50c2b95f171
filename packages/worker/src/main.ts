#!/usr/bin/env node
import { join } from 'node:path'
import { createLogger, errorMessage } from '@rbee/common'
// llm-worker-rbee: the only place that reads argv/env, installs signal handlers and exits.
import type { WorkerStdoutMessage } from '@rbee/contracts'
import { BUILTIN_MODEL_ID, ensureBuiltinModel, readGgufHeader } from '@rbee/gguf'
import { ConfigError, parseProbeBackends, parseWorkerConfig, WORKER_USAGE } from './config.js'
import { registerLlamaPatch } from './llama-patch/register.js'
import { Worker } from './worker.js'

/** One JSON line on stdout for the parent (the hive reads these; people read stderr). */
function tell(msg: WorkerStdoutMessage): void {
  process.stdout.write(`${JSON.stringify(msg)}\n`)
}

function fail(workerId: string, code: string, message: string, exitCode: number): never {
  tell({ type: 'fatal', worker_id: workerId, code, message })
  process.stderr.write(`llm-worker-rbee: ${message}\n`)
  process.exit(exitCode)
}

/** `--probe-backends [LIST]`: one JSON line per llama.cpp build, then the summary; exits 0. */
async function probe(list: string | undefined): Promise<never> {
  let backends: ReturnType<typeof parseProbeBackends>
  try {
    backends = parseProbeBackends(list)
  } catch (err) {
    process.stderr.write(`llm-worker-rbee: ${errorMessage(err)}\n`)
    process.exit(2)
  }
  const { probeBackends } = await import('./probe/backend-probe.js')
  const result = await probeBackends({
    ...(backends ? { backends } : {}),
    onChecked: (check) => process.stdout.write(`${JSON.stringify({ type: 'backend_checked', ...check })}\n`),
    selfCommand: [process.execPath, ...process.execArgv, process.argv[1]!],
    env: process.env,
  })
  // Exit once the line is out: a GPU runtime may keep threads that would hold the process open.
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0))
  return new Promise<never>(() => {})
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(WORKER_USAGE)
    return
  }
  if (argv[0] === '--probe-backends') return probe(argv[1])
  let config: ReturnType<typeof parseWorkerConfig>
  try {
    config = parseWorkerConfig(argv, process.env)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`llm-worker-rbee: ${err.message}\nRun llm-worker-rbee --help for usage.\n`)
    process.exit(2)
  }
  const id = config.worker_id
  if (config.model === BUILTIN_MODEL_ID) config.model = await ensureBuiltinModel(join(config.home, 'models'))
  // llama.cpp aborts the whole process on some malformed files; check the header first so a bad
  // file ends with a clear message instead.
  try {
    await readGgufHeader(config.model)
  } catch (err) {
    fail(id, 'RBEE_MODEL_INVALID', `cannot use ${config.model}: ${errorMessage(err)}`, 1)
  }

  const logger = createLogger({ name: 'llm-worker-rbee', bindings: { worker_id: id } })
  // Before node-llama-cpp is first imported: it is patched as it loads.
  registerLlamaPatch()
  const { LlamaEngine, batchLoopPatched } = await import('./engine/llama-engine.js')
  if (!batchLoopPatched()) {
    logger.warn(
      "node-llama-cpp's batch loop is not patched (node older than 20.6, or a node-llama-cpp the patch was not written for): a new request may wait for the other slots' generations to end",
    )
  }
  if (process.env.UV_THREADPOOL_SIZE === undefined) {
    logger.warn(
      'UV_THREADPOOL_SIZE is not set: llama.cpp calls move between 4 threads, measured up to 1.7x slower on CPU; start the worker with UV_THREADPOOL_SIZE=1 (the llm-worker-rbee command and the hive do)',
    )
  }
  let lastTold = -1
  const worker = new Worker({
    id,
    modelRef: config.model_ref,
    host: config.host,
    advertiseHost: config.advertise_host,
    port: config.port,
    hiveId: config.hive_id,
    hiveUrl: config.hive_url,
    queenUrl: config.queen_url,
    nodeToken: process.env.RBEE_NODE_TOKEN,
    apiToken: config.api_token,
    heartbeatIntervalMs: config.heartbeat_interval_ms,
    graceMs: config.grace_ms,
    slots: config.slots,
    device: config.device,
    logger,
    loadEngine: (onLoadProgress) =>
      LlamaEngine.load({
        modelPath: config.model,
        backend: config.backend,
        device: config.device,
        slots: config.slots,
        ctxSize: config.ctx_size,
        threads: config.threads,
        slotWaitMs: config.slot_wait_ms,
        llamaBuild: config.llama_build,
        warmup: config.warmup,
        logger,
        onLoadProgress,
      }),
    onLoading: (progress) => {
      const step = Math.floor(progress * 10)
      if (step === lastTold) return
      lastTold = step
      tell({ type: 'loading', worker_id: id, progress })
    },
    onSlots: (use) => tell({ type: 'slots', worker_id: id, ...use }),
  })

  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now')
      process.exit(1)
    }
    stopping = true
    logger.info({ signal, inFlight: worker.inFlight }, 'draining')
    worker.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'error while stopping')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  // SIGHUP reloads the other daemons; a worker reads no file after start, and must not die of it.
  process.on('SIGHUP', () =>
    logger.info('SIGHUP: nothing to reload (a worker reads no file after start); still serving'),
  )
  if (process.env.RBEE_EXIT_WITH_STDIN === '1') {
    // The parent holds our stdin open; when it goes away (even killed -9), so do we.
    process.stdin.on('end', () => stop('stdin closed'))
    process.stdin.resume()
  }

  let port: number
  try {
    port = await worker.listen()
  } catch (err) {
    fail(id, 'RBEE_CONFIG', `cannot listen on ${config.host}:${config.port}: ${errorMessage(err)}`, 1)
  }
  logger.info({ port, model: config.model }, 'listening; loading model')
  try {
    await worker.load()
  } catch (err) {
    await worker.close().catch(() => {})
    fail(id, 'RBEE_ENGINE', errorMessage(err), 1)
  }
  const info = worker.info()
  tell({
    type: 'ready',
    worker_id: id,
    host: info.host,
    port,
    model: config.model,
    model_id: config.model_ref,
    slots: info.slots_total,
    pid: process.pid,
    backend: worker.backend ?? 'cpu',
  })
  logger.info({ port, backend: worker.backend, slots: info.slots_total }, 'ready')
}

main().catch((err: unknown) => {
  process.stderr.write(`llm-worker-rbee: ${errorMessage(err)}\n`)
  process.exit(1)
})
