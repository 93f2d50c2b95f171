import { Agent, request } from 'node:http'

/** How the hive checks that its workers still answer. */
export interface WorkerProbeSettings {
  /** Time between probes of one worker; 0 turns probing off. */
  intervalMs: number
  /** A probe not answered within this long is missed: the worker is `unresponsive`. */
  timeoutMs: number
  /** An unresponsive worker that has not answered again after this long is killed (SIGKILL) and restarted per policy. */
  restartAfterMs: number
}

/**
 * Every second, 3 s to answer, killed after 30 s unanswered. A worker decoding on a CPU still
 * answers in milliseconds (llama.cpp runs off the event loop; measured under full decoding load:
 * at most 48 ms), so 3 s leaves room for a loaded machine without leaving a hung worker in
 * routing for long.
 */
export const DEFAULT_WORKER_PROBE: Readonly<WorkerProbeSettings> = Object.freeze({
  intervalMs: 1000,
  timeoutMs: 3000,
  restartAfterMs: 30_000,
})

export interface HealthProbeOptions extends WorkerProbeSettings {
  /** The worker's base URL (`http://host:port`). */
  url: string
  /** A probe went unanswered (called for each missed probe). */
  onMiss: (why: string) => void
  /** A probe was answered (called for each answered probe). */
  onAnswer: () => void
}

/**
 * Probes one worker's `GET /health` with a deadline, one probe at a time, over one kept-alive
 * connection. Any HTTP answer counts (a draining worker still answers); no answer in time is a
 * miss. A timer that fires late because this process itself was stalled does not count a miss
 * for an answer that arrived meanwhile: the deadline is checked after pending I/O is read.
 * `close()` stops it and drops its connection.
 */
export class HealthProbe {
  readonly #o: HealthProbeOptions
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 1 })
  #timer: NodeJS.Timeout | undefined
  #closed = false

  constructor(options: HealthProbeOptions) {
    this.#o = options
  }

  start(): void {
    if (this.#o.intervalMs > 0 && !this.#closed && !this.#timer) this.#schedule(this.#o.intervalMs)
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(() => this.#probe(), ms)
    this.#timer.unref()
  }

  #probe(): void {
    if (this.#closed) return
    const sentAt = performance.now()
    let settled = false
    const finish = (answered: boolean, why: string): void => {
      if (settled) return
      settled = true
      clearTimeout(deadline)
      if (!answered) req.destroy()
      if (this.#closed) return
      if (answered) this.#o.onAnswer()
      else this.#o.onMiss(why)
      this.#schedule(Math.max(0, this.#o.intervalMs - (performance.now() - sentAt)))
    }
    const req = request(`${this.#o.url}/health`, { agent: this.#agent, method: 'GET' }, (res) => {
      res.resume()
      res.on('end', () => finish(true, ''))
      res.on('error', () => finish(false, 'its answer to GET /health broke off'))
    })
    req.on('error', (err) => finish(false, `GET /health failed: ${err.message}`))
    req.end()
    const deadline = setTimeout(() => {
      setImmediate(() => finish(false, `no answer to GET /health within ${this.#o.timeoutMs} ms`))
    }, this.#o.timeoutMs)
    deadline.unref()
  }

  close(): void {
    this.#closed = true
    clearTimeout(this.#timer)
    this.#agent.destroy()
  }
}
