import { mkdir, stat } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import {
  AuditLog,
  Authenticator,
  Closer,
  createHttpServer,
  createLogger,
  type DeclaredRoute,
  errorMessage,
  firstExternalIPv4,
  type HttpServer,
  isLoopbackHost,
  isWildcardHost,
  JobRegistry,
  type Logger,
  RbeeError,
  type RequestDeadlines,
  ROUTE_ACCESS,
  registerJobRoutes,
  withDefaults,
} from '@rbee/common'
import {
  type BackendProbe,
  BUILTIN_MODEL_ID,
  type Capabilities,
  type Health,
  type HiveInfo,
  type HiveStreamEvent,
  hostPortUrl,
  IdSchema,
  usableBackend,
} from '@rbee/contracts'
import { ensureBuiltinModel, GgufHeaderPool, type GgufHeaderPoolOptions } from '@rbee/gguf'
import { type CatalogRecovery, rebuildCatalog } from './catalog/catalog-rebuild.js'
import { ImportDirs } from './catalog/import-dirs.js'
import { ModelCatalog } from './catalog/model-catalog.js'
import { type EstimateShape, inspectModelFile } from './catalog/model-inspector.js'
import { type DataDir, dataDir } from './data-dir.js'
import { HfHub } from './downloads/hf-hub.js'
import { ModelDownloads } from './downloads/model-downloads.js'
import { HIVE_DEFAULTS, type HiveDefaults } from './hive-defaults.js'
import { registerPeerHubRoutes } from './http/peer-hub-routes.js'
import { TelemetryHub } from './http/telemetry-hub.js'
import { HiveMetrics } from './metrics.js'
import { probeBackends } from './monitor/backend-probe.js'
import { HostMonitor } from './monitor/host-monitor.js'
import { findExecutable, NvidiaSmi, STANDARD_BIN_DIRS } from './monitor/nvidia-smi.js'
import { HiveOperations } from './operations/hive-operations.js'
import { QueenRegistration } from './registration/queen-registration.js'
import { PROTOCOL, VERSION } from './version.js'
import { DEFAULT_WORKER_PROBE, type WorkerProbeSettings } from './workers/health-probe.js'
import { DEFAULT_RESTART_POLICY, type RestartPolicy } from './workers/restart-policy.js'
import { probeEnv, resolveWorkerCommand, type WorkerCommand } from './workers/worker-command.js'
import { WorkerSupervisor } from './workers/worker-supervisor.js'

