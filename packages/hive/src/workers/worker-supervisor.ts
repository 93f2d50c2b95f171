import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { type Logger, RbeeError, RotatingLog } from '@rbee/common'
import type { Backend, HiveStreamEvent, HiveWorker, WorkerSpawnResult } from '@rbee/contracts'
import { hostPortUrl } from '@rbee/contracts'
import type { MonitoredWorker } from '../monitor/host-monitor.js'
import type { WorkerProbeSettings } from './health-probe.js'
import type { ExitStatus, RestartPolicy } from './restart-policy.js'
import { SupervisedWorker } from './supervised-worker.js'
import { gpuCacheEnv, type SpawnRequest, type WorkerCommand } from './worker-command.js'

export interface WorkerSupervisorOptions {
  hiveId: string
  logger: Logger
  logsDir: string
  /** Where the GPU drivers keep compiled shaders and kernels for every worker (`gpuCacheEnv`). */
  gpuCacheDir?: string | undefined
  command: WorkerCommand
  baseEnv: NodeJS.ProcessEnv
  /** Address workers bind. */
  bindHost: string
  /** Host others use to reach workers. */
  advertiseHost: string
  /** The hive's own URL, given to workers (known once the hive listens). */
  hiveUrl: () => string
  queenUrl?: string | undefined
  token?: string | undefined
  policy: RestartPolicy
  stopGraceMs: number
  readyTimeoutMs: number
  /** How ready workers are checked for answering. */
  probe: WorkerProbeSettings
  logMaxBytes: number
  logKeep: number
  version: string
  emit: (event: HiveStreamEvent) => void
}

/** Workers that stopped for good and are still listed (with their reason) at most. */
const KEEP_STOPPED = 50

/**
 * Owns every worker process of the hive: spawns them, keeps them (restarting per policy), lists
 * them, stops them, and on `close()` stops them all so none outlives the hive.
 */
export class WorkerSupervisor {
  readonly #o: WorkerSupervisorOptions
  readonly #workers = new Map<string, SupervisedWorker>()
  /** Per worker, its backend and memory estimate. */
  readonly #memory = new Map<string, { backend: Backend; mb: number }>()
  #seq = 0
  #closing = false

  constructor(options: WorkerSupervisorOptions) {
    this.#o = options
    mkdirSync(options.logsDir, { recursive: true })
    if (options.gpuCacheDir) {
      for (const dir of Object.values(gpuCacheEnv(options.gpuCacheDir).dirs))
        mkdirSync(dir, { recursive: true })
    }
  }

  #newId(): string {
    this.#seq++
    return `w-${this.#seq}-${randomBytes(3).toString('hex')}`
  }

  /**
   * Spawns a worker and resolves once it is ready.
   * @throws RbeeError `RBEE_SPAWN_FAILED` (with the worker's last log lines) when it does not
   *   become ready; the abort reason when `signal` aborts. Either way no process is left.
   */
  async spawn(
    req: SpawnRequest,
    options: {
      signal?: AbortSignal
      onLoading?: (progress: number) => void
      onLaunched?: (id: string) => void
    } = {},
  ): Promise<WorkerSpawnResult> {
    if (this.#closing) throw new RbeeError('RBEE_DRAINING', 'the hive is shutting down')
    const id = this.#newId()
    const log = new RotatingLog({
      path: join(this.#o.logsDir, `${id}.log`),
      maxBytes: this.#o.logMaxBytes,
      keep: this.#o.logKeep,
    })
    const worker = new SupervisedWorker({
      launch: {
        workerId: id,
        modelId: req.modelId,
        modelPath: req.modelPath,
        backend: req.backend,
        device: req.device,
        slots: req.slots,
        ctxSize: req.ctxSize,
        bindHost: this.#o.bindHost,
        advertiseHost: this.#o.advertiseHost,
        hiveId: this.#o.hiveId,
        hiveUrl: this.#o.hiveUrl(),
        queenUrl: this.#o.queenUrl,
        token: this.#o.token,
        gpuCacheDir: this.#o.gpuCacheDir,
      },
      command: this.#o.command,
      baseEnv: this.#o.baseEnv,
      log,
      logger: this.#o.logger,
      policy: this.#o.policy,
      stopGraceMs: this.#o.stopGraceMs,
      readyTimeoutMs: this.#o.readyTimeoutMs,
      probe: this.#o.probe,
      version: this.#o.version,
      emit: this.#o.emit,
    })
    this.#workers.set(id, worker)
    this.#memory.set(id, { backend: req.backend, mb: req.memoryMb ?? 0 })
    void worker.stopped.then(() => log.close())
    options.onLaunched?.(id)
    try {
      await worker.start(options.signal, options.onLoading)
    } catch (err) {
      this.#workers.delete(id)
      this.#memory.delete(id)
      log.close()
      throw err
    }
    this.#evictStopped()
    return {
      worker_id: id,
      port: worker.port,
      pid: worker.pid!,
      host: worker.info().host,
      url: hostPortUrl(worker.info().host, worker.port),
    }
  }

  /** Every worker, live ones and those that stopped for good (given up), newest last. */
  list(): HiveWorker[] {
    return [...this.#workers.values()].map((w) => w.view())
  }

  /** @throws RbeeError `RBEE_WORKER_NOT_FOUND`. */
  get(id: string): SupervisedWorker {
    const w = this.#workers.get(id)
    if (!w) throw new RbeeError('RBEE_WORKER_NOT_FOUND', `no worker ${id} on hive ${this.#o.hiveId}`)
    return w
  }

  /** Stops a worker (SIGTERM, SIGKILL after the grace period) and forgets it. */
  async stop(id: string): Promise<{ view: HiveWorker; exit: ExitStatus | null }> {
    const w = this.get(id)
    const exit = await w.stop()
    this.#workers.delete(id)
    this.#memory.delete(id)
    return { view: w.view(), exit }
  }

  /** Ids of live workers serving `modelId`. */
  usingModel(modelId: string): string[] {
    return [...this.#workers.values()].filter((w) => w.alive && w.modelId === modelId).map((w) => w.id)
  }

  /** Live processes, for the monitor. */
  monitored(): MonitoredWorker[] {
    return [...this.#workers.values()].map((w) => w.monitored()).filter((m) => m !== undefined)
  }

  /** Memory estimates (MB) of live workers on `backend`. */
  memoryInUseMb(backend: Backend): number {
    let mb = 0
    for (const w of this.#workers.values()) {
      const m = this.#memory.get(w.id)
      if (w.alive && m?.backend === backend) mb += m.mb
    }
    return mb
  }

  /** Workers that are up or coming up. */
  get liveCount(): number {
    return [...this.#workers.values()].filter((w) => w.alive).length
  }

  #evictStopped(): void {
    const stopped = [...this.#workers.values()].filter((w) => !w.alive)
    for (const w of stopped.slice(0, Math.max(0, stopped.length - KEEP_STOPPED))) {
      this.#workers.delete(w.id)
      this.#memory.delete(w.id)
    }
  }

  /** Stops every worker in parallel and waits until all have exited. Idempotent. */
  async close(): Promise<void> {
    this.#closing = true
    await Promise.all([...this.#workers.values()].map((w) => w.stop()))
    this.#workers.clear()
  }
}
