import type { JobContext } from '@rbee/common'

/** The part of a job a download reports to. */
export type DownloadReporter = Pick<JobContext, 'signal' | 'narrate'>

type Narrate = JobContext['narrate']

/**
 * One transfer that any number of jobs wait on: the job that started it and those that asked for
 * the same file while it ran. Each hears every narration from the moment it joins (a late one
 * first gets the latest progress) and ends with the same result or the same error. The transfer
 * is cancelled only when every job has left it (cancelled, or the hive stopping), with the
 * reason of the last one.
 */
export class SharedDownload<T> {
  /** The job that started the transfer. */
  readonly leader: string
  readonly #jobs = new Map<DownloadReporter, () => void>()
  readonly #ac = new AbortController()
  #latest: Parameters<Narrate> | undefined
  #result: Promise<T> | undefined

  constructor(leader: string) {
    this.leader = leader
  }

  /** Aborted once no job is left. */
  get signal(): AbortSignal {
    return this.#ac.signal
  }

  /** What the transfer reports to: every job in it. */
  get reporter(): DownloadReporter {
    return { signal: this.#ac.signal, narrate: (...args) => this.#narrate(...args) }
  }

  /** Settles with the transfer. */
  get result(): Promise<T> {
    if (!this.#result) throw new Error('SharedDownload.run() was not called')
    return this.#result
  }

  /** Starts the transfer (once); it reports to `reporter` and runs until `signal` aborts. */
  run(transfer: (reporter: DownloadReporter) => Promise<T>): Promise<T> {
    this.#result ??= transfer(this.reporter).finally(() => {
      for (const [job, leave] of this.#jobs) job.signal.removeEventListener('abort', leave)
      this.#jobs.clear()
    })
    return this.#result
  }

  /** Adds a job: it hears the latest progress now and every narration from here on. */
  join(job: DownloadReporter): void {
    if (job.signal.aborted || this.#jobs.has(job)) return
    const leave = (): void => {
      this.#jobs.delete(job)
      if (this.#jobs.size === 0) this.#ac.abort(job.signal.reason)
    }
    this.#jobs.set(job, leave)
    job.signal.addEventListener('abort', leave, { once: true })
    if (this.#latest) job.narrate(...this.#latest)
  }

  #narrate(...args: Parameters<Narrate>): void {
    if (args[2]?.progress !== undefined) this.#latest = args
    for (const job of this.#jobs.keys()) job.narrate(...args)
  }
}
