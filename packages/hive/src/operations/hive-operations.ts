import { access, constants, rm, stat } from 'node:fs/promises'
import { isAbsolute, relative } from 'node:path'
import { errorMessage, type JobContext, RbeeError } from '@rbee/common'
import {
  type BackendProbe,
  deviceList,
  HIVE_OPERATIONS,
  type HiveCheck,
  type ImportDenied,
  type ModelMetadata,
  type Operation,
  type OperationOf,
} from '@rbee/contracts'
import type { GgufHeaderPool } from '@rbee/gguf'
import { type CatalogRecovery, describeRecovery } from '../catalog/catalog-rebuild.js'
import type { ImportDirs } from '../catalog/import-dirs.js'
import type { ModelCatalog } from '../catalog/model-catalog.js'
import { modelIdFromFile } from '../catalog/model-id.js'
import { estimateMemoryMb, inspectModelFile, readModelHeader } from '../catalog/model-inspector.js'
import { checkPartCount, modelPartPaths } from '../catalog/model-parts.js'
import type { DataDir } from '../data-dir.js'
import type { ModelDownloads } from '../downloads/model-downloads.js'
import { formatBytes } from '../downloads/progress-meter.js'
import type { HostMonitor } from '../monitor/host-monitor.js'
import { checkMemoryFits } from '../workers/memory-check.js'
import { placementName, placeWorker } from '../workers/placement.js'
import type { WorkerCommand } from '../workers/worker-command.js'
import type { WorkerSupervisor } from '../workers/worker-supervisor.js'

type HiveOperationName = (typeof HIVE_OPERATIONS)[number]

function isHiveOperation(op: Operation): op is OperationOf<HiveOperationName> {
  return (HIVE_OPERATIONS as readonly string[]).includes(op.operation)
}

export interface HiveOperationsOptions {
  hiveId: string
  version: string
  dirs: DataDir
  catalog: ModelCatalog
  /** Reads GGUF headers off the event loop. */
  headers: GgufHeaderPool
  /** Where `model_import` may read from. */
  importDirs: ImportDirs
  downloads: Pick<ModelDownloads, 'download'>
  supervisor: WorkerSupervisor
  monitor: HostMonitor
  /**
   * The hive's backend probe, once it has finished (it runs at start, within its deadline);
   * undefined when the hive does not probe.
   */
  backendProbe: () => Promise<BackendProbe | undefined>
  workerCommand: WorkerCommand
  /** Spawn shape when an operation names none. */
  defaults: { slots: number; ctxSize: number; stopGraceMs: number }
  /** Rewrites the built-in model if its file went missing or changed. */
  ensureBuiltin: () => Promise<void>
  /** The catalog found unusable at start and what was rebuilt; undefined when it was fine. */
  catalogRecovery?: CatalogRecovery | undefined
}

/**
 * Runs the hive's operations inside jobs, narrating as they go: worker lifecycle, the model
 * catalog, downloads and a self-check.
 */
export class HiveOperations {
  readonly #o: HiveOperationsOptions

  constructor(options: HiveOperationsOptions) {
    this.#o = options
  }

