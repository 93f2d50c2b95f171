import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import {
  Authenticator,
  Closer,
  createHttpServer,
  type DeclaredRoute,
  type HttpServer,
  isLoopbackHost,
  type Logger,
  RbeeError,
  ROUTE_ACCESS,
} from '@rbee/common'
import {
  type Backend,
  OPENAI_PATHS,
  RERANK_PATHS,
  WORKER_SLOTS_REPORT_MS,
  type WorkerInfo,
  type WorkerReady,
  type WorkerStatus,
} from '@rbee/contracts'
import { deviceLabel } from './engine/device-selection.js'
import type { Engine, GenerationRequest, GenerationResult } from './engine/engine.js'
import { HeartbeatSender } from './heartbeat.js'
import { registerDialectRoutes } from './http/dialect-routes.js'
import { registerNativeRoutes } from './http/native-routes.js'
import { registerOllamaGenerateRoutes } from './http/ollama-generate-routes.js'
import { registerOllamaRoutes } from './http/ollama-routes.js'
import { registerOpenAiRoutes } from './http/openai-routes.js'
import { registerRerankRoutes } from './http/rerank-routes.js'
import { LivenessMeter } from './liveness.js'
import { WorkerMetrics } from './metrics.js'
import { SlotReport, type SlotUse } from './slot-report.js'
import { PROTOCOL, VERSION } from './version.js'

export interface WorkerOptions {
  id: string
  modelRef: string
  host: string
  advertiseHost?: string | undefined
  port: number
  hiveId?: string | undefined
  hiveUrl?: string | undefined
  queenUrl?: string | undefined
  nodeToken?: string | undefined
  apiToken?: string | undefined
  heartbeatIntervalMs: number
  graceMs: number
  slots: number
  /** GPU indexes (reported as `<backend>:<device>`, `cuda:0,1` for a model split across two). */
  device: readonly number[]
  logger: Logger
  /** Loads the engine; called after the port is bound so `/v1/ready` can report progress. */
  loadEngine: (onProgress: (p: number) => void) => Promise<Engine>
  /** Told about progress and readiness (main prints these as JSON lines for the parent). */
  onLoading?: (progress: number) => void
  /** Told when slot use changes, at most every `WORKER_SLOTS_REPORT_MS` (main prints it). */
  onSlots?: (use: SlotUse) => void
}

/**
 * One worker: an HTTP server bound first (so its port is known and `/v1/ready` answers while
 * loading), then the engine, then heartbeats. `close()` drains in-flight requests for up to
 * `graceMs` before stopping.
 */
export class Worker {
  readonly #o: WorkerOptions
  readonly #server: HttpServer
  readonly #closer = new Closer()
  readonly #inFlight = new Map<string, AbortController>()
  readonly #startedAt = Date.now()
  readonly #metrics = new WorkerMetrics({ slots: () => this.#engine?.status() })
  #engine: Engine | undefined
  #status: WorkerStatus = 'starting'
  #progress = 0
  #port = 0
  #heartbeat: HeartbeatSender | undefined
  #drained: (() => void) | undefined
  readonly #slotReport: SlotReport | undefined
  readonly #liveness: LivenessMeter