/** Everything a hive can be told; only `home` is required. */
export interface HiveOptions {
  /** The data dir (`$RBEE_HOME`): catalog, models, logs. */
  home: string
  /** @default the host name, made id-safe */
  hiveId?: string
  /** Bind address. Anything beyond loopback needs `token`. @default HIVE_DEFAULTS.host */
  host?: string
  /** 0 lets the OS pick. @default HIVE_DEFAULTS.port */
  port?: number
  /** Where to announce the hive (`POST {queenUrl}/v1/hive/ready`); none: no announcement. */
  queenUrl?: string | undefined
  /** The URL the queen should use for this hive. @default derived from the bind address */
  advertiseUrl?: string | undefined
  /**
   * Shared secret between queen, hive and workers: required on every route but `/health`, given
   * to workers, and presented to the queen. Required when bound beyond loopback.
   */
  token?: string | undefined
  /** @default HIVE_DEFAULTS.telemetryIntervalMs */
  telemetryIntervalMs?: number
  /** @default a pino logger named rbee-hive on stderr */
  logger?: Logger
  /** Hugging Face base URL. @default HIVE_DEFAULTS.hfEndpoint */
  hfEndpoint?: string | undefined
  hfToken?: string | undefined
  /** Path of `nvidia-smi`; `null` disables GPU monitoring. @default searched in the standard bin dirs */
  nvidiaSmi?: string | null | undefined
  /** The `llm-worker-rbee` entry point. @default the one of the installed `@rbee/worker` */
  workerBin?: string | undefined
  /**
   * What finds out which llama.cpp builds load here, run at start: a program that prints what
   * `llm-worker-rbee --probe-backends` prints (tests name a test double; `.js` runs under this
   * Node). `null`: no probe, backends are taken on trust (NVIDIA GPUs are `cuda`).
   * @default the worker's own `--probe-backends`
   */
  backendProbe?: string | null | undefined
  /** How long the backend probe may take, all builds together. @default HIVE_DEFAULTS.backendProbeTimeoutMs */
  backendProbeTimeoutMs?: number
  /** Environment workers inherit (minus `RBEE_*`). @default process.env */
  workerEnv?: NodeJS.ProcessEnv
  /** @default on-failure, 5 restarts per 60 s, backoff 0.5 s doubling to 30 s */
  restartPolicy?: Partial<RestartPolicy>
  /** SIGTERM → SIGKILL grace when stopping a worker. @default HIVE_DEFAULTS.workerStopGraceMs */
  workerStopGraceMs?: number
  /** @default HIVE_DEFAULTS.workerReadyTimeoutMs */
  workerReadyTimeoutMs?: number
  /**
   * How ready workers are probed (`GET /health` with a deadline): a missed probe makes the worker
   * `unresponsive` (out of routing), and one that stays so is killed and restarted per policy.
   * @default DEFAULT_WORKER_PROBE (every 1 s, 3 s to answer, killed after 30 s)
   */
  workerProbe?: Partial<WorkerProbeSettings>
  /** Slots of a worker when `worker_spawn` names none. @default HIVE_DEFAULTS.workerSlots */
  workerSlots?: number
  /**
   * RAM the hive gives CPU workers at most (a machine shared with other work): the CPU device is
   * reported with this total, and this less its live CPU workers' memory estimates free (never
   * more than the machine has free). @default all of the machine's RAM
   */
  cpuMemoryMb?: number | undefined
  /** Context per slot when `worker_spawn` names none (capped at the model's). @default HIVE_DEFAULTS.workerCtxSize */
  workerCtxSize?: number
  /** Worker log size before rotation. @default HIVE_DEFAULTS.logMaxBytes */
  logMaxBytes?: number
  /** Rotated worker logs kept. @default HIVE_DEFAULTS.logKeep */
  logKeep?: number
  /** A telemetry subscriber with more than this unread is dropped. @default 1 MiB */
  subscriberMaxBufferedBytes?: number
  /** First retry delay of an interrupted download. @default 500 */
  downloadRetryInitialMs?: number
  /** Each request to the hub for a file list or a file's size, answer read included. @default HIVE_DEFAULTS.hfTimeoutMs */
  hfTimeoutMs?: number
  /** No answer, or less than 16 KiB of a file, in this long aborts that transfer attempt. @default HIVE_DEFAULTS.downloadStallTimeoutMs */
  downloadStallTimeoutMs?: number
  /**
   * Free bytes a download must leave on the models' file system (checked before it starts and as
   * it goes). @default DEFAULT_DOWNLOAD_DISK_MARGIN_MB MiB
   */
  downloadDiskMarginBytes?: number
  /**
   * After registering, the hive checks this often whether anyone follows its telemetry stream;
   * after two checks without a subscriber it announces itself to the queen again.
   * @default HIVE_DEFAULTS.reannounceCheckMs
   */
  reannounceCheckMs?: number
  /**
   * Directories `model_import` may read from, besides `$RBEE_HOME/import` (created at start) and
   * the models dir. A path that is, or links to, anything outside them is refused.
   */
  importDirs?: readonly string[]
  /**
   * Model files sent to peer hives at the same time (`/v1/peer-hub`); one more gets 503.
   * @default HIVE_DEFAULTS.peerMaxTransfers
   */
  peerMaxTransfers?: number
  /**
   * Attempts at a peer's copy of a file (the first transfer and its resumes) before the download
   * goes on from the next source, the hub last. @default HIVE_DEFAULTS.peerMaxAttempts
   */
  peerMaxAttempts?: number
  /**
   * How GGUF headers are read (import, download, built-in model, before each spawn): in worker
   * threads, 2 at a time, each with a 192 MiB heap and 30 s, within `GGUF_LIMITS`.
   */
  headerReader?: GgufHeaderPoolOptions
  /** Called on `POST /v1/shutdown` (main exits the process). @default close() */
  onShutdownRequest?: () => void
  /**
   * Where refused calls are recorded (the queen passes its own to its in-process hive).
   * @default `<home>/logs/audit.log`
   */
  audit?: AuditLog | undefined
  /** How long a request may take to arrive. @default HEADERS_DEADLINE_MS, BODY_DEADLINE_MS */
  requestDeadlines?: Partial<RequestDeadlines>
  /**
   * Node's process metrics (CPU, memory, event loop) in `/metrics`; off for a hive inside another
   * daemon's process, whose own `/metrics` has them. @default true
   */
  processMetrics?: boolean
}

