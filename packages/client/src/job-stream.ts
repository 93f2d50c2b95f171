import {
  Backoff,
  delay,
  errorMessage,
  jsonNestsDeeperThan,
  jsonTooDeepError,
  RbeeError,
  readSse,
} from '@rbee/common/base'
import { type JobData, type JobStreamEvent, type Narration, parseJobFrame } from '@rbee/contracts'
import { z } from 'zod'
import type { HttpClient } from './http-client.js'
import { IdleWatch } from './idle-watch.js'
import { isErrorCode } from './response-error.js'

export interface JobStreamOptions {
  signal?: AbortSignal | undefined
  /** Resume after this event id (events up to it are not sent again). */
  lastEventId?: number
  /** Reconnects (with `Last-Event-ID`) when the stream drops before its end. @default 5 */
  maxReconnects?: number
  /**
   * Nothing received (not even a keep-alive comment) for this long ends the stream with
   * `RBEE_STREAM_STALLED`: the server stopped answering. 0 disables.
   * @default the client's `streamIdleTimeoutMs`
   */
  idleTimeoutMs?: number
}

/** Everything a finished job said. */
export interface JobOutcome {
  outcome: 'done' | 'cancelled' | 'error'
  /** The error message of an `[ERROR]` end. */
  message: string | null
  /** Concatenated `token` texts. */
  text: string
  tokens: number
  data: JobData[]
  narration: Narration[]
}

/**
 * A job's SSE stream (`GET /v1/jobs/:id/stream`) as an async iterator of parsed, validated
 * events, ending with exactly one `end` event. A dropped connection is resumed with
 * `Last-Event-ID`, so no event is lost or repeated. Breaking out of the loop closes the stream
 * (the job keeps running; `cancel()` stops it).
 */
export class JobStream implements AsyncIterable<JobStreamEvent> {
  readonly jobId: string
  readonly #http: HttpClient
  readonly #options: JobStreamOptions
  #lastId: number
  #consumed = false

  constructor(http: HttpClient, jobId: string, options: JobStreamOptions = {}) {
    this.#http = http
    this.jobId = jobId
    this.#options = options
    this.#lastId = options.lastEventId ?? -1
  }