  constructor(options: WorkerOptions) {
    if (!isLoopbackHost(options.host) && !options.apiToken) {
      throw new RbeeError(
        'RBEE_CONFIG',
        `refusing to listen on ${options.host} without an API token: set --api-token (RBEE_API_TOKEN), or bind to 127.0.0.1`,
      )
    }
    this.#o = options
    this.#server = createHttpServer({
      logger: options.logger,
      bodyLimit: 8 * 1024 * 1024,
      openAiPaths: [...OPENAI_PATHS, ...RERANK_PATHS],
      auth: new Authenticator({ nodeToken: options.apiToken }),
    })
    const liveness = new LivenessMeter()
    this.#liveness = liveness
    this.#closer.add(() => liveness.close())
    registerNativeRoutes(this.#server.app, this)
    registerOpenAiRoutes(this.#server.app, this)
    // Who may call it: the node token, as every worker route but health.
    this.#server.app.get('/metrics', ROUTE_ACCESS.node, async (_req, reply) =>
      reply.header('content-type', this.#metrics.contentType).send(await this.#metrics.text()),
    )
    registerRerankRoutes(this.#server.app, this)
    registerOllamaRoutes(this.#server.app, this)
    registerOllamaGenerateRoutes(this.#server.app, this)
    registerDialectRoutes(this.#server.app, this)
    const onSlots = options.onSlots
    if (onSlots) {
      const report = new SlotReport({
        gapMs: WORKER_SLOTS_REPORT_MS,
        read: () => ({ status: this.#status, slots_busy: this.#engine?.status().slotsBusy ?? 0 }),
        send: onSlots,
      })
      this.#slotReport = report
      this.#closer.add(() => report.close())
    }
  }

  get id(): string {
    return this.#o.id
  }
  get modelRef(): string {
    return this.#o.modelRef
  }
  get port(): number {
    return this.#port
  }

  /** Every route this daemon serves, with who may call it (public, user, admin, node). */
  get routes(): readonly DeclaredRoute[] {
    return this.#server.routes
  }
  get status(): WorkerStatus {
    return this.#status
  }
  get version(): string {
    return VERSION
  }
  get uptimeS(): number {
    return (Date.now() - this.#startedAt) / 1000
  }
  get backend(): Backend | undefined {
    return this.#engine?.backend
  }
  get hiveUrl(): string | undefined {
    return this.#o.hiveUrl
  }
  get draining(): boolean {
    return this.#server.draining
  }
  /** The host others use to reach this worker. */
  get advertiseHost(): string {
    if (this.#o.advertiseHost) return this.#o.advertiseHost
    const h = this.#o.host
    return h === '0.0.0.0' || h === '::' ? hostname() : h
  }

  /** The engine, once loaded. @throws RbeeError `RBEE_NOT_READY` while loading. */
  engine(): Engine {
    if (!this.#engine || this.#status === 'starting') {
      throw new RbeeError('RBEE_NOT_READY', `model is still loading (${Math.round(this.#progress * 100)}%)`, {
        retryAfterS: 1,
      })
    }
    return this.#engine
  }

  info(): WorkerInfo {
    const s = this.#engine?.status()
    return {
      id: this.#o.id,
      model_id: this.#o.modelRef,
      device: deviceLabel(this.#engine?.backend ?? 'cpu', this.#o.device),
      port: this.#port,
      status: this.#status,
      implementation: 'llm-worker-rbee',
      version: VERSION,
      protocol: PROTOCOL,
      host: this.advertiseHost,
      hive_id: this.#o.hiveId ?? null,
      slots_total: s?.slotsTotal ?? this.#o.slots,
      slots_busy: s?.slotsBusy ?? 0,
    }
  }

  ready(): WorkerReady {
    const s = this.#engine?.status()
    return {
      ready: this.#status === 'ready' || this.#status === 'busy',
      status: this.#status,
      progress: this.#progress,
      model_id: this.#o.modelRef,
      slots_total: s?.slotsTotal ?? this.#o.slots,
      slots_busy: s?.slotsBusy ?? 0,
    }
  }

  #setStatus(next: WorkerStatus): void {
    if (next === this.#status) return
    this.#o.logger.info({ from: this.#status, to: next }, 'worker status')
    this.#status = next
    this.#heartbeat?.beat()
    this.#slotReport?.changed()
  }

  /** Binds the port; resolves with it before the model is loaded. */
  async listen(): Promise<number> {
    this.#port = await this.#server.listen(this.#o.host, this.#o.port)
    this.#closer.add(() => this.#server.close())
    if (this.#o.queenUrl) {
      const hb = new HeartbeatSender({
        queenUrl: this.#o.queenUrl,
        intervalMs: this.#o.heartbeatIntervalMs,
        info: () => this.info(),
        liveness: () => this.#liveness.report(),
        logger: this.#o.logger,
        token: this.#o.nodeToken,
      })
      this.#heartbeat = hb
      this.#closer.add(() => hb.final().catch(() => {}))
    }
    return this.#port
  }

  /** Loads the model; the worker is `ready` when this resolves. */
  async load(): Promise<void> {
    const engine = await this.#o.loadEngine((p) => {
      this.#progress = p
      this.#o.onLoading?.(p)
    })
    this.#engine = engine
    this.#closer.add(() => engine.close())
    this.#progress = 1
    engine.onStatusChange(() => {
      if (this.#status !== 'ready' && this.#status !== 'busy') return
      this.#slotReport?.changed()
      const s = engine.status()
      this.#setStatus(s.slotsBusy >= s.slotsTotal ? 'busy' : 'ready')
    })
    this.#setStatus('ready')
    this.#heartbeat?.start()
  }

  /** Runs a generation tracked for cancellation and draining. */
  async generate(
    requestId: string,
    req: Omit<GenerationRequest, 'signal'>,
    signal: AbortSignal,
  ): Promise<GenerationResult> {
    const engine = this.engine()
    return this.track(
      signal,
      async (tracked) => {
        const result = await this.#metrics.generation({ ...req, signal: tracked }, (r) => engine.generate(r))
        this.#liveness.finished(result)
        return result
      },
      requestId,
    )
  }

  /**
   * Runs engine work (a generation, embeddings, scores, a token count) counted in `inFlight`:
   * `close()` waits for it up to `graceMs` before the engine goes, then aborts what is left.
   */
  async track<T>(
    signal: AbortSignal,
    work: (signal: AbortSignal) => Promise<T>,
    requestId: string = randomUUID(),
  ): Promise<T> {
    const ac = new AbortController()
    const onAbort = (): void => ac.abort(signal.reason)
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
    this.#inFlight.set(requestId, ac)
    try {
      return await work(ac.signal)
    } finally {
      signal.removeEventListener('abort', onAbort)
      this.#inFlight.delete(requestId)
      if (this.#inFlight.size === 0) this.#drained?.()
    }
  }

  /** Cancels one in-flight generation; false if no such request. */
  cancel(requestId: string): boolean {
    const ac = this.#inFlight.get(requestId)
    ac?.abort(new RbeeError('RBEE_CANCELLED', 'cancelled'))
    return ac !== undefined
  }

  get inFlight(): number {
    return this.#inFlight.size
  }

  /**
   * Stops taking requests (503 + `Connection: close`), waits up to `graceMs` for in-flight
   * generations, cancels what is left, then closes everything. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closer.closed) return this.#closer.close()
    this.#setStatus('stopping')
    this.#server.drain(['/health', '/v1/ready'])
    if (this.#inFlight.size > 0) {
      await new Promise<void>((resolve) => {
        this.#drained = resolve
        setTimeout(resolve, this.#o.graceMs).unref()
      })
    }
    for (const ac of this.#inFlight.values())
      ac.abort(new RbeeError('RBEE_DRAINING', 'worker is shutting down'))
    this.#status = 'stopped'
    await this.#closer.close()
  }
}
