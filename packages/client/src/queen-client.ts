import {
  BUILTIN_MODEL_ID,
  DEFAULT_QUEEN_URL,
  type FleetStatus,
  FleetStatusSchema,
  type HiveReady,
  type HiveRecord,
  HiveRecordSchema,
  type ModelList,
  ModelListSchema,
  OPERATION_ACCESS,
  type Operation,
  type OperationOf,
  type QueenInfo,
  QueenInfoSchema,
  QueenStreamEventSchema,
  type WorkerHeartbeat,
} from '@rbee/contracts'
import { z } from 'zod'
import type { EventSubscription } from './event-subscription.js'
import { HttpClient } from './http-client.js'
import type { JobStream, JobStreamOptions } from './job-stream.js'
import { type ClientOptions, type HeartbeatOptions, ServiceClient } from './service-client.js'

/** The queen's default address. */

/** Inference parameters of an `infer` job. */
export type InferParams = Omit<OperationOf<'infer'>, 'operation' | 'model'> & { model?: string }

export interface QueenClientOptions extends Partial<ClientOptions> {
  /**
   * An admin key, used only where one is needed (model and worker management, shutdown) and for
   * following those jobs; everything else goes with `token`.
   */
  adminToken?: string | undefined
}

/**
 * Typed client of `queen-rbee`: the jobs API, fleet status, models, metrics and the aggregated
 * heartbeat stream. The CLI and UIs use it; `token` is an API key (or, for hives and workers
 * calling the node endpoints, the node token), `adminToken` an admin key.
 */
export class QueenClient extends ServiceClient {
  readonly #admin: HttpClient | undefined

  constructor(options: QueenClientOptions = {}) {
    const { adminToken, ...rest } = options
    const base = { ...rest, baseUrl: rest.baseUrl ?? DEFAULT_QUEEN_URL, name: rest.name ?? 'queen-rbee' }
    super(base)
    this.#admin = adminToken ? new HttpClient({ ...base, token: adminToken }) : undefined
  }

  protected override transportFor(op: Operation): HttpClient {
    return OPERATION_ACCESS[op.operation] === 'admin' && this.#admin ? this.#admin : this.http
  }

  /** Asks the queen to shut down (`POST /v1/shutdown`, an admin action). */
  override async shutdown(): Promise<void> {
    await (this.#admin ?? this.http).json('POST', '/v1/shutdown', z.unknown())
  }

  override async close(): Promise<void> {
    await Promise.all([super.close(), this.#admin?.close()])
  }

  /** `GET /v1/info`. */
  info(signal?: AbortSignal): Promise<QueenInfo> {
    return this.http.json('GET', '/v1/info', QueenInfoSchema, { signal })
  }

  /** Every hive and worker the queen knows (a `status` job). */
  async status(signal?: AbortSignal): Promise<FleetStatus> {
    const job = await this.run({ operation: 'status' }, { signal })
    return job.result(FleetStatusSchema)
  }

  /** The hives the queen knows (a `hive_list` job). */
  async hives(signal?: AbortSignal): Promise<HiveRecord[]> {
    const job = await this.run({ operation: 'hive_list' }, { signal })
    return job.result(z.array(HiveRecordSchema))
  }

  /** OpenAI's `GET /v1/models`: every model in any hive's catalog, and which are loaded. */
  models(signal?: AbortSignal): Promise<ModelList> {
    return this.http.json('GET', '/v1/models', ModelListSchema, { signal })
  }

  /**
   * Starts an inference job; iterate the stream for `token` events as they are generated.
   * @example for await (const ev of await queen.infer({ prompt: 'hi' })) if (ev.kind === 'token') write(ev.token.t)
   */
  infer(params: InferParams, options: JobStreamOptions = {}): Promise<JobStream> {
    return this.run({ operation: 'infer', ...params, model: params.model ?? BUILTIN_MODEL_ID }, options)
  }

  /** Prometheus text from `GET /metrics`. */
  metrics(signal?: AbortSignal): Promise<string> {
    return this.http.text('GET', '/metrics', { signal })
  }

  /** Subscribes to the queen's aggregated heartbeat stream (queen summaries, hive events). */
  heartbeats(
    options: HeartbeatOptions<typeof QueenStreamEventSchema>,
  ): EventSubscription<typeof QueenStreamEventSchema> {
    return this.subscribe(QueenStreamEventSchema, options)
  }

  /** A hive announcing itself (`POST /v1/hive/ready`); needs the node token. */
  async hiveReady(body: HiveReady, signal?: AbortSignal): Promise<void> {
    await this.http.json('POST', '/v1/hive/ready', z.unknown(), { body, signal })
  }

  /** A worker's heartbeat (`POST /v1/worker-heartbeat`); needs the node token. */
  async workerHeartbeat(body: WorkerHeartbeat, signal?: AbortSignal): Promise<void> {
    await this.http.json('POST', '/v1/worker-heartbeat', z.unknown(), { body, signal })
  }
}
