import type { HiveConfEntry } from '@rbee/client'
import { hiveConfUrl } from '@rbee/client'
import {
  AuditLog,
  Authenticator,
  Closer,
  createHttpServer,
  createLogger,
  type DeclaredRoute,
  errorMessage,
  firstExternalIPv4,
  generateNodeToken,
  type HttpServer,
  isLoopbackHost,
  isWildcardHost,
  JobRegistry,
  keyFingerprint,
  type Logger,
  type OperationRunner,
  RbeeError,
  type RequestDeadlines,
  registerJobRoutes,
  requestDeadlines,
  withDefaults,
} from '@rbee/common'
import {
  BUILTIN_MODEL_ID,
  type FleetStatus,
  hostPortUrl,
  OPENAI_PATHS,
  OPERATION_ACCESS,
  RERANK_PATHS,
} from '@rbee/contracts'
import { registerDialectRoutes } from './dialects/routes.js'
import { FastLane } from './fastlane/fast-lane.js'
import { HiveManager } from './hives/hive-manager.js'
import type { LocalHiveProvider } from './hives/local-hive.js'
import { registerDashboardRoutes } from './http/dashboard-routes.js'
import { FleetStream } from './http/fleet-stream.js'
import { registerQueenRoutes } from './http/routes.js'
import { createOperationRunner, precheckOperation } from './jobs/operations.js'
import { QueenMetrics } from './metrics.js'
import { type ModelPolicy, type ModelsConf, modelPolicy } from './models-conf.js'
import { registerOllamaGenerateRoutes } from './ollama/generate-routes.js'
import { registerOllamaRoutes } from './ollama/routes.js'
import { registerOpenAiRoutes } from './openai/routes.js'
import { InferenceRouter } from './proxy/inference-router.js'
import { keyPriority, UNCAPPED } from './proxy/request-priority.js'
import type { StallSettings } from './proxy/stall-watch.js'
import { QUEEN_DEFAULTS, type QueenDefaults } from './queen-defaults.js'
import { Registry } from './registry/registry.js'
import { IdleReaper } from './scheduler/idle-reaper.js'
import { Scheduler } from './scheduler/scheduler.js'
import { HiveSpawner } from './scheduler/spawner.js'
import { RawTransport } from './transport/raw-transport.js'
import { UndiciTransport } from './transport/undici-transport.js'
import type { WorkerTransport, WorkerTransportKind } from './transport/worker-transport.js'
import { PROTOCOL, VERSION } from './version.js'

/** The longest the queen waits for a hive to stop one of its workers. */
const WORKER_STOP_TIMEOUT_S = 60

