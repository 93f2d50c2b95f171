import { randomUUID } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import {
  endMarker,
  type JobCreated,
  type JobState,
  type JobSummary,
  type Narration,
  STREAM_KEEP_ALIVE_MS,
  type Transfer,
} from '@rbee/contracts'
import { isServerSideError, newErrorId, redactError } from '../error-disclosure.js'
import { errorMessage, RbeeError } from '../errors.js'
import { formatSeconds } from '../format.js'
import type { Logger } from '../logger.js'
import { deadlineExceeded } from '../request-deadline.js'
import { SseWriter } from '../sse/sse-writer.js'

/** What a narration may carry besides its text: a progress fraction, a transfer's figures. */
export interface NarrationExtra {
  progress?: number | undefined
  transfer?: Transfer | undefined
}

/** What a running job can do: report progress, results and tokens, and notice cancellation. */
export interface JobContext {
  readonly id: string
  /** Fingerprint of the credential that started the job (`null`: none was needed). */
  readonly owner: string | null
  /** Aborted by `DELETE /v1/jobs/:id` or when the registry closes: stop the work. */
  readonly signal: AbortSignal
  /**
   * When the job must be done (epoch milliseconds), if it has a deadline: past it the signal
   * aborts and the job ends with `RBEE_DEADLINE_EXCEEDED`. Work done elsewhere (a worker, a
   * hive's job) is handed what is left of it.
   */
  readonly deadlineAt: number | undefined
  readonly log: Logger
  narrate(action: string, human: string, extra?: NarrationExtra): void
  data(action: string, payload: unknown): void
  token(t: string, i: number): void
}

export type { JobState, JobSummary }

export interface JobRegistryOptions {
  /** Who narrates (`rbee-hive`, `queen-rbee`). */
  actor: string
  logger: Logger
  /** Events kept per job for late or reconnecting subscribers. @default 1000 */
  bufferSize?: number
  /** How long a finished job stays readable. @default 5 minutes */
  retentionMs?: number
  /** Jobs kept at most (finished ones are evicted first). @default 1000 */
  maxJobs?: number
  /** Base path of the stream URL. @default '/v1/jobs' */
  basePath?: string
  /**
   * A running job that nobody follows (no stream open, no status read) for this long is
   * cancelled: work nobody reads must not hold queues and slots. 0 never cancels.
   * @default 10_000
   */
  unreadGraceMs?: number
  /** A job stream gets a keep-alive comment this often while quiet; 0 none. @default STREAM_KEEP_ALIVE_MS */
  keepAliveMs?: number
}

/** Who started a job, and whether its errors may carry server-side details. */
export interface JobOwner {
  /** Fingerprint of the credential; `null` when none was presented. */
  key: string | null
  /** Whether the owner may read server-side error details (an admin, or keys are off). */
  disclose: boolean
}

/** Who asks about a job: an admin (or anyone when keys are off) sees every job, others their own. */
export interface JobViewer {
  key: string | null
  admin: boolean
}

const EVERYONE: JobViewer = { key: null, admin: true }
const SYSTEM: JobOwner = { key: null, disclose: true }

interface BufferedEvent {
  id: number
  event: 'narration' | 'data' | 'token' | 'end'
  data: unknown
}

class Job {
  constructor(
    readonly owner: JobOwner,
    readonly operation: string | null,
  ) {}
  readonly id = randomUUID()
  readonly createdAt = new Date()
  readonly ac = new AbortController()
  readonly events: BufferedEvent[] = []
  readonly subscribers = new Set<SseWriter>()
  state: JobState = 'running'
  finishedAt: Date | null = null
  error: string | null = null
  nextId = 1
  expiry: NodeJS.Timeout | undefined
  unread: NodeJS.Timeout | undefined
  deadline: NodeJS.Timeout | undefined
  /** The last narration, for the message of a job that runs out of time. */
  lastStep: string | undefined
  tokens = 0
}

export interface JobStartOptions {
  /** What the job runs (an operation name), shown in job lists. */
  operation?: string | undefined
  /** The job ends with `RBEE_DEADLINE_EXCEEDED` at this time (epoch milliseconds). */
  deadlineAt?: number | undefined
}

/**
 * Runs jobs and keeps their event streams: every event gets an increasing id, the last
 * `bufferSize` are kept so a subscriber that comes late or reconnects (`Last-Event-ID`) gets what
 * it missed, and each job ends with exactly one terminal marker (`[DONE]`, `[ERROR] …`,
 * `[CANCELLED]`). Finished jobs are dropped after `retentionMs`.
 */
export class JobRegistry {
  readonly #o: Required<JobRegistryOptions>
  readonly #jobs = new Map<string, Job>()
  #closed = false

