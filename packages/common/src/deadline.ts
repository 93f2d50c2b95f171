export interface DeadlineOptions {
  /** Aborts the deadline's signal after this long without `restart()`. */
  ms: number
  /** Aborting it aborts the deadline's signal, with its reason. */
  parent?: AbortSignal | undefined
  /** The message of the error the signal aborts with when the time is up. @default 'no answer within <ms> ms' */
  message?: string
  /**
   * Builds the reason the signal aborts with when the time is up (an `RbeeError` with its own
   * code, say). @default a `TimeoutError` with `message`
   */
  error?: () => Error
}

/**
 * The abort signal of one request: it aborts when `parent` does, or when `ms` pass without a
 * `restart()` (a stall timer restarts on every chunk). Call `clear()` in a `finally`.
 *
 * Why not `AbortSignal.any([parent, AbortSignal.timeout(ms)])`: Node holds a timeout signal only
 * weakly, and a composite only weakly from its sources, so a garbage collection during the wait
 * can drop the timer's link to the request; a hub that never answered held a download for 301 s
 * under a 30 s limit that way. Here the timer is a plain `setTimeout` whose callback holds the
 * controller, and the timers list holds the timer, so it fires whatever is collected.
 */
export class Deadline {
  readonly #ac = new AbortController()
  readonly #ms: number
  readonly #parent: AbortSignal | undefined
  readonly #message: string
  readonly #error: (() => Error) | undefined
  #timer: NodeJS.Timeout | undefined
  #expiresAt = 0
  #timedOut = false
  readonly #onParentAbort = (): void => {
    this.clear()
    this.#ac.abort(this.#parent?.reason)
  }

  constructor(options: DeadlineOptions) {
    this.#ms = options.ms
    this.#parent = options.parent
    this.#message = options.message ?? `no answer within ${options.ms} ms`
    this.#error = options.error
    if (this.#parent?.aborted) {
      this.#ac.abort(this.#parent.reason)
      return
    }
    this.#parent?.addEventListener('abort', this.#onParentAbort, { once: true })
    this.restart()
  }

  /**
   * A deadline at an absolute time (epoch milliseconds): one already past aborts at the next
   * turn of the event loop.
   */
  static until(at: number, options: Omit<DeadlineOptions, 'ms'> = {}): Deadline {
    return new Deadline({ ...options, ms: Math.max(0, at - Date.now()) })
  }

  /** When the time runs out (epoch milliseconds); `restart()` moves it. */
  get expiresAt(): number {
    return this.#expiresAt
  }

  /** Milliseconds left until the time runs out (0 once it has). */
  get remainingMs(): number {
    return Math.max(0, this.#expiresAt - Date.now())
  }

  /** Aborts when the parent aborts or the time is up. */
  get signal(): AbortSignal {
    return this.#ac.signal
  }

  /** True once the time ran out (not when the parent aborted). */
  get timedOut(): boolean {
    return this.#timedOut
  }

  /** Starts the time again from now (no effect once aborted). */
  restart(): void {
    if (this.#ac.signal.aborted) return
    clearTimeout(this.#timer)
    this.#expiresAt = Date.now() + this.#ms
    this.#timer = setTimeout(() => {
      this.#timedOut = true
      this.#parent?.removeEventListener('abort', this.#onParentAbort)
      this.#ac.abort(this.#error ? this.#error() : timeoutError(this.#message))
    }, this.#ms)
    // The request it guards keeps the process alive; the timer alone must not.
    this.#timer.unref()
  }

  /** Stops the timer and lets go of the parent. Idempotent; the signal stays as it is. */
  clear(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#parent?.removeEventListener('abort', this.#onParentAbort)
  }
}

function timeoutError(message: string): Error {
  const err = new Error(message)
  err.name = 'TimeoutError'
  return err
}