/** Everything a queen can be told; see `main.ts` for the flags. */
export interface QueenOptions {
  /**
   * Folder of the built dashboard (`index.html`, `assets/`); null serves none (`/` says how to
   * build it). @default the `dist/ui` of the installed `@rbee/web`
   */
  dashboardDir?: string | null
  /** @default QUEEN_DEFAULTS.host */
  host?: string
  /** 0 lets the OS pick. @default QUEEN_DEFAULTS.port */
  port?: number
  /** User keys: inference, model list, fleet views, their own jobs. No key at all is allowed only on loopback. */
  apiKeys?: readonly string[]
  /** Admin keys: all a user key may, plus model and worker management and shutdown. */
  adminKeys?: readonly string[]
  /** Per key fingerprint, the priority of its requests that send no `X-Request-Priority`. @default none */
  keyPriorities?: Readonly<Record<string, number>>
  /**
   * Shared secret of queen, hives and workers; required beyond loopback. With keys and no node
   * token, one is generated for the local hive and its workers.
   */
  nodeToken?: string | undefined
  /** The audit log (JSON lines). @default none */
  auditLog?: string | undefined
  /** Inference requests one key may have queued or running; 0 for no limit. @default QUEEN_DEFAULTS.keyLimit */
  keyLimit?: number
  /** A job nobody follows (no stream, no status read) for this long is cancelled; 0 never. @default QUEEN_DEFAULTS.jobGraceMs */
  jobGraceMs?: number
  /** Hives from `hives.conf`. */
  hives?: readonly HiveConfEntry[]
  /** Per model: pin, min/max replicas, idle TTL, priority (models.conf; SIGHUP re-reads it). @default none */
  models?: ModelsConf
  /** Another replica when a model's queue would wait longer than this; 0 never. @default QUEEN_DEFAULTS.scaleOutWaitMs */
  scaleOutWaitMs?: number
  /** Most workers of one model scale-out runs, unless models.conf says. @default QUEEN_DEFAULTS.maxReplicas */
  maxReplicas?: number
  /** A worker loaded this recently is not evicted for an equal or lower priority. @default QUEEN_DEFAULTS.evictHysteresisMs */
  evictHysteresisMs?: number
  /** Longest wait for evicted workers' memory to show up free. @default QUEEN_DEFAULTS.evictWaitMs */
  evictWaitMs?: number
  /**
   * Runs a hive in-process when no hive is configured (`@rbee/local` supplies one). @default none:
   * hives join by registering
   */
  localHive?: LocalHiveProvider | undefined
  /** Id of that hive. @default `localHive.defaultHiveId()` */
  localHiveId?: string | undefined
  /** URL hives and workers use to reach the queen. @default derived from the bind address */
  advertiseUrl?: string
  /** Hive telemetry interval (its stream pings 4 times as often, at most every 250 ms). @default QUEEN_DEFAULTS.hiveIntervalMs */
  hiveIntervalMs?: number
  /**
   * A hive whose stream is quiet this long is offline even though its host still accepts
   * connections (quiet for 1 s it is suspect; offline at once if its host does not answer).
   * @default QUEEN_DEFAULTS.hiveOfflineMs
   */
  hiveOfflineMs?: number
  /** Stall bounds per request. @default QUEEN_DEFAULTS.stall */
  stall?: StallSettings
  /** SSE streams (OpenAI, jobs, heartbeats) get a keep-alive comment this often while quiet; 0 none. @default QUEEN_DEFAULTS.keepAliveMs */
  keepAliveMs?: number
  /** Worker heartbeat interval; 3 missed ones drop a worker no hive vouches for. @default QUEEN_DEFAULTS.workerHeartbeatIntervalMs */
  workerHeartbeatIntervalMs?: number
  /** Requests waiting per model. @default QUEEN_DEFAULTS.queueSize */
  queueSize?: number
  /** @default QUEEN_DEFAULTS.queueTimeoutMs */
  queueTimeoutMs?: number
  /** @default QUEEN_DEFAULTS.spawnTimeoutMs */
  spawnTimeoutMs?: number
  /** Longest a spawn or hive operation waits for a known, offline hive to come online. @default QUEEN_DEFAULTS.hiveWaitMs */
  hiveWaitMs?: number
  /** Idle time before a worker is stopped; 0 never. @default QUEEN_DEFAULTS.idleTtlMs */
  idleTtlMs?: number
  /** The same for built-in models. @default QUEEN_DEFAULTS.builtinIdleTtlMs */
  builtinIdleTtlMs?: number
  /** Slots of workers the queen spawns (hive default when unset). */
  workerSlots?: number | undefined
  /** Context size of workers the queen spawns (hive default when unset). */
  workerCtxSize?: number | undefined
  /** Largest public request body. @default QUEEN_DEFAULTS.bodyLimit */
  bodyLimit?: number
  /** How long a request may take to arrive. @default HEADERS_DEADLINE_MS, BODY_DEADLINE_MS */
  requestDeadlines?: Partial<RequestDeadlines>
  /** Tries per inference request. @default QUEEN_DEFAULTS.maxAttempts */
  maxAttempts?: number
  /**
   * How the queen reaches workers and serves OpenAI completions (see `WorkerTransportKind`):
   * `raw` also puts the fast lane in front of fastify. Not a user setting: for A/B benchmarks.
   * @default QUEEN_DEFAULTS.workerTransport
   */
  workerTransport?: WorkerTransportKind
  logger?: Logger
  /** Called on `POST /v1/shutdown` (main exits the process). @default close() */
  onShutdownRequest?: () => void
}

