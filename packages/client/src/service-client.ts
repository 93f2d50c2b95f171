import { validationError } from '@rbee/common/base'
import {
  type Health,
  HealthSchema,
  type JobCreated,
  JobCreatedSchema,
  type Operation,
  OperationSchema,
} from '@rbee/contracts'
import { z } from 'zod'
import type { EventSubscriptionOptions } from './event-subscription.js'
import { EventSubscription } from './event-subscription.js'
import { HttpClient, type HttpClientOptions } from './http-client.js'
import { JobStream, type JobStreamOptions } from './job-stream.js'

export type ClientOptions = HttpClientOptions

/** Options of a heartbeat-stream subscription (what to do with events, reconnect policy). */
export type HeartbeatOptions<S extends z.ZodType> = Omit<
  EventSubscriptionOptions<S>,
  'http' | 'path' | 'schema'
>

/** What queen and hive clients share: health, the jobs API and the heartbeat stream. */
export abstract class ServiceClient {
  readonly http: HttpClient

  constructor(options: ClientOptions) {
    this.http = new HttpClient(options)
  }

  get url(): string {
    return this.http.baseUrl
  }

  /** `GET /health`. */
  health(signal?: AbortSignal): Promise<Health> {
    return this.http.json('GET', '/health', HealthSchema, { signal })
  }

  /**
   * Starts a job (`POST /v1/jobs`). The operation is checked locally first, so a bad one fails
   * with field paths before any request.
   * @throws RbeeError `RBEE_VALIDATION` for a bad operation, or the server's error.
   */
  submit(op: Operation, signal?: AbortSignal): Promise<JobCreated> {
    const parsed = OperationSchema.safeParse(op)
    if (!parsed.success) return Promise.reject(validationError(parsed.error, 'operation'))
    return this.transportFor(parsed.data).json('POST', '/v1/jobs', JobCreatedSchema, {
      body: parsed.data,
      signal,
    })
  }

  /** Follows a job's event stream (with the credential that may read the job). */
  stream(jobId: string, options: JobStreamOptions = {}, http: HttpClient = this.http): JobStream {
    return new JobStream(http, jobId, options)
  }

  /** Starts a job and follows it, both with the credential the operation needs. */
  async run(op: Operation, options: JobStreamOptions = {}): Promise<JobStream> {
    const created = await this.submit(op, options.signal)
    return this.stream(created.job_id, options, this.transportFor(op))
  }

  /** The transport (credential) an operation is sent with. */
  protected transportFor(_op: Operation): HttpClient {
    return this.http
  }

  /** Cancels a job (`DELETE /v1/jobs/:id`). */
  async cancel(jobId: string): Promise<void> {
    await this.http.json('DELETE', `/v1/jobs/${encodeURIComponent(jobId)}`, z.unknown())
  }

  /** Asks the daemon to shut down (`POST /v1/shutdown`). */
  async shutdown(): Promise<void> {
    await this.http.json('POST', '/v1/shutdown', z.unknown())
  }

  protected subscribe<S extends z.ZodType>(schema: S, options: HeartbeatOptions<S>): EventSubscription<S> {
    return new EventSubscription({
      // A heartbeat stream carries keep-alives: one silent for the client's stream bound is dead.
      idleTimeoutMs: this.http.streamIdleTimeoutMs,
      ...options,
      http: this.http,
      path: '/v1/heartbeats/stream',
      schema,
    }).start()
  }

  /** Closes pooled connections. Idempotent. */
  close(): Promise<void> {
    return this.http.close()
  }
}
