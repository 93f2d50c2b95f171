/**
 * Holds a generation's output callbacks (writing a token to its client) until the next decode
 * step has been dispatched, so the write overlaps with computing the next token instead of
 * delaying it. node-llama-cpp dispatches a decode from a `setImmediate` queued while the token
 * is handled; the flush here is queued one `setImmediate` later, which runs after it. Order is
 * kept (one FIFO for every slot), and `flush()` runs whatever is left at once, e.g. when a
 * generation ends and no decode follows.
 */
export class OutputQueue {
  readonly #onError: (err: unknown) => void
  #pending: Array<() => void> = []
  #scheduled = false
  readonly #flush = (): void => this.flush()
  readonly #afterDispatch = (): void => {
    setImmediate(this.#flush)
  }

  /** @param onError - told about a callback that threw (the others still run). */
  constructor(onError: (err: unknown) => void) {
    this.#onError = onError
  }

  push(fn: () => void): void {
    this.#pending.push(fn)
    if (this.#scheduled) return
    this.#scheduled = true
    setImmediate(this.#afterDispatch)
  }

  /** Runs every held callback now, in order. */
  flush(): void {
    this.#scheduled = false
    const run = this.#pending
    if (run.length === 0) return
    this.#pending = []
    for (const fn of run) {
      try {
        fn()
      } catch (err) {
        this.#onError(err)
      }
    }
  }
}