/** What a reload (SIGHUP) re-read. A part left out (its file did not parse) stays as it was. */
export interface QueenReload {
  /** hives.conf's hives now. */
  hives?: readonly HiveConfEntry[]
  /** models.conf now. */
  models?: ModelsConf
  /** The user and admin keys, and the node token, from flags, env and key files now. */
  keys?: {
    api_keys: readonly string[]
    admin_keys: readonly string[]
    node_token?: string | undefined
    key_priorities?: Readonly<Record<string, number>>
  }
}

/** Fingerprints added to and removed from a key list, for logs (never the keys). */
function keyChanges(before: readonly string[], after: readonly string[]) {
  const was = new Set(before)
  const now = new Set(after)
  return {
    added: [...now].filter((k) => !was.has(k)).map(keyFingerprint),
    removed: [...was].filter((k) => !now.has(k)).map(keyFingerprint),
    total: now.size,
  }
}

/**
 * queen-rbee: knows every hive and worker, decides where each request runs, streams answers
 * back. `await new Queen(opts).start()` binds and connects; `close()` drains and stops
 * everything it started (the local hive and its workers too).
 */
export class Queen {
  readonly registry: Registry
  readonly metrics: QueenMetrics
  readonly #o: QueenOptions & QueenDefaults
  readonly #log: Logger
  readonly #host: string
  readonly #closer = new Closer()
  readonly #server: HttpServer
  readonly #jobs: JobRegistry
  readonly #hives: HiveManager
  readonly #scheduler: Scheduler
  readonly #transport: WorkerTransport
  readonly #fleet: FleetStream
  readonly #reaper: IdleReaper
  readonly #operations: OperationRunner
  readonly #auth: Authenticator
  readonly #nodeToken: string | undefined
  readonly #audit: AuditLog | undefined
  readonly #startedAt = Date.now()
  readonly #discovering = new Map<string, number>()
  /** models.conf as last loaded or reloaded. */
  #models: ModelsConf
  /** Per key fingerprint, its requests' default priority (key files; reloaded with them). */
  #keyPriorities: Readonly<Record<string, number>>
  /** Fingerprints of the admin keys: their requests' priority is not capped. */
  #adminKeys: ReadonlySet<string> = new Set()
  /** hives.conf's hives as last applied: id → URL. */
  #configHives = new Map<string, string>()
  /** The keys in force (kept to tell what a reload changes). */
  #keys: { user: readonly string[]; admin: readonly string[] }
  /** Set before the port is bound, so `/v1/info` says from its first answer that one is coming. */
  #localHiveId: string | null = null
  #port = 0
  #started = false
  #closing: Promise<void> | undefined