type Status = HiveInfo['operational_status']

/** Makes a host name id-safe (`my_box.lan` → `my_box.lan`, `Bad Name` → `Bad-Name`). */
export function hiveIdFromHostname(name: string): string {
  const id = name
    .replace(/[^A-Za-z0-9._:@-]/g, '-')
    .replace(/\.{2,}/g, '.')
    .replace(/^[^A-Za-z0-9]+/, '')
  return IdSchema.safeParse(id.slice(0, 128)).success ? id.slice(0, 128) : 'hive'
}

/**
 * rbee-hive: one per machine. Owns the model catalog and downloads, spawns and supervises
 * `llm-worker-rbee` processes, monitors them, and serves the jobs API, capabilities and a
 * telemetry stream. Usable in-process (the queen embeds one in single-machine mode):
 * `const hive = new Hive({ home }); await hive.start(); … await hive.close()`.
 */
export class Hive {
  readonly hiveId: string
  readonly dirs: DataDir
  readonly #o: HiveOptions & HiveDefaults
  readonly #log: Logger
  readonly #host: string
  readonly #closer = new Closer()
  readonly #server: HttpServer
  readonly #auth: Authenticator
  readonly #audit: AuditLog
  readonly #jobs: JobRegistry
  readonly #telemetry: TelemetryHub
  readonly #monitor: HostMonitor
  readonly #metrics: HiveMetrics
  readonly #workerCommand: WorkerCommand
  #backendProbe: BackendProbe | undefined
  #probeDone: Promise<BackendProbe | undefined> = Promise.resolve(undefined)
  readonly #headers: GgufHeaderPool
  readonly #importDirs: ImportDirs
  readonly #running = new Set<Promise<void>>()
  readonly #startedAt = Date.now()
  #catalog: ModelCatalog | undefined
  #supervisor: WorkerSupervisor | undefined
  #ops: HiveOperations | undefined
  #port = 0
  #status: Status = 'starting'
  #started = false
  #closing: Promise<void> | undefined

