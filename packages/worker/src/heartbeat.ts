import { Backoff, errorMessage, type Logger } from '@rbee/common'
import type { WorkerHeartbeat, WorkerInfo, WorkerLiveness } from '@rbee/contracts'

export interface HeartbeatOptions {
  queenUrl: string
  intervalMs: number
  info: () => WorkerInfo
  /** The liveness signal sent with each heartbeat. */
  liveness?: () => WorkerLiveness
  logger: Logger
  /** Node token presented to the queen. */
  token?: string | undefined
  /** Per-request timeout. @default 5000 */
  timeoutMs?: number
}

/**
 * Sends `WorkerHeartbeat`s to `{queen}/v1/worker-heartbeat`: at start, on every `beat()` (status
 * change) and every interval. While the queen is unreachable it retries with backoff, logging
 * the first failure and the recovery, not every attempt.
 */
export class HeartbeatSender {
  readonly #o: HeartbeatOptions
  readonly #backoff = new Backoff({ initialMs: 250, maxMs: 10_000 })
  #timer: NodeJS.Timeout | undefined
  #inFlight: Promise<void> | undefined
  #again = false
  #failing = false
  #closed = false
  #sent = 0

  constructor(options: HeartbeatOptions) {
    this.#o = options
  }

  /** Heartbeats delivered so far. */
  get sent(): number {
    return this.#sent
  }

  start(): void {
    this.beat()
  }

  /** Sends one now (coalesced with one already in flight), then resumes the interval. */
  beat(): void {
    if (this.#closed) return
    if (this.#inFlight) {
      this.#again = true
      return
    }
    if (this.#timer) clearTimeout(this.#timer)
    this.#inFlight = this.#send().finally(() => {
      this.#inFlight = undefined
      if (this.#again) {
        this.#again = false
        this.beat()
      }
    })
  }

  async #send(): Promise<void> {
    const body: WorkerHeartbeat = {
      worker: this.#o.info(),
      timestamp: new Date().toISOString(),
      ...(this.#o.liveness ? { liveness: this.#o.liveness() } : {}),
    }
    let next = this.#o.intervalMs
    try {
      const res = await fetch(`${this.#o.queenUrl.replace(/\/$/, '')}/v1/worker-heartbeat`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(this.#o.token ? { authorization: `Bearer ${this.#o.token}` } : {}),
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.#o.timeoutMs ?? 5000),
      })
      await res.body?.cancel()
      if (!res.ok) throw new Error(`queen answered ${res.status}`)
      this.#sent++
      this.#backoff.reset()
      if (this.#failing) this.#o.logger.info({ queen: this.#o.queenUrl }, 'queen reachable again')
      this.#failing = false
    } catch (err) {
      if (!this.#failing) {
        this.#o.logger.warn(
          { queen: this.#o.queenUrl, err: errorMessage(err) },
          'heartbeat failed; retrying with backoff',
        )
      }
      this.#failing = true
      next = Math.min(this.#o.intervalMs, this.#backoff.next())
    }
    if (!this.#closed) {
      this.#timer = setTimeout(() => this.beat(), next)
      this.#timer.unref()
    }
  }

  /** Stops the interval; a last heartbeat (e.g. `stopped`) can be sent with `final()`. */
  close(): void {
    this.#closed = true
    if (this.#timer) clearTimeout(this.#timer)
  }

  /** Sends one last heartbeat and waits for it (bounded by the request timeout). */
  async final(): Promise<void> {
    this.close()
    await this.#inFlight
    this.#closed = false
    try {
      await this.#send()
    } finally {
      this.close()
    }
  }
}