  /** @throws RbeeError `RBEE_CONFIG` for an unsafe combination (no API key beyond loopback…). */
  constructor(options: QueenOptions = {}) {
    const o = withDefaults<QueenDefaults, QueenOptions>(QUEEN_DEFAULTS, options)
    this.#o = o
    this.#models = options.models ?? new Map()
    this.#keyPriorities = options.keyPriorities ?? {}
    const policy = (model: string): ModelPolicy => modelPolicy(this.#models, model)
    this.#host = o.host
    const apiKeys = options.apiKeys ?? []
    const adminKeys = options.adminKeys ?? []
    const keys = apiKeys.length + adminKeys.length > 0
    if (!isLoopbackHost(this.#host)) {
      if (!keys) {
        throw new RbeeError(
          'RBEE_CONFIG',
          `refusing to serve on ${this.#host} without an API key: set --api-key / RBEE_API_KEYS / --api-key-file, or bind to 127.0.0.1`,
        )
      }
      if (!options.nodeToken) {
        throw new RbeeError(
          'RBEE_CONFIG',
          `refusing to serve on ${this.#host} without a node token: set --node-token (RBEE_NODE_TOKEN), shared with hives`,
        )
      }
    }
    this.#log = options.logger ?? createLogger({ name: 'queen-rbee' })
    // With keys, hives and workers must never be open: the local hive and its workers get a
    // node token even when none was configured.
    this.#nodeToken = options.nodeToken ?? (keys ? generateNodeToken() : undefined)
    if (keys && !options.nodeToken) {
      this.#log.info(
        (options.hives ?? []).length > 0
          ? 'generated a node token for this run; hives in hives.conf cannot know it: give queen and hives the same --node-token'
          : 'generated a node token for the local hive and its workers',
      )
    }
    this.#auth = new Authenticator({ userKeys: apiKeys, adminKeys, nodeToken: this.#nodeToken })
    this.#keys = { user: apiKeys, admin: adminKeys }
    this.#adminKeys = new Set(adminKeys.map(keyFingerprint))
    this.#audit = options.auditLog
      ? new AuditLog({ path: options.auditLog, daemon: 'queen-rbee' })
      : undefined
    const { hiveIntervalMs, hiveOfflineMs, keepAliveMs } = o
    this.registry = new Registry({
      hiveIntervalMs,
      hiveOfflineMs,
      workerIntervalMs: o.workerHeartbeatIntervalMs,
      logger: this.#log,
    })
    this.#fleet = new FleetStream({ registry: this.registry, keepAliveMs })
    this.#hives = new HiveManager({
      registry: this.registry,
      logger: this.#log,
      token: this.#nodeToken,
      hiveIntervalMs,
      hiveOfflineMs,
      onEvent: (ev) => this.#fleet.publish(ev),
    })
    this.#transport =
      o.workerTransport === 'raw'
        ? new RawTransport({ token: this.#nodeToken })
        : new UndiciTransport({ token: this.#nodeToken })
    let scheduler: Scheduler | undefined
    this.metrics = new QueenMetrics({
      queueDepths: () => scheduler?.queueDepths() ?? [],
      workerStates: () => {
        const out = new Map<string, number>()
        for (const w of this.registry.workers()) out.set(w.info.status, (out.get(w.info.status) ?? 0) + 1)
        out.set('routable', [...this.registry.workers()].filter((w) => w.routable).length)
        return out
      },
      hives: () => [...this.registry.hives()].map((h) => [h.id, h.online] as [string, boolean]),
    })
    const spawner = new HiveSpawner({
      registry: this.registry,
      hives: this.#hives,
      logger: this.#log,
      metrics: this.metrics,
      timeoutMs: o.spawnTimeoutMs,
      hiveWaitMs: o.hiveWaitMs,
      slots: options.workerSlots,
      ctxSize: options.workerCtxSize,
      onSpawned: async (result) => {
        this.registry.workerInfo(await this.#transport.info(result.url))
      },
      eviction: {
        stop: (w) => this.#stopWorker(w.hiveId!, w.id),
        policy,
        hysteresisMs: o.evictHysteresisMs,
        waitMs: o.evictWaitMs,
      },
      download: (hiveId, source, signal, narrate) => this.#download(hiveId, source, signal, narrate),
    })
    scheduler = new Scheduler({
      registry: this.registry,
      spawner,
      logger: this.#log,
      queueSize: o.queueSize,
      queueTimeoutMs: o.queueTimeoutMs,
      policy,
      scaleOutWaitMs: o.scaleOutWaitMs,
      maxReplicas: o.maxReplicas,
      metrics: this.metrics,
    })
    this.#scheduler = scheduler
    this.#reaper = new IdleReaper({
      registry: this.registry,
      ttlMs: (model) => (this.#isBuiltin(model) ? o.builtinIdleTtlMs : o.idleTtlMs),
      stop: (w) => this.#stopWorker(w.hiveId!, w.id),
      logger: this.#log,
      policy,
    })
    const router = new InferenceRouter({
      scheduler,
      registry: this.registry,
      metrics: this.metrics,
      logger: this.#log,
      transport: this.#transport,
      maxAttempts: o.maxAttempts,
      keyLimit: o.keyLimit,
      stall: o.stall,
      keepAliveMs,
      keyPriority: (key) =>
        key === null
          ? UNCAPPED
          : keyPriority(this.#adminKeys.has(key) ? 'admin' : 'user', this.#keyPriorities[key]),
    })
    const { bodyLimit } = o
    const deadlines = requestDeadlines(options.requestDeadlines)
    const lane = new FastLane({
      router,
      metrics: this.metrics,
      auth: this.#auth,
      audit: this.#audit,
      bodyLimit,
      draining: () => this.#server.draining,
      logger: this.#log,
      deadlines,
    })
    this.#server = createHttpServer({
      logger: this.#log,
      bodyLimit,
      deadlines,
      openAiPaths: [...OPENAI_PATHS, ...RERANK_PATHS],
      front: o.workerTransport === 'raw' ? lane.front : undefined,
      auth: this.#auth,
      audit: this.#audit,
    })
    this.#jobs = new JobRegistry({
      actor: 'queen-rbee',
      logger: this.#log,
      keepAliveMs,
      unreadGraceMs: o.jobGraceMs,
    })
    this.#operations = createOperationRunner({
      registry: this.registry,
      hives: this.#hives,
      router,
      fleetStatus: () => this.fleetStatus(),
      hiveWaitMs: o.hiveWaitMs,
    })
    registerJobRoutes(this.#server.app, this.#jobs, this.#operations, {
      precheck: (op) => precheckOperation(this.registry, op),
      auth: this.#auth,
      access: 'user',
      list: true,
      operationAccess: (op) => OPERATION_ACCESS[op.operation],
      audit: this.#audit,
    })
    registerOpenAiRoutes(this.#server.app, { registry: this.registry, hives: this.#hives, router })
    registerOllamaRoutes(this.#server.app, {
      registry: this.registry,
      hives: this.#hives,
      router,
      reaper: this.#reaper,
      localHiveId: () => this.#localHiveId,
      audit: this.#audit,
    })
    registerDialectRoutes(this.#server.app, router)
    registerOllamaGenerateRoutes(this.#server.app, { registry: this.registry, router })
    registerDashboardRoutes(this.#server.app, { dir: options.dashboardDir })
    registerQueenRoutes(this.#server.app, {
      queen: this,
      registry: this.registry,
      fleet: this.#fleet,
      fleetStatus: () => this.fleetStatus(),
      metrics: this.metrics,
      onHiveReady: (ready) => {
        this.#hives.add(ready.hive_id, ready.hive_url, 'registration')
        this.registry.hiveVersion(ready.hive_id, ready)
      },
      onHiveRefused: (ready) => {
        // Kept (not connected to) so `rbee status` shows it and why, instead of dropping it.
        if (!this.registry.hive(ready.hive_id)) {
          this.registry.upsertHive(ready.hive_id, new URL(ready.hive_url).origin, 'registration')
        }
        this.registry.hiveVersion(ready.hive_id, ready)
      },
      onWorkerHeartbeat: (hiveId, workerUrl) => this.#discover(hiveId, workerUrl),
      audit: this.#audit,
      onShutdown: () => {
        if (options.onShutdownRequest) options.onShutdownRequest()
        else void this.close()
      },
      nodeTokenBodyLimit: 256 * 1024,
    })
  }

  get port(): number {
    return this.#port
  }

  /** Every route this daemon serves, with who may call it (public, user, admin, node). */
  get routes(): readonly DeclaredRoute[] {
    return this.#server.routes
  }

  /** The URL hives and workers use to reach this queen. */
  get url(): string {
    if (this.#o.advertiseUrl) return this.#o.advertiseUrl.replace(/\/+$/, '')
    // A wildcard bind is reachable at the machine's own address, which is what others need.
    const h = isWildcardHost(this.#host) ? (firstExternalIPv4() ?? '127.0.0.1') : this.#host
    return hostPortUrl(h, this.#port)
  }

  get draining(): boolean {
    return this.#server.draining
  }

  get uptimeS(): number {
    return (Date.now() - this.#startedAt) / 1000
  }

  /** Id of the in-process hive, if one runs. */
  get localHiveId(): string | null {
    return this.#localHiveId
  }

  /** models.conf as last loaded or reloaded. */
  get modelsConf(): ModelsConf {
    return this.#models
  }

  /** Starts a worker for each model in models.conf below its `min_replicas` (a pinned one: 1). */
  #keepUp(): void {
    for (const [model, p] of this.#models) {
      if (model === '*' || p.minReplicas === 0) continue
      if (this.registry.hivesWithModel(model).some((h) => h.online))
        this.#scheduler.keepUp(model, p.minReplicas)
    }
  }

  /** How many hives hives.conf names now (as last loaded or reloaded). */
  get configuredHives(): number {
    return this.#configHives.size
  }

  get authInfo(): { api_keys: boolean; node_token: boolean } {
    return { api_keys: this.#auth.keysRequired, node_token: this.#auth.nodeTokenRequired }
  }

  #isBuiltin(model: string): boolean {
    for (const h of this.registry.hivesWithModel(model)) {
      const m = h.catalog?.find((e) => e.id === model)
      if (m) return m.builtin
    }
    return model === BUILTIN_MODEL_ID
  }

  /**
   * A spawn's `model_download` on a hive without the file, through the same operation forwarding
   * as a client's (so it fetches from where a client's download would), its narration relayed.
   */
  async #download(
    hiveId: string,
    source: string,
    signal: AbortSignal,
    narrate: (human: string) => void,
  ): Promise<void> {
    const noop = (): void => {}
    await this.#operations(
      { operation: 'model_download', hive_id: hiveId, model: source },
      {
        id: `spawn-download-${hiveId}`,
        owner: null,
        signal,
        deadlineAt: undefined,
        log: this.#log.child({ hive_id: hiveId, source }),
        narrate: (_action, human) => narrate(human),
        data: noop,
        token: noop,
      },
    )
  }

  async #stopWorker(hiveId: string, workerId: string): Promise<void> {
    const client = this.#hives.client(hiveId)
    if (!client) throw new RbeeError('RBEE_HIVE_NOT_FOUND', `no connection to hive ${hiveId}`)
    // Bounded: eviction, the idle reaper and keep-up wait on it (a stop takes the hive's grace,
    // 10 s by default, then SIGKILL).
    const job = await client.run({
      operation: 'worker_stop',
      hive_id: hiveId,
      worker_id: workerId,
      timeout: WORKER_STOP_TIMEOUT_S,
    })
    const out = await job.collect()
    if (out.outcome !== 'done') throw new RbeeError('RBEE_UPSTREAM', out.message ?? 'worker_stop failed')
  }

  /**
   * A heartbeat named a hive the queen does not know (it restarted, and the hive registered
   * with its predecessor): the worker's `/v1/info` says where its hive is.
   */
  #discover(hiveId: string, workerUrl: string): void {
    if (this.registry.hive(hiveId)) return
    const last = this.#discovering.get(hiveId) ?? 0
    if (Date.now() - last < 10_000) return
    this.#discovering.set(hiveId, Date.now())
    void this.#transport
      .hiveUrlOf(workerUrl)
      .then((url) => {
        if (url && !this.registry.hive(hiveId) && !this.#closer.closed) {
          this.#log.info({ hive_id: hiveId, url }, 'hive found through its worker')
          this.#hives.add(hiveId, url, 'registration')
        }
      })
      .catch((err: unknown) =>
        this.#log.debug({ hive_id: hiveId, err: errorMessage(err) }, 'hive discovery failed'),
      )
  }

  /** Every hive and worker, as `status` and `rbee status --json` show them. */
  fleetStatus(): FleetStatus {
    return {
      queen: { version: VERSION, protocol: PROTOCOL, uptime_s: this.uptimeS, url: this.url },
      hives: [...this.registry.hives()].map((h) => this.registry.toHiveRecord(h)),
      workers: [...this.registry.workers()].map((w) => w.toRecord()),
    }
  }

  /**
   * Binds the port, connects to configured hives (or starts the local hive), starts timers.
   * @throws when the port cannot be bound or the local hive cannot start.
   */
  async start(): Promise<{ url: string; port: number }> {
    if (this.#started) throw new Error('Queen.start() was already called')
    this.#started = true
    const o = this.#o
    const audit = this.#audit
    if (audit) {
      audit.open()
      this.#closer.add(() => audit.close())
    }
    this.#closer.add(() => this.#transport.close())
    this.#closer.add(() => this.#server.close())
    this.#closer.add(() => this.#hives.close())
    this.#closer.add(() => this.#fleet.close())
    this.#closer.add(() => this.#jobs.close())
    this.#closer.add(() => this.#scheduler.close())
    // The local hive's id is known before the port is bound: a client that sees the queen answer
    // reads in `/v1/info` that a local hive is coming, and waits for it to be online.
    const localHive = (o.hives ?? []).length === 0 ? o.localHive : undefined
    if (localHive) this.#localHiveId = o.localHiveId ?? localHive.defaultHiveId()
    this.#port = await this.#server.listen(this.#host, o.port)
    const sweep = setInterval(() => this.registry.sweep(), Math.max(100, Math.min(500, o.hiveIntervalMs / 2)))
    sweep.unref()
    this.#closer.add(() => clearInterval(sweep))
    const reap = setInterval(() => {
      this.#reaper.sweep()
      this.#keepUp()
    }, 5000)
    reap.unref()
    this.#closer.add(() => clearInterval(reap))
    for (const h of o.hives ?? []) {
      this.#configHives.set(h.id, hiveConfUrl(h))
      this.#hives.add(h.id, hiveConfUrl(h), 'config')
    }
    if (localHive) await this.#startLocalHive(localHive, this.#localHiveId!)
    this.#log.info(
      {
        host: this.#host,
        port: this.#port,
        url: this.url,
        hives: this.registry.hiveCount,
        local_hive: this.localHiveId,
      },
      'queen-rbee listening',
    )
    return { url: this.url, port: this.#port }
  }

  /**
   * Applies what a reload re-read (main calls it on SIGHUP): hives added to hives.conf are
   * connected, removed ones dropped (with their workers), moved ones reconnected; new user and
   * admin keys take effect with the next request. Logs what changed by id and key fingerprint,
   * never a key. A change that would leave the API unsafe (no key beyond loopback, keys without
   * a node token) or a new node token (hives and workers hold the old one) is refused, with an
   * error logged and the old value kept.
   */
  reload(next: QueenReload, log: Logger = this.#log): void {
    if (this.#closer.closed) return
    if (next.hives) this.#reloadHives(next.hives, log)
    if (next.models) {
      this.#models = next.models
      log.info({ models: [...next.models.keys()] }, 'models.conf reloaded')
      this.#keepUp()
    }
    if (next.keys) this.#reloadKeys(next.keys, log)
  }

  #reloadHives(entries: readonly HiveConfEntry[], log: Logger): void {
    const next = new Map(entries.map((e) => [e.id, hiveConfUrl(e)]))
    const added: string[] = []
    const moved: string[] = []
    const removed = [...this.#configHives.keys()].filter((id) => !next.has(id))
    for (const [id, url] of next) {
      const was = this.#configHives.get(id)
      if (was === undefined) added.push(id)
      else if (was !== url) moved.push(id)
    }
    for (const id of removed) {
      if (this.registry.hive(id)?.source !== 'local') this.#hives.remove(id)
    }
    for (const id of [...added, ...moved]) this.#hives.add(id, next.get(id)!, 'config')
    this.#configHives = next
    log.info({ added, removed, moved, hives: next.size }, 'hives.conf reloaded')
    if (added.length > 0 && this.#localHiveId !== null) {
      log.info(
        { local_hive: this.#localHiveId },
        'the local hive keeps running next to the configured hives until the queen restarts',
      )
    }
  }

  #reloadKeys(keys: NonNullable<QueenReload['keys']>, log: Logger): void {
    if (keys.node_token !== this.#o.nodeToken) {
      log.error(
        'the node token changed in its file: refused, the running one is kept (hives and workers hold it); restart queen, hives and workers with the new one',
      )
    }
    const count = keys.api_keys.length + keys.admin_keys.length
    if (count === 0 && !isLoopbackHost(this.#host)) {
      log.error(
        { host: this.#host },
        'the key files now hold no key: refused (the API would be open beyond loopback); the old keys are kept',
      )
      return
    }
    if (count > 0 && this.#nodeToken === undefined) {
      log.error(
        'keys where the queen started without any: refused (its hives and workers have no node token); restart the queen to turn keys on',
      )
      return
    }
    const user = keyChanges(this.#keys.user, keys.api_keys)
    const admin = keyChanges(this.#keys.admin, keys.admin_keys)
    this.#auth.update({ userKeys: keys.api_keys, adminKeys: keys.admin_keys, nodeToken: this.#nodeToken })
    this.#keys = { user: keys.api_keys, admin: keys.admin_keys }
    this.#adminKeys = new Set(keys.admin_keys.map(keyFingerprint))
    this.#keyPriorities = keys.key_priorities ?? {}
    log.info({ user_keys: user, admin_keys: admin }, 'API keys reloaded')
  }

  async #startLocalHive(provider: LocalHiveProvider, hiveId: string): Promise<void> {
    const o = this.#o
    const hive = provider.create({
      hiveId,
      queenUrl: this.url,
      token: this.#nodeToken,
      audit: this.#audit,
      logger: this.#log.child({ component: 'local-hive' }),
      telemetryIntervalMs: o.hiveIntervalMs,
      workerSlots: o.workerSlots,
      workerCtxSize: o.workerCtxSize,
    })
    // Closed before the queen's own parts (Closer runs last-added first): workers stop while
    // their exits can still reach the registry.
    this.#closer.add(() => hive.close())
    await hive.start()
    // Wait for its stream, so the first request after "listening" finds an online hive.
    const online = new Promise<void>((resolve) => {
      const off = this.registry.on((ev) => {
        if (ev.type === 'hive_online' && ev.hiveId === hive.hiveId) {
          off()
          resolve()
        }
      })
      setTimeout(() => {
        off()
        resolve()
      }, 10_000).unref()
    })
    this.#hives.add(hive.hiveId, hive.localUrl, 'local')
    await online
  }

  /**
   * Stops taking requests (503), cancels queued requests and jobs, stops the local hive and its
   * workers, closes hive streams and the port. Idempotent; never throws.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#server.drain(['/health'])
      try {
        // Queued requests and running jobs end first, so nothing asks a closing hive for work.
        this.#scheduler.close()
        await this.#jobs.close()
        await this.#closer.close()
      } catch (err) {
        this.#log.error({ err: errorMessage(err) }, 'error while stopping')
      }
      this.#log.info('queen-rbee stopped')
    })()
    return this.#closing
  }
}