  constructor(options: JobRegistryOptions) {
    this.#o = {
      bufferSize: 1000,
      retentionMs: 5 * 60_000,
      maxJobs: 1000,
      basePath: '/v1/jobs',
      unreadGraceMs: 10_000,
      keepAliveMs: STREAM_KEEP_ALIVE_MS,
      ...options,
    }
  }

  get size(): number {
    return this.#jobs.size
  }

  /**
   * Starts `run` at once (on the next tick, so the caller can answer first). With a deadline the
   * job's signal aborts at that time and the job ends with `RBEE_DEADLINE_EXCEEDED` at once,
   * whatever `run` still does.
   * @throws RbeeError `RBEE_QUEUE_FULL` when `maxJobs` jobs are all still running.
   */
  start(
    run: (ctx: JobContext) => Promise<void>,
    owner: JobOwner = SYSTEM,
    options: JobStartOptions = {},
  ): JobCreated {
    if (this.#closed) throw new RbeeError('RBEE_DRAINING', 'shutting down', { retryAfterS: 1 })
    this.#evict()
    const job = new Job(owner, options.operation ?? null)
    this.#jobs.set(job.id, job)
    this.#watchUnread(job)
    const log = this.#o.logger.child({ job_id: job.id })
    const { deadlineAt } = options
    if (deadlineAt !== undefined) this.#watchDeadline(job, deadlineAt, log)
    const ctx: JobContext = {
      id: job.id,
      owner: owner.key,
      signal: job.ac.signal,
      deadlineAt,
      log,
      narrate: (action, human, extra) => {
        const n: Narration = {
          actor: this.#o.actor,
          action,
          human,
          job_id: job.id,
          ts: new Date().toISOString(),
          ...(extra?.progress === undefined ? {} : { progress: Math.min(1, Math.max(0, extra.progress)) }),
          ...(extra?.transfer === undefined ? {} : { transfer: extra.transfer }),
        }
        job.lastStep = human
        this.#emit(job, 'narration', n)
      },
      data: (action, payload) => this.#emit(job, 'data', { action, payload }),
      token: (t, i) => {
        job.tokens++
        this.#emit(job, 'token', { t, i })
      },
    }
    setImmediate(() => {
      run(ctx).then(
        () => this.#finish(job, 'done', null),
        (err: unknown) => {
          if (job.ac.signal.aborted) return this.#finish(job, 'cancelled', null)
          let e = err instanceof RbeeError ? err : new RbeeError('RBEE_INTERNAL', errorMessage(err))
          const errorId = isServerSideError(e) ? newErrorId() : undefined
          log.info({ err: e.message, code: e.code, error_id: errorId }, 'job failed')
          if (errorId !== undefined && !job.owner.disclose) e = redactError(e, errorId)
          // A stable code leads the marker (`[ERROR] RBEE_MODEL_NOT_FOUND: …`) so clients can tell
          // failures apart without parsing prose; an error without one is shown as it is.
          this.#finish(
            job,
            'error',
            e === err || err instanceof RbeeError ? `${e.code}: ${e.message}` : e.message,
          )
        },
      )
    })
    return { job_id: job.id, sse_url: `${this.#o.basePath}/${job.id}/stream` }
  }

  /**
   * The job's state (reading it counts as following the job).
   * @throws RbeeError `RBEE_JOB_NOT_FOUND`, also for a job `viewer` may not see.
   */
  get(id: string, viewer: JobViewer = EVERYONE): JobSummary {
    const job = this.#get(id, viewer)
    if (job.subscribers.size === 0) this.#watchUnread(job)
    return this.#summary(job)
  }

  #summary(job: Job): JobSummary {
    return {
      job_id: job.id,
      operation: job.operation,
      state: job.state,
      created_at: job.createdAt.toISOString(),
      finished_at: job.finishedAt?.toISOString() ?? null,
      error: job.error,
    }
  }

  /**
   * The jobs `viewer` may see, newest first, at most `limit` (reading a list does not count as
   * following a job).
   */
  list(viewer: JobViewer = EVERYONE, limit = 100): JobSummary[] {
    const out: JobSummary[] = []
    for (const job of [...this.#jobs.values()].reverse()) {
      if (out.length >= limit) break
      if (viewer.admin || (viewer.key !== null && viewer.key === job.owner.key)) out.push(this.#summary(job))
    }
    return out
  }

  /**
   * Cancels a running job: its signal aborts and its stream ends with `[CANCELLED]` at once.
   * @throws RbeeError `RBEE_JOB_NOT_FOUND`, also for a job `viewer` may not see.
   */
  cancel(id: string, viewer: JobViewer = EVERYONE): JobSummary {
    const job = this.#get(id, viewer)
    this.#cancel(job, 'job cancelled')
    return this.#summary(job)
  }

  #cancel(job: Job, why: string): void {
    if (job.state !== 'running') return
    job.ac.abort(new RbeeError('RBEE_CANCELLED', why))
    this.#finish(job, 'cancelled', null)
  }

  /** Ends the job with `RBEE_DEADLINE_EXCEEDED` at `at`, saying where it was. */
  #watchDeadline(job: Job, at: number, log: Logger): void {
    job.deadline = setTimeout(
      () => {
        job.deadline = undefined
        if (job.state !== 'running') return
        const took = formatSeconds(Date.now() - job.createdAt.getTime())
        const err = deadlineExceeded(
          `the job did not finish within ${took}${job.tokens > 0 ? ` (${job.tokens} tokens sent)` : ''}${
            job.lastStep === undefined ? '' : `; last step: ${job.lastStep}`
          }`,
        )
        log.info({ code: err.code, tokens: job.tokens }, 'job ran past its deadline')
        job.ac.abort(err)
        this.#finish(job, 'error', `${err.code}: ${err.message}`)
      },
      Math.max(0, at - Date.now()),
    )
    job.deadline.unref()
  }

  /** (Re)starts the countdown after which a job nobody follows is cancelled. */
  #watchUnread(job: Job): void {
    const grace = this.#o.unreadGraceMs
    if (grace <= 0 || job.state !== 'running' || this.#closed) return
    if (job.unread) clearTimeout(job.unread)
    job.unread = setTimeout(() => {
      job.unread = undefined
      if (job.subscribers.size > 0 || job.state !== 'running') return
      this.#o.logger.info({ job_id: job.id, grace_ms: grace }, 'job cancelled: nobody follows it')
      this.#cancel(job, `nobody followed the job for ${grace} ms`)
    }, grace)
    job.unread.unref()
  }

  #stopWatchingUnread(job: Job): void {
    if (job.unread) clearTimeout(job.unread)
    job.unread = undefined
  }

  /**
   * Streams a job's events to `res` as SSE, starting after `lastEventId` (0 = from the start of
   * what is buffered). Ends the response after the terminal marker.
   * @throws RbeeError `RBEE_JOB_NOT_FOUND` before anything is written (also for a job `viewer`
   *   may not see).
   */
  stream(id: string, res: ServerResponse, lastEventId = 0, viewer: JobViewer = EVERYONE): void {
    const job = this.#get(id, viewer)
    const sse = new SseWriter(res, { keepAliveMs: this.#o.keepAliveMs, headers: { 'x-job-id': job.id } })
    for (const ev of job.events) if (ev.id > lastEventId) sse.send(ev)
    if (job.state !== 'running') {
      sse.close()
      return
    }
    job.subscribers.add(sse)
    this.#stopWatchingUnread(job)
    sse.onClose(() => {
      job.subscribers.delete(sse)
      if (job.subscribers.size === 0) this.#watchUnread(job)
    })
  }

  /** Cancels every running job and closes every stream. */
  async close(): Promise<void> {
    this.#closed = true
    for (const job of this.#jobs.values()) {
      if (job.state === 'running') {
        job.ac.abort(new RbeeError('RBEE_DRAINING', 'shutting down'))
        this.#finish(job, 'cancelled', null)
      }
      if (job.expiry) clearTimeout(job.expiry)
      this.#stopWatchingUnread(job)
      for (const s of job.subscribers) s.close()
    }
    this.#jobs.clear()
  }

  #get(id: string, viewer: JobViewer): Job {
    const job = this.#jobs.get(id)
    // Another owner's job is as absent as a made-up id: ids of others' jobs cannot be probed.
    if (!job || !(viewer.admin || (viewer.key !== null && viewer.key === job.owner.key)))
      throw new RbeeError(
        'RBEE_JOB_NOT_FOUND',
        `no job ${id} (finished jobs are kept for a while, then dropped)`,
      )
    return job
  }

  #emit(job: Job, event: BufferedEvent['event'], data: unknown): void {
    if (job.state !== 'running' && event !== 'end') return
    const ev: BufferedEvent = { id: job.nextId++, event, data }
    job.events.push(ev)
    if (job.events.length > this.#o.bufferSize) job.events.shift()
    for (const s of job.subscribers) s.send(ev)
  }

  #finish(job: Job, state: Exclude<JobState, 'running'>, error: string | null): void {
    if (job.state !== 'running') return
    job.state = state
    job.error = error
    job.finishedAt = new Date()
    this.#stopWatchingUnread(job)
    clearTimeout(job.deadline)
    job.deadline = undefined
    const outcome = state === 'done' ? 'done' : state === 'cancelled' ? 'cancelled' : 'error'
    this.#emit(job, 'end', endMarker(outcome, error ?? undefined))
    for (const s of job.subscribers) s.close()
    job.subscribers.clear()
    if (!this.#closed) {
      job.expiry = setTimeout(() => this.#jobs.delete(job.id), this.#o.retentionMs)
      job.expiry.unref()
    }
  }

  #evict(): void {
    if (this.#jobs.size < this.#o.maxJobs) return
    for (const job of this.#jobs.values()) {
      if (job.state !== 'running') {
        if (job.expiry) clearTimeout(job.expiry)
        this.#jobs.delete(job.id)
        if (this.#jobs.size < this.#o.maxJobs) return
      }
    }
    throw new RbeeError('RBEE_QUEUE_FULL', `${this.#o.maxJobs} jobs are running; retry later`, {
      retryAfterS: 1,
    })
  }
}
