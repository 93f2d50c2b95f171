import {
  Deadline,
  deadlineExceeded,
  earliestDeadline,
  formatSeconds,
  RbeeError,
  requestDeadline,
} from '@rbee/common'
import type { FastifyReply, FastifyRequest } from 'fastify'

/** An AbortSignal that fires when the client goes away before the response has finished. */
export function disconnectSignal(reply: FastifyReply): AbortSignal {
  const ac = new AbortController()
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) ac.abort(new RbeeError('RBEE_CANCELLED', 'client disconnected'))
  })
  return ac.signal
}

/**
 * What one request to the worker runs under: its signal aborts when the client goes away or when
 * the request's deadline passes (`X-Request-Deadline`, `X-Request-Timeout` — the queen sends what
 * is left of a request's deadline in the latter — or a `timeout` in a native body; the earliest
 * wins). Aborting stops the generation and frees its slot. Call `clear()` when the request ends.
 */
export class RequestSignal {
  readonly signal: AbortSignal
  readonly #deadline: Deadline | undefined
  readonly #limitMs: number

  /**
   * @throws RbeeError `RBEE_VALIDATION` (400) naming a malformed or past deadline header.
   */
  constructor(req: FastifyRequest, reply: FastifyReply, bodyTimeoutS?: number) {
    const now = Date.now()
    const at = earliestDeadline(
      requestDeadline(req.headers, now),
      bodyTimeoutS === undefined ? undefined : now + bodyTimeoutS * 1000,
    )
    const gone = disconnectSignal(reply)
    this.#limitMs = at === undefined ? 0 : at - now
    this.#deadline =
      at === undefined ? undefined : Deadline.until(at, { parent: gone, error: () => this.error(undefined) })
    this.signal = this.#deadline?.signal ?? gone
  }

  /** True once the deadline has passed (not when the client went away). */
  get expired(): boolean {
    return this.#deadline?.timedOut ?? false
  }

  /** The error of a request stopped at its deadline, with the tokens it had produced. */
  error(tokens: number | undefined): RbeeError {
    return deadlineExceeded(
      `the worker stopped at the request's deadline (${formatSeconds(this.#limitMs)} after it arrived)${
        tokens === undefined ? '' : ` after ${tokens} tokens`
      }`,
    )
  }

  /**
   * Runs `work` under the signal and clears the timer after; a deadline that passed is answered
   * with the deadline's error, whatever the aborted work threw.
   */
  async run<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await work(this.signal)
    } catch (err) {
      throw this.expired ? this.error(undefined) : err
    } finally {
      this.clear()
    }
  }

  /** Stops the deadline's timer. Idempotent. */
  clear(): void {
    this.#deadline?.clear()
  }
}