  /**
   * Refuses, before a job starts, an operation meant for another hive or for the queen.
   * @throws RbeeError `RBEE_HIVE_NOT_FOUND` (404) or `RBEE_BAD_REQUEST` (400).
   */
  precheck(op: Operation): void {
    if (!isHiveOperation(op)) {
      throw new RbeeError(
        'RBEE_BAD_REQUEST',
        `${op.operation} is not a hive operation (rbee-hive serves ${HIVE_OPERATIONS.join(', ')}); send it to queen-rbee`,
      )
    }
    if (op.hive_id !== undefined && op.hive_id !== this.#o.hiveId) {
      throw new RbeeError(
        'RBEE_HIVE_NOT_FOUND',
        `this is hive ${this.#o.hiveId}, but the ${op.operation} operation names hive ${op.hive_id}`,
        { details: { hive_id: op.hive_id, this_hive: this.#o.hiveId } },
      )
    }
  }

  /** Runs one operation (the jobs runtime's `OperationRunner`). */
  async run(op: Operation, ctx: JobContext): Promise<void> {
    this.precheck(op)
    if (!isHiveOperation(op)) return
    switch (op.operation) {
      case 'worker_spawn':
        return this.#workerSpawn(op, ctx)
      case 'worker_list':
        ctx.data('worker_list', { workers: this.#o.supervisor.list() })
        return
      case 'worker_get':
        ctx.data('worker', this.#o.supervisor.get(op.worker_id).view())
        return
      case 'worker_stop':
        return this.#workerStop(op, ctx)
      case 'model_download': {
        const entry = await this.#o.downloads.download(op.model, ctx, { sources: op.sources })
        ctx.data('model', entry)
        return
      }
      case 'model_import':
        return this.#modelImport(op, ctx)
      case 'model_list':
        return this.#modelList(ctx)
      case 'model_get': {
        const { entry, problem } = await this.#o.catalog.get(op.model)
        if (problem) ctx.narrate('model_unavailable', `${entry.id} cannot be served: ${problem}`)
        ctx.data('model', entry)
        if (op.metadata && !problem) {
          const header = await readModelHeader(this.#o.headers, entry.path, ctx.signal, true)
          const metadata: ModelMetadata = { model_id: entry.id, metadata: header.scalars ?? {} }
          ctx.data('model_metadata', metadata)
        }
        return
      }
      case 'model_delete':
        return this.#modelDelete(op, ctx)
      case 'hive_check':
        return this.#hiveCheck(ctx)
    }
  }

  async #servable(ref: string): ReturnType<ModelCatalog['servable']> {
    const { catalog } = this.#o
    const found = catalog.find(ref)
    if (found?.builtin === 1) {
      const { problem } = await catalog.get(ref)
      if (problem) await this.#o.ensureBuiltin()
    }
    return catalog.servable(ref)
  }

  async #workerSpawn(op: OperationOf<'worker_spawn'>, ctx: JobContext): Promise<void> {
    const { supervisor, monitor, defaults } = this.#o
    const model = await this.#servable(op.model)
    // The weights of every part of a split model (the catalog's size), not only the first file's.
    const header = {
      ...(await readModelHeader(this.#o.headers, model.path, ctx.signal)),
      fileSize: model.size_bytes,
    }
    const slots = op.slots ?? defaults.slots
    const ctxSize = op.ctx_size ?? Math.min(defaults.ctxSize, model.context_length || defaults.ctxSize)
    const neededMb = estimateMemoryMb(header, { slots, ctxSize })
    // Spawns wait for the probe the hive runs at start: a backend is never taken on trust.
    await this.#o.backendProbe()
    ctx.signal.throwIfAborted()
    const placement = placeWorker(
      { backend: op.worker, devices: deviceList(op.device), neededMb },
      await monitor.layout(),
    )
    const where = placementName(placement)
    if (placement.why) {
      ctx.narrate(
        'spawn_place',
        `placing ${model.id} on ${where} (${placement.devices.map((d) => `${d.id} ${d.name}`).join(', ')}): ${placement.why}`,
      )
    }
    const free = placement.devices.reduce((s, d) => s + d.memory_free_mb, 0)
    ctx.narrate(
      'spawn_check',
      `${model.id} with ${slots} slot(s) x ${ctxSize} tokens needs ~${neededMb} MB; ${free} MB free on ${where}`,
    )
    checkMemoryFits(model.id, neededMb, placement)
    ctx.signal.throwIfAborted()
    const result = await supervisor.spawn(
      {
        modelId: model.id,
        modelPath: model.path,
        backend: placement.backend,
        device: placement.workerDevices,
        slots,
        ctxSize,
        memoryMb: neededMb,
      },
      {
        signal: ctx.signal,
        onLaunched: (id) =>
          ctx.narrate('spawn_start', `starting llm-worker-rbee ${id} for ${model.id} on ${where}`),
        onLoading: (p) =>
          ctx.narrate('spawn_loading', `loading ${model.id}: ${Math.round(p * 100)}%`, { progress: p }),
      },
    )
    this.#o.catalog.markUsed(model.id)
    ctx.narrate('spawn_ready', `worker ${result.worker_id} is ready at ${result.url} (pid ${result.pid})`, {
      progress: 1,
    })
    ctx.data('worker_spawned', result)
  }

  async #workerStop(op: OperationOf<'worker_stop'>, ctx: JobContext): Promise<void> {
    const { supervisor, defaults } = this.#o
    supervisor.get(op.worker_id)
    ctx.narrate(
      'worker_stop',
      `stopping ${op.worker_id} (SIGTERM, then SIGKILL after ${Math.round(defaults.stopGraceMs / 1000)} s)`,
    )
    const { view, exit } = await supervisor.stop(op.worker_id)
    ctx.narrate(
      'worker_stopped',
      exit
        ? `${op.worker_id} stopped (${exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`})`
        : `${op.worker_id} was not running; removed`,
    )
    ctx.data('worker_stopped', view)
  }

  async #modelImport(op: OperationOf<'model_import'>, ctx: JobContext): Promise<void> {
    const { catalog, defaults, headers, importDirs } = this.#o
    if (!isAbsolute(op.path)) {
      throw new RbeeError(
        'RBEE_BAD_REQUEST',
        `path must be absolute (it is read by the hive, not the client): ${op.path}`,
      )
    }
    checkPartCount(op.path, op.path)
    let path: string
    try {
      path = await importDirs.resolve(op.path)
      // A split model's other parts are read too: each must be inside the import dirs as well.
      for (const part of modelPartPaths(path).slice(1)) {
        await importDirs.resolve(part).catch((err: unknown) => {
          if (!(err instanceof RbeeError) || err.code !== 'RBEE_MODEL_NOT_FOUND') throw err
          throw new RbeeError(
            'RBEE_MODEL_INVALID',
            `${path} is not a usable split GGUF model: part ${part} is missing (the parts must sit side by side)`,
          )
        })
      }
    } catch (err) {
      if (err instanceof RbeeError && err.code === 'RBEE_IMPORT_DENIED') {
        const denied: ImportDenied = {
          hive_id: this.#o.hiveId,
          path: op.path,
          import_dirs: [...importDirs.dirs],
        }
        ctx.data('import_denied', denied)
      }
      throw err
    }
    ctx.narrate('import_check', `reading the GGUF header of ${path}`)
    const facts = await inspectModelFile(
      headers,
      path,
      { slots: defaults.slots, ctxSize: defaults.ctxSize },
      { signal: ctx.signal },
    )
    const source = `file:${path}`
    const id = op.id ?? modelIdFromFile(path)
    if (id === undefined)
      throw new RbeeError('RBEE_BAD_REQUEST', `cannot derive a model id from ${path}; give one with "id"`)
    const existing = catalog.find(id)
    if (existing && existing.source !== source) {
      throw new RbeeError(
        'RBEE_CONFLICT',
        `model id ${id} is already taken by ${existing.source}; pick another id with "id"`,
      )
    }
    const entry = catalog.register({ ...facts, id, source, builtin: false })
    ctx.narrate(
      'import_done',
      `imported ${id}: ${entry.architecture} ${entry.quantization}, ${formatBytes(entry.size_bytes)}, ~${entry.memory_estimate_mb} MB per worker`,
    )
    ctx.data('model', entry)
  }

  async #modelList(ctx: JobContext): Promise<void> {
    const checked = await this.#o.catalog.list()
    const recovery = this.#o.catalogRecovery
    if (recovery && checked.some((c) => c.entry.rebuilt))
      ctx.narrate('catalog_rebuilt', describeRecovery(recovery))
    for (const { entry, problem } of checked) {
      if (problem) ctx.narrate('model_unavailable', `${entry.id} cannot be served: ${problem}`)
    }
    ctx.data('model_list', { models: checked.map((c) => c.entry) })
  }

  async #modelDelete(op: OperationOf<'model_delete'>, ctx: JobContext): Promise<void> {
    const { catalog, supervisor, dirs } = this.#o
    const { entry } = await catalog.get(op.model)
    if (entry.builtin)
      throw new RbeeError('RBEE_CONFLICT', `${entry.id} is the built-in model and cannot be deleted`)
    const users = supervisor.usingModel(entry.id)
    if (users.length > 0) {
      throw new RbeeError(
        'RBEE_MODEL_IN_USE',
        `model ${entry.id} is in use by worker${users.length > 1 ? 's' : ''} ${users.join(', ')}; stop ${users.length > 1 ? 'them' : 'it'} first`,
        { details: { workers: users } },
      )
    }
    catalog.remove(entry.id)
    // Only files the hive downloaded are deleted; an imported file belongs to whoever put it there.
    const rel = relative(dirs.models, entry.path)
    const owned = !entry.source.startsWith('file:') && !rel.startsWith('..') && !isAbsolute(rel)
    if (owned) for (const part of modelPartPaths(entry.path)) await rm(part, { force: true })
    ctx.narrate(
      'model_deleted',
      owned
        ? `deleted ${entry.id} and its file ${entry.path}`
        : `removed ${entry.id} from the catalog (file ${entry.path} left in place)`,
    )
    ctx.data('model_deleted', { id: entry.id, file_removed: owned })
  }

  async #hiveCheck(ctx: JobContext): Promise<void> {
    const { catalog, dirs, monitor, supervisor, workerCommand } = this.#o
    const checks: Array<{ name: string; ok: boolean; detail: string }> = []
    const check = async (name: string, fn: () => Promise<string>): Promise<void> => {
      try {
        const detail = await fn()
        checks.push({ name, ok: true, detail })
        ctx.narrate('check_ok', `${name}: ${detail}`)
      } catch (err) {
        checks.push({ name, ok: false, detail: errorMessage(err) })
        ctx.narrate('check_failed', `${name}: ${errorMessage(err)}`)
      }
    }
    await check('data dir', async () => {
      await access(dirs.home, constants.W_OK)
      return `${dirs.home} is writable`
    })
    await check('catalog', async () => {
      const models = await catalog.list()
      const bad = models.filter((m) => m.problem)
      const recovery = this.#o.catalogRecovery
      const rebuilt = recovery ? `; ${describeRecovery(recovery)}` : ''
      if (bad.length === 0) return `${models.length} model(s), all available${rebuilt}`
      // A vanished model is worth a warning, not a failed check: the hive itself is fine.
      return `${models.length} model(s); unavailable: ${bad.map((m) => `${m.entry.id} (${m.problem})`).join(', ')}${rebuilt}`
    })
    await check('worker binary', async () => {
      const target = workerCommand.prefixArgs[0] ?? workerCommand.command
      if (!(await stat(target)).isFile()) throw new Error(`${target} is not a file`)
      return target
    })
    const probe = await this.#o.backendProbe()
    const devices = await monitor.devices()
    await check('devices', async () =>
      devices
        .map((d) => `${d.id} ${d.name} (${d.backend}, ${d.memory_free_mb}/${d.memory_total_mb} MB free)`)
        .join('; '),
    )
    await check('llama.cpp builds', async () => {
      if (!probe) return 'not probed (--backend-probe none): backends are taken on trust'
      const usable = probe.backends.filter((b) => b.usable).map((b) => b.backend)
      const not = probe.backends
        .filter((b) => !b.usable)
        .map((b) => `${b.backend}: ${b.reason ?? 'does not load'}`)
      if (usable.length === 0) throw new Error(`no llama.cpp build loads here: ${not.join('; ')}`)
      return `${usable.join(', ')} load${not.length > 0 ? `; not ${not.join('; ')}` : ''}`
    })
    await check('gpu monitoring', async () =>
      monitor.hasNvidiaSmi
        ? 'nvidia-smi found'
        : 'no nvidia-smi: CPU only (that is fine without NVIDIA GPUs)',
    )
    const ok = checks.every((c) => c.ok)
    const data: HiveCheck = {
      hive_id: this.#o.hiveId,
      version: this.#o.version,
      ok,
      checks,
      devices,
      workers: supervisor.liveCount,
      backend_probe: probe ?? null,
    }
    ctx.data('hive_check', data)
    if (!ok)
      throw new RbeeError(
        'RBEE_INTERNAL',
        `hive check failed: ${checks
          .filter((c) => !c.ok)
          .map((c) => c.name)
          .join(', ')}`,
      )
  }
}
