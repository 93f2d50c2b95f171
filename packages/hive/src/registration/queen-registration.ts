import { Backoff, Deadline, delay, errorMessage, type Logger, parseJsonAs } from '@rbee/common'
import { ErrorBodySchema, type HiveReady } from '@rbee/contracts'

export interface QueenRegistrationOptions {
  queenUrl: string
  announcement: HiveReady
  token?: string | undefined
  logger: Logger
  /** @default 500 */
  initialBackoffMs?: number
  /** @default 15_000 */
  maxBackoffMs?: number
  /** Per attempt. @default 5000 */
  timeoutMs?: number
}

/**
 * Announces the hive to its queen (`POST {queen}/v1/hive/ready { hive_id, hive_url, version,
 * protocol }`) until the queen accepts it, retrying with backoff and jitter while the queen is
 * down or refuses. Logs the first failure and the success, not every attempt; a queen of another
 * protocol is logged as an error with its message (both releases), and asked again at the
 * longest backoff, in case it is upgraded.
 */
export class QueenRegistration {
  readonly #o: QueenRegistrationOptions
  readonly #ac = new AbortController()
  #running: Promise<void> | undefined
  #attempts = 0
  #registered = false

  constructor(options: QueenRegistrationOptions) {
    this.#o = options
  }

  get attempts(): number {
    return this.#attempts
  }
  get registered(): boolean {
    return this.#registered
  }

  /** Starts announcing in the background (again, when called after a success; no-op while running). */
  start(): void {
    if (this.#running || this.#ac.signal.aborted) return
    this.#running = this.#loop().finally(() => {
      this.#running = undefined
    })
  }

  async #loop(): Promise<void> {
    const maxBackoffMs = this.#o.maxBackoffMs ?? 15_000
    const backoff = new Backoff({ initialMs: this.#o.initialBackoffMs ?? 500, maxMs: maxBackoffMs })
    const url = `${this.#o.queenUrl.replace(/\/+$/, '')}/v1/hive/ready`
    const log = this.#o.logger.child({ queen_url: this.#o.queenUrl })
    const signal = this.#ac.signal
    let failing = false
    let refusalSaid = false
    while (!signal.aborted) {
      this.#attempts++
      let problem: string
      let refused: string | undefined
      const deadline = new Deadline({ ms: this.#o.timeoutMs ?? 5000, parent: signal })
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(this.#o.token ? { authorization: `Bearer ${this.#o.token}` } : {}),
          },
          body: JSON.stringify(this.#o.announcement),
          signal: deadline.signal,
        })
        const body = await res.text().catch(() => '')
        if (res.ok) {
          this.#registered = true
          log.info(
            { hive_url: this.#o.announcement.hive_url, attempts: this.#attempts },
            'registered with the queen',
          )
          return
        }
        problem = `HTTP ${res.status}${body ? `: ${body.slice(0, 200)}` : ''}`
        refused = protocolRefusal(res.status, body)
        // Its own flag: a refusal after a few network failures (the hive started first) is still said.
        if (refused && !refusalSaid) {
          log.error({ queen_says: refused }, 'the queen refused this hive: incompatible protocol')
          refusalSaid = true
          failing = true
        }
      } catch (err) {
        if (signal.aborted) return
        problem = errorMessage(err)
      } finally {
        deadline.clear()
      }
      if (!failing) log.warn({ problem }, 'queen did not accept the registration; retrying with backoff')
      failing = true
      try {
        await delay(refused ? maxBackoffMs : backoff.next(), signal)
      } catch {
        return
      }
    }
  }

  /** Stops retrying. Idempotent. */
  async close(): Promise<void> {
    this.#ac.abort()
    await this.#running
  }
}

/** The queen's message when it refused the hive for its protocol, else undefined. */
function protocolRefusal(status: number, body: string): string | undefined {
  if (status !== 409) return undefined
  const error = parseJsonAs(ErrorBodySchema, body)?.error
  return error?.code === 'RBEE_PROTOCOL_MISMATCH' ? error.message : undefined
}
