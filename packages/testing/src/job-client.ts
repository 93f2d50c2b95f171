// Drive a jobs API (a hive's or the queen's) and a hive's telemetry stream over real HTTP.
import { readSse } from '@rbee/common'
import {
  type HiveStreamEvent,
  HiveStreamEventSchema,
  type JobData,
  type JobStreamEvent,
  type Narration,
  parseJobFrame,
} from '@rbee/contracts'

export interface JobRun {
  job_id: string
  events: JobStreamEvent[]
  narrations: Narration[]
  data: JobData[]
  outcome: 'done' | 'cancelled' | 'error'
  message: string | null
}

/** POSTs an operation; returns the status and the parsed body. */
export async function postJob(
  base: string,
  op: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof op === 'string' ? op : JSON.stringify(op),
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

/** Reads a job's SSE stream until its terminal marker, `until` holds, or `timeoutMs` passes. */
export async function readJob(
  base: string,
  jobId: string,
  options: {
    headers?: Record<string, string>
    lastEventId?: number
    until?: (e: JobStreamEvent) => boolean
    onEvent?: (e: JobStreamEvent) => void
    timeoutMs?: number
  } = {},
): Promise<JobStreamEvent[]> {
  const ac = new AbortController()
  const timer = setTimeout(
    () => ac.abort(new Error(`job ${jobId}: no end within ${options.timeoutMs ?? 60_000} ms`)),
    options.timeoutMs ?? 60_000,
  )
  const headers: Record<string, string> = { ...options.headers }
  if (options.lastEventId !== undefined) headers['last-event-id'] = String(options.lastEventId)
  const events: JobStreamEvent[] = []
  try {
    const res = await fetch(`${base}/v1/jobs/${jobId}/stream`, { headers, signal: ac.signal })
    if (res.status !== 200) throw new Error(`job stream answered ${res.status}: ${await res.text()}`)
    for await (const m of readSse(res.body!)) {
      const e = parseJobFrame(m.event, Number(m.id), m.data)
      events.push(e)
      options.onEvent?.(e)
      if (e.kind === 'end' || options.until?.(e)) break
    }
    return events
  } catch (err) {
    if (ac.signal.aborted) throw ac.signal.reason
    throw err
  } finally {
    clearTimeout(timer)
    ac.abort()
  }
}

/** Summarises a finished job's events. */
export function summarize(jobId: string, events: JobStreamEvent[]): JobRun {
  const end = events.at(-1)
  if (end?.kind !== 'end') throw new Error(`job ${jobId} has no terminal marker`)
  return {
    job_id: jobId,
    events,
    narrations: events.flatMap((e) => (e.kind === 'narration' ? [e.narration] : [])),
    data: events.flatMap((e) => (e.kind === 'data' ? [e.data] : [])),
    outcome: end.outcome,
    message: end.message,
  }
}

/** Submits an operation (expecting 201) and follows it to its end. */
export async function runJob(
  base: string,
  op: unknown,
  options: {
    headers?: Record<string, string>
    timeoutMs?: number
    onEvent?: (e: JobStreamEvent) => void
  } = {},
): Promise<JobRun> {
  const { status, body } = await postJob(base, op, options.headers)
  if (status !== 201) throw new Error(`POST /v1/jobs answered ${status}: ${JSON.stringify(body)}`)
  const jobId = String(body.job_id)
  return summarize(jobId, await readJob(base, jobId, options))
}

/** The payload of the job's one data event with `action`. */
export function payloadOf<T = Record<string, unknown>>(run: JobRun, action: string): T {
  const d = run.data.find((x) => x.action === action)
  if (!d) {
    throw new Error(
      `job has no ${action} data (outcome ${run.outcome}${run.message ? `: ${run.message}` : ''}; data: ${run.data.map((x) => x.action).join(', ')})`,
    )
  }
  return d.payload as T
}

/** One event of a hive's telemetry stream with the time it arrived (`performance.now()`). */
export interface Received {
  event: HiveStreamEvent
  at: number
}

/**
 * Subscribes to `GET /v1/heartbeats/stream`, validating every event against the contract and
 * keeping them all with their arrival times.
 */
export class HiveStreamWatcher {
  readonly received: Received[] = []
  readonly #ac = new AbortController()
  readonly #waiters: Array<{
    test: (e: HiveStreamEvent) => boolean
    resolve: (r: Received) => void
    from: number
  }> = []
  readonly done: Promise<void>
  #error: unknown

  private constructor(res: Response) {
    this.done = (async () => {
      try {
        for await (const m of readSse(res.body!)) {
          const r = { event: HiveStreamEventSchema.parse(JSON.parse(m.data)), at: performance.now() }
          this.received.push(r)
          for (const w of [...this.#waiters]) {
            if (this.received.length - 1 >= w.from && w.test(r.event)) {
              this.#waiters.splice(this.#waiters.indexOf(w), 1)
              w.resolve(r)
            }
          }
        }
      } catch (err) {
        if (!this.#ac.signal.aborted) this.#error = err
      }
    })()
  }

  static async open(base: string, headers: Record<string, string> = {}): Promise<HiveStreamWatcher> {
    const w = new AbortController()
    const res = await fetch(`${base}/v1/heartbeats/stream`, { headers, signal: w.signal })
    if (res.status !== 200) throw new Error(`heartbeat stream answered ${res.status}`)
    const watcher = new HiveStreamWatcher(res)
    watcher.#ac.signal.addEventListener('abort', () => w.abort())
    return watcher
  }

  /** A mark to wait for events after this point only. */
  mark(): number {
    return this.received.length
  }

  /** The first event (from `from` on) matching `test`, already received or future. */
  waitFor(
    test: (e: HiveStreamEvent) => boolean,
    options: { from?: number; timeoutMs?: number } = {},
  ): Promise<Received> {
    const from = options.from ?? 0
    const seen = this.received.slice(from).find((r) => test(r.event))
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? 30_000
      const waiter = {
        test,
        from,
        resolve: (r: Received) => {
          clearTimeout(timer)
          resolve(r)
        },
      }
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1)
        const types = this.received.slice(from).map((r) => r.event.type)
        reject(
          new Error(
            `no matching stream event within ${timeoutMs} ms (saw ${types.join(', ') || 'nothing'}; ${String(this.#error ?? '')})`,
          ),
        )
      }, timeoutMs)
      this.#waiters.push(waiter)
    })
  }

  close(): void {
    this.#ac.abort()
  }
}
