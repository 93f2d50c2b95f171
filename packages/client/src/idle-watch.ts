/**
 * Calls `onIdle` once when `touch()` has not been called for `ms`. After this process itself
 * stalled, timers run before the socket data that arrived meanwhile is read: the check waits one
 * turn of the event loop (that data is read first, and touches), then decides on the time since
 * the last touch. `ms` of 0 never fires. `close()` clears the timer.
 */
export class IdleWatch {
  readonly #ms: number
  readonly #onIdle: (quietMs: number) => void
  #timer: NodeJS.Timeout | undefined
  #lastAt = performance.now()
  #done = false

  constructor(ms: number, onIdle: (quietMs: number) => void) {
    this.#ms = ms
    this.#onIdle = onIdle
    if (ms > 0) this.#arm(ms)
  }

  touch(): void {
    this.#lastAt = performance.now()
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => setImmediate(() => this.#check()), ms)
    this.#timer.unref()
  }

  #check(): void {
    if (this.#done) return
    const quiet = performance.now() - this.#lastAt
    if (quiet < this.#ms) {
      this.#arm(this.#ms - quiet)
      return
    }
    this.#done = true
    this.#onIdle(quiet)
  }

  close(): void {
    this.#done = true
    clearTimeout(this.#timer)
  }
}
