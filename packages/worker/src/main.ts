#!/usr/bin/env node
// llm-worker-rbee: the only place that reads argv/env, installs signal handlers and exits.
import { join } from 'node:path'
import { type Daemon, errorMessage, type Logger, RbeeError, runDaemon } from '@rbee/common'
import { BUILTIN_MODEL_ID, type WorkerStdoutMessage } from '@rbee/contracts'
import { ensureBuiltinModel, readGgufHeader } from '@rbee/gguf'
import { parseProbeBackends, parseWorkerConfig, WORKER_USAGE } from './config.js'
import { registerLlamaPatch } from './llama-patch/register.js'
import { VERSION } from './version.js'
import { Worker } from './worker.js'

/** One JSON line on stdout for the parent (the hive reads these; people read stderr). */
function tell(msg: WorkerStdoutMessage): void {
  process.stdout.write(`${JSON.stringify(msg)}\n`)
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

const argv = process.argv.slice(2)
if (argv[0] === '--probe-backends') await probe(argv[1])

/** Known once the flags parsed: a failure after that is told to the hive as a `fatal` line. */
let workerId: string | undefined

/** A worker as `runDaemon` drives it, with what its start reports. */
interface WorkerDaemon extends Daemon {
  worker: Worker
  model: string
  modelRef: string
  host: string
  port: number
  logger: Logger
}

await runDaemon<WorkerDaemon>({
  name: 'llm-worker-rbee',
  usage: WORKER_USAGE,
  version: VERSION,
  repeatStop: 'exit',
  onFatal: (err, exitCode) => {
    const message = errorMessage(err)
    // The hive reads why a worker it spawned could not start from this line.
    if (workerId !== undefined && err instanceof RbeeError && exitCode === 1) {
      tell({ type: 'fatal', worker_id: workerId, code: err.code, message })
    }
    const hint = exitCode === 2 ? 'Run llm-worker-rbee --help for usage.\n' : ''
    process.stderr.write(`llm-worker-rbee: ${message}\n${hint}`)
  },
  create: async ({ argv, env, logger: base }) => {
    const config = parseWorkerConfig(argv, env)
    const id = config.worker_id
    workerId = id
    if (config.model === BUILTIN_MODEL_ID)
      config.model = await ensureBuiltinModel(join(config.home, 'models'))
    // llama.cpp aborts the whole process on some malformed files; check the header first so a bad
    // file ends with a clear message instead.
    try {
      await readGgufHeader(config.model)
    } catch (err) {
      throw new RbeeError('RBEE_MODEL_INVALID', `cannot use ${config.model}: ${errorMessage(err)}`, {
        cause: err,
      })
    }
    const logger = base.child({ worker_id: id })
    // Before node-llama-cpp is first imported: it is patched as it loads.
    registerLlamaPatch()
    const { LlamaEngine, batchLoopPatched } = await import('./engine/llama-engine.js')
    if (!batchLoopPatched()) {
      logger.warn(
        "node-llama-cpp's batch loop is not patched (node older than 20.6, or a node-llama-cpp the patch was not written for): a new request may wait for the other slots' generations to end",
      )
    }
    if (env.UV_THREADPOOL_SIZE === undefined) {
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
      nodeToken: env.RBEE_NODE_TOKEN,
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
    return {
      worker,
      model: config.model,
      modelRef: config.model_ref,
      close: () => {
        logger.info({ inFlight: worker.inFlight }, 'draining')
        return worker.close()
      },
      // SIGHUP reloads the other daemons; a worker reads no file after start, and must not die of it.
      reload: () =>
        logger.info('SIGHUP: nothing to reload (a worker reads no file after start); still serving'),
      host: config.host,
      port: config.port,
      logger,
    }
  },
  start: async (d) => {
    const { worker } = d
    let port: number
    try {
      port = await worker.listen()
    } catch (err) {
      throw new RbeeError('RBEE_CONFIG', `cannot listen on ${d.host}:${d.port}: ${errorMessage(err)}`, {
        cause: err,
      })
    }
    d.logger.info({ port, model: d.model }, 'listening; loading model')
    try {
      await worker.load()
    } catch (err) {
      throw new RbeeError('RBEE_ENGINE', errorMessage(err), { cause: err })
    }
    const info = worker.info()
    tell({
      type: 'ready',
      worker_id: info.id,
      host: info.host,
      port,
      model: d.model,
      model_id: d.modelRef,
      slots: info.slots_total,
      pid: process.pid,
      backend: worker.backend ?? 'cpu',
    })
    d.logger.info({ port, backend: worker.backend, slots: info.slots_total }, 'ready')
  },
})