  /** Id of the last event received (for resuming elsewhere). */
  get lastEventId(): number {
    return this.#lastId
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<JobStreamEvent> {
    if (this.#consumed) throw new RbeeError('RBEE_CONFLICT', 'a JobStream can be iterated once')
    this.#consumed = true
    const signal = this.#options.signal
    const backoff = new Backoff({ initialMs: 100, maxMs: 2000 })
    let reconnects = 0
    const path = `/v1/jobs/${encodeURIComponent(this.jobId)}/stream`
    const idleMs = this.#options.idleTimeoutMs ?? this.#http.streamIdleTimeoutMs
    for (;;) {
      // Silence is timed across the connection's opening and its events alike.
      const ac = new AbortController()
      const onAbort = (): void => ac.abort(signal?.reason)
      if (signal?.aborted) onAbort()
      else signal?.addEventListener('abort', onAbort, { once: true })
      let stalled: RbeeError | undefined
      const idle = new IdleWatch(idleMs, (quietMs) => {
        stalled = new RbeeError(
          'RBEE_STREAM_STALLED',
          `${this.#http.name} stopped answering: nothing arrived on the stream of job ${this.jobId} for ${(quietMs / 1000).toFixed(1)} s (it sends a keep-alive while a job is quiet); is it overloaded, stopped or cut off?`,
        )
        ac.abort(stalled)
      })
      let res: Awaited<ReturnType<HttpClient['stream']>>
      try {
        res = await this.#http.stream('GET', path, {
          signal: ac.signal,
          headers: this.#lastId >= 0 ? { 'last-event-id': String(this.#lastId) } : {},
        })
      } catch (err) {
        idle.close()
        signal?.removeEventListener('abort', onAbort)
        throw stalled ?? err
      }
      let dropped: unknown
      try {
        for await (const msg of readSse(touching(res.body, idle))) {
          const id = msg.id === undefined ? this.#lastId + 1 : Number(msg.id)
          let ev: JobStreamEvent
          try {
            // Job data reaches JSON.stringify and printing again: nesting is bounded first.
            if (jsonNestsDeeperThan(msg.data)) throw jsonTooDeepError(`the ${msg.event} event`)
            ev = parseJobFrame(msg.event, id, msg.data)
          } catch (err) {
            throw new RbeeError(
              'RBEE_UPSTREAM',
              `job ${this.jobId}: bad ${msg.event} event: ${errorMessage(err)}`,
              { cause: err },
            )
          }
          this.#lastId = id
          yield ev
          if (ev.kind === 'end') return
        }
        dropped = new Error('stream ended before the job did')
      } catch (err) {
        if (signal?.aborted) throw signal.reason
        if (stalled) throw stalled
        if (err instanceof RbeeError) throw err
        dropped = err
      } finally {
        idle.close()
        signal?.removeEventListener('abort', onAbort)
        res.body.destroy()
      }
      if (reconnects++ >= (this.#options.maxReconnects ?? 5)) {
        throw new RbeeError('RBEE_UPSTREAM', `job ${this.jobId}: stream lost (${errorMessage(dropped)})`, {
          cause: dropped,
        })
      }
      await delay(backoff.next(), signal)
    }
  }

  /** Cancels the job on the server (`DELETE /v1/jobs/:id`). */
  async cancel(): Promise<void> {
    await this.#http.json('DELETE', `/v1/jobs/${encodeURIComponent(this.jobId)}`, z.unknown())
  }

  /** Reads the stream to its end and gathers what it said; `onEvent` sees each event first. */
  async collect(onEvent?: (ev: JobStreamEvent) => void): Promise<JobOutcome> {
    const out: JobOutcome = { outcome: 'error', message: null, text: '', tokens: 0, data: [], narration: [] }
    for await (const ev of this) {
      onEvent?.(ev)
      switch (ev.kind) {
        case 'token':
          out.text += ev.token.t
          out.tokens++
          break
        case 'data':
          out.data.push(ev.data)
          break
        case 'narration':
          out.narration.push(ev.narration)
          break
        case 'end':
          out.outcome = ev.outcome
          out.message = ev.message
      }
    }
    return out
  }

  /**
   * Reads the stream to its end and returns the payload of its last `data` event, parsed with
   * `schema`.
   * @throws RbeeError when the job failed or was cancelled, or sent no (valid) data.
   */
  async result<S extends z.ZodType>(schema: S): Promise<z.output<S>> {
    const out = await this.collect()
    throwIfFailed(this.jobId, out)
    const last = out.data.at(-1)
    if (!last) throw new RbeeError('RBEE_UPSTREAM', `job ${this.jobId} finished without a result`)
    const parsed = schema.safeParse(last.payload)
    if (!parsed.success) {
      throw new RbeeError('RBEE_UPSTREAM', `job ${this.jobId} sent an unexpected ${last.action} result`, {
        details: z.treeifyError(parsed.error),
      })
    }
    return parsed.data
  }
}

/**
 * Throws the error a failed or cancelled job ended with. A message that starts with an rbee
 * code (`RBEE_NO_CAPACITY: …`) keeps that code; others become `RBEE_JOB_FAILED`.
 */
export function throwIfFailed(jobId: string, out: Pick<JobOutcome, 'outcome' | 'message'>): void {
  if (out.outcome === 'done') return
  if (out.outcome === 'cancelled') throw new RbeeError('RBEE_CANCELLED', `job ${jobId} was cancelled`)
  const msg = out.message ?? 'failed'
  const m = /^(RBEE_[A-Z0-9_]+): (.*)$/s.exec(msg)
  if (m && isErrorCode(m[1])) throw new RbeeError(m[1], m[2]!)
  throw new RbeeError('RBEE_JOB_FAILED', msg)
}

/** Passes a body through, touching `idle` for every chunk (keep-alive comments included). */
async function* touching(body: AsyncIterable<Uint8Array>, idle: IdleWatch): AsyncGenerator<Uint8Array> {
  for await (const chunk of body) {
    idle.touch()
    yield chunk
  }
}