  /** @throws RbeeError `RBEE_CONFIG` for an unusable combination (no token beyond loopback…). */
  constructor(given: HiveOptions) {
    const options = withDefaults<HiveDefaults, HiveOptions>(HIVE_DEFAULTS, given)
    this.#o = options
    this.hiveId = options.hiveId ?? hiveIdFromHostname(hostname())
    const id = IdSchema.safeParse(this.hiveId)
    if (!id.success)
      throw new RbeeError(
        'RBEE_CONFIG',
        `hive id ${JSON.stringify(this.hiveId)} ${id.error.issues[0]?.message}`,
      )
    this.#host = options.host
    if (!isLoopbackHost(this.#host) && !options.token) {
      throw new RbeeError(
        'RBEE_CONFIG',
        `refusing to listen on ${this.#host} without a token: set --token (RBEE_NODE_TOKEN), shared with the queen, or bind to 127.0.0.1`,
      )
    }
    if (options.token !== undefined && options.token.length < 8) {
      throw new RbeeError('RBEE_CONFIG', 'the token must be at least 8 characters')
    }
    this.#log = (options.logger ?? createLogger({ name: 'rbee-hive' })).child({ hive_id: this.hiveId })
    this.dirs = dataDir(options.home)
    this.#importDirs = new ImportDirs([this.dirs.import, this.dirs.models, ...(options.importDirs ?? [])])
    this.#headers = new GgufHeaderPool(options.headerReader)
    // Closed last: jobs that read headers are cancelled before their threads go.
    this.#closer.add(() => this.#headers.close())
    this.#workerCommand = resolveWorkerCommand(options.workerBin)
    const smiPath =
      options.nvidiaSmi === null
        ? undefined
        : (options.nvidiaSmi ?? findExecutable('nvidia-smi', STANDARD_BIN_DIRS))
    this.#monitor = new HostMonitor({
      nvidiaSmi: smiPath ? new NvidiaSmi({ command: smiPath, logger: this.#log }) : undefined,
      backendProbe: () => this.#backendProbe,
      cpuBudget:
        options.cpuMemoryMb === undefined
          ? undefined
          : { limitMb: options.cpuMemoryMb, inUseMb: () => this.#supervisor?.memoryInUseMb('cpu') ?? 0 },
    })
    this.#metrics = new HiveMetrics(
      {
        devices: () => this.#monitor.devices(),
        workers: () => this.#supervisor?.list() ?? [],
      },
      { processMetrics: options.processMetrics },
    )
    this.#auth = new Authenticator({ nodeToken: options.token })
    this.#audit =
      options.audit ?? new AuditLog({ path: join(this.dirs.logs, 'audit.log'), daemon: 'rbee-hive' })
    this.#server = createHttpServer({
      logger: this.#log,
      auth: this.#auth,
      audit: this.#audit,
      deadlines: options.requestDeadlines,
    })
    this.#jobs = new JobRegistry({ actor: 'rbee-hive', logger: this.#log })
    this.#telemetry = new TelemetryHub({
      logger: this.#log,
      intervalMs: options.telemetryIntervalMs,
      maxBufferedBytes: options.subscriberMaxBufferedBytes,
      snapshot: () => this.#telemetryEvent(),
    })
    this.#routes()
  }

  /** The bound port (after `start()`). */
  get port(): number {
    return this.#port
  }

  /** Every route this daemon serves, with who may call it (public, user, admin, node). */
  get routes(): readonly DeclaredRoute[] {
    return this.#server.routes
  }

  /** The URL this hive announces: `advertiseUrl`, or one built from the bind address. */
  get url(): string {
    if (this.#o.advertiseUrl) return this.#o.advertiseUrl.replace(/\/+$/, '')
    return hostPortUrl(this.#advertiseHost(), this.#port)
  }

  /** A URL that reaches this hive from this machine (for local clients and tests). */
  get localUrl(): string {
    const h = this.#host === '0.0.0.0' ? '127.0.0.1' : this.#host === '::' ? '::1' : this.#host
    return hostPortUrl(h, this.#port)
  }

  #advertiseHost(): string {
    if (this.#o.advertiseUrl) return new URL(this.#o.advertiseUrl).hostname.replace(/^\[|\]$/g, '')
    if (isWildcardHost(this.#host)) return firstExternalIPv4() ?? hostname()
    return this.#host
  }

  /**
   * Opens the catalog (registering the built-in model), binds the port, starts telemetry and
   * the queen announcement.
   * @throws when the data dir, the catalog or the port cannot be used.
   */
  async start(): Promise<void> {
    if (this.#started) throw new Error('Hive.start() was already called')
    this.#started = true
    const o = this.#o
    this.#probeDone = this.#probe()
    await Promise.all(
      [this.dirs.models, this.dirs.logs, this.dirs.partial, this.dirs.import].map((d) =>
        mkdir(d, { recursive: true }),
      ),
    )
    if (!o.audit) {
      const audit = this.#audit
      audit.open()
      this.#closer.add(() => audit.close())
    }
    const catalog = new ModelCatalog({ path: this.dirs.catalog, logger: this.#log })
    this.#catalog = catalog
    this.#closer.add(() => catalog.close())
    // Closed last first: jobs are cancelled, then workers stop (their exits still reach the
    // stream), then streams end and the port closes.
    this.#closer.add(() => this.#server.close())
    this.#closer.add(() => this.#telemetry.close())
    const shape = { slots: o.workerSlots, ctxSize: o.workerCtxSize }
    await this.#ensureBuiltin()
    const recovery = catalog.setAside && (await this.#rebuildCatalog(catalog, shape))
    for (const dir of o.importDirs ?? []) {
      if (!(await stat(dir).catch(() => undefined))?.isDirectory()) {
        this.#log.warn({ dir }, 'import dir is not a directory (yet): nothing can be imported from it')
      }
    }

    const stopGraceMs = o.workerStopGraceMs
    const supervisor = new WorkerSupervisor({
      hiveId: this.hiveId,
      logger: this.#log,
      logsDir: this.dirs.logs,
      gpuCacheDir: this.dirs.gpuCache,
      command: this.#workerCommand,
      baseEnv: o.workerEnv ?? process.env,
      bindHost: this.#host,
      advertiseHost: this.#advertiseHost(),
      hiveUrl: () => this.url,
      queenUrl: o.queenUrl,
      token: o.token,
      policy: withDefaults(DEFAULT_RESTART_POLICY, o.restartPolicy ?? {}),
      stopGraceMs,
      readyTimeoutMs: o.workerReadyTimeoutMs,
      probe: withDefaults(DEFAULT_WORKER_PROBE, o.workerProbe ?? {}),
      logMaxBytes: o.logMaxBytes,
      logKeep: o.logKeep,
      version: VERSION,
      emit: (ev) => this.#publish(ev),
    })
    this.#supervisor = supervisor
    this.#closer.add(() => supervisor.close())
    const downloads = new ModelDownloads({
      hub: new HfHub({ endpoint: o.hfEndpoint, token: o.hfToken, timeoutMs: o.hfTimeoutMs }),
      catalog,
      headers: this.#headers,
      dirs: this.dirs,
      logger: this.#log,
      estimateShape: shape,
      retryInitialMs: o.downloadRetryInitialMs,
      stallTimeoutMs: o.downloadStallTimeoutMs,
      diskMarginBytes: o.downloadDiskMarginBytes,
      targetMemory: async () => {
        const devices = await this.#monitor.devices()
        // Accelerators a backend loads on first (where a spawn places a model that fits), the
        // CPU when there are none.
        const gpus = devices.filter((d) => d.type === 'gpu' && usableBackend(d) !== undefined)
        const best = (gpus.length > 0 ? gpus : devices).reduce<(typeof devices)[number] | undefined>(
          (a, d) => (a === undefined || d.memory_free_mb > a.memory_free_mb ? d : a),
          undefined,
        )
        return best && { freeMb: best.memory_free_mb, where: `${best.id} (${best.name})` }
      },
      peerToken: o.token,
      peerMaxAttempts: o.peerMaxAttempts,
    })
    this.#ops = new HiveOperations({
      hiveId: this.hiveId,
      version: VERSION,
      dirs: this.dirs,
      catalog,
      headers: this.#headers,
      importDirs: this.#importDirs,
      downloads: this.#metrics.downloads(downloads),
      supervisor,
      monitor: this.#monitor,
      backendProbe: () => this.#probeDone,
      workerCommand: this.#workerCommand,
      defaults: { ...shape, stopGraceMs },
      ensureBuiltin: () => this.#ensureBuiltin(),
      catalogRecovery: recovery,
    })
    this.#closer.add(() => this.#settleJobs())
    this.#closer.add(() => this.#jobs.close())

    this.#port = await this.#server.listen(this.#host, o.port)
    this.#telemetry.start()
    this.#setStatus('running')
    this.#log.info(
      { host: this.#host, port: this.#port, url: this.url, home: this.dirs.home },
      'rbee-hive listening',
    )

    if (o.queenUrl) {
      const registration = new QueenRegistration({
        queenUrl: o.queenUrl,
        announcement: { hive_id: this.hiveId, hive_url: this.url, version: VERSION, protocol: PROTOCOL },
        token: o.token,
        logger: this.#log,
      })
      registration.start()
      this.#closer.add(() => registration.close())
      // A queen that restarted (or forgot us) no longer subscribes: announce again after two
      // quiet checks, so it learns about this hive without anyone restarting it.
      let quiet = 0
      const watch = setInterval(() => {
        if (!registration.registered || this.#telemetry.subscribers > 0) {
          quiet = 0
          return
        }
        if (++quiet < 2) return
        quiet = 0
        this.#log.info('no queen follows the telemetry stream; announcing the hive again')
        registration.start()
      }, o.reannounceCheckMs)
      watch.unref()
      this.#closer.add(() => clearInterval(watch))
    }
  }

  /**
   * Runs the backend probe in the background (spawns wait for it): which llama.cpp builds load on
   * this machine and the GPUs they see. Resolves with undefined when the hive does not probe.
   */
  #probe(): Promise<BackendProbe | undefined> {
    const o = this.#o
    if (o.backendProbe === null) return Promise.resolve(undefined)
    const stop = new AbortController()
    this.#closer.add(() => stop.abort())
    const base = o.workerEnv ?? process.env
    return probeBackends({
      // A probe program named by the operator runs with the hive's environment, as nvidia-smi
      // does; the worker's own probe with what a worker gets.
      ...(o.backendProbe
        ? { command: resolveWorkerCommand(o.backendProbe), env: base }
        : { command: this.#workerCommand, env: probeEnv(base) }),
      timeoutMs: o.backendProbeTimeoutMs,
      signal: stop.signal,
    }).then((probe) => {
      this.#backendProbe = probe
      this.#log.info(
        {
          ms: probe.duration_ms,
          usable: probe.backends.filter((b) => b.usable).map((b) => b.backend),
          unusable: Object.fromEntries(
            probe.backends.filter((b) => !b.usable).map((b) => [b.backend, b.reason]),
          ),
        },
        'llama.cpp builds probed',
      )
      return probe
    })
  }

  /** Registers the model files a catalog that was set aside at open knew (after the built-in). */
  async #rebuildCatalog(catalog: ModelCatalog, shape: EstimateShape): Promise<CatalogRecovery> {
    const setAside = catalog.setAside!
    const report = await rebuildCatalog({
      catalog,
      models: this.dirs.models,
      partial: this.dirs.partial,
      importDirs: [this.dirs.import],
      headers: this.#headers,
      shape,
      log: this.#log,
    })
    this.#log.warn(
      {
        path: setAside.path,
        moved_to: setAside.movedTo,
        recovered: report.recovered.map((r) => r.id),
        skipped: report.skipped,
      },
      'catalog rebuilt from the model files',
    )
    return { ...setAside, ...report }
  }

  async #ensureBuiltin(): Promise<void> {
    const path = await ensureBuiltinModel(this.dirs.models)
    const facts = await inspectModelFile(this.#headers, path, {
      slots: this.#o.workerSlots,
      ctxSize: this.#o.workerCtxSize,
    })
    this.#catalog!.register({ ...facts, id: BUILTIN_MODEL_ID, source: 'builtin', builtin: true })
  }

  #setStatus(next: Status): void {
    if (next === this.#status) return
    this.#log.info({ from: this.#status, to: next }, 'hive status')
    this.#status = next
  }

  #publish(ev: HiveStreamEvent): void {
    this.#metrics.event(ev)
    this.#telemetry.publish(ev)
  }

  /** Waits (bounded) for running operations to notice cancellation and clean up. */
  async #settleJobs(): Promise<void> {
    if (this.#running.size === 0) return
    const t = new Promise<void>((r) => setTimeout(r, 10_000).unref())
    await Promise.race([Promise.allSettled([...this.#running]), t])
  }

  /** What the hive says about itself. */
  async info(): Promise<HiveInfo> {
    return this.#info(await this.#monitor.devices())
  }

  #info(devices: HiveInfo['devices']): HiveInfo {
    const gaveUp = this.#supervisor?.list().some((w) => w.given_up !== null) ?? false
    return {
      id: this.hiveId,
      hostname: hostname(),
      port: this.#port,
      operational_status: this.#status,
      health_status: gaveUp ? 'degraded' : 'healthy',
      version: VERSION,
      protocol: PROTOCOL,
      devices,
    }
  }

  async capabilities(): Promise<Capabilities> {
    return { hive_id: this.hiveId, devices: await this.#monitor.devices() }
  }

  async #telemetryEvent(): Promise<Extract<HiveStreamEvent, { type: 'telemetry' }>> {
    const supervisor = this.#supervisor
    const snap = await this.#monitor.snapshot(supervisor?.monitored() ?? [])
    return {
      type: 'telemetry',
      hive_id: this.hiveId,
      hive_info: this.#info(snap.devices),
      timestamp: new Date().toISOString(),
      workers: snap.workers,
      worker_infos: (supervisor?.list() ?? [])
        .filter((w) => w.worker.status !== 'stopped')
        .map((w) => w.worker),
    }
  }

  #routes(): void {
    const app = this.#server.app
    app.get(
      '/health',
      ROUTE_ACCESS.public,
      async (): Promise<Health> => ({
        status: this.#server.draining ? 'draining' : 'ok',
        service: 'rbee-hive',
        version: VERSION,
        uptime_s: (Date.now() - this.#startedAt) / 1000,
      }),
    )
    app.get('/v1/info', ROUTE_ACCESS.node, async () => this.info())
    app.get('/v1/capabilities', ROUTE_ACCESS.node, async () => this.capabilities())
    // The node token, like everything on a hive but health (a hive has no user or admin keys).
    app.get('/metrics', ROUTE_ACCESS.node, async (_req, reply) =>
      reply.header('content-type', this.#metrics.contentType).send(await this.#metrics.text()),
    )
    app.get('/v1/heartbeats/stream', ROUTE_ACCESS.node, async (_req, reply) => {
      reply.hijack()
      this.#telemetry.subscribe(reply.raw)
    })
    app.post('/v1/shutdown', ROUTE_ACCESS.node, async (_req, reply) => {
      this.#log.info('shutdown requested over HTTP')
      setImmediate(() => {
        if (this.#o.onShutdownRequest) this.#o.onShutdownRequest()
        else void this.close()
      })
      return reply.code(202).send({ status: 'stopping' })
    })
    registerPeerHubRoutes(app, {
      catalog: () => this.#catalog,
      maxTransfers: this.#o.peerMaxTransfers,
      metrics: this.#metrics.peerHub,
    })
    registerJobRoutes(
      app,
      this.#jobs,
      (op, ctx) => {
        const ops = this.#ops
        if (!ops) throw new RbeeError('RBEE_NOT_READY', 'the hive is starting', { retryAfterS: 1 })
        const p = ops.run(op, ctx)
        const tracked = p.catch(() => {})
        this.#running.add(tracked)
        void tracked.finally(() => this.#running.delete(tracked))
        return p
      },
      {
        precheck: (op) => {
          if (!this.#ops) throw new RbeeError('RBEE_NOT_READY', 'the hive is starting', { retryAfterS: 1 })
          this.#ops.precheck(op)
        },
        auth: this.#auth,
        access: 'node',
        audit: this.#audit,
      },
    )
  }

  /**
   * Stops the hive: new requests get 503, running jobs are cancelled, every worker is stopped
   * (SIGTERM, then SIGKILL after the grace period), streams end, the port and the catalog close.
   * Idempotent; never throws.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#setStatus('stopping')
      this.#server.drain(['/health'])
      try {
        await this.#closer.close()
      } catch (err) {
        this.#log.error({ err: errorMessage(err) }, 'error while stopping')
      }
      this.#log.info('rbee-hive stopped')
    })()
    return this.#closing
  }
}
